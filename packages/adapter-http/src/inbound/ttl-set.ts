/**
 * Ids seen within a window, bounded in count: the replay guard of webhook
 * signatures and the idempotency window of accepted messages. Insertion
 * order is expiry order (one window per set), so expired entries leave from
 * the front of a queue: a `set` looks at the oldest entry only, with no
 * iteration over the map on the request path.
 *
 * An id known to be new ({@link TtlSet.add}: one the endpoint made itself)
 * is only queued; it enters the map when something next looks an id up.
 * The map is a large hash table whose slots are scattered in memory, so an
 * insertion misses the cache on a busy server; most endpoints never look up
 * the ids they made, and those insertions are not made at all. Every lookup
 * sees every id recorded before it, so what the set answers is the same.
 */
interface Entry<V> {
  readonly id: string;
  readonly at: number;
  value: V;
}

/** What `set` returns: a handle on that entry, for {@link TtlSet.settle} without a second lookup. */
export type TtlEntry<V> = Readonly<Entry<V>>;

export class TtlSet<V = true> {
  private readonly entries = new Map<string, Entry<V>>();
  /**
   * Entries in insertion order; one may be stale (deleted or replaced in
   * `entries`). Those from `indexed` on were added with `add` and are not
   * in `entries` yet.
   */
  private queue: Array<Entry<V> | undefined> = [];
  private head = 0;
  /** Queue position from which entries wait to enter the map (never behind `head`). */
  private indexed = 0;

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  get(id: string, now = Date.now()): V | undefined {
    if (this.indexed < this.queue.length) this.index();
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (now - entry.at < this.windowMs) return entry.value;
    this.entries.delete(id);
    return undefined;
  }

  set(id: string, value: V, now = Date.now()): TtlEntry<V> {
    // An id added earlier must be replaced as a map entry, as any other.
    if (this.indexed < this.queue.length) this.index();
    const entry: Entry<V> = { id, at: now, value };
    // Map.set on an existing key keeps its old position; the queue keeps order instead.
    this.entries.set(id, entry);
    this.queue.push(entry);
    this.indexed = this.queue.length;
    this.prune(now);
    return entry;
  }

  /**
   * `set` for an id that is in no entry (one the caller made, unique): it
   * waits in the queue and enters the map at the next lookup.
   */
  add(id: string, value: V, now = Date.now()): TtlEntry<V> {
    const entry: Entry<V> = { id, at: now, value };
    this.queue.push(entry);
    this.prune(now);
    return entry;
  }

  /** Replace the value of `id` when it is still `from`, keeping its place and age. */
  replace(id: string, from: V, to: V): void {
    if (this.indexed < this.queue.length) this.index();
    const entry = this.entries.get(id);
    if (entry !== undefined && entry.value === from) entry.value = to;
  }

  /**
   * `replace` through the handle `set` or `add` returned: the same outcome
   * without a map lookup. An entry that has left the set (expired, deleted,
   * or its id set again) is no longer the map's, so changing it changes
   * nothing there.
   */
  settle(entry: TtlEntry<V>, from: V, to: V): void {
    if (entry.value === from) (entry as Entry<V>).value = to;
  }

  delete(id: string): void {
    if (this.indexed < this.queue.length) this.index();
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size + (this.queue.length - this.indexed);
  }

  /** The added entries enter the map, in their order. */
  private index(): void {
    const q = this.queue;
    for (let i = this.indexed; i < q.length; i++) {
      const entry = q[i];
      if (entry !== undefined) this.entries.set(entry.id, entry);
    }
    this.indexed = q.length;
  }

  private prune(now: number): void {
    const q = this.queue;
    while (this.head < q.length) {
      const oldest = q[this.head]!;
      // Nothing is due while the oldest is young and the set is within bounds
      // (a stale head can wait): the common case, with no map lookup.
      if (this.size <= this.maxEntries && now - oldest.at < this.windowMs) break;
      if (this.head < this.indexed) {
        if (this.entries.get(oldest.id) === oldest) this.entries.delete(oldest.id);
      } else {
        // Still waiting for the map: it leaves from the queue alone.
        this.indexed++;
      }
      q[this.head++] = undefined;
    }
    // Compact now and then, dropping stale entries (a deleted id sent again):
    // the queue stays within a small multiple of the live entries.
    if (this.head > 1024 && this.head * 2 > q.length) {
      this.queue = q.slice(this.head);
      this.indexed -= this.head;
      this.head = 0;
    } else if (q.length - this.head > 2 * this.maxEntries + 1024) {
      // Stale means "not the map's entry": the waiting ones enter it first.
      if (this.indexed < q.length) this.index();
      this.queue = q
        .slice(this.head)
        .filter((e) => e !== undefined && this.entries.get(e.id) === e);
      this.head = 0;
      this.indexed = this.queue.length;
    }
  }
}
