/**
 * A five-level priority queue (5 = most urgent) with a starvation guard.
 *
 * Each level is a ring-buffer deque, so push, unshift and shift are amortized
 * O(1) and never call `Array.prototype.shift` (which copies on large arrays).
 * A bit mask of non-empty levels finds the highest waiting level in O(1).
 *
 * The starvation guard: every dequeue that serves a level while a lower level
 * is waiting counts as "passing over"; after `starvationLimit` consecutive
 * pass-overs the next dequeue serves the oldest item of the lowest waiting
 * level once, so low-priority work keeps progressing under sustained load.
 */

const LEVELS = 5;
const MIN_CAPACITY = 16;

/**
 * Ring-buffer deque; capacity is a power of two so wrap-around is a mask.
 * Exported for other queues of the core (e.g. per-key FIFOs); not public API.
 * @internal
 */
export class RingDeque<T> {
  private buf: (T | undefined)[] = new Array<T | undefined>(MIN_CAPACITY);
  private head = 0;
  size = 0;
  private mask = MIN_CAPACITY - 1;

  push(item: T): void {
    if (this.size > this.mask) this.grow();
    this.buf[(this.head + this.size) & this.mask] = item;
    this.size++;
  }

  unshift(item: T): void {
    if (this.size > this.mask) this.grow();
    this.head = (this.head - 1) & this.mask;
    this.buf[this.head] = item;
    this.size++;
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.buf[this.head];
    // release the reference so a drained queue does not pin envelopes in memory
    this.buf[this.head] = undefined;
    this.head = (this.head + 1) & this.mask;
    this.size--;
    if (this.size === 0) this.head = 0;
    return item;
  }

  peek(): T | undefined {
    return this.size === 0 ? undefined : this.buf[this.head];
  }

  at(i: number): T | undefined {
    return this.buf[(this.head + i) & this.mask];
  }

  clear(): T[] {
    const out = new Array<T>(this.size);
    for (let i = 0; i < this.size; i++) out[i] = this.buf[(this.head + i) & this.mask] as T;
    this.buf = new Array<T | undefined>(MIN_CAPACITY);
    this.head = 0;
    this.size = 0;
    this.mask = MIN_CAPACITY - 1;
    return out;
  }

  private grow(): void {
    const old = this.buf;
    const cap = old.length;
    const next = new Array<T | undefined>(cap * 2);
    for (let i = 0; i < this.size; i++) next[i] = old[(this.head + i) & this.mask];
    this.buf = next;
    this.head = 0;
    this.mask = cap * 2 - 1;
  }
}

export interface PriorityQueueOptions {
  /**
   * After this many consecutive dequeues that passed over a waiting lower
   * level, serve the lowest-priority oldest waiting item once. `0` or
   * `Infinity` disables the guard (strict priority).
   * @default 16
   */
  starvationLimit?: number;
}

/** Clamp any number to a level index 0..4 (priority 1..5); NaN counts as the lowest. */
function levelOf(priority: number): number {
  if (!(priority >= 1)) return 0;
  if (priority >= LEVELS) return LEVELS - 1;
  return Math.floor(priority) - 1;
}

export class PriorityQueue<T> implements Iterable<T> {
  private readonly levels: RingDeque<T>[] = [];
  /** Bit i set ⇔ level i (priority i + 1) is non-empty. */
  private nonEmpty = 0;
  private total = 0;
  private passedOver = 0;
  private readonly starvationLimit: number;

  constructor(opts?: PriorityQueueOptions) {
    const limit = opts?.starvationLimit ?? 16;
    this.starvationLimit = limit > 0 ? limit : Number.POSITIVE_INFINITY;
    for (let i = 0; i < LEVELS; i++) this.levels.push(new RingDeque<T>());
  }

  /** Number of queued items over all levels. */
  get length(): number {
    return this.total;
  }

  /** Number of queued items at one priority (clamped to 1..5). */
  lengthAt(priority: number): number {
    return (this.levels[levelOf(priority)] as RingDeque<T>).size;
  }

  /** Append to the back of its level. */
  push(item: T, priority: number): void {
    const l = levelOf(priority);
    (this.levels[l] as RingDeque<T>).push(item);
    this.nonEmpty |= 1 << l;
    this.total++;
  }

  /** Put at the front of its level (a redelivery goes before newer work of the same priority). */
  unshift(item: T, priority: number): void {
    const l = levelOf(priority);
    (this.levels[l] as RingDeque<T>).unshift(item);
    this.nonEmpty |= 1 << l;
    this.total++;
  }

  /** Remove and return the next item: highest level first, unless the starvation guard is due. */
  shift(): T | undefined {
    const mask = this.nonEmpty;
    if (mask === 0) return undefined;
    const high = 31 - Math.clz32(mask);
    let l = high;
    if ((mask & ((1 << high) - 1)) !== 0) {
      // a lower level is waiting
      if (this.passedOver >= this.starvationLimit) {
        l = 31 - Math.clz32(mask & -mask);
        this.passedOver = 0;
      } else {
        this.passedOver++;
      }
    } else {
      this.passedOver = 0;
    }
    const dq = this.levels[l] as RingDeque<T>;
    const item = dq.shift();
    if (dq.size === 0) this.nonEmpty &= ~(1 << l);
    this.total--;
    return item;
  }

  /** The item `shift()` would return next, without removing it. */
  peek(): T | undefined {
    const mask = this.nonEmpty;
    if (mask === 0) return undefined;
    const high = 31 - Math.clz32(mask);
    const starved = (mask & ((1 << high) - 1)) !== 0 && this.passedOver >= this.starvationLimit;
    const l = starved ? 31 - Math.clz32(mask & -mask) : high;
    return (this.levels[l] as RingDeque<T>).peek();
  }

  /** Remove everything; returns the items highest priority first, FIFO within a level. */
  clear(): T[] {
    const out: T[] = [];
    for (let l = LEVELS - 1; l >= 0; l--) {
      const items = (this.levels[l] as RingDeque<T>).clear();
      for (const item of items) out.push(item);
    }
    this.nonEmpty = 0;
    this.total = 0;
    this.passedOver = 0;
    return out;
  }

  /** Iterates highest priority first, FIFO within a level (ignores the starvation guard). Do not mutate while iterating. */
  *[Symbol.iterator](): Iterator<T> {
    for (let l = LEVELS - 1; l >= 0; l--) {
      const dq = this.levels[l] as RingDeque<T>;
      for (let i = 0; i < dq.size; i++) yield dq.at(i) as T;
    }
  }
}
