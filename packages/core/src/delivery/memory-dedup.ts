import type { DedupBegin, DedupStore } from './dedup.js';

export interface MemoryDedupOptions {
  /**
   * Most ids remembered. Past it, expired ids go first, then the least recently
   * used: that shortens the window and is counted in `evictedBeforeExpiry`.
   * Size it above (exactly-once messages per second × window in seconds).
   * @default 100_000
   */
  maxEntries?: number;
  /** Injectable clock for tests. @default Date.now */
  now?: () => number;
}

interface Entry {
  done: boolean;
  expiresAt: number;
}

/**
 * In-process dedup store: LRU bounded by `maxEntries`, each id kept for its
 * lease (while processing) or its window (once done). Effectively-once holds
 * within this process and window; use a shared store (Redis) across processes.
 */
export class MemoryDedupStore implements DedupStore {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly now: () => number;
  private nextSweepAt = 0;
  private _evictedBeforeExpiry = 0;

  constructor(opts: MemoryDedupOptions = {}) {
    this.maxEntries = opts.maxEntries ?? 100_000;
    this.now = opts.now ?? Date.now;
  }

  begin(id: string, leaseMs: number): DedupBegin {
    const now = this.now();
    const existing = this.entries.get(id);
    if (existing && existing.expiresAt > now) return existing.done ? 'done' : 'busy';
    if (existing) this.entries.delete(id);
    this.entries.set(id, { done: false, expiresAt: now + leaseMs });
    this.evict();
    return 'new';
  }

  commit(id: string, windowMs: number): void {
    this.entries.delete(id);
    this.entries.set(id, { done: true, expiresAt: this.now() + windowMs });
    this.evict();
  }

  abort(id: string): void {
    const e = this.entries.get(id);
    if (e && !e.done) this.entries.delete(id);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Ids forgotten before their lease or window ended (the store was too small). */
  get evictedBeforeExpiry(): number {
    return this._evictedBeforeExpiry;
  }

  private evict(): void {
    if (this.entries.size <= this.maxEntries) return;
    const now = this.now();
    // Expired ids first; a full sweep at most once a second keeps inserts O(1) amortized.
    if (now >= this.nextSweepAt) {
      this.nextSweepAt = now + 1000;
      for (const [key, e] of this.entries) if (e.expiresAt <= now) this.entries.delete(key);
    }
    // Map iteration order is insertion order: the first keys are the least recently used.
    for (const [key, e] of this.entries) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(key);
      if (e.expiresAt > now) this._evictedBeforeExpiry++;
    }
  }
}
