import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  checkedClonePayload,
  checkWirePayload,
  clonePayload,
  type InvalidMessageError,
} from '../src/index.js';
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

/** What checkWirePayload then clonePayload give: the copy, or the error's reason, field path and text. */
function checkThenClone(value: unknown, depth: number, budget: number): unknown {
  try {
    checkWirePayload(value, 'payload', depth, budget);
  } catch (err) {
    const e = err as InvalidMessageError;
    return { threw: [e.reason, e.field, e.message] };
  }
  return { copy: clonePayload(value) };
}

function checkedClone(value: unknown, depth: number, budget: number): unknown {
  try {
    return { copy: checkedClonePayload(value, 'payload', depth, budget) };
  } catch (err) {
    const e = err as InvalidMessageError;
    return { threw: [e.reason, e.field, e.message] };
  }
}

/** Values a payload may not hold, beside valid ones, so the failures are compared too. */
const anyValueArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    payloadArb,
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, new Date(Number.NaN)),
    fc.constant(new Map([[1, 2]])),
    fc.constant(() => 1),
    fc.constant(Symbol('s')),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('node'), { maxKeys: 4 }),
  ),
})).node;

describe('checkedClonePayload', () => {
  it('refuses what checkWirePayload refuses (same error) and copies what clonePayload copies', () => {
    fc.assert(
      fc.property(
        anyValueArb,
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 600 }),
        (value, depth, budget) => {
          expect(checkedClone(value, depth, budget)).toStrictEqual(
            checkThenClone(value, depth, budget),
          );
        },
      ),
      { numRuns: 3_000 },
    );
  });

  it('shares no object with the original', () => {
    const inner = { n: [1, { m: 2 }] };
    const value = { inner, list: [inner, new Date(0), new Uint8Array([1])] };
    const copy = checkedClonePayload(value, 'payload', 64, 1_000);
    expect(copy).toStrictEqual(clonePayload(value));
    expect(copy.inner).not.toBe(inner);
    expect(copy.inner.n[1]).not.toBe(inner.n[1]);
    expect(copy.list[1]).not.toBe(value.list[1]);
    expect(copy.list[2]).not.toBe(value.list[2]);
  });

  it('copies objects of any number of keys, in order, whatever shapes came before', () => {
    // Each key position has a store of its own (see storeAt): mix shapes and
    // positions past the last one, with `__proto__` and undefined in between.
    const wide = JSON.parse(
      '{"a":1,"b":"x","__proto__":{"p":1},"c":[1,{"d":2}],"e":null,"f":true,"g":{},"h":[],"i":9,"j":"y","k":0,"l":{"m":[3]}}',
    ) as Record<string, unknown>;
    const holey = { z: 1, y: undefined, x: 'w', '10': 2, '2': 3 };
    const shuffled = { l: 1, k: 2, j: 3, i: 4, h: 5, g: 6, f: 7, e: 8, d: 9, c: 10, b: 11, a: 12 };
    for (let round = 0; round < 3; round++) {
      for (const value of [wide, holey, shuffled, { one: 1 }, {}] as Record<string, unknown>[]) {
        for (const copy of [
          clonePayload(value),
          checkedClonePayload(value, 'payload', 64, 10_000),
        ] as Record<string, unknown>[]) {
          expect(copy).toStrictEqual(expectedAfterWire(value));
          expect(Object.keys(copy)).toEqual(
            Object.keys(value).filter((k) => value[k] !== undefined),
          );
          expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
        }
      }
    }
  });
});
