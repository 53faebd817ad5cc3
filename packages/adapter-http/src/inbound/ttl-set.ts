/**
 * Ids seen within a window, bounded in count: the replay guard of webhook
 * signatures and the idempotency window of accepted messages. Insertion
 * order is expiry order (one window per set), so pruning pops from the front.
 */
export class TtlSet<V = true> {
  private readonly entries = new Map<string, { at: number; value: V }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxEntries: number,
  ) {}

  get(id: string, now = Date.now()): V | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    if (now - entry.at < this.windowMs) return entry.value;
    this.entries.delete(id);
    return undefined;
  }

  set(id: string, value: V, now = Date.now()): void {
    this.entries.delete(id);
    this.entries.set(id, { at: now, value });
    this.prune(now);
  }

  delete(id: string): void {
    this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }

  private prune(now: number): void {
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && now - entry.at < this.windowMs) break;
      this.entries.delete(id);
    }
  }
}
