/**
 * Request/reply: a request is a message whose `replyTo` is this hub's private
 * inbox endpoint; the reply is a message carrying the request's
 * `correlationId`. This module keeps the waiting requests, their deadlines
 * (HUB_TIMEOUT at the deadline) and the inbox, and builds replies.
 */

import {
  createReply,
  DeliveryGuarantee,
  ErrorCode,
  HubError,
  type UnifiedMessage,
} from '@hub/protocol';
import { perf } from '../common/clock.js';
import { RingDeque } from '../delivery/priority-queue.js';
import type { Logger } from '../logger.js';
import { TimeoutError } from '../resilience/timeout.js';
import { carryIdentity } from '../security/identity.js';
import { TIME_ORIGIN } from './send-pipeline.js';
import type { ConsumeOptions, MessageHandler, MessageResult, Unsubscribe } from './types.js';

/** Prefix of every hub's private reply endpoint: `_inbox.<instanceId>`. */
export const INBOX_PREFIX = '_inbox.';

/**
 * A request waiting for its reply, as the transport path that carries it may
 * hold it: the direct local path hands the reply to it without looking the
 * request up by correlationId (see {@link RequestReply.answerWaiting}).
 */
export interface Waiting {
  /** The correlationId the reply carries. */
  readonly id: string;
}

interface PendingRequest extends Waiting {
  readonly resolve: (reply: UnifiedMessage) => void;
  readonly reject: (err: Error) => void;
  /** perf.now() past which the request fails with HUB_TIMEOUT. */
  readonly deadline: number;
  readonly lane: Lane;
  /** Answered, failed or timed out: no longer waiting (its lane drops it lazily). */
  settled: boolean;
  readonly message: UnifiedMessage;
  readonly timeoutMs: number;
  /** The caller's promise, and the one the first request chains behind the inbox. */
  promise: Promise<UnifiedMessage> | undefined;
  outer: Promise<unknown> | undefined;
}

const ignore = (): void => {};

/**
 * The waiting requests of one timeout value, oldest (earliest deadline)
 * first. A request that settles is only flagged; the lane drops it when it
 * reaches the head, so a request costs a push and a flag here instead of a
 * map insert and delete. Answers out of order (behind one slow request) are
 * compacted away before they can pile up: the queue never holds more than
 * twice the requests still waiting, plus a few.
 */
class Lane {
  readonly queue = new RingDeque<PendingRequest>();
  /** Requests in the queue still waiting. */
  live = 0;

  add(p: PendingRequest): void {
    const q = this.queue;
    while (q.size > 0 && (q.peek() as PendingRequest).settled) q.shift();
    if (q.size > 2 * this.live + 32) {
      for (const x of q.clear()) if (!x.settled) q.push(x);
    }
    q.push(p);
    this.live++;
  }
}

/**
 * The waiting requests by correlationId. An answered request is only flagged
 * (`settled`) and stays in the map until the map is rebuilt with the
 * requests still waiting, once it holds about twice as many entries as
 * wait, plus a few; nothing is ever deleted from a map.
 *
 * Why not `set` and `delete` on one long-lived Map: V8 rebuilds a Map's
 * table when deleted entries fill it, and the table it leaves behind keeps
 * its entries and a link to the new table (for iterators). Once one such
 * table has been moved to the old generation (a full collection, or a table
 * that lived long enough), every table after it stays reachable from that
 * dead one, with the requests, replies and payloads it held, until the next
 * full collection: with 100 requests in flight, most of what each request
 * allocated was copied once and promoted, and CPU per request doubled. A map
 * that is only filled and then dropped leaves no such chain behind it.
 */
class PendingTable {
  private map = new Map<string, PendingRequest>();
  /** Requests waiting (not settled). */
  live = 0;

  /** The request waiting under `id`; undefined when none does (never asked, answered, timed out). */
  get(id: string): PendingRequest | undefined {
    const p = this.map.get(id);
    return p === undefined || p.settled ? undefined : p;
  }

  add(p: PendingRequest): void {
    const map = this.map;
    if (map.size >= 2 * this.live + 32) {
      const next = new Map<string, PendingRequest>();
      map.forEach(keepWaiting, next);
      this.map = next;
    }
    this.map.set(p.id, p);
    this.live++;
  }

  /** `p` (waiting) was answered, failed or timed out. */
  settle(p: PendingRequest): void {
    p.settled = true;
    this.live--;
  }

  /** The requests still waiting; the table is empty afterwards. */
  takeAll(): PendingRequest[] {
    const all: PendingRequest[] = [];
    for (const p of this.map.values()) if (!p.settled) all.push(p);
    this.map = new Map();
    this.live = 0;
    return all;
  }

  /** @internal Entries held, settled ones not yet dropped included. */
  get held(): number {
    return this.map.size;
  }
}

function keepWaiting(this: Map<string, PendingRequest>, p: PendingRequest, id: string): void {
  if (!p.settled) this.set(id, p);
}

export interface RequestReplyHost {
  readonly instanceId: string;
  readonly logger: Logger;
  /** Default request timeout. */
  readonly timeoutMs: number;
  /** Serve an endpoint (the hub's `onMessage`). */
  serve(address: string, handler: MessageHandler, options: ConsumeOptions): Promise<Unsubscribe>;
  /**
   * Send a request this module built from validated parts (the inbox as
   * `replyTo`) without validating it again; undefined when the host took
   * it on a path that cannot fail any more (the direct local path). `at`:
   * wall-clock ms when the request was made (read for its deadline anyway).
   * `waiting`: the request as it waits here, for {@link RequestReply.answerWaiting}.
   */
  sendRequest(
    message: UnifiedMessage,
    at: number,
    waiting: Waiting,
  ): Promise<MessageResult> | undefined;
  /**
   * Send a reply. Its addresses and ids come from the request, which was
   * validated when it was sent or decoded; the host validates the reply only
   * where something could have changed the request since (inbound middleware).
   */
  sendReply(reply: UnifiedMessage): Promise<MessageResult>;
  /** A reply arrived for no waiting request (late, after its timeout, or unknown): it is dropped. */
  lateReply(): void;
}

/**
 * Waiting requests and their deadlines. One timer serves them all: requests
 * with the same timeout expire in the order they were made, so each timeout
 * value keeps its requests in one first-in first-out lane and the timer is
 * armed for the earliest head of any lane. A request costs one map insert
 * (by correlationId, for its reply; see PendingTable) and a lane push, never
 * a timer of its own; while nothing waits the timer is unref'd, so it never
 * keeps the process alive, and `close()` clears it.
 */
export class RequestReply {
  private readonly pending = new PendingTable();
  /** Per timeout value, the waiting requests in deadline order. */
  private readonly lanes = new Map<number, Lane>();
  /**
   * The lane used last and its timeout value: callers mostly use one timeout,
   * so a request finds its lane without a map lookup. Forgotten whenever a
   * lane leaves the map.
   */
  private lastLane: Lane | undefined;
  private lastTimeoutMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Deadline the timer is armed for. */
  private armedFor = Number.POSITIVE_INFINITY;
  private inboxAddress: string | undefined;
  private inboxReady: Promise<void> | undefined;
  private readonly host: RequestReplyHost;
  private readonly sweepFn = (): void => this.sweep();
  private readonly onReply = (reply: UnifiedMessage): void => {
    const id = reply.correlationId;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (p === undefined) {
      this.host.lateReply();
      this.host.logger.debug(`[hub] late or unknown reply ${reply.id} dropped`);
      return;
    }
    this.forget(p);
    p.resolve(reply);
  };

  constructor(host: RequestReplyHost) {
    this.host = host;
  }

  /** Requests waiting for a reply now. */
  get waiting(): number {
    return this.pending.live;
  }

  /** @internal Entries the table of waiting requests holds, settled ones not yet dropped included. */
  get tableSize(): number {
    return this.pending.held;
  }

  /** @internal Entries the lanes hold, settled ones not yet dropped included (bounded: see Lane). */
  get held(): number {
    let n = 0;
    for (const lane of this.lanes.values()) n += lane.queue.size;
    return n;
  }

  /**
   * Send `message` (already validated) with this hub's inbox as `replyTo` and
   * resolve with the reply. Rejects with HUB_TIMEOUT at the deadline, or with
   * the send's error when the send fails first.
   */
  request<Res>(
    message: UnifiedMessage,
    timeoutMs: number = this.host.timeoutMs,
  ): Promise<UnifiedMessage<Res>> {
    const inbox = this.inboxAddress;
    if (inbox === undefined) {
      const outer: Promise<UnifiedMessage<Res>> = this.ensureInbox().then(() => {
        const inner = this.request<Res>(message, timeoutMs);
        const entry = this.pending.get(message.correlationId ?? message.id);
        if (entry?.message === message) entry.outer = outer;
        return inner;
      });
      return outer;
    }
    const correlationId = message.correlationId ?? message.id;
    if (this.pending.get(correlationId) !== undefined) {
      return Promise.reject(
        new HubError(
          ErrorCode.INVALID_MESSAGE,
          `[hub] a request with correlationId "${correlationId}" is already waiting`,
        ),
      );
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      return Promise.reject(
        new HubError(
          ErrorCode.INVALID_CONFIG,
          `[hub] request options.timeoutMs must be a positive number, got ${String(timeoutMs)}`,
        ),
      );
    }
    let lane = timeoutMs === this.lastTimeoutMs ? this.lastLane : this.lanes.get(timeoutMs);
    if (lane === undefined) {
      lane = new Lane();
      this.lanes.set(timeoutMs, lane);
    }
    this.lastLane = lane;
    this.lastTimeoutMs = timeoutMs;
    const now = perf.now();
    const deadline = now + timeoutMs;
    let entry!: PendingRequest;
    const reply = new Promise<UnifiedMessage<Res>>((resolve, reject) => {
      entry = {
        id: correlationId,
        resolve: resolve as (m: UnifiedMessage) => void,
        reject,
        deadline,
        lane,
        settled: false,
        message,
        timeoutMs,
        promise: undefined,
        outer: undefined,
      };
    });
    entry.promise = reply as Promise<UnifiedMessage>;
    lane.add(entry);
    this.pending.add(entry);
    if (this.pending.live === 1) this.timer?.ref();
    if (deadline < this.armedFor) this.arm(deadline);
    // The request was validated and the inbox address is ours: no second validation.
    const out = addressedTo(message, inbox, correlationId);
    carryIdentity(message, out);
    this.host.sendRequest(out, TIME_ORIGIN + now, entry)?.then(undefined, (err) => {
      // A send that fails after the deadline: the caller already has HUB_TIMEOUT.
      if (this.pending.get(correlationId) !== entry) return;
      this.forget(entry);
      entry.reject(err as Error);
    });
    return reply;
  }

  /** Answer `request` with `payload` (a handler's return value or `ctx.reply`). */
  reply(request: UnifiedMessage, payload: unknown): Promise<MessageResult> {
    return this.host.sendReply(this.buildReply(request, payload));
  }

  /** The reply `payload` makes to `request`. */
  buildReply(request: UnifiedMessage, payload: unknown): UnifiedMessage {
    const reply = createReply(request, { payload });
    // Replies to a requester's private inbox are best-effort: the requester times out and may retry.
    if (request.replyTo?.startsWith(INBOX_PREFIX))
      reply.deliveryGuarantee = DeliveryGuarantee.BEST_EFFORT;
    return reply;
  }

  /** A reply reached this hub's inbox: resolve its request, or drop and count it (late or unknown). */
  answer(reply: UnifiedMessage): void {
    this.onReply(reply);
  }

  /**
   * A reply to `waiting` (a request handed to the direct local path) reached
   * this hub: as {@link answer}, without looking the request up by its
   * correlationId while it still waits under the id the reply carries.
   */
  answerWaiting(waiting: Waiting, reply: UnifiedMessage): void {
    const p = waiting as PendingRequest;
    // Settled (late), or a handler changed the correlationId: the lookup decides.
    if (p.settled || reply.correlationId !== p.id) {
      this.onReply(reply);
      return;
    }
    this.forget(p);
    p.resolve(reply);
  }

  /** Fail every waiting request and stop the timer (the hub is closing). */
  rejectAll(err: Error): void {
    const all = this.pending.takeAll();
    this.lanes.clear();
    this.lastLane = undefined;
    this.disarm();
    for (const p of all) {
      p.settled = true;
      p.reject(err);
    }
  }

  private forget(p: PendingRequest): void {
    this.pending.settle(p);
    p.lane.live--;
    // Nothing waits: the armed timer must not keep the process alive.
    if (this.pending.live === 0) this.timer?.unref();
  }

  private arm(deadline: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.armedFor = deadline;
    // Timers run on whole milliseconds and may fire a fraction early: sweep() re-arms then.
    this.timer = setTimeout(this.sweepFn, Math.max(1, Math.ceil(deadline - perf.now())));
    if (this.pending.live === 0) this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
  }

  /** Fail every request past its deadline; re-arm for the earliest one left. */
  private sweep(): void {
    this.timer = undefined;
    this.armedFor = Number.POSITIVE_INFINITY;
    const now = perf.now();
    let next = Number.POSITIVE_INFINITY;
    const expired: PendingRequest[] = [];
    for (const [timeoutMs, lane] of this.lanes) {
      const q = lane.queue;
      while (q.size > 0) {
        const p = q.peek() as PendingRequest;
        if (!p.settled) {
          if (p.deadline > now) {
            if (p.deadline < next) next = p.deadline;
            break;
          }
          this.pending.settle(p);
          lane.live--;
          expired.push(p);
        }
        q.shift();
      }
      if (q.size === 0) {
        this.lanes.delete(timeoutMs);
        if (lane === this.lastLane) this.lastLane = undefined;
      }
    }
    if (next !== Number.POSITIVE_INFINITY) this.arm(next);
    for (const p of expired) {
      // The deadline may pass before the caller awaits the promise (a send
      // still under way, backpressure): the caller gets HUB_TIMEOUT when it
      // does, and the process never sees an unhandled rejection.
      p.promise?.catch(ignore);
      p.outer?.catch(ignore);
      p.reject(
        new TimeoutError(
          `[hub] request ${p.message.id} to "${p.message.destination}" got no reply within ${p.timeoutMs}ms`,
        ),
      );
    }
  }

  private ensureInbox(): Promise<void> {
    this.inboxReady ??= (async () => {
      const address = `${INBOX_PREFIX}${this.host.instanceId}`;
      await this.host.serve(
        address,
        this.onReply,
        // Replies to the inbox are best-effort (see reply()).
        { concurrency: 64, guarantees: [DeliveryGuarantee.BEST_EFFORT] },
      );
      this.inboxAddress = address;
    })().catch((err: unknown) => {
      // A transient subscribe failure must not fail every later request.
      this.inboxReady = undefined;
      throw err;
    });
    return this.inboxReady;
  }
}

/** Fields every message has (createMessage sets them all; `payload` may be absent). */
const MESSAGE_KEYS = new Set([
  'kind',
  'version',
  'id',
  'timestamp',
  'source',
  'destination',
  'type',
  'priority',
  'deliveryGuarantee',
  'headers',
  'payload',
  'attempt',
  'correlationId',
  'replyTo',
  'partitionKey',
  'ttlMs',
  'expiresAt',
  'traceparent',
]);

/**
 * A copy of `m` with `replyTo` and `correlationId` set, built as one object
 * literal. Spreading a message and then adding a property it did not have
 * measured ~1.5 µs in V8 (every copy got a fresh hidden class), a fifth of a
 * whole in-process request; the literal costs ~20 ns. Fields the protocol does
 * not know are carried over as a wire transport carries them.
 */
function addressedTo(m: UnifiedMessage, replyTo: string, correlationId: string): UnifiedMessage {
  const out: UnifiedMessage = {
    kind: m.kind,
    version: m.version,
    id: m.id,
    timestamp: m.timestamp,
    source: m.source,
    destination: m.destination,
    type: m.type,
    priority: m.priority,
    deliveryGuarantee: m.deliveryGuarantee,
    headers: m.headers,
    payload: m.payload,
    attempt: m.attempt,
    correlationId,
    replyTo,
  };
  let known = 11;
  if ('payload' in m) known++;
  if (m.correlationId !== undefined) known++;
  if (m.replyTo !== undefined) known++;
  if (m.partitionKey !== undefined) {
    out.partitionKey = m.partitionKey;
    known++;
  }
  if (m.ttlMs !== undefined) {
    out.ttlMs = m.ttlMs;
    known++;
  }
  if (m.expiresAt !== undefined) {
    out.expiresAt = m.expiresAt;
    known++;
  }
  if (m.traceparent !== undefined) {
    out.traceparent = m.traceparent;
    known++;
  }
  if (!('payload' in m)) delete (out as { payload?: unknown }).payload;
  // Counted without Object.keys, whose array is garbage on every request; a
  // count past `known` (an unknown field, a field set to undefined, or an
  // enumerable property inherited) takes the keys and copies the unknown ones.
  let count = 0;
  for (const _ in m) count++;
  if (count !== known) {
    const extra = out as unknown as Record<string, unknown>;
    for (const k of Object.keys(m)) {
      if (!MESSAGE_KEYS.has(k)) extra[k] = (m as unknown as Record<string, unknown>)[k];
    }
  }
  return out;
}
