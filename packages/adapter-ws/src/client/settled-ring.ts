/**
 * The last `capacity` settlements of a session, in the order they were made:
 * an ack lost with the old link is sent again when the server, resuming,
 * says it still waits for it. The oldest is forgotten first, as a map with
 * first-in first-out eviction would do, but a settlement costs two array
 * stores instead of a map insert and delete: every delivery is settled, and
 * a long-lived map churned once per delivery rebuilt its table (an
 * allocation) every few deletes. Looking a seq up is a scan, done only on a
 * resume.
 */
export class SettledRing {
  /** Allocated at the first settlement: a client that is never delivered to holds none. */
  private seqs: Float64Array | undefined;
  /** The nack frame's text by slot; undefined for a plain ack (its text is made again if asked). */
  private nacks: Array<string | undefined> = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  /** Delivery `seq` was settled: with a plain ack (`nack` undefined) or with the nack frame `nack`. */
  add(seq: number, nack: string | undefined): void {
    this.seqs ??= new Float64Array(this.capacity);
    const i = this.next;
    this.seqs[i] = seq;
    this.nacks[i] = nack;
    this.next = i + 1 === this.capacity ? 0 : i + 1;
  }

  /**
   * The settlements of `wanted` still remembered, as seq → nack text
   * (undefined for a plain ack); the latest one wins if a seq was settled twice.
   */
  find(wanted: readonly number[]): Map<number, string | undefined> {
    const found = new Map<number, string | undefined>();
    const seqs = this.seqs;
    if (seqs === undefined || wanted.length === 0) return found;
    const want = new Set(wanted);
    // oldest first, so a later settlement of the same seq overwrites an earlier one
    for (let k = 0; k < this.capacity; k++) {
      const i = (this.next + k) % this.capacity;
      const seq = seqs[i]!;
      if (seq !== 0 && want.has(seq)) found.set(seq, this.nacks[i]);
    }
    return found;
  }

  /** Forget everything (a new session: its seqs start again from 1). */
  clear(): void {
    this.seqs = undefined;
    this.nacks = [];
    this.next = 0;
  }
}
