/**
 * Ids seen within a window, bounded in count: the replay guard of webhook
 * signatures and the idempotency window of accepted messages. Insertion
 * order is expiry order (one window per set), so expired entries leave from
 * the front of a queue: a `set` looks at the oldest entry only, with no
 * iteration over the map on the request path.
 *
 * An entry is not an object: the queue is a list of fixed-size chunks of
 * parallel arrays (id, value, time and sequence number at the same index;
 * the numbers in typed arrays, which the collector never scans), and the
 * map holds an id's sequence number. A busy endpoint keeps every id of the
 * window, so each entry outlives the young generation: an object per entry
 * (its time boxed as a heap number) was copied out of it, and one array
 * growing with the queue was copied again at each growth. A chunk is filled
 * in place, promoted once and dropped whole once the queue's head has
 * passed it.
 *
 * An id known to be new ({@link TtlSet.add}: one the endpoint made itself)
 * is only queued; it enters the map when something next looks an id up.
 * The map is a large hash table whose slots are scattered in memory, so an
 * insertion misses the cache on a busy server; most endpoints never look up
 * the ids they made, and those insertions are not made at all. Nor is a
 * string kept for such an id meanwhile: a short one is copied into the
 * chunk as bytes and made a string again at the next lookup, so the
 * request's id string dies young. Every lookup sees every id recorded
 * before it, so what the set answers is the same.
 */

/**
 * What `set` and `add` return: a handle on that entry (its sequence number),
 * for {@link TtlSet.settle} without a map lookup.
 */
export type TtlEntry = number;

/** Entries per chunk: small enough that a set with few entries holds little. */
const CHUNK = 1024;
const SHIFT = 10;
const MASK = CHUNK - 1;
/** The longest id a waiting entry keeps as bytes (longer ones are kept as strings). */
const ID_BYTES = 32;

interface Chunk<V> {
  /** The id of an entry in the map, or of a waiting one not kept as bytes. */
  readonly ids: Array<string | undefined>;
  /**
   * A waiting entry's id as bytes, `ID_BYTES` per entry: one char code each
   * (the ids an endpoint makes are ASCII), with its length in `idLengths`
   * (0: the id is in `ids`). No string is kept for it until a lookup.
   */
  readonly idBytes: Buffer;
  readonly idLengths: Uint8Array;
  readonly values: Array<V | undefined>;
  /** When each entry was recorded (ms). */
  readonly ats: Float64Array;
  /**
   * Each entry's sequence number, increasing along the queue. A compaction
   * closes gaps, so an entry's place is found from its number by a guess
   * (no gap since the head) checked here, else by bisection.
   */
  readonly seqs: Float64Array;
}

function newChunk<V>(): Chunk<V> {
  return {
    ids: new Array<string | undefined>(CHUNK).fill(undefined),
    values: new Array<V | undefined>(CHUNK).fill(undefined),
    idBytes: Buffer.alloc(CHUNK * ID_BYTES),
    idLengths: new Uint8Array(CHUNK),
    ats: new Float64Array(CHUNK),
    seqs: new Float64Array(CHUNK),
  };
}

export class TtlSet<V = true> {
  /** id → sequence number of its entry in the queue. */
  private readonly entries = new Map<string, number>();
  /**
   * The queue: entry `p` (counted from the first chunk's start) is at
   * `chunks[p >> SHIFT]`, index `p & MASK`. Entries from `head` to `tail`
   * are queued; one may be stale (its id deleted or set again, so the map
   * holds another number or none). Those from `indexed` on were added with
   * `add` and are not in the map yet.
   */
  private chunks: Chunk<V>[] = [];
  private head = 0;
  private tail = 0;
  /** Queue position from which entries wait to enter the map (never behind `head`). */
  private indexed = 0;
  private nextSeq = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  get(id: string, now = Date.now()): V | undefined {
    if (this.indexed < this.tail) this.index();
    const seq = this.entries.get(id);
    if (seq === undefined) return undefined;
    const p = this.positionOf(seq);
    const c = this.chunks[p >> SHIFT]!;
    if (now - c.ats[p & MASK]! < this.windowMs) return c.values[p & MASK];
    this.entries.delete(id);
    return undefined;
  }

  set(id: string, value: V, now = Date.now()): TtlEntry {
    // An id added earlier must be replaced as a map entry, as any other.
    if (this.indexed < this.tail) this.index();
    const seq = this.push(id, value, now);
    // Map.set on an existing key keeps its old position; the queue keeps order instead.
    this.entries.set(id, seq);
    this.indexed = this.tail;
    this.prune(now);
    return seq;
  }

  /**
   * `set` for an id that is in no entry (one the caller made, unique): it
   * waits in the queue and enters the map at the next lookup.
   */
  add(id: string, value: V, now = Date.now()): TtlEntry {
    const seq = this.pushWaiting(id, value, now);
    this.prune(now);
    return seq;
  }

  /** Replace the value of `id` when it is still `from`, keeping its place and age. */
  replace(id: string, from: V, to: V): void {
    if (this.indexed < this.tail) this.index();
    const seq = this.entries.get(id);
    if (seq !== undefined) this.settleAt(this.positionOf(seq), from, to);
  }

  /**
   * `replace` through the handle `set` or `add` returned: the same outcome
   * without a map lookup. An entry that has left the set (expired, deleted,
   * or its id set again) is no longer the map's, so changing it (or not
   * finding it) changes nothing there.
   */
  settle(entry: TtlEntry, from: V, to: V): void {
    this.settleAt(this.positionOf(entry), from, to);
  }

  delete(id: string): void {
    if (this.indexed < this.tail) this.index();
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size + (this.tail - this.indexed);
  }

  private settleAt(p: number, from: V, to: V): void {
    if (p < 0) return;
    const values = this.chunks[p >> SHIFT]!.values;
    if (values[p & MASK] === from) values[p & MASK] = to;
  }

  private push(id: string, value: V, now: number): number {
    const p = this.tail++;
    const i = p & MASK;
    if (i === 0 && p >> SHIFT === this.chunks.length) this.chunks.push(newChunk());
    const c = this.chunks[p >> SHIFT]!;
    const seq = this.nextSeq++;
    c.ids[i] = id;
    c.idLengths[i] = 0;
    c.values[i] = value;
    c.ats[i] = now;
    c.seqs[i] = seq;
    return seq;
  }

  /**
   * `push` for a waiting entry: its id as bytes when it is short and each
   * char code fits one, so no string of it outlives the request (a busy
   * endpoint's window would keep one per request) until a lookup needs it.
   */
  private pushWaiting(id: string, value: V, now: number): number {
    const n = id.length;
    if (n === 0 || n > ID_BYTES) return this.push(id, value, now);
    const p = this.tail;
    const i = p & MASK;
    if (i === 0 && p >> SHIFT === this.chunks.length) this.chunks.push(newChunk());
    const c = this.chunks[p >> SHIFT]!;
    const bytes = c.idBytes;
    const at = i * ID_BYTES;
    for (let k = 0; k < n; k++) {
      const code = id.charCodeAt(k);
      if (code > 0xff) return this.push(id, value, now);
      bytes[at + k] = code;
    }
    this.tail++;
    const seq = this.nextSeq++;
    c.ids[i] = undefined;
    c.idLengths[i] = n;
    c.values[i] = value;
    c.ats[i] = now;
    c.seqs[i] = seq;
    return seq;
  }

  private seqAt(p: number): number {
    return this.chunks[p >> SHIFT]!.seqs[p & MASK]!;
  }

  /** The queue position of the entry numbered `seq`, or -1 when it has left the queue. */
  private positionOf(seq: number): number {
    let lo = this.head;
    let hi = this.tail - 1;
    if (lo > hi || seq < this.seqAt(lo) || seq > this.seqAt(hi)) return -1;
    // No compaction since the head was queued: the place follows from the number.
    const guess = lo + (seq - this.seqAt(lo));
    if (guess <= hi && this.seqAt(guess) === seq) return guess;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const s = this.seqAt(mid);
      if (s === seq) return mid;
      if (s < seq) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The added entries enter the map, in their order (an id kept as bytes becomes a string again). */
  private index(): void {
    for (let p = this.indexed; p < this.tail; p++) {
      const c = this.chunks[p >> SHIFT]!;
      const i = p & MASK;
      let id = c.ids[i];
      if (id === undefined) {
        const at = i * ID_BYTES;
        id = c.idBytes.toString('latin1', at, at + c.idLengths[i]!);
        c.ids[i] = id;
        c.idLengths[i] = 0;
      }
      this.entries.set(id, c.seqs[i]!);
    }
    this.indexed = this.tail;
  }

  /** Whether the entry at queue position `p` is the map's entry for its id. */
  private isLive(p: number): boolean {
    const c = this.chunks[p >> SHIFT]!;
    return this.entries.get(c.ids[p & MASK]!) === c.seqs[p & MASK];
  }

  private prune(now: number): void {
    while (this.head < this.tail) {
      const p = this.head;
      const c = this.chunks[p >> SHIFT]!;
      // Nothing is due while the oldest is young and the set is within bounds
      // (a stale head can wait): the common case, with no map lookup.
      if (this.size <= this.maxEntries && now - c.ats[p & MASK]! < this.windowMs) break;
      if (p < this.indexed) {
        if (this.isLive(p)) this.entries.delete(c.ids[p & MASK]!);
      } else {
        // Still waiting for the map: it leaves from the queue alone.
        this.indexed++;
      }
      c.ids[p & MASK] = undefined;
      c.values[p & MASK] = undefined;
      this.head++;
    }
    // A chunk the head has passed goes whole (no copy of the rest).
    if (this.head >= CHUNK) {
      const drop = this.head >> SHIFT;
      this.chunks.splice(0, drop);
      const moved = drop << SHIFT;
      this.head -= moved;
      this.tail -= moved;
      this.indexed -= moved;
    }
    // Drop stale entries (a deleted id sent again) now and then: the queue
    // stays within a small multiple of the live entries.
    if (this.tail - this.head > 2 * this.maxEntries + 1024) this.compact();
  }

  /** Keep only the map's entries (the waiting ones enter it first), in their order. */
  private compact(): void {
    if (this.indexed < this.tail) this.index();
    const old = this.chunks;
    const end = this.tail;
    this.chunks = [];
    let kept = 0;
    for (let p = this.head; p < end; p++) {
      const c = old[p >> SHIFT]!;
      const i = p & MASK;
      if (this.entries.get(c.ids[i]!) !== c.seqs[i]) continue;
      const q = kept++;
      if ((q & MASK) === 0) this.chunks.push(newChunk());
      const d = this.chunks[q >> SHIFT]!;
      d.ids[q & MASK] = c.ids[i];
      d.values[q & MASK] = c.values[i];
      d.ats[q & MASK] = c.ats[i]!;
      d.seqs[q & MASK] = c.seqs[i]!;
    }
    this.head = 0;
    this.tail = kept;
    this.indexed = kept;
  }
}
