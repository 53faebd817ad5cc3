import { describe, expect, it } from 'vitest';
import { keyLayout, partitionOf, topicPatternToGlob } from '../src/keys.js';

/** Redis glob semantics for the subset we emit (`*` and backslash escapes). */
function globMatch(glob: string, s: string): boolean {
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '\\') re += `\\${glob[++i]}`;
    else if (c === '*') re += '.*';
    else re += c.replace(/[.+^${}()|[\]?]/g, '\\$&');
  }
  return new RegExp(`${re}$`, 's').test(s);
}

/** The hub's exact semantics: `*` one segment, `**`/`#` zero or more. */
function topicMatch(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === t.length;
    if (p[i] === '**' || p[i] === '#') return go(i + 1, j) || (j < t.length && go(i, j + 1));
    if (j === t.length) return false;
    return (p[i] === '*' || p[i] === t[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

describe('topicPatternToGlob', () => {
  it.each([
    ['orders.*', 'orders.*'],
    ['orders.**', 'orders*'],
    ['#', '*'],
    ['a.**.b', 'a*b'],
    ['**.b', '*b'],
    ['a.b', 'a.b'],
    ['we[ir]d?', 'we\\[ir\\]d\\?'],
  ])('%s → %s', (pattern, glob) => {
    expect(topicPatternToGlob(pattern)).toBe(glob);
  });

  it('matches a superset of what the pattern matches', () => {
    const patterns = ['orders.*', 'orders.**', 'a.**.b', '**', '*.created', 'a.*.c', '#.x', 'x'];
    const topics = [
      'orders',
      'orders.eu',
      'orders.eu.created',
      'a.b',
      'a.x.b',
      'a.x.y.b',
      'u.created',
      'a.b.c',
      'x',
      'y.x',
      'ab',
    ];
    for (const p of patterns) {
      for (const t of topics) {
        if (topicMatch(p, t))
          expect(globMatch(topicPatternToGlob(p), t), `${p} vs ${t}`).toBe(true);
      }
    }
  });
});

describe('key layout', () => {
  it('puts every key of an endpoint under one hash tag', () => {
    const k = keyLayout('hub');
    expect(k.priorityStream('ep', 5)).toBe('hub:{ep}:p5');
    expect(k.partitionStream('ep', 3)).toBe('hub:{ep}:o3');
    expect(k.dlq('ep')).toBe('hub:{ep}:dlq');
    expect(k.lease('ep', 'g', 1)).toBe('hub:{ep}:lease:g:o1');
    expect(k.channel('ep')).toBe('hub:ch:ep');
    expect(k.eventChannel('a.b')).toBe('hub:ev:a.b');
    expect(k.dlq('we}ird')).toBe('hub:{we%7Dird}:dlq');
  });

  it('partitionOf is FNV-1a 32 modulo partitions', () => {
    // FNV-1a("a") = 0xe40c292c
    expect(partitionOf('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(partitionOf('', 16)).toBe(0x811c9dc5 % 16);
    expect(partitionOf('key', 16)).toBe(partitionOf('key', 16));
  });
});
