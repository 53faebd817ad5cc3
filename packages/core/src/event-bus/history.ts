import { ErrorCode, HubError, type UnifiedEvent } from '@hub/protocol';
import { isWildcardPattern, matchSegments, validatePattern } from './pattern.js';

export interface EventHistoryOptions {
  /**
   * Events kept per topic; the oldest is dropped first.
   * @default 100
   */
  maxPerTopic?: number;
  /**
   * Events whose `timestamp` is older than this are dropped; `Infinity` keeps
   * them until count or topic limits push them out.
   * @default 300_000
   */
  maxAgeMs?: number;
  /**
   * Topics kept; the least recently written topic is evicted with its events.
   * @default 10_000
   */
  maxTopics?: number;
  /**
   * Clock used for age retention (inject one in tests).
   * @default Date.now
   */
  now?: () => number;
}

export interface EventHistoryQuery {
  /** Only events with `timestamp >= sinceMs`. */
  sinceMs?: number;
  /** Only the newest `limit` events (still returned oldest-first). */
  limit?: number;
}

interface Slot {
  event: UnifiedEvent;
  /** Global insertion order, the tie-break between equal timestamps. */
  seq: number;
}

/** One topic's events: a ring buffer plus the ids it holds, for dedup. */
class TopicLog {
  readonly ring: (Slot | undefined)[];
  readonly ids = new Set<string>();
  head = 0;
  count = 0;

  constructor(capacity: number) {
    this.ring = new Array<Slot | undefined>(capacity);
  }

  /** Append; returns the slot it overwrote (the oldest) when full. */
  push(slot: Slot): Slot | undefined {
    const cap = this.ring.length;
    const tail = (this.head + this.count) % cap;
    const old = this.ring[tail];
    this.ring[tail] = slot;
    this.ids.add(slot.event.id);
    if (this.count < cap) {
      this.count++;
      return undefined;
    }
    this.head = (this.head + 1) % cap;
    if (old !== undefined) this.ids.delete(old.event.id);
    return old;
  }

  /**
   * Drop events older than `cutoff` from the front; returns how many. Events
   * are usually recorded in timestamp order, so the front is the oldest; a
   * late-arriving older event behind a newer one is filtered out by queries.
   */
  pruneBefore(cutoff: number): number {
    let dropped = 0;
    while (this.count > 0) {
      const slot = this.ring[this.head]!;
      if (slot.event.timestamp >= cutoff) break;
      this.ring[this.head] = undefined;
      this.ids.delete(slot.event.id);
      this.head = (this.head + 1) % this.ring.length;
      this.count--;
      dropped++;
    }
    return dropped;
  }

  collect(into: Slot[], from: number): void {
    const cap = this.ring.length;
    for (let i = 0; i < this.count; i++) {
      const slot = this.ring[(this.head + i) % cap]!;
      if (slot.event.timestamp >= from) into.push(slot);
    }
  }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:event-bus] history ${name} must be a positive integer, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * Recent events per topic, for replay to late subscribers. Bounded by count
 * per topic (ring buffer), by age, and by number of topics. Age is pruned
 * lazily on `record`/`query`/`prune`: there are no timers, so nothing to stop.
 */
export class EventHistory {
  readonly #maxPerTopic: number;
  readonly #maxAgeMs: number;
  readonly #maxTopics: number;
  readonly #now: () => number;
  /** Map order = write order, so the first key is the least recently written topic. */
  readonly #topics = new Map<string, TopicLog>();
  #size = 0;
  #seq = 0;
  #lastSweep = Number.NEGATIVE_INFINITY;
  /** The log of the most recently written topic (the last key of `#topics`), while it is there. */
  #last: TopicLog | undefined;

  constructor(opts: EventHistoryOptions = {}) {
    this.#maxPerTopic = positiveInt('maxPerTopic', opts.maxPerTopic ?? 100);
    this.#maxTopics = positiveInt('maxTopics', opts.maxTopics ?? 10_000);
    const maxAgeMs = opts.maxAgeMs ?? 300_000;
    if (typeof maxAgeMs !== 'number' || Number.isNaN(maxAgeMs) || maxAgeMs <= 0) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:event-bus] history maxAgeMs must be a positive number, got ${String(maxAgeMs)}`,
      );
    }
    this.#maxAgeMs = maxAgeMs;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Events retained across all topics. Expired events still count until the
   * next `record`, `query` or `prune` touches their topic.
   */
  get size(): number {
    return this.#size;
  }

  /**
   * Keep `event` for replay. An id already held for that topic, or an event
   * already older than `maxAgeMs`, is ignored.
   */
  record(event: UnifiedEvent): void {
    const { topic, id, timestamp } = event;
    if (typeof topic !== 'string' || typeof id !== 'string' || !Number.isFinite(timestamp)) {
      throw new HubError(
        ErrorCode.INVALID_MESSAGE,
        '[hub:event-bus] history needs an event with a string topic, a string id and a finite timestamp',
      );
    }
    const now = this.#now();
    this.#maybeSweep(now);
    const cutoff = now - this.#maxAgeMs;
    if (timestamp < cutoff) return;
    let log = this.#topics.get(topic);
    if (log === undefined) {
      log = new TopicLog(this.#maxPerTopic);
      if (this.#topics.size >= this.#maxTopics) this.#evictOldestTopic();
    } else {
      if (log.ids.has(id)) return;
      this.#size -= log.pruneBefore(cutoff);
    }
    // Move to the back: most recently written. A run of events on one topic
    // (the usual stream) finds it there already and skips the Map delete and
    // insert, which showed in profiles of a busy subscriber.
    if (log !== this.#last) {
      this.#topics.delete(topic);
      this.#topics.set(topic, log);
      this.#last = log;
    }
    if (log.push({ event, seq: this.#seq++ }) === undefined) this.#size++;
  }

  /**
   * Retained events on topics matching `pattern`, sorted by timestamp then
   * recording order.
   * @throws HubError `HUB_INVALID_PATTERN` for a malformed pattern, `HUB_INVALID_MESSAGE` for bad options.
   */
  query(pattern: string, opts: EventHistoryQuery = {}): UnifiedEvent[] {
    validatePattern(pattern);
    const { sinceMs, limit } = opts;
    if (sinceMs !== undefined && (typeof sinceMs !== 'number' || Number.isNaN(sinceMs))) {
      throw new HubError(
        ErrorCode.INVALID_MESSAGE,
        `[hub:event-bus] history query sinceMs must be a number, got ${String(sinceMs)}`,
      );
    }
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 0)) {
      throw new HubError(
        ErrorCode.INVALID_MESSAGE,
        `[hub:event-bus] history query limit must be a non-negative integer, got ${String(limit)}`,
      );
    }
    if (limit === 0) return [];
    const now = this.#now();
    this.#maybeSweep(now);
    const cutoff = now - this.#maxAgeMs;
    const from = Math.max(cutoff, sinceMs ?? Number.NEGATIVE_INFINITY);
    const slots: Slot[] = [];
    if (!isWildcardPattern(pattern)) {
      const log = this.#topics.get(pattern);
      if (log !== undefined) this.#collect(pattern, log, cutoff, from, slots);
    } else {
      const segs = pattern.split('.');
      for (const [topic, log] of this.#topics) {
        if (matchSegments(segs, topic.split('.'))) this.#collect(topic, log, cutoff, from, slots);
      }
    }
    // Usually already ordered per topic (TimSort is linear then); out-of-order
    // timestamps and the merge across topics need it.
    slots.sort((a, b) => a.event.timestamp - b.event.timestamp || a.seq - b.seq);
    if (limit !== undefined && slots.length > limit) slots.splice(0, slots.length - limit);
    return slots.map((s) => s.event);
  }

  /** Drop every expired event now, and topics left empty. */
  prune(now: number = this.#now()): void {
    this.#lastSweep = now;
    const cutoff = now - this.#maxAgeMs;
    for (const [topic, log] of this.#topics) {
      this.#size -= log.pruneBefore(cutoff);
      if (log.count === 0) this.#topics.delete(topic);
    }
  }

  clear(): void {
    this.#topics.clear();
    this.#size = 0;
  }

  #collect(topic: string, log: TopicLog, cutoff: number, from: number, into: Slot[]): void {
    this.#size -= log.pruneBefore(cutoff);
    if (log.count === 0) {
      this.#topics.delete(topic);
      return;
    }
    log.collect(into, from);
  }

  #evictOldestTopic(): void {
    const oldest = this.#topics.entries().next();
    if (oldest.done === true) return;
    const [topic, log] = oldest.value;
    this.#topics.delete(topic);
    this.#size -= log.count;
  }

  /**
   * Topics nobody writes to would otherwise keep expired events until evicted:
   * sweep them all at most every tenth of `maxAgeMs` (≥ 1 s), amortised over calls.
   */
  #maybeSweep(now: number): void {
    const interval = Math.max(1000, Math.min(this.#maxAgeMs / 10, 60_000));
    if (now - this.#lastSweep >= interval) this.prune(now);
  }
}
