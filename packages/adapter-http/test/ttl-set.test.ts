import { describe, expect, it } from 'vitest';
import { TtlSet } from '../src/inbound/ttl-set.js';

/** Entries the queue holds (stale ones included) and the chunks holding them. */
const queuedOf = (set: TtlSet<unknown>) => {
  const s = set as unknown as { chunks: unknown[]; head: number; tail: number };
  expect(s.chunks.length).toBeLessThanOrEqual(Math.ceil(s.tail / 1024) + 1);
  return s.tail - s.head;
};

/** The ids of `ids` that `set` still holds at time `now`. */
const heldOf = (set: TtlSet<boolean>, ids: string[], now: number) =>
  ids.filter((id) => set.get(id, now) !== undefined);

describe('TtlSet (idempotency window, webhook replay guard)', () => {
  it('forgets an id once the window has passed', () => {
    const set = new TtlSet<string>(1_000, 10);
    set.set('a', 'first', 0);
    expect(set.get('a', 999)).toBe('first');
    expect(set.get('a', 1_000)).toBeUndefined();
    expect(set.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest first', () => {
    const set = new TtlSet(60_000, 3);
    for (const [i, id] of ['a', 'b', 'c', 'd', 'e'].entries()) set.set(id, true, i);
    expect(set.size).toBe(3);
    expect(heldOf(set, ['a', 'b', 'c', 'd', 'e'], 10)).toEqual(['c', 'd', 'e']);
  });

  it('an id set again after a delete is as young as its new time: older ones expire first', () => {
    const set = new TtlSet(1_000, 100);
    set.set('a', true, 0);
    set.set('b', true, 100);
    set.delete('a');
    set.set('a', true, 500);
    set.set('c', true, 1_150); // prunes: b (set at 100) has expired, a (500) has not
    expect(set.get('b', 1_150)).toBeUndefined();
    expect(set.get('a', 1_150)).toBe(true);
    expect(set.size).toBe(2);
  });

  it('replace changes a value only while it is the one expected, keeping its age', () => {
    const set = new TtlSet<string>(1_000, 10);
    set.set('a', 'sending', 0);
    set.replace('a', 'other', 'accepted');
    expect(set.get('a', 1)).toBe('sending');
    set.replace('a', 'sending', 'accepted');
    expect(set.get('a', 999)).toBe('accepted');
    expect(set.get('a', 1_000)).toBeUndefined();
  });

  it('stays bounded when the same ids are deleted and set again many times', () => {
    const set = new TtlSet(60_000, 100);
    for (let i = 0; i < 50_000; i++) {
      const id = `id-${i % 150}`;
      set.delete(id);
      set.set(id, true, i);
    }
    expect(set.size).toBe(100);
    // The 100 most recently set ids are the ones kept.
    for (let k = 0; k < 150; k++) {
      const lastSetAt = 50_000 - 150 + k;
      expect(set.get(`id-${lastSetAt % 150}`, 50_000) !== undefined).toBe(k >= 50);
    }
    expect(queuedOf(set)).toBeLessThan(2 * 100 + 1024 + 1);
  });
});

describe('TtlSet.add (an id known to be new, queued until a lookup)', () => {
  it('is found by a later lookup, with its value settled through the handle', () => {
    const set = new TtlSet<string>(1_000, 10);
    const entry = set.add('minted', 'sending', 0);
    expect(set.size).toBe(1);
    set.settle(entry, 'sending', 'accepted');
    expect(set.get('minted', 999)).toBe('accepted');
    expect(set.get('minted', 1_000)).toBeUndefined();
    expect(set.size).toBe(0);
  });

  it('expires and counts like a set id, oldest first, whether looked up or not', () => {
    const set = new TtlSet(60_000, 3);
    set.add('a', true, 0);
    set.set('b', true, 1);
    set.add('c', true, 2);
    set.add('d', true, 3); // over the bound: a goes
    expect(set.size).toBe(3);
    set.add('e', true, 4); // b goes
    expect(heldOf(set, ['a', 'b', 'c', 'd', 'e'], 10)).toEqual(['c', 'd', 'e']);
    set.add('f', true, 60_003); // c (2) and d (3) have expired by now
    expect(set.size).toBe(2);
    expect(set.get('e', 60_003)).toBe(true);
    expect(set.get('d', 60_003)).toBeUndefined();
  });

  it('replace, delete and set of an added id act on it as on any other', () => {
    const set = new TtlSet<string>(1_000, 10);
    set.add('a', 'sending', 0);
    set.replace('a', 'sending', 'accepted');
    expect(set.get('a', 1)).toBe('accepted');
    set.add('b', 'sending', 2);
    set.delete('b');
    expect(set.get('b', 3)).toBeUndefined();
    set.add('c', 'first', 4);
    set.set('c', 'second', 5);
    expect(set.get('c', 6)).toBe('second');
    expect(set.size).toBe(2);
  });

  it('stays bounded over many added ids, without lookups', () => {
    const set = new TtlSet(60_000, 100);
    for (let i = 0; i < 50_000; i++) set.add(`m-${i}`, true, i);
    expect(set.size).toBe(100);
    expect(set.get('m-49899', 50_000)).toBeUndefined();
    expect(set.get('m-49900', 50_000)).toBe(true);
    expect(queuedOf(set)).toBeLessThan(2 * 100 + 1024 + 1);
  });
});

describe('TtlSet handles and storage (entries in chunks of arrays, found by sequence number)', () => {
  it('settle finds its entry after a compaction has closed the gaps before it', () => {
    const set = new TtlSet<string>(60_000, 100);
    const first = set.add('first', 'sending', 0);
    // Ids deleted and set again leave stale entries, until a compaction drops them.
    for (let i = 0; i < 1_200; i++) {
      set.add(`gap-${i}`, 'x', 0);
      set.delete(`gap-${i}`);
    }
    const kept = set.add('kept', 'sending', 1);
    const before = queuedOf(set);
    for (let i = 0; i < 300; i++) {
      set.add(`later-${i}`, 'x', 2);
      set.delete(`later-${i}`);
    }
    expect(queuedOf(set)).toBeLessThan(before); // the stale entries ahead of `kept` are gone
    set.settle(kept, 'sending', 'accepted');
    set.settle(first, 'sending', 'accepted');
    expect(set.get('kept', 3)).toBe('accepted');
    expect(set.get('first', 3)).toBe('accepted');
  });

  it('settle through the handle of an entry that has left the set changes nothing', () => {
    const set = new TtlSet<string>(1_000, 2);
    const a = set.add('a', 'sending', 0);
    set.add('b', 'x', 1);
    set.add('c', 'x', 2); // over the bound: a leaves
    set.settle(a, 'sending', 'accepted');
    expect(set.get('a', 3)).toBeUndefined();
    // An id set again gets a new entry: the old handle does not reach it.
    const b = set.set('b', 'sending', 4);
    set.delete('b');
    set.set('b', 'sending', 5);
    set.settle(b, 'sending', 'accepted');
    expect(set.get('b', 6)).toBe('sending');
    // Nor does a handle of an entry dropped by a compaction.
    const d = set.set('d', 'sending', 7);
    set.delete('d');
    for (let i = 0; i < 1_300; i++) {
      set.set(`s-${i}`, 'x', 8);
      set.delete(`s-${i}`);
    }
    set.set('d', 'sending', 9);
    set.settle(d, 'sending', 'accepted');
    expect(set.get('d', 10)).toBe('sending');
  });

  it('an added id comes back from its bytes as it was; a long or wide one is kept as given', () => {
    const set = new TtlSet<number>(60_000, 100);
    const ids = ['abc_DEF-123', 'é-latin1-ÿ', 'x'.repeat(32), 'y'.repeat(33), 'ü→wide', ''];
    for (const [i, id] of ids.entries()) set.add(id, i, 0);
    expect(ids.map((id) => set.get(id, 1))).toEqual([0, 1, 2, 3, 4, 5]);
    expect(set.get('abc_DEF-12', 1)).toBeUndefined();
    expect(set.get('x'.repeat(31), 1)).toBeUndefined();
    expect(set.size).toBe(6);
  });

  it('keeps entries in chunks filled in place, no object per entry, dropped once passed', () => {
    const set = new TtlSet<string>(60_000, 10_000);
    for (let i = 0; i < 5_000; i++) set.add(`m-${i}`, 'v', i);
    const s = set as unknown as { chunks: { ids: unknown[]; ats: unknown }[] };
    expect(s.chunks).toHaveLength(5); // 1,024 entries each
    expect(s.chunks[0]!.ats).toBeInstanceOf(Float64Array);
    // An added id waits as bytes, not as a string, until a lookup.
    expect(s.chunks[0]!.ids[0]).toBeUndefined();
    expect(set.get('m-4999', 5_000)).toBe('v');
    expect(s.chunks[0]!.ids[0]).toBe('m-0');
    expect(set.get('m-0', 60_000)).toBeUndefined(); // expired exactly at the window's end
    expect(set.get('m-1', 60_000)).toBe('v');
    // Past the window of the first 2,101 ids, the two chunks before the head are gone.
    set.add('late', 'v', 62_100);
    expect(s.chunks).toHaveLength(3);
    expect(set.size).toBe(5_000 - 2_101 + 1);
    expect(set.get('m-2100', 62_100)).toBeUndefined();
    expect(set.get('m-2101', 62_100)).toBe('v');
    expect(set.get('late', 62_100)).toBe('v');
  });
});
