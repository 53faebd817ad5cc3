import { describe, expect, it } from 'vitest';
import { compareEntryIds, RankBuffer } from '../src/rank-buffer.js';

interface Item {
  readonly rank: number;
  readonly id: string;
  readonly tag?: string;
}

const item = (rank: number, id: string, tag?: string): Item =>
  tag === undefined ? { rank, id } : { rank, id, tag };

/** Shift everything, in order. */
function drain(b: RankBuffer<Item>): Item[] {
  const out: Item[] = [];
  for (let x = b.shift(); x !== undefined; x = b.shift()) out.push(x);
  return out;
}

const sign = (n: number) => Math.sign(n);

describe('compareEntryIds', () => {
  it('orders same-millisecond sequence numbers numerically (…-9 before …-10)', () => {
    expect(sign(compareEntryIds('1700000000000-9', '1700000000000-10'))).toBe(-1);
    expect(sign(compareEntryIds('1700000000000-10', '1700000000000-9'))).toBe(1);
    expect(sign(compareEntryIds('5-99', '5-100'))).toBe(-1);
    expect(sign(compareEntryIds('5-0', '5-1'))).toBe(-1);
  });

  it('orders milliseconds numerically, before sequence numbers', () => {
    expect(sign(compareEntryIds('999-5', '1000-0'))).toBe(-1);
    expect(sign(compareEntryIds('1000-0', '999-5'))).toBe(1);
    expect(sign(compareEntryIds('1700000000001-0', '1700000000000-12345'))).toBe(1);
    expect(sign(compareEntryIds('1700000000000-12345', '1700000000001-0'))).toBe(-1);
  });

  it('same-shaped ids (equal length, dash in the same place) compare part by part', () => {
    expect(sign(compareEntryIds('1700000000001-5', '1700000000000-9'))).toBe(1);
    expect(sign(compareEntryIds('1700000000000-19', '1700000000000-21'))).toBe(-1);
    expect(sign(compareEntryIds('1700000000000-21', '1700000000000-19'))).toBe(1);
    // Same length, dash elsewhere: the millisecond part decides, not the text.
    expect(sign(compareEntryIds('10-99', '999-1'))).toBe(-1);
    expect(sign(compareEntryIds('999-1', '10-99'))).toBe(1);
  });

  it('is 0 for equal ids and treats a missing sequence as 0', () => {
    expect(compareEntryIds('1700000000000-3', '1700000000000-3')).toBe(0);
    expect(compareEntryIds('42', '42-0')).toBe(0);
    expect(sign(compareEntryIds('42', '42-1'))).toBe(-1);
    expect(sign(compareEntryIds('41-7', '42'))).toBe(-1);
  });

  it('agrees with BigInt ordering on a shuffled set and is antisymmetric', () => {
    const ids: string[] = [];
    for (const ms of ['1', '9', '10', '99', '100', '1699999999999', '1700000000000']) {
      for (const seq of ['0', '1', '2', '9', '10', '11', '99', '100', '18446744073709551615']) {
        ids.push(`${ms}-${seq}`);
      }
    }
    const key = (id: string) => {
      const [ms, seq] = id.split('-') as [string, string];
      return (BigInt(ms) << 64n) + BigInt(seq);
    };
    const expected = [...ids].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    // A deterministic Fisher-Yates shuffle.
    const shuffled = [...ids];
    let seed = 7;
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
    }
    expect(shuffled).not.toEqual(expected);
    expect([...shuffled].sort(compareEntryIds)).toEqual(expected);
    for (const a of ids) {
      for (const b of ids)
        expect(sign(compareEntryIds(a, b)) + sign(compareEntryIds(b, a))).toBe(0);
    }
  });
});

describe('RankBuffer', () => {
  it('is empty at first: length 0, shift() undefined', () => {
    const b = new RankBuffer<Item>();
    expect(b.length).toBe(0);
    expect(b.shift()).toBeUndefined();
  });

  it('hands the best (lowest) rank first, whatever the push order', () => {
    const b = new RankBuffer<Item>();
    b.push(item(3, '1-0', 'r3'));
    b.push(item(0, '5-0', 'r0'));
    b.push(item(7, '1-0', 'r7'));
    b.push(item(1, '2-0', 'r1'));
    expect(b.length).toBe(4);
    expect(drain(b).map((x) => x.tag)).toEqual(['r0', 'r1', 'r3', 'r7']);
    expect(b.length).toBe(0);
  });

  it('keeps FIFO order within a rank for in-order pushes (the common append path)', () => {
    const b = new RankBuffer<Item>();
    const ids = Array.from({ length: 50 }, (_, i) => `1700000000000-${i}`);
    for (const id of ids) b.push(item(2, id));
    expect(drain(b).map((x) => x.id)).toEqual(ids);
  });

  it('orders a rank by entry id numerically: -9 then -10, even pushed the other way round', () => {
    const b = new RankBuffer<Item>();
    b.push(item(0, '1700000000000-10'));
    b.push(item(0, '1700000000000-9'));
    b.push(item(0, '1700000000000-100'));
    b.push(item(0, '1699999999999-500'));
    expect(drain(b).map((x) => x.id)).toEqual([
      '1699999999999-500',
      '1700000000000-9',
      '1700000000000-10',
      '1700000000000-100',
    ]);
  });

  it('inserts an older id (a reclaimed entry) in place, after entries already taken from the head', () => {
    const b = new RankBuffer<Item>();
    for (const id of ['1-1', '1-2', '1-5', '1-6']) b.push(item(0, id));
    expect(b.shift()?.id).toBe('1-1');
    expect(b.shift()?.id).toBe('1-2');
    // Older than every remaining entry, and older than the ones already handed:
    // it goes to the head of what is left, never behind or into taken slots.
    b.push(item(0, '1-0'));
    b.push(item(0, '1-3'));
    expect(b.length).toBe(4);
    expect(drain(b).map((x) => x.id)).toEqual(['1-0', '1-3', '1-5', '1-6']);
  });

  it('keeps interleaved ranks separate: each rank FIFO, ranks best first', () => {
    const b = new RankBuffer<Item>();
    for (let i = 0; i < 5; i++) {
      b.push(item(4, `10-${i}`, `p4-${i}`));
      b.push(item(1, `20-${i}`, `p1-${i}`));
    }
    b.push(item(0, '30-0', 'p0-0'));
    expect(drain(b).map((x) => x.tag)).toEqual([
      'p0-0',
      ...Array.from({ length: 5 }, (_, i) => `p1-${i}`),
      ...Array.from({ length: 5 }, (_, i) => `p4-${i}`),
    ]);
  });

  it('a better rank pushed mid-drain overtakes what is left of worse ranks', () => {
    const b = new RankBuffer<Item>();
    b.push(item(2, '1-0', 'a'));
    b.push(item(2, '1-1', 'b'));
    expect(b.shift()?.tag).toBe('a');
    b.push(item(0, '9-0', 'urgent'));
    expect(b.shift()?.tag).toBe('urgent');
    expect(b.shift()?.tag).toBe('b');
    expect(b.shift()).toBeUndefined();
  });

  it('keeps an equal id as a separate entry (the buffer does not dedupe; the consumer does)', () => {
    const b = new RankBuffer<Item>();
    b.push(item(0, '1-1', 'first'));
    b.push(item(0, '1-1', 'second'));
    expect(b.length).toBe(2);
    expect(drain(b).map((x) => x.tag)).toEqual(['first', 'second']);
  });

  it('length tracks pushes and shifts exactly, across ranks', () => {
    const b = new RankBuffer<Item>();
    let expected = 0;
    for (let i = 0; i < 30; i++) {
      b.push(item(i % 3, `${i}-0`));
      expected++;
      if (i % 4 === 3) {
        expect(b.shift()).toBeDefined();
        expected--;
      }
      expect(b.length).toBe(expected);
    }
    expect(drain(b)).toHaveLength(expected);
    expect(b.length).toBe(0);
  });

  it('is reusable after being drained: a rank emptied and refilled starts afresh', () => {
    const b = new RankBuffer<Item>();
    b.push(item(1, '1-0'));
    b.push(item(1, '1-1'));
    drain(b);
    b.push(item(1, '2-0'));
    b.push(item(1, '1-5')); // older than the new tail: goes before it
    expect(drain(b).map((x) => x.id)).toEqual(['1-5', '2-0']);
  });

  it('clear() empties every rank; later pushes and shifts work normally', () => {
    const b = new RankBuffer<Item>();
    for (let r = 0; r < 4; r++) for (let i = 0; i < 3; i++) b.push(item(r, `${r}-${i}`));
    expect(b.shift()?.id).toBe('0-0');
    b.clear();
    expect(b.length).toBe(0);
    expect(b.shift()).toBeUndefined();
    b.push(item(3, '7-0', 'after'));
    b.push(item(2, '8-0', 'better'));
    expect(b.length).toBe(2);
    expect(drain(b).map((x) => x.tag)).toEqual(['better', 'after']);
  });

  it('matches a sort by (rank, id) on a deterministic mixed workload', () => {
    const b = new RankBuffer<Item>();
    const pushed: Item[] = [];
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 500; i++) {
      const x = item(rnd(8), `${1_700_000_000_000 + rnd(5)}-${rnd(20)}`, String(i));
      b.push(x);
      pushed.push(x);
    }
    const out = drain(b);
    expect(out).toHaveLength(500);
    // Same multiset, in (rank, id) order; ties keep push order.
    const expected = pushed
      .map((x, i) => ({ x, i }))
      .sort((p, q) => p.x.rank - q.x.rank || compareEntryIds(p.x.id, q.x.id) || p.i - q.i)
      .map((p) => p.x.tag);
    expect(out.map((x) => x.tag)).toEqual(expected);
  });
});
