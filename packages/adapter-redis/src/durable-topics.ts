/**
 * Durable topics: events published with at-least-once, exactly-once or
 * ordered are kept in streams per topic (the same stream machinery as an
 * endpoint's, under the address `~ev:<topic>`), read by one consumer group
 * per subscribing group. A registry of topics in Redis (a sorted set, plus a
 * Pub/Sub announcement of each new topic) lets pattern subscriptions find the
 * topics they match, including those that appear later, without scanning the
 * keyspace.
 */
import type { SendResult, Subscription, SubscriptionSpec, TopicStart } from '@hub/core';
import { isWildcardPattern, matchTopic } from '@hub/core';
import { DeliveryGuarantee, type Priority, type UnifiedEvent } from '@hub/protocol';
import { encodeEnvelope } from './codec.js';
import type { RedisClient } from './connection.js';
import { type KeyLayout, topicAddress } from './keys.js';
import type { ResolvedOptions, TopicRetention } from './options.js';
import type { StreamSubscription } from './stream-subscription.js';

/** Ordered events of a topic go to its one partition stream: FIFO per topic. */
export const TOPIC_PARTITIONS = 1;

/** Topics remembered as registered (and written, for retention) by one adapter. */
const REGISTERED_CACHE = 10_000;

/** The largest sequence number of a stream entry id: `<ms>-<this>` is the last id of a millisecond. */
const MAX_SEQ = '18446744073709551615';

export interface DurableTopicsHost {
  readonly keys: KeyLayout;
  readonly opts: ResolvedOptions;
  readonly instanceId: string;
  commands(): RedisClient;
  /** The Pub/Sub connection, subscribed on first use. */
  subscriber(): Promise<RedisClient>;
  /** XADD one entry (batched with the others of this tick where the adapter does that). */
  write(key: string, id: string, text: string): Promise<SendResult>;
  /** A stream consumer for `spec` (its own reader connection), its group created at `startAt`. */
  startConsumer(
    spec: SubscriptionSpec,
    startAt: { id: string; reset: boolean },
  ): Promise<StreamSubscription>;
  report(operation: string, err: unknown): void;
}

/** The stream an event with a kept guarantee goes to. */
export function topicStream(keys: KeyLayout, event: UnifiedEvent): string {
  const address = topicAddress(event.topic);
  if (event.deliveryGuarantee === DeliveryGuarantee.ORDERED)
    return keys.partitionStream(address, 0);
  const p = Math.min(5, Math.max(1, Math.round(Number(event.priority) || 2))) as Priority;
  return keys.priorityStream(address, p);
}

/** Every stream key of a topic, in the order a consumer reads them. */
export function topicStreams(keys: KeyLayout, topic: string): string[] {
  const address = topicAddress(topic);
  return [
    ...([5, 4, 3, 2, 1] as Priority[]).map((p) => keys.priorityStream(address, p)),
    keys.partitionStream(address, 0),
  ];
}

/** True when a kept stream, not Pub/Sub, carries the event. */
export const isDurableEvent = (event: UnifiedEvent): boolean =>
  event.deliveryGuarantee !== undefined &&
  event.deliveryGuarantee !== DeliveryGuarantee.BEST_EFFORT;

/** Does a topic subscription (`pattern`) want `topic`? */
const wants = (pattern: string, topic: string): boolean =>
  isWildcardPattern(pattern) ? matchTopic(pattern, topic) : pattern === topic;

export class DurableTopics {
  private readonly registered = new Set<string>();
  private readonly registering = new Map<string, Promise<void>>();
  private readonly listeners = new Set<(topic: string) => void>();
  private noticesReady: Promise<void> | undefined;
  private readonly subs = new Set<DurableTopicSubscription>();

  constructor(readonly host: DurableTopicsHost) {}

  /** Keep an event: register its topic once (announced when new), then XADD. */
  send(event: UnifiedEvent): Promise<SendResult> {
    const topic = event.topic;
    let text: string;
    try {
      text = encodeEnvelope(event);
    } catch (err) {
      return Promise.reject(err);
    }
    const key = topicStream(this.host.keys, event);
    if (this.registered.has(topic)) return this.host.write(key, event.id, text);
    return this.register(topic).then(() => this.host.write(key, event.id, text));
  }

  /**
   * `ZADD NX` the topic into the registry; the adder announces it (PUBLISH),
   * so subscriptions whose pattern matches attach to it. Before the first
   * XADD: a subscriber that attaches on the announcement starts its group at
   * the beginning of the stream, so it misses nothing.
   */
  register(topic: string): Promise<void> {
    let p = this.registering.get(topic);
    if (p !== undefined) return p;
    const { keys } = this.host;
    const c = this.host.commands();
    p = (c.call('ZADD', [keys.topicRegistry(), 'NX', String(Date.now()), topic]) as Promise<number>)
      .then((added) =>
        Number(added) === 1 ? c.call('PUBLISH', [keys.topicNotices(), topic]) : undefined,
      )
      .then(() => {
        if (this.registered.size >= REGISTERED_CACHE) this.registered.clear();
        this.registered.add(topic);
      })
      .finally(() => this.registering.delete(topic));
    this.registering.set(topic, p);
    return p;
  }

  /**
   * The command connection is back after a drop. The server may have
   * restarted without persistence and lost the registry: forget which topics
   * were registered (the next publish of each registers and announces it
   * again), and let every subscription put back the topics it reads and its
   * group's first-subscription time. Its consumers re-create their groups on
   * their own (NOGROUP on the next read).
   */
  reconnected(): void {
    this.registered.clear();
    for (const s of this.subs) {
      s.restore().catch((err) => this.host.report('topic registry restore', err));
    }
  }

  /** Every registered topic (one ZRANGE: the cost of a rescan grows with the number of topics). */
  async topics(): Promise<string[]> {
    const reply = await this.host
      .commands()
      .call('ZRANGE', [this.host.keys.topicRegistry(), '0', '-1']);
    return Array.isArray(reply) ? reply.map(String) : [];
  }

  /** Listen for topics new to the registry (on the adapter's Pub/Sub connection). */
  async onNotice(listener: (topic: string) => void): Promise<() => void> {
    this.listeners.add(listener);
    this.noticesReady ??= (async () => {
      const s = await this.host.subscriber();
      const channel = this.host.keys.topicNotices();
      s.on('message', (ch: string, topic: string) => {
        if (ch !== channel) return;
        for (const l of this.listeners) l(topic);
      });
      await s.subscribe(channel);
    })();
    try {
      await this.noticesReady;
    } catch (err) {
      this.noticesReady = undefined;
      this.listeners.delete(listener);
      throw err;
    }
    return () => this.listeners.delete(listener);
  }

  /** A topic subscription's part over kept events. */
  async subscribe(spec: SubscriptionSpec, seq: number): Promise<DurableTopicSubscription> {
    const sub = new DurableTopicSubscription(this, spec, seq, () => this.subs.delete(sub));
    this.subs.add(sub);
    try {
      await sub.start();
    } catch (err) {
      await sub.close();
      throw err;
    }
    return sub;
  }

  /** Lag per group and topic, as of the last check (health). */
  lagSnapshot(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.subs) {
      for (const [topic, lag] of s.lag) out[`${s.group} ${topic}`] = lag;
    }
    return out;
  }

  /** Operator figures of every durable topic subscription: per topic, the group's stats. */
  async inspect(): Promise<Record<string, unknown>> {
    const out: Record<string, Record<string, unknown>> = {};
    for (const s of this.subs) {
      for (const [topic, consumer] of s.consumers) {
        const entry = out[topic] ?? {};
        out[topic] = entry;
        try {
          entry[s.group] = await consumer.inspect();
        } catch (err) {
          entry[s.group] = { error: err instanceof Error ? err.message : String(err) };
        }
      }
    }
    return out;
  }

  /** Refresh each subscription's lag, and trim the topics a retention rule names. */
  async maintain(): Promise<void> {
    for (const s of this.subs) await s.refreshLag();
    const rules = this.host.opts.topicRetention;
    if (rules.length === 0) return;
    const c = this.host.commands();
    for (const topic of await this.topics()) {
      const rule = retentionFor(rules, topic);
      if (rule === undefined) continue;
      for (const key of topicStreams(this.host.keys, topic)) {
        if (rule.maxLen !== undefined) {
          await c.call('XTRIM', [key, 'MAXLEN', String(Math.floor(rule.maxLen))]);
        }
        if (rule.maxAgeMs !== undefined) {
          const min = Math.max(0, Date.now() - Math.floor(rule.maxAgeMs));
          await c.call('XTRIM', [key, 'MINID', `${min}-0`]);
        }
      }
    }
  }
}

/** The first retention rule whose pattern matches `topic`. */
export function retentionFor(
  rules: ReadonlyArray<readonly [string, TopicRetention]>,
  topic: string,
): TopicRetention | undefined {
  for (const [pattern, rule] of rules) if (wants(pattern, topic)) return rule;
  return undefined;
}

/**
 * Where a group starts on one topic stream it has no position on yet, and
 * whether a position it has is moved. `known`: the topic was registered when
 * the subscription began (a topic that appears later is read from its
 * start position without moving anything). `groupSince`: when the group first
 * subscribed (Redis time, ms), so a group that was down while a topic it
 * matches appeared still gets everything kept since it first subscribed.
 * `now`: the Redis time the subscription began.
 */
export function startPosition(
  start: TopicStart | undefined,
  known: boolean,
  groupSince: number,
  now: number,
): { id: string; reset: boolean } {
  const after = (ms: number) => (ms <= 0 ? '0' : `${ms - 1}-${MAX_SEQ}`);
  if (start === undefined || start === 'last') return { id: after(groupSince), reset: false };
  if (start === 'now') return { id: after(now), reset: known };
  if ('id' in start) return { id: start.id, reset: known };
  return { id: after(Math.floor(start.time)), reset: known };
}

/**
 * One topic subscription over kept events: a stream consumer per matching
 * topic, attached for the topics registered at the start and for each one
 * announced later (and found by a periodic rescan, should an announcement be
 * missed). The consumer group is `["<group>","<pattern>"]` for a named group
 * (a group is one per pattern, as on every transport), or one of this
 * subscription's own (`~<instance>-<n>`), removed when it closes.
 */
export class DurableTopicSubscription implements Subscription {
  readonly group: string;
  private readonly ownGroup: boolean;
  readonly consumers = new Map<string, StreamSubscription>();
  private readonly attaching = new Map<string, Promise<void>>();
  readonly lag = new Map<string, number>();
  private closed = false;
  private now = 0;
  private groupSince = 0;
  private stopNotices: (() => void) | undefined;
  private rescanTimer: NodeJS.Timeout | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly topics: DurableTopics,
    private readonly spec: SubscriptionSpec,
    seq: number,
    private readonly onClosed: () => void,
  ) {
    this.ownGroup = spec.group === undefined;
    this.group =
      spec.group === undefined
        ? `~${topics.host.instanceId}-${seq}`
        : JSON.stringify([spec.group, spec.address]);
  }

  async start(): Promise<void> {
    const host = this.topics.host;
    // Listen first, then read the registry: a topic registered in between is
    // seen at least once (attaching twice is a no-op).
    this.stopNotices = await this.topics.onNotice((topic) => {
      if (wants(this.spec.address, topic)) this.attach(topic, false);
    });
    const c = host.commands();
    const time = (await c.call('TIME', [])) as [string, string];
    this.now = Number(time[0]) * 1000 + Math.floor(Number(time[1]) / 1000);
    // The group's first subscription: what it has not read since then is its to read.
    await c.call('HSETNX', [host.keys.topicGroups(), this.group, String(this.now)]);
    this.groupSince = Number(await c.call('HGET', [host.keys.topicGroups(), this.group]));
    await this.rescan(true);
    this.rescanTimer = setInterval(() => {
      this.rescan(false).catch((err) => host.report('topic rescan', err));
    }, host.opts.topicRescanMs);
    this.rescanTimer.unref();
  }

  private async rescan(initial: boolean): Promise<void> {
    const matching = (await this.topics.topics()).filter((t) => wants(this.spec.address, t));
    await Promise.all(matching.map((t) => this.attach(t, initial)));
  }

  /** Start the consumer of one topic (once). */
  private attach(topic: string, known: boolean): Promise<void> {
    if (this.closed || this.consumers.has(topic)) return Promise.resolve();
    let p = this.attaching.get(topic);
    if (p !== undefined) return p;
    const host = this.topics.host;
    p = host
      .startConsumer(
        { ...this.spec, address: topicAddress(topic), group: this.group },
        startPosition(this.spec.startFrom, known, this.groupSince, this.now),
      )
      .then(
        async (consumer) => {
          if (this.closed) {
            await consumer.close();
            return;
          }
          this.consumers.set(topic, consumer);
        },
        (err: unknown) => host.report(`durable topic ${topic}`, err),
      )
      .finally(() => this.attaching.delete(topic));
    this.attaching.set(topic, p);
    return p;
  }

  /** Put back in Redis what this subscription knows, after the server may have lost it (see `reconnected`). */
  async restore(): Promise<void> {
    if (this.closed) return;
    const host = this.topics.host;
    await host
      .commands()
      .call('HSETNX', [host.keys.topicGroups(), this.group, String(this.groupSince)]);
    await Promise.all([...this.consumers.keys()].map((topic) => this.topics.register(topic)));
    await this.rescan(false);
  }

  /** The group's lag on each topic (entries not yet read by the group). */
  async refreshLag(): Promise<void> {
    for (const [topic, consumer] of this.consumers) {
      const stats = (await consumer.inspect()) as { lag?: number };
      this.lag.set(topic, Number(stats.lag ?? 0));
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.stopNotices?.();
      if (this.rescanTimer) clearInterval(this.rescanTimer);
      await Promise.allSettled([...this.attaching.values()]);
      const consumers = [...this.consumers.entries()];
      await Promise.allSettled(consumers.map(([, c]) => c.close()));
      if (this.ownGroup) {
        // Nobody else can ever read this subscription's own group: drop it so
        // it does not hold a lag on the topic forever.
        const { keys } = this.topics.host;
        const c = this.topics.host.commands();
        const keyed = consumers.flatMap(([topic]) => topicStreams(keys, topic));
        await Promise.allSettled([
          c.call('HDEL', [keys.topicGroups(), this.group]),
          ...keyed.map((key) => c.call('XGROUP', ['DESTROY', key, this.group])),
        ]);
      }
      this.onClosed();
    })();
    return this.closing;
  }
}
