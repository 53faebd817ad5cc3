import { describe, expect, it } from 'vitest';
import { PriorityQueue, RingDeque } from '../../src/delivery/priority-queue.js';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function drain<T>(q: PriorityQueue<T>): T[] {
  const out: T[] = [];
  for (let x = q.shift(); x !== undefined; x = q.shift()) out.push(x);
  return out;
}

describe('PriorityQueue', () => {
  it('serves higher priority first and FIFO within a level', () => {
    const q = new PriorityQueue<string>({ starvationLimit: 0 });
    q.push('n1', 2);
    q.push('c1', 5);
    q.push('n2', 2);
    q.push('l1', 1);
    q.push('c2', 5);
    q.push('h1', 3);
    expect(q.length).toBe(6);
    expect(q.peek()).toBe('c1');
    expect(drain(q)).toEqual(['c1', 'c2', 'h1', 'n1', 'n2', 'l1']);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    expect(q.peek()).toBeUndefined();
  });

  it('unshift puts an item at the front of its own level only', () => {
    const q = new PriorityQueue<string>();
    q.push('a', 3);
    q.push('b', 3);
    q.push('top', 4);
    q.unshift('redelivered', 3);
    expect(drain(q)).toEqual(['top', 'redelivered', 'a', 'b']);
  });

  it('clamps priorities outside 1..5', () => {
    const q = new PriorityQueue<string>({ starvationLimit: 0 });
    q.push('low-neg', -3);
    q.push('low-zero', 0);
    q.push('low-nan', Number.NaN);
    q.push('high', 99);
    q.push('mid', 3.7);
    expect(q.lengthAt(1)).toBe(3);
    expect(q.lengthAt(0)).toBe(3);
    expect(q.lengthAt(5)).toBe(1);
    expect(q.lengthAt(3)).toBe(1);
    expect(drain(q)).toEqual(['high', 'mid', 'low-neg', 'low-zero', 'low-nan']);
  });

  it('starvation guard: after `starvationLimit` pass-overs the oldest lowest item goes once', () => {
    const q = new PriorityQueue<string>({ starvationLimit: 3 });
    for (let i = 0; i < 9; i++) q.push(`h${i}`, 5);
    q.push('m0', 3);
    q.push('l0', 1);
    q.push('l1', 1);
    expect(drain(q)).toEqual([
      'h0',
      'h1',
      'h2',
      'l0',
      'h3',
      'h4',
      'h5',
      'l1',
      'h6',
      'h7',
      'h8',
      'm0',
    ]);
  });

  it('the guard counts only dequeues that passed over waiting work', () => {
    const q = new PriorityQueue<string>({ starvationLimit: 2 });
    q.push('a', 5);
    q.push('b', 5);
    // nothing lower waiting: no pass-overs counted
    expect(q.shift()).toBe('a');
    expect(q.shift()).toBe('b');
    q.push('c', 5);
    q.push('d', 5);
    q.push('e', 5);
    q.push('low', 1);
    expect(drain(q)).toEqual(['c', 'd', 'low', 'e']);
  });

  it('peek always agrees with the next shift, guard included', () => {
    const rnd = mulberry32(7);
    const q = new PriorityQueue<number>({ starvationLimit: 4 });
    let n = 0;
    for (let step = 0; step < 5000; step++) {
      if (rnd() < 0.55) q.push(n++, 1 + Math.floor(rnd() * 5));
      else {
        const p = q.peek();
        expect(q.shift()).toBe(p);
      }
    }
  });

  it('matches a reference model over many random operations (ring growth and wrap-around)', () => {
    const rnd = mulberry32(42);
    const limit = 5;
    const q = new PriorityQueue<number>({ starvationLimit: limit });
    const model: number[][] = [[], [], [], [], []];
    let passed = 0;
    const modelShift = (): number | undefined => {
      let high = -1;
      for (let l = 4; l >= 0; l--) {
        if ((model[l] as number[]).length > 0) {
          high = l;
          break;
        }
      }
      if (high < 0) return undefined;
      let low = -1;
      for (let l = 0; l < high; l++) {
        if ((model[l] as number[]).length > 0) {
          low = l;
          break;
        }
      }
      let level = high;
      if (low >= 0) {
        if (passed >= limit) {
          level = low;
          passed = 0;
        } else passed++;
      } else passed = 0;
      return (model[level] as number[]).shift();
    };
    let n = 0;
    for (let step = 0; step < 50_000; step++) {
      const r = rnd();
      const p = 1 + Math.floor(rnd() * 5);
      if (r < 0.4) {
        q.push(n, p);
        (model[p - 1] as number[]).push(n++);
      } else if (r < 0.5) {
        q.unshift(n, p);
        (model[p - 1] as number[]).unshift(n++);
      } else {
        expect(q.shift()).toBe(modelShift());
      }
      if (step % 997 === 0) {
        expect(q.length).toBe(model.reduce((s, l) => s + l.length, 0));
        for (let l = 1; l <= 5; l++) expect(q.lengthAt(l)).toBe((model[l - 1] as number[]).length);
      }
    }
    expect([...q]).toEqual([...model].reverse().flat());
  });

  it('clear returns everything highest first and empties the queue; iteration does not consume', () => {
    const q = new PriorityQueue<string>();
    q.push('l', 1);
    q.push('h', 4);
    q.unshift('h0', 4);
    expect([...q]).toEqual(['h0', 'h', 'l']);
    expect(q.length).toBe(3);
    expect(q.clear()).toEqual(['h0', 'h', 'l']);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
    q.push('again', 2);
    expect(q.shift()).toBe('again');
  });

  it('handles large backlogs without quadratic cost', () => {
    const q = new PriorityQueue<number>();
    const n = 300_000;
    for (let i = 0; i < n; i++) q.push(i, 3);
    let expected = 0;
    let ok = true;
    for (let x = q.shift(); x !== undefined; x = q.shift()) if (x !== expected++) ok = false;
    expect(ok).toBe(true);
    expect(expected).toBe(n);
  });
});

describe('RingDeque', () => {
  it('keeps order across growth with items unshifted at the front', () => {
    const d = new RingDeque<number>();
    for (let i = 0; i < 10; i++) d.push(i);
    for (let i = 1; i <= 30; i++) d.unshift(-i);
    expect(d.size).toBe(40);
    expect(d.peek()).toBe(-30);
    const out: number[] = [];
    for (let x = d.shift(); x !== undefined; x = d.shift()) out.push(x);
    expect(out).toEqual([
      ...Array.from({ length: 30 }, (_, i) => i - 30),
      ...Array.from({ length: 10 }, (_, i) => i),
    ]);
  });
});
