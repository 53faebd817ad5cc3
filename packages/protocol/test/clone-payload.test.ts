import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clonePayload } from '../src/index.js';
import { expectedAfterWire, payloadArb } from './arbitraries.js';

describe('clonePayload', () => {
  it('copies what the JSON codec would deliver, sharing no object with the original', () => {
    fc.assert(
      fc.property(payloadArb, (value) => {
        const copy = clonePayload(value);
        expect(copy).toStrictEqual(expectedAfterWire(value));
        if (value !== null && typeof value === 'object') expect(copy).not.toBe(value);
      }),
      { numRuns: 2_000 },
    );
  });

  it('copies arrays element by element: nested values are new, holes become undefined slots', () => {
    const inner = { n: 1 };
    // biome-ignore lint/suspicious/noSparseArray: the hole is what is tested
    const list = [1, , inner, [2, 3], 'x'];
    const copy = clonePayload(list) as unknown[];
    expect(copy).toHaveLength(5);
    expect(1 in copy).toBe(true);
    expect(copy[1]).toBeUndefined();
    expect(copy[2]).toEqual(inner);
    expect(copy[2]).not.toBe(inner);
    expect(copy[3]).not.toBe(list[3]);
    (copy[3] as number[]).push(4);
    expect(list[3]).toEqual([2, 3]);
  });
});
