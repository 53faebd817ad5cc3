import {
  type AdapterCapabilities,
  type AdapterContext,
  AdapterError,
  type AdapterFactory,
  BaseAdapter,
  backoffDelay,
  type ConnectionConfig,
  type DeadLetterEntry,
  type DeadLetterReader,
  type InboundDelivery,
  matchTopic,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
  withTimeout,
} from '@hub/core';
import {
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  type Priority,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { publishBatcher, type WriteBatcher, xaddBatcher } from './batch.js';
import { decodeEnvelope, encodeEnvelope } from './codec.js';
import {
  ConnectionFactory,
  isAuthError,
  isRedirect,
  type RedisClient,
  whenReady,
  withRedirectRetry,
} from './connection.js';
import { type KeyLayout, keyLayout, partitionOf } from './keys.js';
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
import { foreignReason, refusal } from './refusal.js';
import { CommandStallError, canWatch, StallWatch, TIMED_OUT } from './stall-watch.js';
import { bounded, type ConsumerHost, hardClose, StreamConsumer } from './stream-consumer.js';
import { ENTRY_VERSION, field, parseEntries } from './stream-entry.js';

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
  patterns: true,
  consumerGroups: true,
});

interface PubSubTarget {
  readonly spec: SubscriptionSpec;
  /** Pausing before a graceful close: a topic group stops claiming events (others take them). */
  paused?: boolean;
  /** Topic groups: claims sent and not answered yet; pause waits for them (a won claim is delivered). */
  claiming?: number;
  /** Waiting pauses, woken when `claiming` drops to zero. */
  settledClaims?: Array<() => void> | undefined;
}

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
function classifySendError(err: unknown): unknown {
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

function sendFailed(err: unknown): never {
  throw classifySendError(err);
}

/**
 * A Pub/Sub delivery: one small object per handover, its methods on the
 * prototype. Pub/Sub has no broker-side acks: best-effort ends at the handover.
 */
class PubSubDelivery implements InboundDelivery {
  readonly attempt = 1;
  /** Nothing brings an unsettled Pub/Sub message back: a draining consumer runs it. */
  readonly redeliverable = false;

  constructor(readonly envelope: Envelope) {}

  ack(): void {}

  nack(): void {}

  deadLetter(): Promise<void> {
    return Promise.resolve();
  }
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
  readonly keys: KeyLayout;
  private readonly opts: ResolvedOptions;
  private readonly factory: ConnectionFactory;
  private commandClient: RedisClient | undefined;
  private ownsCommands = true;
  private subscriber: RedisClient | undefined;
  private subscriberReady: Promise<void> | undefined;
  private readonly channelSubs = new Map<string, Set<PubSubTarget>>();
  /** Channels and patterns let go while the subscriber link was down (see addPubSub). */
  private readonly unsubscribeOnReady = new Map<
    string,
    { name: string; kind: 'channel' | 'pattern' }
  >();
  /** Tail of the (un)subscribe operations per channel or pattern (see serial). */
  private readonly pubsubOps = new Map<string, Promise<void>>();
  private readonly patternSubs = new Map<string, Set<PubSubTarget>>();
  private readonly consumers = new Set<StreamConsumer>();
  private readonly readers = new Set<RedisClient>();
  private readonly lastReport = new Map<string, number>();
  private readonly timers: NodeJS.Timeout[] = [];
  private stallWatch: StallWatch | undefined;
  private members: PubSubMembers | undefined;
  /** Rotates which of several local subscriptions of one endpoint group gets the next message. */
  private rotor = 0;
  private consumerSeq = 0;
  private readonly priorityStreams = new Map<string, string[]>();
  private readonly channels = new Map<string, string>();
  private readonly maxLenArg: string;
  /** Stream sends of one tick, one script call per stream (not on a Cluster). */
  private readonly xadds: WriteBatcher<SendResult>;
  /** PUBLISHes of one tick, one script call (not on a Cluster). */
  private readonly pubs = publishBatcher(() => this.commandClient);

  constructor(options: RedisAdapterOptions = {}) {
    super();
    checkAdapterOptions(options);
    this.opts = resolveOptions(options);
    this.keys = keyLayout(this.opts.keyPrefix);
    this.maxLenArg = String(this.opts.maxLen);
    this.factory = new ConnectionFactory(options, this.opts);
    this.xadds = xaddBatcher<SendResult>(
      () => this.commandClient,
      this.maxLenArg,
      (id) => this.sendOk(streamResult(id)),
      (err) => this.sendFailed(classifySendError(err)),
    );
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

  protected async doConnect(_ctx: AdapterContext): Promise<void> {
    const { client, owned } = this.factory.create('commands');
    this.commandClient = client;
    this.ownsCommands = owned;
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
    client.on('ready', () => {
      if (this.state === 'degraded') this.setState('ready');
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
    if (this.subscriber) {
      const s = this.subscriber;
      this.subscriber = undefined;
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
      pubsubChannels: this.channelSubs.size,
      pubsubPatterns: this.patternSubs.size,
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
   * Best-effort messages and events: PUBLISH with one promise of ours on top
   * of ioredis' (doSend under the base send would chain two). Counting and
   * error wrapping are the base's own (sendOk / sendFailed), so results and
   * error codes are those of the general path.
   */
  override send(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const c = this.commandClient;
    if (c === undefined) return super.send(envelope);
    let pending: Promise<number>;
    try {
      if (envelope.kind === 'event') {
        pending = this.publish(c, this.keys.eventChannel(envelope.topic), encodeEnvelope(envelope));
      } else if (envelope.deliveryGuarantee === DeliveryGuarantee.BEST_EFFORT) {
        return this.sendBestEffort(c, envelope);
      } else if (!this.factory.isCluster) {
        // Batched with the other XADDs of this tick to the same stream (batch.ts).
        // (On a Cluster the general path retries redirections.)
        return this.xadds.add(this.streamFor(envelope), envelope.id, encodeEnvelope(envelope));
      } else {
        return super.send(envelope);
      }
    } catch (err) {
      return Promise.reject(this.sendFailed(err));
    }
    return pending.then(this.published, this.publishFailed);
  }

  /** XADD arguments of a stream message, in the documented entry layout (README). */
  private xaddArgs(envelope: UnifiedMessage): string[] {
    return [
      this.streamFor(envelope),
      'MAXLEN',
      '~',
      this.maxLenArg,
      '*',
      'v',
      ENTRY_VERSION,
      'id',
      envelope.id,
      'env',
      encodeEnvelope(envelope),
    ];
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
      return members.load(env.destination).then(
        (v) => this.publishBestEffort(c, env, v),
        (err: unknown) => {
          throw this.sendFailed(classifySendError(err));
        },
      );
    }
    return this.publishBestEffort(c, env, view);
  }

  private publishBestEffort(
    c: RedisClient,
    env: UnifiedMessage,
    view: MemberView,
  ): Promise<SendResult> {
    let text: string;
    try {
      text = encodeEnvelope(env);
    } catch (err) {
      return Promise.reject(this.sendFailed(err));
    }
    const groups = view.groups;
    const dest = env.destination;
    if (groups.length === 0) {
      // No member known: the endpoint's shared channel, which every listener
      // of the endpoint (and any plain client serving it) subscribes.
      return this.publish(c, this.channelOf(dest), text).then(
        (n: number) => this.reachedOrFail(n, dest),
        this.publishFailed,
      );
    }
    if (groups.length === 1) {
      // The common case, one promise on top of ioredis's: the reach check and
      // the accounting share one callback.
      const g = groups[0]!;
      const channel = nextMember(g);
      if (channel !== undefined && !this.factory.isCluster) {
        return this.publish(c, channel, text).then((n: number) => {
          if (n > 0) return this.sendOk(PUBSUB_RESULT);
          dropMember(g, channel);
          return this.publishToGroup(c, g, dest, text, false).then(
            (m: number) => this.reachedOrFail(m, dest),
            this.publishFailed,
          );
        }, this.publishFailed);
      }
      return this.publishToGroup(c, g, dest, text, false).then(
        (n: number) => this.reachedOrFail(n, dest),
        this.publishFailed,
      );
    }
    // Several groups: one copy each. A group whose PUBLISH failed loses its copy
    // (best-effort), but the send is not failed, so the hub does not send again
    // to the groups that already have theirs.
    return Promise.allSettled(groups.map((g) => this.publishToGroup(c, g, dest, text, false))).then(
      (results) => {
        const failed = results.filter((r) => r.status === 'rejected');
        if (failed.length === results.length) return this.publishFailed(failed[0]!.reason);
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
    if (n > 0 || this.factory.isCluster) return this.sendOk(PUBSUB_RESULT);
    throw this.sendFailed(
      new AdapterError(
        'redis',
        `send to "${destination}": no receiver (no instance serves it: the PUBLISH reached nobody, and Pub/Sub keeps nothing)`,
        { code: ErrorCode.NO_RECEIVER, retryable: false },
      ),
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

  /** PUBLISH, batched with the others of this tick (batch.ts); one by one on a Cluster. */
  private publish(c: RedisClient, channel: string, text: string): Promise<number> {
    return this.factory.isCluster ? c.publish(channel, text) : this.pubs.add('', channel, text);
  }

  private readonly published = (): SendResult => this.sendOk(PUBSUB_RESULT);

  private readonly publishFailed = (err: unknown): never => {
    throw this.sendFailed(classifySendError(err));
  };

  /**
   * Not async, one promise per send on top of ioredis' own: at 50k msg/s each
   * extra promise and closure on this path is measurable against raw ioredis
   * (see the redis.* scenarios in benchmarks/).
   */
  protected doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    try {
      const c = this.commands;
      if (envelope.kind === 'event') {
        return c
          .publish(this.keys.eventChannel(envelope.topic), encodeEnvelope(envelope))
          .then(pubsubResult, sendFailed);
      }
      if (envelope.deliveryGuarantee === DeliveryGuarantee.BEST_EFFORT) {
        return this.sendBestEffort(c, envelope);
      }
      const args = this.xaddArgs(envelope);
      return c.call('XADD', args).then(streamResult, (err: unknown) =>
        // A cluster redirection means the write did not run: retrying cannot duplicate it.
        isRedirect(err)
          ? withRedirectRetry(() => c.call('XADD', args), 4).then(streamResult, sendFailed)
          : sendFailed(err),
      );
    } catch (err) {
      return Promise.reject(err);
    }
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
      // A topic group is shared through per-event claims (see claimThenDeliver).
      const pattern = this.keys.eventPattern(spec.address);
      const target: PubSubTarget = { spec };
      const sub = await this.addPubSub(this.patternSubs, pattern, target, 'pattern');
      return {
        pause: async () => {
          target.paused = true;
          // A claim already sent may come back won: it is delivered, and the
          // consumer is still taking deliveries until this resolves.
          if ((target.claiming ?? 0) > 0) {
            await bounded(
              new Promise<void>((resolve) => {
                target.settledClaims ??= [];
                target.settledClaims.push(resolve);
              }),
              this.opts.commandTimeoutMs,
            ).catch(noop);
          }
        },
        close: () => sub.close(),
      };
    }
    const target: PubSubTarget = { spec };
    // The shared channel (senders that know no member, plain clients) and this
    // instance's own member channel; joined last, so no sender picks a channel
    // nobody listens on yet.
    const group = spec.group ?? spec.address;
    const shared = await this.addPubSub(
      this.channelSubs,
      this.keys.channel(spec.address),
      target,
      'channel',
    );
    let own: Subscription | undefined;
    try {
      own = await this.addPubSub(
        this.channelSubs,
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
    let consumer: StreamConsumer;
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

  private async startConsumer(spec: SubscriptionSpec): Promise<StreamConsumer> {
    const { client: reader } = this.factory.create('reader');
    this.watch(reader, `reader ${spec.address}`);
    this.readers.add(reader);
    const host: ConsumerHost = {
      ctx: this.adapterContext,
      commands: this.commands,
      keys: this.keys,
      opts: this.opts,
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
    const consumer = new StreamConsumer(host, spec, reader, name);
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
    const close = consumer.close.bind(consumer);
    consumer.close = async () => {
      await close();
      this.consumers.delete(consumer);
      this.readers.delete(reader);
      hardClose(reader);
    };
    return consumer;
  }

  private async ensureSubscriber(): Promise<RedisClient> {
    if (!this.subscriber) {
      const { client } = this.factory.create('subscriber');
      this.subscriber = client;
      this.watch(client, 'subscriber');
      client.on('message', (channel: string, message: string) => {
        this.dispatch(this.channelSubs.get(channel), message, channel);
      });
      client.on('pmessage', (pattern: string, channel: string, message: string) => {
        this.dispatch(this.patternSubs.get(pattern), message, channel);
      });
      // 'ready' is emitted after ioredis re-subscribed what it remembers: undo
      // what was closed while the link was down (nobody subscribed it again).
      client.on('ready', () => {
        for (const [key, { name, kind }] of this.unsubscribeOnReady) {
          // Skip what is wanted again, or being (un)subscribed right now.
          if ((kind === 'channel' ? this.channelSubs : this.patternSubs).has(name)) continue;
          if (this.pubsubOps.has(key)) continue;
          (kind === 'channel' ? client.unsubscribe(name) : client.punsubscribe(name)).catch(
            (err: unknown) => this.report('unsubscribe', err),
          );
        }
        this.unsubscribeOnReady.clear();
      });
      this.subscriberReady = whenReady(
        client,
        Math.max(10_000, this.opts.commandTimeoutMs * 2),
        'subscriber',
      );
      // A ping keeps a reply due on the otherwise silent Pub/Sub link, so the
      // socket timeout notices when the link dies without closing.
      const t = setInterval(() => {
        if (client.status === 'ready') (client as { ping(): Promise<unknown> }).ping().catch(noop);
      }, this.opts.heartbeatMs);
      t.unref();
      this.timers.push(t);
    }
    await this.subscriberReady;
    return this.subscriber;
  }

  /**
   * Run `op` after every earlier (un)subscribe of the same channel or pattern:
   * adding a target and removing the last one never interleave, so no target
   * joins a set whose SUBSCRIBE is failing or whose UNSUBSCRIBE is under way.
   */
  private serial<T>(key: string, op: () => Promise<T>): Promise<T> {
    const prev = this.pubsubOps.get(key) ?? Promise.resolve();
    const run = prev.then(op, op);
    const tail = run.then(noop, noop);
    this.pubsubOps.set(key, tail);
    void tail.then(() => {
      if (this.pubsubOps.get(key) === tail) this.pubsubOps.delete(key);
    });
    return run;
  }

  private async addPubSub(
    map: Map<string, Set<PubSubTarget>>,
    name: string,
    target: PubSubTarget,
    kind: 'channel' | 'pattern',
  ): Promise<Subscription> {
    const sub = await this.ensureSubscriber();
    const key = `${kind}\u0000${name}`;
    const command = kind === 'channel' ? 'SUBSCRIBE' : 'PSUBSCRIBE';
    await this.serial(key, async () => {
      const set = map.get(name);
      if (set) {
        set.add(target);
        return;
      }
      // Wanted again: a pending undo from an outage must not cancel this SUBSCRIBE.
      this.unsubscribeOnReady.delete(key);
      try {
        // Bounded: with Redis down the command would wait for the reconnect.
        await withTimeout(
          kind === 'channel' ? sub.subscribe(name) : sub.psubscribe(name),
          this.opts.commandTimeoutMs,
          `${command} ${name}`,
        );
      } catch (err) {
        // A SUBSCRIBE that timed out may still land later: cancel it.
        (kind === 'channel' ? sub.unsubscribe(name) : sub.punsubscribe(name)).catch(noop);
        throw err;
      }
      map.set(name, new Set([target]));
    });
    let closed = false;
    return {
      close: () => {
        if (closed) return Promise.resolve();
        closed = true;
        return this.serial(key, async () => {
          const s = map.get(name);
          if (!s?.has(target)) return;
          const client = this.subscriber;
          if (s.size === 1 && client !== undefined && client.status !== 'end') {
            // The last target: unsubscribe BEFORE letting go of it, so messages
            // already on their way (the reply comes after them) still find it.
            if (client.status === 'ready' && this.state !== 'closing') {
              await bounded(
                kind === 'channel' ? client.unsubscribe(name) : client.punsubscribe(name),
                this.opts.commandTimeoutMs,
              ).catch((err: unknown) => this.report('unsubscribe', err));
            } else if (this.state !== 'closing') {
              // The link is down: ioredis will re-subscribe everything it had on
              // reconnect (an UNSUBSCRIBE queued now is lost). Undone on 'ready'.
              this.unsubscribeOnReady.set(key, { name, kind });
            }
          }
          s.delete(target);
          if (s.size === 0) map.delete(name);
        });
      },
    };
  }

  private dispatch(targets: Set<PubSubTarget> | undefined, message: string, channel: string): void {
    if (!targets || targets.size === 0) return;
    let envelope: Envelope;
    try {
      envelope = decodeEnvelope(message);
    } catch (err) {
      this.refusePubSub(
        targets,
        refusal('undecodable', err as Error, `channel ${channel}`, undefined),
        message,
      );
      return;
    }
    // All targets of one channel or pattern are of one kind and address.
    const [first] = targets;
    const foreign = foreignReason(envelope, first!.spec, `channel ${channel}`);
    if (foreign !== undefined) {
      const err = new HubError(ErrorCode.INVALID_MESSAGE, foreign);
      this.refusePubSub(
        targets,
        refusal('foreign', err, `channel ${channel}`, envelope.id),
        message,
      );
      return;
    }
    if (targets.size === 1) {
      for (const t of targets) this.route(t, envelope);
      return;
    }
    // Several local subscriptions: topics fan out; an endpoint group takes the
    // message once, on the next of its subscriptions in turn.
    const list = [...targets];
    const start = this.rotor++ % list.length;
    let groups: Set<string> | undefined;
    for (let k = 0; k < list.length; k++) {
      const t = list[(start + k) % list.length]!;
      if (t.spec.kind === 'endpoint') {
        const g = t.spec.group ?? t.spec.address;
        groups ??= new Set();
        if (groups.has(g)) continue;
        groups.add(g);
      }
      this.route(t, envelope);
    }
  }

  /**
   * Pub/Sub input that is not ours to handle: Pub/Sub keeps nothing (no entry
   * to dead-letter, nothing redelivers), so it is only passed to each
   * subscription's `reject` (counted as rejected, logged rate-limited), never
   * to a handler.
   */
  private refusePubSub(targets: Set<PubSubTarget>, err: Error, message: string): void {
    for (const t of targets) {
      try {
        t.spec.reject(err, message);
      } catch {
        // a faulty reject callback must not break the subscriber
      }
    }
  }

  private route(t: PubSubTarget, envelope: Envelope): void {
    if (t.spec.kind === 'topic' && t.spec.group !== undefined) this.claimThenDeliver(t, envelope);
    else this.deliverTo(t, envelope);
  }

  private deliverTo(t: PubSubTarget, envelope: Envelope): void {
    try {
      t.spec.deliver(new PubSubDelivery(envelope));
    } catch (err) {
      this.report('deliver', err);
    }
  }

  /**
   * A topic group over Pub/Sub: every instance of the group gets the event, the
   * one whose `SET NX` on the event's claim key lands first handles it. Replies
   * come back in order on the command connection, so each instance still sees
   * its events in publish order. When the claim cannot be made (link down),
   * the event is dropped here rather than risk a second handling: events are
   * best-effort, and lost is allowed where duplicated is not.
   */
  private claimThenDeliver(t: PubSubTarget, envelope: Envelope): void {
    const c = this.commandClient;
    if (c === undefined) return;
    // Exact match first: the Redis glob matches a superset (`*` crosses dots),
    // and a claim won for an event the core then filters out would be lost
    // to the instances whose pattern does match.
    if (t.paused) return;
    if (envelope.kind !== 'event' || !matchTopic(t.spec.address, envelope.topic)) return;
    // A group is one per pattern, as on the memory transport.
    const key = this.keys.eventClaim(t.spec.group!, t.spec.address, envelope.id);
    t.claiming = (t.claiming ?? 0) + 1;
    const settled = () => {
      if (--t.claiming! === 0 && t.settledClaims) {
        const waiting = t.settledClaims;
        t.settledClaims = undefined;
        for (const w of waiting) w();
      }
    };
    c.set(key, '1', 'PX', this.opts.groupClaimMs, 'NX').then(
      (won) => {
        if (won === 'OK') this.deliverTo(t, envelope);
        settled();
      },
      (err: unknown) => {
        this.report('topic group claim', err);
        settled();
      },
    );
  }

  // --------------------------------------------------------------- monitor

  /** Per endpoint: stream length, pending, lag, consumers, DLQ size; plus connection states. */
  async inspect(): Promise<Record<string, unknown>> {
    const endpoints: Record<string, unknown> = {};
    for (const c of this.consumers) {
      try {
        endpoints[c.destination] = await c.inspect();
      } catch (err) {
        endpoints[c.destination] = { error: err instanceof Error ? err.message : String(err) };
      }
    }
    return { ...this.healthDetail(), endpoints };
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
