import { describe, expect, it } from 'vitest';
import { TtlSet } from '../src/inbound/ttl-set.js';

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
    const queued = (set as unknown as { queue: unknown[]; head: number }).queue.length;
    expect(queued).toBeLessThan(2 * 100 + 1024 + 1);
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
    const queued = (set as unknown as { queue: unknown[]; head: number }).queue.length;
    expect(queued).toBeLessThan(2 * 100 + 1024 + 1);
  });
});
