/**
 * Pub/Sub on the receiving side: one subscriber connection for the whole
 * adapter, the channels and patterns it listens on, each with the local
 * subscriptions behind it, and the routing of each message to them (topics
 * fan out, an endpoint group takes a message once, a topic group claims it,
 * see topic-claims.ts). (Un)subscribes of one channel run one after another.
 *
 * With sharded Pub/Sub (`shardedPubSub` on a Cluster) the channels go by
 * SSUBSCRIBE (ioredis keeps a connection per master for them, inside the one
 * Cluster client) and their messages come as 'smessage'; patterns have no
 * sharded form and stay on classic PSUBSCRIBE.
 */

import type { InboundDelivery, Subscription, SubscriptionSpec } from '@hub/core';
import { withTimeout } from '@hub/core';
import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { decodePubSub } from './codec.js';
import { type ConnectionFactory, type RedisClient, whenReady } from './connection.js';
import type { KeyLayout } from './keys.js';
import { bounded } from './link-close.js';
import type { ResolvedOptions } from './options.js';
import { foreignReason, refusal } from './refusal.js';
import { claimThenDeliver } from './topic-claims.js';

const noop = () => {};

/** What the router needs from its adapter. */
export interface PubSubHost {
  readonly factory: ConnectionFactory;
  readonly opts: ResolvedOptions;
  readonly keys: KeyLayout;
  /** The command connection (topic-group claims); undefined before connect. */
  commands(): RedisClient | undefined;
  /** The adapter is closing: nothing is unsubscribed one by one then. */
  closing(): boolean;
  /** Attach the error listener (and state mirroring) every client needs. */
  watch(client: RedisClient, role: string): void;
  report(operation: string, err: unknown): void;
  /** A timer the adapter clears when it closes. */
  timer(t: NodeJS.Timeout): void;
}

export interface PubSubTarget {
  readonly spec: SubscriptionSpec;
  /** Pausing before a graceful close: a topic group stops claiming events (others take them). */
  paused?: boolean;
  /** Topic groups: claims sent and not answered yet; pause waits for them (a won claim is delivered). */
  claiming?: number;
  /** Waiting pauses, woken when `claiming` drops to zero. */
  settledClaims?: Array<() => void> | undefined;
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

export class PubSubRouter {
  /** The Pub/Sub connection, made on first use. */
  subscriber: RedisClient | undefined;
  private subscriberReady: Promise<void> | undefined;
  readonly channelSubs = new Map<string, Set<PubSubTarget>>();
  /** Channels and patterns let go while the subscriber link was down (see add). */
  private readonly unsubscribeOnReady = new Map<
    string,
    { name: string; kind: 'channel' | 'pattern' }
  >();
  /** Tail of the (un)subscribe operations per channel or pattern (see serial). */
  private readonly pubsubOps = new Map<string, Promise<void>>();
  readonly patternSubs = new Map<string, Set<PubSubTarget>>();
  /** Rotates which of several local subscriptions of one endpoint group gets the next message. */
  private rotor = 0;

  constructor(private readonly host: PubSubHost) {}

  async ensureSubscriber(): Promise<RedisClient> {
    if (!this.subscriber) {
      const { client } = this.host.factory.create('subscriber');
      this.subscriber = client;
      this.host.watch(client, 'subscriber');
      const onMessage = (channel: string, message: string) => {
        this.dispatch(this.channelSubs.get(channel), message, channel);
      };
      client.on(this.sharded ? 'smessage' : 'message', onMessage);
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
          this.unsubscribe(client, name, kind).catch((err: unknown) =>
            this.host.report('unsubscribe', err),
          );
        }
        this.unsubscribeOnReady.clear();
      });
      this.subscriberReady = whenReady(
        client,
        Math.max(10_000, this.host.opts.commandTimeoutMs * 2),
        'subscriber',
      );
      // A ping keeps a reply due on the otherwise silent Pub/Sub link, so the
      // socket timeout notices when the link dies without closing.
      const t = setInterval(() => {
        if (client.status === 'ready') (client as { ping(): Promise<unknown> }).ping().catch(noop);
      }, this.host.opts.heartbeatMs);
      t.unref();
      this.host.timer(t);
    }
    await this.subscriberReady;
    return this.subscriber;
  }

  /** Channels go over sharded Pub/Sub (see the top of the file). */
  private get sharded(): boolean {
    return this.host.factory.shardedPubSub;
  }

  private subscribe(c: RedisClient, name: string, kind: 'channel' | 'pattern'): Promise<unknown> {
    if (kind === 'pattern') return c.psubscribe(name);
    return this.sharded ? c.ssubscribe(name) : c.subscribe(name);
  }

  private unsubscribe(c: RedisClient, name: string, kind: 'channel' | 'pattern'): Promise<unknown> {
    if (kind === 'pattern') return c.punsubscribe(name);
    return this.sharded ? c.sunsubscribe(name) : c.unsubscribe(name);
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

  async add(
    map: Map<string, Set<PubSubTarget>>,
    name: string,
    target: PubSubTarget,
    kind: 'channel' | 'pattern',
  ): Promise<Subscription> {
    const sub = await this.ensureSubscriber();
    const key = `${kind}\u0000${name}`;
    const command = kind === 'pattern' ? 'PSUBSCRIBE' : this.sharded ? 'SSUBSCRIBE' : 'SUBSCRIBE';
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
          this.subscribe(sub, name, kind),
          this.host.opts.commandTimeoutMs,
          `${command} ${name}`,
        );
      } catch (err) {
        // A SUBSCRIBE that timed out may still land later: cancel it.
        this.unsubscribe(sub, name, kind).catch(noop);
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
            if (client.status === 'ready' && !this.host.closing()) {
              await bounded(
                this.unsubscribe(client, name, kind),
                this.host.opts.commandTimeoutMs,
              ).catch((err: unknown) => this.host.report('unsubscribe', err));
            } else if (!this.host.closing()) {
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
      envelope = decodePubSub(message);
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
    const foreign = foreignReason(envelope, first!.spec, 'channel', channel);
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
    if (t.spec.kind === 'topic' && t.spec.group !== undefined)
      claimThenDeliver(this.host, t, envelope, this.deliverTo);
    else this.deliverTo(t, envelope);
  }

  private readonly deliverTo = (t: PubSubTarget, envelope: Envelope): void => {
    try {
      t.spec.deliver(new PubSubDelivery(envelope));
    } catch (err) {
      this.host.report('deliver', err);
    }
  };
}
