/**
 * What a stream subscription holds: one entry read and not yet settled
 * (buffered, at the handler, or waiting to be redelivered), the set of them,
 * and the reading of XREADGROUP replies into entries.
 */
import type { RawEntry } from './stream-entry.js';

export interface Held {
  readonly key: string;
  readonly id: string;
  /** Lower is served first: index of the stream in read order. */
  readonly rank: number;
  readonly partition: number | undefined;
  fields: string[];
  attempt: number;
  state: 'buffered' | 'inflight' | 'waiting';
  /** Body size in bytes when over `maxEntryBytes`: refused unparsed (its fields are dropped on arrival). */
  oversize?: number;
}

export interface PartitionState {
  leased: boolean;
  /** Holds (buffered, in flight or waiting) an entry: the next may not be read yet. */
  busy: boolean;
  /** Pending entries (of a previous holder, or lost replies) must be drained before new ones. */
  draining: boolean;
}

/**
 * The entries a consumer holds, by stream and then by entry id: no per-entry
 * key string to build and hash (an id repeats across streams, so the id alone
 * is not a key). Removal is by identity: a stale Held of an entry read again
 * since cannot remove the new one.
 */
export class HeldEntries {
  private readonly byStream = new Map<string, Map<string, Held>>();
  size = 0;

  has(key: string, id: string): boolean {
    return this.byStream.get(key)?.has(id) === true;
  }

  holds(h: Held): boolean {
    return this.byStream.get(h.key)?.get(h.id) === h;
  }

  add(h: Held): void {
    let ids = this.byStream.get(h.key);
    if (ids === undefined) {
      ids = new Map();
      this.byStream.set(h.key, ids);
    }
    if (!ids.has(h.id)) this.size++;
    ids.set(h.id, h);
  }

  delete(h: Held): boolean {
    const ids = this.byStream.get(h.key);
    if (ids === undefined || ids.get(h.id) !== h) return false;
    ids.delete(h.id);
    this.size--;
    return true;
  }

  values(): Held[] {
    const out: Held[] = [];
    for (const ids of this.byStream.values()) for (const h of ids.values()) out.push(h);
    return out;
  }

  clear(): void {
    this.byStream.clear();
    this.size = 0;
  }
}

/** Entries of one stream in a read reply; ioredis already gives strings, so no per-field copy. */
export function readEntries(list: unknown[]): RawEntry[] {
  const out: RawEntry[] = [];
  for (const item of list) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const f = item[1];
    // A nil body is an entry deleted while pending: hand it on empty so it lands in the DLQ.
    out.push({ id: item[0], fields: Array.isArray(f) && allStrings(f) ? f : toStrings(f) });
  }
  return out;
}

function allStrings(a: unknown[]): a is string[] {
  for (const x of a) if (typeof x !== 'string') return false;
  return true;
}

const toStrings = (f: unknown): string[] =>
  Array.isArray(f) ? f.map((x: unknown) => String(x)) : [];

/**
 * The priority stream a read reply shows to be backlogged: the reply carries
 * priority entries from that stream only, exactly `want` of them (it may hold
 * more). Otherwise undefined, and the next read is the exact scripted sweep.
 */
export function backlogged(
  reply: unknown,
  priorityKeys: readonly string[],
  want: number,
): number | undefined {
  if (!Array.isArray(reply)) return undefined;
  let hot: number | undefined;
  for (const s of reply) {
    if (!Array.isArray(s) || !Array.isArray(s[1]) || s[1].length === 0) continue;
    const i = priorityKeys.indexOf(String(s[0]));
    if (i < 0) continue;
    if (hot !== undefined || s[1].length !== want) return undefined;
    hot = i;
  }
  return hot;
}
