import { describe, expect, it } from 'vitest';
import { SettledRing } from '../../src/client/settled-ring.js';

describe('SettledRing', () => {
  it('finds the settlements asked for, acks as undefined and nacks by their text', () => {
    const ring = new SettledRing(8);
    ring.add(1, undefined);
    ring.add(3, '{"type":"nack","seq":3}');
    ring.add(2, undefined);
    const found = ring.find([1, 2, 3, 4]);
    expect([...found.entries()].sort((a, b) => a[0] - b[0])).toEqual([
      [1, undefined],
      [2, undefined],
      [3, '{"type":"nack","seq":3}'],
    ]);
    expect(found.has(4)).toBe(false);
  });

  it('forgets the oldest settlement first, by settle order and not by seq', () => {
    const ring = new SettledRing(3);
    // settled out of seq order: 5 first, then 1, 2, 3
    for (const seq of [5, 1, 2, 3]) ring.add(seq, undefined);
    expect([...ring.find([1, 2, 3, 5]).keys()].sort()).toEqual([1, 2, 3]);
    ring.add(9, undefined);
    expect([...ring.find([1, 2, 3, 9]).keys()].sort()).toEqual([2, 3, 9]);
  });

  it('keeps the latest settlement of a seq settled twice', () => {
    const ring = new SettledRing(4);
    ring.add(7, undefined);
    ring.add(7, '{"type":"nack","seq":7}');
    expect(ring.find([7]).get(7)).toBe('{"type":"nack","seq":7}');
  });

  it('holds nothing after clear (a new session numbers its deliveries from 1 again)', () => {
    const ring = new SettledRing(4);
    ring.add(1, undefined);
    ring.clear();
    expect(ring.find([1]).size).toBe(0);
    ring.add(1, undefined);
    expect(ring.find([1]).has(1)).toBe(true);
  });
});
