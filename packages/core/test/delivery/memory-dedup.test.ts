import { MemoryDedupStore } from '@hub/core';
import { describe, expect, it } from 'vitest';

function clock(start = 1_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('MemoryDedupStore', () => {
  it('new → busy while leased → done once committed', () => {
    const c = clock();
    const store = new MemoryDedupStore({ now: c.now });
    expect(store.begin('a', 100)).toBe('new');
    expect(store.begin('a', 100)).toBe('busy');
    store.commit('a', 1_000);
    expect(store.begin('a', 100)).toBe('done');
    c.advance(999);
    expect(store.begin('a', 100)).toBe('done');
  });

  it('an expired lease lets a redelivery process again', () => {
    const c = clock();
    const store = new MemoryDedupStore({ now: c.now });
    expect(store.begin('a', 100)).toBe('new');
    c.advance(100);
    expect(store.begin('a', 100)).toBe('new');
  });

  it('forgets a committed id after its window', () => {
    const c = clock();
    const store = new MemoryDedupStore({ now: c.now });
    store.begin('a', 10);
    store.commit('a', 500);
    c.advance(500);
    expect(store.begin('a', 10)).toBe('new');
  });

  it('abort drops a lease but never a done mark', () => {
    const store = new MemoryDedupStore();
    store.begin('a', 1_000);
    store.abort('a');
    expect(store.begin('a', 1_000)).toBe('new');
    store.commit('a', 1_000);
    store.abort('a');
    expect(store.begin('a', 1_000)).toBe('done');
    store.abort('unknown');
  });

  it('is bounded by maxEntries, forgetting the oldest first', () => {
    const store = new MemoryDedupStore({ maxEntries: 3 });
    for (const id of ['a', 'b', 'c', 'd']) {
      store.begin(id, 1_000);
      store.commit(id, 60_000);
    }
    expect(store.size).toBe(3);
    expect(store.begin('a', 1_000)).toBe('new');
    expect(store.begin('d', 1_000)).toBe('done');
    expect(store.size).toBe(3);
  });
});

describe('MemoryDedupStore capacity', () => {
  it('forgets expired ids before live ones, and counts a live id forgotten early', () => {
    let t = 1_000_000;
    const store = new MemoryDedupStore({ maxEntries: 3, now: () => t });
    store.commit('old', 10); // expires at t + 10
    store.commit('a', 60_000);
    store.commit('b', 60_000);
    t += 100; // 'old' has expired
    store.commit('c', 60_000); // over capacity: the expired one goes, not 'a'
    expect(store.begin('a', 1_000)).toBe('done');
    expect(store.evictedBeforeExpiry).toBe(0);
    store.commit('d', 60_000); // nothing expired: the least recently used live id goes, counted
    expect(store.evictedBeforeExpiry).toBe(1);
    expect(store.size).toBe(3);
  });
});
