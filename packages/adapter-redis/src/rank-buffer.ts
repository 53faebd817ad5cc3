/** Something the buffer orders: by rank (lower first), then by stream entry id (older first). */
export interface Ranked {
  readonly rank: number;
  readonly id: string;
}

/** Compare two stream entry ids (`<ms>-<seq>`) numerically: as strings, `5-10` would sort before `5-9`. */
export function compareEntryIds(a: string, b: string): number {
  if (a === b) return 0;
  const da = a.indexOf('-');
  const db = b.indexOf('-');
  // Same length, dash at the same place: both parts have the same number of digits,
  // so text order is numeric order (the common case: entries of one read).
  if (da === db && a.length === b.length) return a < b ? -1 : 1;
  const msA = da < 0 ? a : a.slice(0, da);
  const msB = db < 0 ? b : b.slice(0, db);
  // Same-length digit strings compare like numbers; ms parts are 13 digits for centuries.
  if (msA !== msB) {
    if (msA.length !== msB.length) return msA.length - msB.length;
    return msA < msB ? -1 : 1;
  }
  const seqA = da < 0 ? '0' : a.slice(da + 1);
  const seqB = db < 0 ? '0' : b.slice(db + 1);
  if (seqA.length !== seqB.length) return seqA.length - seqB.length;
  return seqA < seqB ? -1 : seqA > seqB ? 1 : 0;
}

/**
 * The local buffer of read-but-not-yet-handed entries: one FIFO per rank, so
 * taking the best entry costs O(ranks) instead of a scan of the whole buffer.
 * Reads return entries of one stream in id order, so a push is an append; an
 * older id (a reclaimed entry) is inserted in place.
 */
export class RankBuffer<T extends Ranked> {
  private readonly queues: T[][] = [];
  private readonly heads: number[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(item: T): void {
    let q = this.queues[item.rank];
    if (q === undefined) {
      for (let r = this.queues.length; r <= item.rank; r++) {
        this.queues[r] = [];
        this.heads[r] = 0;
      }
      q = this.queues[item.rank]!;
    }
    const head = this.heads[item.rank]!;
    let at = q.length;
    while (at > head && compareEntryIds(q[at - 1]!.id, item.id) > 0) at--;
    if (at === q.length) q.push(item);
    else q.splice(at, 0, item);
    this.size++;
  }

  /** Remove and return the best entry, or undefined when empty. */
  shift(): T | undefined {
    if (this.size === 0) return undefined;
    for (let r = 0; r < this.queues.length; r++) {
      const q = this.queues[r]!;
      const head = this.heads[r]!;
      if (head >= q.length) continue;
      const item = q[head]!;
      q[head] = undefined as unknown as T; // let it be collected
      if (head + 1 === q.length) {
        q.length = 0;
        this.heads[r] = 0;
      } else this.heads[r] = head + 1;
      this.size--;
      return item;
    }
    return undefined;
  }

  clear(): void {
    for (let r = 0; r < this.queues.length; r++) {
      this.queues[r]!.length = 0;
      this.heads[r] = 0;
    }
    this.size = 0;
  }
}
