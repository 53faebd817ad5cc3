import {
  type AdapterCapabilities,
  type AdapterContext,
  AdapterError,
  type AdapterFactory,
  type AdapterFeatures,
  BaseAdapter,
  backoffDelay,
  type ConnectionConfig,
  type DeadLetterEntry,
  type DeadLetterReader,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
} from '@hub/core';
import {
  DeliveryGuarantee,
  ErrorCode,
  encodeReplyFrame,
  isReplyFrame,
  type Priority,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { publishBatcher, same, type WriteBatcher, xaddBatcher } from './batch.js';
import { decodeEnvelope, encodeEnvelope } from './codec.js';
import {
  ConnectionFactory,
  isAuthError,
  plaintextRemotes,
  type RedisClient,
  whenReady,
} from './connection.js';
import { DurableTopics, isDurableEvent, TOPIC_PARTITIONS } from './durable-topics.js';
import { type KeyLayout, keyLayout, partitionOf } from './keys.js';
import { bounded, hardClose } from './link-close.js';
import {
  dropMember,
  type MemberGroup,
  type MemberView,
  nextMember,
  PubSubMembers,
} from './members.js';
import {
  checkAdapterOptions,
  type RedisAdapterOptions,
  type ResolvedOptions,
  resolveOptions,
} from './options.js';
import { PubSubRouter, type PubSubTarget } from './pubsub-router.js';
import { CommandStallError, canWatch, StallWatch, TIMED_OUT } from './stall-watch.js';
import { field, parseEntries } from './stream-entry.js';
import { type StreamHost, StreamSubscription } from './stream-subscription.js';
import { pauseClaims } from './topic-claims.js';

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  guarantees: Object.freeze([
    DeliveryGuarantee.BEST_EFFORT,
    DeliveryGuarantee.AT_LEAST_ONCE,
    DeliveryGuarantee.EXACTLY_ONCE,
    DeliveryGuarantee.ORDERED,
  ]),
  persistent: true,
  ordered: true,
  broadcast: true,
  // Events with a guarantee above best-effort are kept in streams per topic (durable-topics.ts).
  durableTopics: true,
  patterns: true,
  consumerGroups: true,
});

const FEATURES: AdapterFeatures = Object.freeze({ deadLetters: true });

const noop = () => {};

/** Destinations whose stream keys and channel a sender remembers. */
const KEY_CACHE_SIZE = 10_000;

const PUBSUB_RESULT: SendResult = Object.freeze({ protocol: 'redis-pubsub' });
const pubsubResult = (): SendResult => PUBSUB_RESULT;
const streamResult = (id: unknown): SendResult => ({
  protocol: 'redis-streams',
  brokerId: String(id),
});

/** Permissions do not fix themselves: an auth failure is not retryable; a timeout is uncertain. */
function classifyRedisError(err: unknown): unknown {
  if (isAuthError(err)) {
    return new AdapterError('redis', `send failed: ${(err as Error).message}`, {
      code: ErrorCode.AUTH_FAILED,
      retryable: false,
      cause: err,
    });
  }
  // Our StallWatch or ioredis's commandTimeout: the command may still have run
  // (an uncertain send). HUB_TIMEOUT lets the hub retry guaranteed sends (dedup
  // absorbs a copy) but not best-effort ones (nothing would).
  if (
    err instanceof CommandStallError ||
    (err instanceof Error && err.message.includes(TIMED_OUT))
  ) {
    return new AdapterError('redis', `send failed: ${err.message}`, {
      code: ErrorCode.TIMEOUT,
      retryable: true,
      cause: err,
    });
  }
  return err;
}

/** True when an endpoint's `guarantees` hint names best-effort alone (an empty list is no hint). */
function pubSubOnly(spec: SubscriptionSpec): boolean {
  const g = spec.guarantees;
  return g !== undefined && g.length > 0 && g.every((x) => x === DeliveryGuarantee.BEST_EFFORT);
}

/** Read-loop retries: quick first retry, capped like reconnects so a restarted broker is read from within ~0.5 s. */
const READ_BACKOFF = { initialDelayMs: 50, maxDelayMs: 500 } as const;

/**
 * Redis transport: Pub/Sub for best-effort messages and all events, Streams
 * (consumer groups, reclaim, DLQ) for at-least-once, exactly-once and ordered.
 */
export class RedisAdapter extends BaseAdapter implements DeadLetterReader {
  readonly name = 'redis';
  readonly capabilities = CAPABILITIES;
  readonly features: AdapterFeatures = FEATURES;
  readonly keys: KeyLayout;
  private readonly opts: ResolvedOptions;
  /** The startup nodes of a Cluster, for the start-up check of plaintext links. */
  private readonly clusterNodes: readonly unknown[] | undefined;
  private readonly factory: ConnectionFactory;
  private commandClient: RedisClient | undefined;
  private ownsCommands = true;
  /** Pub/Sub receiving: the subscriber connection and what listens on it. */
  private readonly pubsub: PubSubRouter;
  private readonly consumers = new Set<StreamSubscription>();
  private readonly readers = new Set<RedisClient>();
  private readonly lastReport = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stallWatch: StallWatch | undefined;
  private members: PubSubMembers | undefined;
  private consumerSeq = 0;
  private readonly priorityStreams = new Map<string, string[]>();
  private readonly channels = new Map<string, string>();
  private readonly maxLenArg: string;
  /** Stream sends of one tick, one script call per stream (on a Cluster too: one stream is one slot). */
  private readonly xadds: WriteBatcher<SendResult>;
  /** PUBLISHes of one tick, one script call (on a Cluster, one per channel). */
  private readonly pubs: WriteBatcher<number>;
  /** SPUBLISHes of best-effort messages, one script call per channel (`shardedPubSub` on a Cluster). */
  private readonly spubs: WriteBatcher<number> | undefined;
  /** Events kept per topic, and the subscriptions that read them. */
  private readonly topics: DurableTopics;

  constructor(options: RedisAdapterOptions = {}) {
    super();
    checkAdapterOptions(options);
    this.opts = resolveOptions(options);
    this.keys = keyLayout(this.opts.keyPrefix);
    this.maxLenArg = String(this.opts.maxLen);
    this.factory = new ConnectionFactory(options, this.opts);
    this.pubs = publishBatcher(() => this.commandClient, this.factory.isCluster);
    if (this.factory.shardedPubSub)
      this.spubs = publishBatcher(() => this.commandClient, true, true);
    this.clusterNodes = options.cluster?.nodes;
    this.pubsub = new PubSubRouter({
      factory: this.factory,
      opts: this.opts,
      keys: this.keys,
      commands: () => this.commandClient,
      closing: () => this.state === 'closing',
      watch: (client, role) => this.watch(client, role),
      report: (op, err) => this.report(op, err),
      timer: (t) => this.timers.push(t),
    });
    // Results and errors as they are: the base class counts and wraps them.
    this.xadds = xaddBatcher<SendResult>(
      () => this.commandClient,
      this.maxLenArg,
      streamResult,
      same,
      !this.factory.isCluster,
    );
    const adapter = this;
    const topicOpts = { ...this.opts, partitions: TOPIC_PARTITIONS };
    this.topics = new DurableTopics({
      keys: this.keys,
      opts: this.opts,
      get instanceId() {
        return adapter.adapterContext.instanceId;
      },
      commands: () => this.commands,
      subscriber: () => this.pubsub.ensureSubscriber(),
      write: (key, id, text) => this.writeEntry(key, id, text),
      startConsumer: (spec, startAt) => this.startConsumer(spec, startAt, topicOpts),
      report: (op, err) => this.report(op, err),
    });
  }

  /** The Pub/Sub connection, once a subscription made it. */
  private get subscriber(): RedisClient | undefined {
    return this.pubsub.subscriber;
  }

  /** The command connection (the user's own client when one was given). */
  get commands(): RedisClient {
    if (!this.commandClient) {
      throw new AdapterError('redis', 'not connected: call connect() first', {
        code: ErrorCode.NOT_STARTED,
        retryable: false,
      });
    }
    return this.commandClient;
  }

  // -------------------------------------------------------------- lifecycle

  protected async doConnect(ctx: AdapterContext): Promise<void> {
    const { client, owned } = this.factory.create('commands');
    this.commandClient = client;
    this.ownsCommands = owned;
    const exposed = plaintextRemotes(client, this.clusterNodes);
    if (exposed.length > 0) {
      ctx.logger.warn(
        `[hub:redis] ${this.name} connects to ${exposed.join(', ')} without TLS, not a loopback address: the password and every message cross the network in the clear (use rediss:// or the tls option)`,
      );
    }
    if (this.opts.shardedPubSub && !this.factory.isCluster) {
      ctx.logger.warn(
        `[hub:redis] ${this.name}: option "shardedPubSub" is ignored: it applies to a Redis Cluster only (one node gains nothing from it); best-effort messages use classic Pub/Sub`,
      );
    }
    this.watch(client, 'commands');
    try {
      await whenReady(client, Math.max(10_000, this.opts.commandTimeoutMs * 2), 'commands', {
        refusedBudgetMs: this.opts.connectBudgetMs,
      });
    } catch (err) {
      if (owned) hardClose(client);
      throw err;
    }
    const adapter = this;
    this.members = new PubSubMembers({
      get commands() {
        return adapter.commands;
      },
      keys: this.keys,
      instanceId: this.adapterContext.instanceId,
      ttlMs: this.opts.heartbeatMs * 3,
      report: (op, err) => this.report(op, err),
    });
    // Connections we own and can see into get the sweep instead of a timer per
    // command (connection.ts); a user's own client keeps its own settings.
    if (owned && canWatch(client)) {
      // The sweep also cuts a socket that owes replies and stays silent, which
      // is all ioredis's socketTimeout does here, at the price of a timer and
      // a 'data' listener for each command written while none was waiting
      // (every command, one request at a time): the sweep replaces it.
      (client.options as { socketTimeout?: number | undefined }).socketTimeout = undefined;
      this.stallWatch = new StallWatch(client, this.opts.commandTimeoutMs, (err) =>
        this.report('commands connection', err),
      );
    }
    const t = setInterval(() => {
      for (const c of this.consumers) c.checkLag().catch((err) => this.report('lag check', err));
      this.topics.maintain().catch((err) => this.report('durable topics', err));
    }, this.opts.lagCheckIntervalMs);
    t.unref();
    this.timers.push(t);
  }

  /** Attach the error listener every client needs, and mirror the command link into our state. */
  private watch(client: RedisClient, role: string): void {
    // Until a connection is first ready, its errors belong to whoever waits for
    // it (whenReady): it fails once, saying what to check, instead of the same
    // refusal being logged on every retry as well.
    let wasReady = false;
    client.once('ready', () => {
      wasReady = true;
    });
    client.on('error', (err: Error) => {
      if (wasReady) this.report(`${role} connection`, err);
    });
    if (role !== 'commands') return;
    let readyBefore = false;
    client.on('ready', () => {
      if (this.state === 'degraded') this.setState('ready');
      // Back after a drop: the server may have restarted empty.
      if (readyBefore) this.topics.reconnected();
      readyBefore = true;
    });
    const down = () => {
      if (this.state === 'ready') this.setState('degraded');
    };
    client.on('close', down);
    client.on('reconnecting', down);
  }

  /** Surface a background failure once per operation and message per 5 s: a flapping link must not flood logs. */
  private report(operation: string, err: unknown): void {
    const msg = err instanceof Error ? err.message : String(err);
    const k = `${operation}\u0000${msg}`;
    const now = Date.now();
    const last = this.lastReport.get(k);
    if (last !== undefined && now - last < 5_000) return;
    this.lastReport.set(k, now);
    if (this.lastReport.size > 1_000) this.lastReport.clear();
    this.fail(operation, err);
  }

  protected async doClose(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.stallWatch?.stop();
    this.stallWatch = undefined;
    this.members?.stop();
    await Promise.allSettled([...this.consumers].map((c) => c.close()));
    for (const r of this.readers) hardClose(r);
    this.readers.clear();
    const limit = this.opts.commandTimeoutMs;
    const quit = async (client: RedisClient) => {
      // QUIT lets in-flight replies (acks) land; a dead link gets cut instead of awaited.
      await bounded(client.quit(), limit).catch(() => {});
      hardClose(client);
    };
    const s = this.subscriber;
    if (s) {
      this.pubsub.subscriber = undefined;
      await quit(s);
    }
    const c = this.commandClient;
    if (c && this.ownsCommands) await quit(c);
  }

  protected override healthDetail(): Record<string, unknown> {
    return {
      connections: {
        commands: this.commandClient?.status ?? 'none',
        subscriber: this.subscriber?.status ?? 'none',
        readers: [...this.readers].map((r) => r.status),
      },
      streamSubscriptions: this.consumers.size,
      pubsubChannels: this.pubsub.channelSubs.size,
      pubsubPatterns: this.pubsub.patternSubs.size,
      topicLag: this.topics.lagSnapshot(),
    };
  }

  // ------------------------------------------------------------------- send

  /** Stream key for an at-least-once / exactly-once / ordered message. */
  streamFor(msg: UnifiedMessage): string {
    if (msg.deliveryGuarantee === DeliveryGuarantee.ORDERED) {
      const n = partitionOf(msg.partitionKey ?? msg.destination, this.opts.partitions);
      return this.keys.partitionStream(msg.destination, n);
    }
    const p = Math.min(5, Math.max(1, Math.round(Number(msg.priority) || 2))) as Priority;
    let streams = this.priorityStreams.get(msg.destination);
    if (streams === undefined) {
      // Key building (template + hash-tag escaping) per send showed in profiles: remember it.
      if (this.priorityStreams.size >= KEY_CACHE_SIZE) this.priorityStreams.clear();
      streams = [];
      this.priorityStreams.set(msg.destination, streams);
    }
    streams[p] ??= this.keys.priorityStream(msg.destination, p);
    return streams[p];
  }

  /**
   * Events: kept ones (a guarantee above best-effort) XADD to the topic's
   * stream (durable-topics.ts); the rest PUBLISH on the topic's channel
   * (batched with the others of this tick).
   */
  protected override doSendEvent(event: UnifiedEvent): Promise<SendResult> {
    if (isDurableEvent(event)) return this.topics.send(event);
    this.commands; // throws when not connected
    // Classic Pub/Sub even with `shardedPubSub`: topic subscriptions are
    // patterns (PSUBSCRIBE), which never see an SPUBLISH.
    const channel = this.keys.eventChannel(event.topic);
    return this.pubs
      .add(this.factory.isCluster ? channel : '', channel, encodeEnvelope(event))
      .then(pubsubResult);
  }

  /** Best-effort messages: Pub/Sub, to one member of each group of the endpoint (sendBestEffort). */
  protected override doSendBestEffort(message: UnifiedMessage): Promise<SendResult> {
    return this.sendBestEffort(this.commands, message);
  }

  /**
   * The rest, the messages a stream keeps (at-least-once, exactly-once,
   * ordered): XADD, batched with the other XADDs of this tick to the same
   * stream (batch.ts), on a Cluster too (see writeEntry).
   */
  protected doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    // The base hands events to doSendEvent; this narrows the type only.
    if (envelope.kind === 'event') return this.doSendEvent(envelope);
    return this.writeEntry(this.streamFor(envelope), envelope.id, encodeEnvelope(envelope));
  }

  /**
   * One stream entry in the documented layout, batched with the other
   * entries of this tick for the same stream (batch.ts). On a Cluster too:
   * a batch is one stream, so one slot, and a redirection means the script
   * did not run, so following it (ioredis, then batch.ts for TRYAGAIN and
   * CLUSTERDOWN) resends the whole batch without duplicating an entry.
   */
  private writeEntry(key: string, id: string, text: string): Promise<SendResult> {
    return this.xadds.add(key, id, text);
  }

  protected override classifySendError(err: unknown): unknown {
    return classifyRedisError(err);
  }

  /**
   * A best-effort message: to one member of each group of the endpoint (see
   * members.ts), or to the shared channel when no member is known. The first
   * send to a destination waits for its member set once.
   */
  private sendBestEffort(c: RedisClient, env: UnifiedMessage): Promise<SendResult> {
    const members = this.members!;
    const view = members.view(env.destination);
    if (view === undefined) {
      return members.load(env.destination).then((v) => this.publishBestEffort(c, env, v));
    }
    return this.publishBestEffort(c, env, view);
  }

  private publishBestEffort(
    c: RedisClient,
    env: UnifiedMessage,
    view: MemberView,
  ): Promise<SendResult> {
    const groups = view.groups;
    const dest = env.destination;
    if (groups.length === 1 && !this.factory.isCluster) {
      // The common case, one promise on top of ioredis's: the reach check and
      // the accounting share one callback.
      const g = groups[0]!;
      const channel = nextMember(g);
      if (channel !== undefined) {
        let first: string;
        try {
          // A reply to a waiting request goes as a reply frame (less to write
          // and to parse than the full envelope) when its listener reads them;
          // a hub's inbox has one listener, the requester.
          first =
            (g.replyFrames.has(channel) ? encodeReplyFrame(env) : undefined) ?? encodeEnvelope(env);
        } catch (err) {
          return Promise.reject(err);
        }
        return this.publish(c, channel, first).then((n: number) => {
          if (n > 0) return PUBSUB_RESULT;
          dropMember(g, channel);
          // The next members get the full envelope (its payload passed the check already).
          const text = isReplyFrame(first) ? encodeEnvelope(env) : first;
          return this.publishToGroup(c, g, dest, text, false).then((m: number) =>
            this.reachedOrFail(m, dest),
          );
        });
      }
    }
    let text: string;
    try {
      text = encodeEnvelope(env);
    } catch (err) {
      return Promise.reject(err);
    }
    if (groups.length === 0) {
      // No member known: the endpoint's shared channel, which every listener
      // of the endpoint (and any plain client serving it) subscribes.
      return this.publish(c, this.channelOf(dest), text).then((n: number) =>
        this.reachedOrFail(n, dest),
      );
    }
    if (groups.length === 1) {
      return this.publishToGroup(c, groups[0]!, dest, text, false).then((n: number) =>
        this.reachedOrFail(n, dest),
      );
    }
    // Several groups: one copy each. A group whose PUBLISH failed loses its copy
    // (best-effort), but the send is not failed, so the hub does not send again
    // to the groups that already have theirs.
    return Promise.allSettled(groups.map((g) => this.publishToGroup(c, g, dest, text, false))).then(
      (results) => {
        const failed = results.filter((r) => r.status === 'rejected');
        if (failed.length === results.length) throw failed[0]!.reason;
        for (const f of failed) this.report('publish', f.reason);
        const reached = results.reduce(
          (sum, r) => sum + (r.status === 'fulfilled' ? r.value : 0),
          0,
        );
        return this.reachedOrFail(reached, dest);
      },
    );
  }

  /**
   * The outcome of a best-effort PUBLISH that reached `n` subscribers. Zero
   * means nobody serves the endpoint and the message is gone: the send fails
   * with HUB_NO_RECEIVER. On a Cluster the count covers one node's
   * subscribers only, so there a zero proves nothing and counts as sent.
   */
  private reachedOrFail(n: number, destination: string): SendResult {
    if (n > 0 || this.factory.isCluster) return PUBSUB_RESULT;
    throw new AdapterError(
      'redis',
      `send to "${destination}": no receiver (no instance serves it: the PUBLISH reached nobody, and Pub/Sub keeps nothing)`,
      { code: ErrorCode.NO_RECEIVER, retryable: false },
    );
  }

  /**
   * PUBLISH to the next member of one group. A PUBLISH that reached nobody
   * means that member is gone (crashed, or left and replaced): drop it and try
   * the next one; when the group runs out, read the listener set once more.
   * Redis Cluster counts only one node's subscribers, so there a zero proves
   * nothing and is taken as delivered.
   */
  private publishToGroup(
    c: RedisClient,
    group: MemberGroup,
    destination: string,
    text: string,
    reread: boolean,
  ): Promise<number> {
    const channel = nextMember(group);
    if (channel === undefined) {
      if (reread || this.factory.isCluster) return Promise.resolve(0);
      return this.members!.load(destination).then((v) => {
        const again = v.groups.find((g) => g.name === group.name);
        return again ? this.publishToGroup(c, again, destination, text, true) : 0;
      });
    }
    const p = this.publish(c, channel, text);
    if (this.factory.isCluster) return p;
    return p.then((n: number) => {
      if (n > 0) return n;
      dropMember(group, channel);
      return this.publishToGroup(c, group, destination, text, reread);
    });
  }

  /**
   * A best-effort message's PUBLISH, batched with the others of this tick
   * (batch.ts) on the command connection (`_c`); on a Cluster, per channel;
   * with `shardedPubSub` on a Cluster, SPUBLISH per channel.
   */
  private publish(_c: RedisClient, channel: string, text: string): Promise<number> {
    if (this.spubs !== undefined) return this.spubs.add(channel, channel, text);
    return this.pubs.add(this.factory.isCluster ? channel : '', channel, text);
  }

  /** Pub/Sub channel of an endpoint, remembered (see streamFor). */
  private channelOf(destination: string): string {
    let ch = this.channels.get(destination);
    if (ch === undefined) {
      if (this.channels.size >= KEY_CACHE_SIZE) this.channels.clear();
      ch = this.keys.channel(destination);
      this.channels.set(destination, ch);
    }
    return ch;
  }

  // -------------------------------------------------------------- subscribe

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    this.commands; // throws when not connected
    if (spec.kind === 'topic') {
      // A topic group is shared through per-event claims (topic-claims.ts).
      const pattern = this.keys.eventPattern(spec.address);
      const target: PubSubTarget = { spec };
      const sub = await this.pubsub.add(this.pubsub.patternSubs, pattern, target, 'pattern');
      // Kept events: a consumer group per subscribing group on each matching topic stream.
      let durable: Subscription | undefined;
      if (!pubSubOnly(spec)) {
        try {
          durable = await this.topics.subscribe(spec, ++this.consumerSeq);
        } catch (err) {
          await sub.close();
          throw err;
        }
      }
      return {
        pause: () => pauseClaims(target, this.opts.commandTimeoutMs),
        close: async () => {
          await Promise.allSettled([sub.close(), durable?.close()]);
        },
      };
    }
    const target: PubSubTarget = { spec };
    // The shared channel (senders that know no member, plain clients) and this
    // instance's own member channel; joined last, so no sender picks a channel
    // nobody listens on yet.
    const group = spec.group ?? spec.address;
    const shared = await this.pubsub.add(
      this.pubsub.channelSubs,
      this.keys.channel(spec.address),
      target,
      'channel',
    );
    let own: Subscription | undefined;
    try {
      own = await this.pubsub.add(
        this.pubsub.channelSubs,
        this.members!.channelFor(spec.address, group),
        target,
        'channel',
      );
      await this.members!.join(spec.address, group);
    } catch (err) {
      await Promise.allSettled([own?.close(), shared.close()]);
      throw err;
    }
    const mine = own;
    let leaving: Promise<void> | undefined;
    // Leave the work sharing: out of the listener set, then off our own channel.
    // The UNSUBSCRIBE reply comes after every message already published to us,
    // and those are still handled (the hub drains only after pause); from then
    // on a PUBLISH to our channel reaches nobody and its sender tries the next
    // listener.
    const leave = () =>
      (leaving ??= (async () => {
        await bounded(this.members!.leave(spec.address, group), this.opts.commandTimeoutMs).catch(
          (err: unknown) => this.report('pubsub membership', err),
        );
        await mine.close();
      })());
    const pubsub: Subscription = {
      pause: leave,
      close: async () => {
        await Promise.allSettled([leave(), shared.close()]);
      },
    };
    // Senders promise best-effort only (the hub's request inbox): no stream would ever get an
    // entry, so skip the consumer groups, the blocking reader and the partition leases, which
    // every requesting process would otherwise leave behind.
    if (pubSubOnly(spec)) return pubsub;
    let consumer: StreamSubscription;
    try {
      consumer = await this.startConsumer(spec);
    } catch (err) {
      await pubsub.close();
      throw err;
    }
    return {
      pause: leave,
      close: async () => {
        await Promise.allSettled([consumer.close(), pubsub.close()]);
      },
    };
  }

  private async startConsumer(
    spec: SubscriptionSpec,
    startAt?: { id: string; reset: boolean },
    opts: ResolvedOptions = this.opts,
  ): Promise<StreamSubscription> {
    const { client: reader } = this.factory.create('reader');
    this.watch(reader, `reader ${spec.address}`);
    this.readers.add(reader);
    const host: StreamHost = {
      ctx: this.adapterContext,
      commands: this.commands,
      keys: this.keys,
      opts,
      report: (op, err) => this.report(op, err),
      backoff: (attempt, signal) =>
        new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          const t = setTimeout(done, backoffDelay(attempt, READ_BACKOFF));
          function done() {
            clearTimeout(t);
            signal.removeEventListener('abort', done);
            resolve();
          }
          signal.addEventListener('abort', done);
        }),
    };
    const name = `${this.adapterContext.instanceId}-${++this.consumerSeq}`;
    const consumer: StreamSubscription = new StreamSubscription(host, spec, reader, name, () => {
      this.consumers.delete(consumer);
      this.readers.delete(reader);
      hardClose(reader);
    });
    if (startAt !== undefined) consumer.startAt = startAt;
    try {
      await whenReady(
        reader,
        Math.max(10_000, this.opts.commandTimeoutMs * 2),
        `reader ${spec.address}`,
      );
      await consumer.start();
    } catch (err) {
      this.readers.delete(reader);
      hardClose(reader);
      await consumer.close().catch(noop);
      throw err;
    }
    this.consumers.add(consumer);
    return consumer;
  }

  // --------------------------------------------------------------- monitor

  /** Per endpoint: stream length, pending, lag, consumers, DLQ size; plus connection states. */
  async inspect(): Promise<Record<string, unknown>> {
    const endpoints: Record<string, unknown> = {};
    for (const c of this.consumers) {
      if (c.destination.startsWith('~')) continue; // a durable topic's: under `topics`
      try {
        endpoints[c.destination] = await c.inspect();
      } catch (err) {
        endpoints[c.destination] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { ...this.healthDetail(), endpoints, topics: await this.topics.inspect() };
  }

  /** Oldest first. Entries whose envelope cannot be decoded are skipped. */
  async readDeadLetters(address: string, limit = 100): Promise<DeadLetterEntry[]> {
    const reply = await this.commands.call('XRANGE', [
      this.keys.dlq(address),
      '-',
      '+',
      'COUNT',
      String(limit),
    ]);
    const out: DeadLetterEntry[] = [];
    for (const e of parseEntries(reply)) {
      const env = field(e.fields, 'env');
      if (!env) continue;
      try {
        const envelope = decodeEnvelope(env);
        out.push({
          envelope,
          reason: field(e.fields, 'reason') ?? '',
          attempts: Number(field(e.fields, 'attempts') ?? 0),
          deadLetteredAt: Number(field(e.fields, 'at') ?? 0),
        });
      } catch {
        // raw garbage kept for operators; not an envelope
      }
    }
    return out;
  }
}

/** Create a Redis adapter. */
export function redis(options: RedisAdapterOptions = {}): RedisAdapter {
  return new RedisAdapter(options);
}

/**
 * Factory for config-driven setups: `createHub({ adapters: [redisAdapter], redisConfig })`.
 * Accepts the adapter options or the legacy `ConnectionConfig` shape.
 */
export const redisAdapter: AdapterFactory<RedisAdapterOptions | ConnectionConfig, RedisAdapter> = {
  name: 'redis',
  configKey: 'redisConfig',
  aliases: ['redis-streams', 'redis-pubsub'],
  create: (config) => redis((config ?? {}) as RedisAdapterOptions),
};

declare module '@hub/core' {
  interface HubAdapters {
    redis: RedisAdapter;
  }
}
