/**
 * The in-memory adapter: the embedded default transport, and the first user of
 * the conformance suite. Messages move between subscriptions of one process
 * (one hub, or several hubs sharing a broker) with consumer groups, flow
 * control, per-key ordering, priorities, native acks and a dead-letter queue.
 * Nothing survives a restart (`persistent: false`).
 *
 * Fault injection (`faults`, `setFaults`, `disconnect`/`reconnect`) lets the
 * core's retry, circuit-breaker, dedup and routing features be tested without
 * any infrastructure.
 */
import {
  checkedClonePayload,
  checkWirePayload,
  DEFAULT_LIMITS,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { BaseAdapter } from '../adapter/base.js';
import type {
  AdapterCapabilities,
  AdapterContext,
  AdapterState,
  DeadLetterEntry,
  DeadLetterReader,
  DeliverFn,
  SendResult,
  Subscription,
  SubscriptionSpec,
} from '../adapter/contract.js';
import { AdapterError, wrapAdapterError } from '../adapter/errors.js';
import { takeHandedOver } from '../adapter/payload-ownership.js';
import {
  type BrokerClient,
  BrokerCore,
  type ClientCounters,
  type GroupMember,
  type MemoryDelivery,
} from './memory/broker.js';
import { rejectUnknownMemoryOptions } from './memory-options.js';

export interface MemoryBrokerOptions {
  /**
   * Most queued (not yet delivered) messages per consumer group. Over it a
   * best-effort message or an event is dropped and counted; any other
   * guarantee makes `send` reject with `HUB_OVERLOADED`.
   * @default 100_000
   */
  maxQueueLength?: number;
  /** Most entries kept per dead-letter queue; the oldest are dropped and counted. @default 10_000 */
  maxDeadLetters?: number;
  /**
   * Priority starvation guard: after this many consecutive deliveries that
   * passed over a waiting lower priority, the oldest lowest-priority message
   * goes once. @default 16
   */
  starvationLimit?: number;
  /**
   * Most deliveries per microtask drain. A smaller batch interleaves handler
   * continuations sooner; the `reorder` fault shuffles within one batch.
   * @default 1024
   */
  batchSize?: number;
}

/**
 * A broker several memory adapters can share (several hubs in one process).
 * Create it with {@link createMemoryBroker} and pass it as `memory({ broker })`.
 */
export interface MemoryBroker {
  /** The broker's settings after defaults. */
  readonly options: Readonly<Required<MemoryBrokerOptions>>;
  /** Dead-lettered entries of one endpoint id or topic pattern, oldest first. */
  readDeadLetters(address: string, limit?: number): DeadLetterEntry[];
  /** Per-address queue, in-flight and dead-letter numbers. */
  inspect(): Record<string, unknown>;
}

/**
 * Injected faults. Probabilities are 0..1 and drawn from `random`.
 * Send-side faults (`failSend`, `drop`, `duplicate`) act on messages this
 * adapter sends; delivery-side faults (`delayMs`, `reorder`) act on messages
 * delivered to this adapter's subscriptions.
 */
export interface MemoryFaults {
  /**
   * Probability that `send` rejects with a retryable `AdapterError`
   * (`HUB_ADAPTER_FAILED`), or a predicate choosing the envelopes that fail.
   * Nothing is enqueued for a failed send. @default 0
   */
  failSend?: number | ((envelope: UnifiedMessage | UnifiedEvent) => boolean);
  /**
   * Probability that an accepted message is silently lost: `send` resolves but
   * nothing is delivered, like a lossy link. This breaks at-least-once on
   * purpose; use it to test best-effort paths and end-to-end timeouts.
   * Counted in `health().detail.droppedByFault`. @default 0
   */
  drop?: number;
  /** Delay each delivery by this many ms, or by a uniform draw from `[min, max]`. @default 0 */
  delayMs?: number | readonly [number, number];
  /** Probability that an accepted message is delivered twice (two independent deliveries). @default 0 */
  duplicate?: number;
  /** Shuffle each drained batch of deliveries (per-key order of `ordered` still holds). @default false */
  reorder?: boolean;
  /** Source of randomness for every fault; pass a seeded generator for reproducible tests. @default Math.random */
  random?: () => number;
}

/** `setFaults` input: a field set to `undefined` turns that fault off. */
export type MemoryFaultsUpdate = { [K in keyof MemoryFaults]?: MemoryFaults[K] | undefined };

export interface MemoryAdapterOptions extends MemoryBrokerOptions {
  /** Adapter name, as the router and metrics see it. @default 'memory' */
  name?: string;
  /**
   * Share a broker with other memory adapters (other hubs in this process).
   * Without one, the adapter gets a private broker. Broker options
   * (`maxQueueLength`, …) then belong to {@link createMemoryBroker}.
   * @default a private broker
   */
  broker?: MemoryBroker;
  /** Faults injected from the start; change them later with `setFaults`. @default none */
  faults?: MemoryFaults;
  /**
   * By default the memory transport behaves like the wire: `send` refuses a
   * payload a networked transport refuses (Map, Set, NaN, Infinity,
   * functions, class instances, too deep, too large: the same
   * `HUB_INVALID_MESSAGE` error the JSON codec throws), and every handler
   * gets its own copy of the envelope (headers and payload; Date, Uint8Array
   * and bigint survive as the JSON codec carries them), so neither side can
   * change what the other sees. `true` skips the check and the copies: the
   * handler gets the sender's payload object itself. Faster, but code tested
   * this way may break on a networked transport.
   * @default false
   */
  shareObjects?: boolean;
}

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  guarantees: Object.freeze(['best-effort', 'at-least-once', 'exactly-once', 'ordered'] as const),
  persistent: false,
  ordered: true,
  broadcast: true,
  // Events are acked and redelivered in process like messages (lost with the process, as they are).
  durableTopics: true,
  patterns: true,
  consumerGroups: true,
});

const RESOLVED: Promise<void> = Promise.resolve();

/** The broker behind each public handle; a WeakMap keeps internals off the public object. */
const cores = new WeakMap<MemoryBroker, BrokerCore>();

function positiveInt(value: unknown, field: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:memory] ${field} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

function brokerSettings(opts: MemoryBrokerOptions): Required<MemoryBrokerOptions> {
  const starvation = opts.starvationLimit;
  if (starvation !== undefined && (typeof starvation !== 'number' || !(starvation >= 0))) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:memory] starvationLimit must be a number >= 0, got ${String(starvation)}`,
    );
  }
  return {
    maxQueueLength: positiveInt(opts.maxQueueLength, 'maxQueueLength', 100_000),
    maxDeadLetters: positiveInt(opts.maxDeadLetters, 'maxDeadLetters', 10_000),
    starvationLimit: starvation ?? 16,
    batchSize: positiveInt(opts.batchSize, 'batchSize', 1024),
  };
}

function newBroker(opts: MemoryBrokerOptions): [MemoryBroker, BrokerCore] {
  const options = Object.freeze(brokerSettings(opts));
  const core = new BrokerCore(options);
  const handle: MemoryBroker = Object.freeze({
    options,
    readDeadLetters: (address: string, limit?: number) => core.readDeadLetters(address, limit),
    inspect: () => core.stats(),
  });
  cores.set(handle, core);
  return [handle, core];
}

/** A broker to share between memory adapters: `memory({ broker })` in each hub. */
export function createMemoryBroker(opts: MemoryBrokerOptions = {}): MemoryBroker {
  rejectUnknownMemoryOptions('createMemoryBroker', opts);
  return newBroker(opts)[0];
}

function checkProbability(value: unknown, field: string): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:memory] faults.${field} must be a probability in [0, 1], got ${String(value)}`,
    );
  }
}

function checkFaults(f: MemoryFaults): void {
  if (typeof f.failSend !== 'function') checkProbability(f.failSend, 'failSend');
  checkProbability(f.drop, 'drop');
  checkProbability(f.duplicate, 'duplicate');
  const d = f.delayMs;
  if (d !== undefined) {
    const ok =
      typeof d === 'number'
        ? d >= 0
        : Array.isArray(d) && d.length === 2 && d[0] >= 0 && d[1] >= d[0];
    if (!ok) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:memory] faults.delayMs must be a number >= 0 or [min, max] with 0 <= min <= max, got ${JSON.stringify(d)}`,
      );
    }
  }
  if (f.random !== undefined && typeof f.random !== 'function') {
    throw new HubError(ErrorCode.INVALID_CONFIG, '[hub:memory] faults.random must be a function');
  }
}

/**
 * The in-memory transport. Implements the adapter contract and
 * {@link DeadLetterReader}; create it with {@link memory}.
 */
export class MemoryAdapter extends BaseAdapter implements DeadLetterReader, BrokerClient {
  readonly name: string;
  readonly capabilities: AdapterCapabilities = CAPABILITIES;
  /** @internal drops and deliveries counted by the broker for this adapter */
  readonly counters: ClientCounters = {
    delivered: 0,
    deliveredDirect: 0,
    droppedNoConsumer: 0,
    droppedOverflow: 0,
    droppedByFault: 0,
    eventsUnmatched: 0,
  };
  /** @internal */
  deliveryFaults = false;
  /** @internal deliveries to this adapter's subscriptions get their own copy (see `shareObjects`) */
  readonly copies: boolean;
  private sendFaults = false;
  private faults: MemoryFaults = {};
  private blocked = false;
  private linkDown = false;
  private readonly core: BrokerCore;
  private readonly ownsBroker: boolean;
  /** This adapter's subscriptions, each a member of a broker group. */
  private readonly members = new Set<GroupMember>();
  private readonly deliveryTimers = new Set<ReturnType<typeof setTimeout>>();
  private readonly requeueTimers = new Map<ReturnType<typeof setTimeout>, MemoryDelivery>();
  private reorderBuf: MemoryDelivery[] = [];
  /** What every accepted send resolves to (one frozen object: see BaseAdapter's `send`). */
  private readonly result: SendResult;

  constructor(opts: MemoryAdapterOptions = {}) {
    super();
    rejectUnknownMemoryOptions('memory', opts);
    const name = opts.name ?? 'memory';
    if (typeof name !== 'string' || name.length === 0) {
      throw new HubError(ErrorCode.INVALID_CONFIG, '[hub:memory] name must be a non-empty string');
    }
    this.name = name;
    if (opts.shareObjects !== undefined && typeof opts.shareObjects !== 'boolean') {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:${name}] shareObjects must be a boolean, got ${String(opts.shareObjects)}`,
      );
    }
    this.copies = opts.shareObjects !== true;
    if (opts.broker !== undefined) {
      const core = cores.get(opts.broker);
      if (core === undefined) {
        throw new HubError(
          ErrorCode.INVALID_CONFIG,
          `[hub:${name}] broker must come from createMemoryBroker()`,
        );
      }
      for (const k of [
        'maxQueueLength',
        'maxDeadLetters',
        'starvationLimit',
        'batchSize',
      ] as const) {
        if (opts[k] !== undefined) {
          throw new HubError(
            ErrorCode.INVALID_CONFIG,
            `[hub:${name}] ${k} belongs to createMemoryBroker() when a shared broker is given`,
          );
        }
      }
      this.core = core;
      this.ownsBroker = false;
    } else {
      this.core = newBroker(opts)[1];
      this.ownsBroker = true;
    }
    this.result = Object.freeze({ protocol: name });
    if (opts.faults !== undefined) this.setFaults(opts.faults);
  }

  /** Change injected faults at runtime; a field set to `undefined` turns that fault off. */
  setFaults(update: MemoryFaultsUpdate): void {
    rejectUnknownMemoryOptions('setFaults', update);
    const next: Record<string, unknown> = { ...this.faults };
    for (const [k, v] of Object.entries(update)) {
      if (v === undefined) delete next[k];
      else next[k] = v;
    }
    const faults = next as MemoryFaults;
    checkFaults(faults);
    this.faults = faults;
    this.sendFaults =
      faults.failSend !== undefined || (faults.drop ?? 0) > 0 || (faults.duplicate ?? 0) > 0;
    const d = faults.delayMs;
    this.deliveryFaults =
      faults.reorder === true || (typeof d === 'number' ? d > 0 : d !== undefined && d[1] > 0);
  }

  /** Turn every injected fault off (a `disconnect()` stays until `reconnect()`). */
  clearFaults(): void {
    this.faults = {};
    this.sendFaults = false;
    this.deliveryFaults = false;
  }

  /**
   * Simulate a lost link: health turns unhealthy (`degraded`), sends reject
   * with a retryable `HUB_CONNECTION_FAILED`, and delivery to this adapter's
   * subscriptions pauses (in-flight deliveries may still be settled).
   */
  disconnect(): void {
    if (this.linkDown || this.state === 'closing' || this.state === 'closed') return;
    this.linkDown = true;
    for (const c of this.members) this.core.setPaused(c, true);
    // Before connect the state stays `idle`; connect() then lands on `degraded`.
    if (this.state === 'ready') this.setState('degraded');
    else this.refreshBlocked();
    this.fail(
      'connection',
      new AdapterError(this.name, 'connection lost (injected by disconnect())', {
        code: ErrorCode.CONNECTION_FAILED,
        retryable: true,
      }),
    );
  }

  /** End a simulated outage: sends work again and paused deliveries resume. */
  reconnect(): void {
    if (!this.linkDown) return;
    this.linkDown = false;
    if (this.state === 'degraded') this.setState('ready');
    else this.refreshBlocked();
    for (const c of this.members) this.core.setPaused(c, false);
  }

  protected override setState(state: AdapterState): void {
    super.setState(this.linkDown && state === 'ready' ? 'degraded' : state);
    this.refreshBlocked();
  }

  private refreshBlocked(): void {
    const s = this.state;
    this.blocked = this.linkDown || s === 'closing' || s === 'closed';
  }

  // ------------------------------------------------------------------- send
  //
  // BaseAdapter's `send` chooses the method, counts and wraps what is thrown.
  // Each method refuses a send while blocked, takes a snapshot of the
  // envelope (payload checked as the wire checks it) unless `shareObjects`,
  // applies the send-side faults, and routes it: all synchronously, returning
  // the one frozen result, so the hot path allocates no promise of its own.

  /** Events: to every group whose pattern matches the topic. */
  protected override doSendEvent(event: UnifiedEvent): SendResult {
    if (this.blocked) throw this.blockedError(event);
    const env = this.copies ? snapshotEvent(event) : event;
    if (this.sendFaults) return this.faultySend(env, this.core.routeEvent);
    return this.routed(this.core.routeEvent(env, this));
  }

  /** Best-effort messages: to the endpoint's groups that have a subscriber, or refused. */
  protected override doSendBestEffort(message: UnifiedMessage): SendResult {
    if (this.blocked) throw this.blockedError(message);
    const env = this.copies ? snapshotMessage(message) : message;
    if (this.sendFaults) return this.faultySend(env, this.core.routeBestEffort);
    return this.routed(this.core.routeBestEffort(env, this));
  }

  /** The messages the broker keeps (at-least-once, exactly-once, ordered). */
  protected doSend(envelope: UnifiedMessage | UnifiedEvent): SendResult {
    // The base hands events to doSendEvent; this narrows the type only.
    if (envelope.kind === 'event') return this.doSendEvent(envelope);
    if (this.blocked) throw this.blockedError(envelope);
    const env = this.copies ? snapshotMessage(envelope) : envelope;
    if (this.sendFaults) return this.faultySend(env, this.core.routeMessage);
    return this.routed(this.core.routeMessage(env, this));
  }

  /** A route's outcome as a send's: the result, or its error thrown. */
  private routed(err: HubError | undefined): SendResult {
    if (err !== undefined) throw err;
    return this.result;
  }

  /**
   * What the broker throws while routing (a bug, not a transport blip) fails
   * the send for good; the errors it returns are thrown as they are.
   */
  protected override classifySendError(err: unknown): unknown {
    return wrapAdapterError(this.name, 'send', err, false);
  }

  private blockedError(envelope: UnifiedMessage | UnifiedEvent): HubError {
    const target = describeTarget(envelope);
    if (this.linkDown && this.state !== 'closing' && this.state !== 'closed') {
      return new AdapterError(
        this.name,
        `send to ${target} failed: not connected (disconnect() in effect)`,
        { code: ErrorCode.CONNECTION_FAILED, retryable: true },
      );
    }
    return new HubError(
      ErrorCode.CLOSED,
      `[hub:${this.name}] send to ${target} failed: the adapter is closed`,
    );
  }

  /** A send with `failSend`, `drop` or `duplicate` configured, routed by `route`. */
  private faultySend<E extends UnifiedMessage | UnifiedEvent>(
    env: E,
    route: (this: BrokerCore, env: E, client: BrokerClient) => HubError | undefined,
  ): SendResult {
    const f = this.faults;
    const random = f.random ?? Math.random;
    const failSend = f.failSend;
    if (failSend !== undefined) {
      let fail = true;
      try {
        fail = typeof failSend === 'function' ? failSend(env) : random() < failSend;
      } catch {
        // a throwing predicate counts as "fail this send"
      }
      if (fail) {
        throw new AdapterError(
          this.name,
          `send to ${describeTarget(env)} failed: injected fault (failSend)`,
          { retryable: true },
        );
      }
    }
    if (f.drop !== undefined && f.drop > 0 && random() < f.drop) {
      this.counters.droppedByFault++;
      return this.result;
    }
    const core = this.core;
    const err = route.call(core, env, this);
    if (err !== undefined) throw err;
    // A retransmitted copy: a second, independent delivery (a full queue just sheds it).
    if (f.duplicate !== undefined && f.duplicate > 0 && random() < f.duplicate) {
      try {
        route.call(core, env, this);
      } catch {
        // the copy is lost, as a retransmission may be; the send itself succeeded
      }
    }
    return this.result;
  }

  /**
   * @internal The hub's direct local path (a best-effort request to a handler
   * of the same hub). When `deliver` is the only consumer a send of `env`
   * would reach now (see BrokerCore.soleMember) and no fault is injected,
   * account the send and the delivery as `send` would and return the
   * envelope the handler gets (checked and copied as `send` copies it, unless
   * `shareObjects`); else undefined, and the hub sends the normal way. `env`
   * must be an object the hub built for this send (it is copied in place).
   * A payload the wire refuses: undefined too, and `send` refuses it.
   */
  takeDirect(env: UnifiedMessage, deliver: DeliverFn): UnifiedMessage | undefined {
    if (this.blocked || this.sendFaults || this.deliveryFaults) return undefined;
    const c = this.core.soleMember(env.destination, this);
    if (c === undefined || c.deliver !== deliver) return undefined;
    if (this.copies) {
      try {
        copyInPlace(env);
      } catch {
        // `send` refuses it the same way, and counts it there
        return undefined;
      }
    }
    this.sendCounters.sent++;
    this.counters.delivered++;
    this.counters.deliveredDirect++;
    return env;
  }

  /**
   * @internal The reply of a request that took the direct local path, handed
   * straight back to the requester (this hub's inbox): accounted as a send
   * and a delivery, its payload checked and copied in place as `send` would.
   * `reply` and its headers object must have been built by the hub for this
   * reply: nobody else holds the headers, so they need no copy.
   */
  replyDirect(reply: UnifiedMessage): boolean {
    if (this.blocked || this.sendFaults || this.deliveryFaults) return false;
    if (this.copies) {
      try {
        copyPayloadInPlace(reply);
      } catch (err) {
        // refused, counted and recorded as `send` refuses it
        throw this.sendFailed(err);
      }
    }
    this.sendCounters.sent++;
    this.counters.delivered++;
    this.counters.deliveredDirect++;
    return true;
  }

  /** @internal dead-letter a message of the direct local path (the broker never queued it). */
  deadLetterDirect(env: UnifiedMessage, reason: string, attempts: number): void {
    this.core.deadLetterDirect(env.destination, env, reason, attempts);
  }

  protected async doConnect(_ctx: AdapterContext): Promise<void> {
    if (this.core.isDisposed) {
      throw new HubError(
        ErrorCode.CLOSED,
        `[hub:${this.name}] connect failed: the broker is closed`,
      );
    }
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    if (this.state === 'closing' || this.state === 'closed' || this.core.isDisposed) {
      throw new HubError(
        ErrorCode.CLOSED,
        `[hub:${this.name}] subscribe failed: the adapter is closed`,
      );
    }
    const { prefetch, maxDeliveries } = checkSpec(this.name, spec);
    const group = this.core.joinGroup(spec.kind, spec.address, spec.group);
    const member = this.core.addMember(group, this, spec.deliver, prefetch, maxDeliveries);
    this.members.add(member);
    if (this.linkDown) this.core.setPaused(member, true);
    const members = this.members;
    const core = this.core;
    return {
      close: () => {
        if (members.delete(member)) core.removeMember(member);
        return RESOLVED;
      },
    };
  }

  protected async doClose(): Promise<void> {
    for (const c of this.members) this.core.removeMember(c);
    this.members.clear();
    for (const t of this.deliveryTimers) clearTimeout(t);
    this.deliveryTimers.clear();
    // Nacked-with-delay messages still belong to the group: hand them back now, not never.
    const pending = [...this.requeueTimers];
    this.requeueTimers.clear();
    for (const [t, d] of pending) {
      clearTimeout(t);
      this.core.requeueFront(d, true);
    }
    this.reorderBuf = [];
    const idx = this.core.reorderPending.indexOf(this);
    if (idx >= 0) this.core.reorderPending.splice(idx, 1);
    if (this.ownsBroker) this.core.dispose();
  }

  readDeadLetters(address: string, limit?: number): Promise<DeadLetterEntry[]> {
    return Promise.resolve(this.core.readDeadLetters(address, limit));
  }

  inspect(): Promise<Record<string, unknown>> {
    return Promise.resolve({
      adapter: this.name,
      ...this.core.stats(),
      counters: { ...this.counters },
    });
  }

  /** Deliveries queued, unacknowledged or held back by the `delayMs` fault, over the broker's groups. */
  backlog(): number {
    let n = 0;
    this.core.forEachGroup((g) => {
      n += g.queued + g.inflight + g.delayed;
    });
    return n;
  }

  protected override healthDetail(): Record<string, unknown> {
    let queued = 0;
    let inflight = 0;
    let delayed = 0;
    let groups = 0;
    this.core.forEachGroup((g) => {
      groups++;
      queued += g.queued;
      inflight += g.inflight;
      delayed += g.delayed;
    });
    const c = this.counters;
    const dl = this.core.deadLetterCounts();
    return {
      queued,
      inflight,
      delayed,
      groups,
      deadLetters: dl.total,
      deadLettersDropped: dl.dropped,
      dropped: c.droppedNoConsumer + c.droppedOverflow + c.droppedByFault,
      droppedNoConsumer: c.droppedNoConsumer,
      droppedOverflow: c.droppedOverflow,
      droppedByFault: c.droppedByFault,
      eventsUnmatched: c.eventsUnmatched,
      delivered: c.delivered,
      deliveredDirect: c.deliveredDirect,
      connected: !this.linkDown,
    };
  }

  // ------------------------------------------------- BrokerClient (internal)

  /** @internal */
  faultDeliver(d: MemoryDelivery): void {
    if (this.faults.reorder === true) {
      if (this.reorderBuf.length === 0) this.core.reorderPending.push(this);
      this.reorderBuf.push(d);
      return;
    }
    this.deliverLater(d);
  }

  /** @internal end of a drain pass: deliver the held batch in a shuffled order */
  flush(): void {
    const batch = this.reorderBuf;
    this.reorderBuf = [];
    const random = this.faults.random ?? Math.random;
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      const t = batch[i] as MemoryDelivery;
      batch[i] = batch[j] as MemoryDelivery;
      batch[j] = t;
    }
    for (const d of batch) if (d.live) this.deliverLater(d);
  }

  private deliverLater(d: MemoryDelivery): void {
    const delay = this.faults.delayMs;
    let ms = 0;
    if (typeof delay === 'number') ms = delay;
    else if (delay !== undefined) {
      const random = this.faults.random ?? Math.random;
      ms = delay[0] + random() * (delay[1] - delay[0]);
    }
    if (ms <= 0) {
      this.core.invoke(d);
      return;
    }
    const timer = setTimeout(() => {
      this.deliveryTimers.delete(timer);
      if (d.live) this.core.invoke(d);
    }, ms);
    timer.unref();
    this.deliveryTimers.add(timer);
  }

  /** @internal */
  delayRequeue(d: MemoryDelivery, delayMs: number): void {
    const timer = setTimeout(() => {
      this.requeueTimers.delete(timer);
      this.core.requeueFront(d, true);
    }, delayMs);
    timer.unref();
    this.requeueTimers.set(timer, d);
  }

  /** @internal */
  report(operation: string, err: unknown): void {
    this.fail(operation, err);
  }
}

/**
 * What a wire transport takes at `send`: the payload checked as the JSON codec
 * checks it (a payload the wire refuses throws the codec's error), and a copy
 * of the envelope the sender can no longer change.
 *
 * A payload handed over to the hub (`handOverPayload`: an entry point decoded
 * it and holds it no more) is checked but not copied: no sender can change
 * it, which is all the copy is for. The envelope and its headers are still
 * copied, since the sender keeps reading those (its id, for one). The mark is
 * used up here; a later send of the same envelope object is copied. That
 * later copy cannot see a receiver's change: the hub retries a send only
 * after it failed, when this transport queued nothing, and it clears the mark
 * before a broadcast to several adapters.
 */
function snapshotMessage(env: UnifiedMessage): UnifiedMessage {
  // Clone, then overwrite: V8's fast path for a bare spread, no shape change.
  const copy = { ...env };
  if (takeHandedOver(env)) {
    checkPayload(env.payload, 'payload');
    copy.headers = { ...env.headers };
    return copy;
  }
  copyInPlace(copy);
  return copy;
}

/** {@link snapshotMessage} for an event (its payload is `data`). */
function snapshotEvent(env: UnifiedEvent): UnifiedEvent {
  const limits = DEFAULT_LIMITS;
  let data = env.data;
  if (takeHandedOver(env)) checkPayload(data, 'data');
  else {
    data = checkedClonePayload(data, 'data', limits.maxPayloadDepth, limits.maxPayloadBytes);
  }
  const copy = { ...env };
  copy.headers = { ...env.headers };
  copy.data = data;
  return copy;
}

/** The wire's check of a payload the transport takes without a copy. */
function checkPayload(payload: unknown, field: string): void {
  const limits = DEFAULT_LIMITS;
  checkWirePayload(payload, field, limits.maxPayloadDepth, limits.maxPayloadBytes);
}

/**
 * {@link snapshotMessage} for a message object nobody else holds (built by
 * the hub for this one send, or the spread copy of one): headers and payload
 * are replaced by copies.
 */
function copyInPlace(env: UnifiedMessage): void {
  // Checked and copied first: a refused payload leaves `env` as it was.
  copyPayloadInPlace(env);
  env.headers = { ...env.headers };
}

/** The payload half of {@link copyInPlace}, for a message whose headers object nobody else holds. */
function copyPayloadInPlace(env: UnifiedMessage): void {
  const limits = DEFAULT_LIMITS;
  // Checked and copied in one walk; a refused payload leaves `env` as it was.
  env.payload = checkedClonePayload(
    env.payload,
    'payload',
    limits.maxPayloadDepth,
    limits.maxPayloadBytes,
  );
}

function describeTarget(envelope: UnifiedMessage | UnifiedEvent): string {
  return envelope.kind === 'event'
    ? `topic "${String(envelope.topic)}"`
    : `"${String(envelope.destination)}"`;
}

function checkSpec(
  name: string,
  spec: SubscriptionSpec,
): { prefetch: number; maxDeliveries: number } {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:${name}] subscribe: ${field} must be ${want}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`,
    );
  };
  if (spec === null || typeof spec !== 'object') return bad('spec', 'an object', spec);
  if (spec.kind !== 'endpoint' && spec.kind !== 'topic')
    bad('kind', '"endpoint" or "topic"', spec.kind);
  if (typeof spec.address !== 'string' || spec.address.length === 0) {
    bad('address', 'a non-empty string', spec.address);
  }
  if (spec.group !== undefined && (typeof spec.group !== 'string' || spec.group.length === 0)) {
    bad('group', 'a non-empty string', spec.group);
  }
  if (typeof spec.deliver !== 'function') bad('deliver', 'a function', spec.deliver);
  const p = spec.prefetch;
  if (typeof p !== 'number' || !(p >= 1)) bad('prefetch', 'a number >= 1', p);
  const m = spec.maxDeliveries;
  const maxDeliveries = typeof m === 'number' && m >= 1 ? m : Number.POSITIVE_INFINITY;
  return { prefetch: Number.isFinite(p) ? Math.floor(p) : p, maxDeliveries };
}

/** The in-memory adapter; pass `{ broker }` to connect several hubs of one process. */
export function memory(opts: MemoryAdapterOptions = {}): MemoryAdapter {
  return new MemoryAdapter(opts);
}
