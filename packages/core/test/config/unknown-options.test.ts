import { describe, expect, it } from 'vitest';
import { closestOption, editDistance, rejectUnknownOptions } from '../../src/index.js';

describe('rejectUnknownOptions', () => {
  const known = ['url', 'keyPrefix', 'maxConcurrentMessages', 'concurrency', 'name'];

  it('accepts known options and non-objects', () => {
    expect(() => rejectUnknownOptions('test', { url: 'x', name: 'y' }, known)).not.toThrow();
    expect(() => rejectUnknownOptions('test', undefined, known)).not.toThrow();
    expect(() => rejectUnknownOptions('test', 'nope', known)).not.toThrow();
  });

  it.each([
    ['urll', 'url'],
    ['nmae', 'name'],
    ['maxConcurentMessages', 'maxConcurrentMessages'],
    ['concurency', 'concurrency'],
    ['keyprefix', 'keyPrefix'],
  ])('names %s and suggests %s', (typo, meant) => {
    let err: unknown;
    try {
      rejectUnknownOptions('test', { [typo]: 1 }, known);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'HUB_INVALID_CONFIG' });
    expect((err as Error).message).toBe(
      `[hub:config] unknown option \`test.${typo}\`; did you mean \`${meant}\`?`,
    );
  });

  it('names an option with no close match without a suggestion', () => {
    expect(() => rejectUnknownOptions('test', { totallyDifferent: 1 }, known)).toThrow(
      /^\[hub:config\] unknown option `test\.totallyDifferent` \(known: url, /,
    );
  });

  it('computes edit distances with swaps', () => {
    expect(editDistance('nmae', 'name')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
    expect(closestOption('xyz', ['url'])).toBeUndefined();
  });
});
