import { ErrorCode, HubError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import {
  INVALID_PATTERN_CODE,
  matchTopic,
  TopicMatcher,
  validatePattern,
  validateTopic,
} from '../../src/event-bus/index.js';

/** mulberry32: tiny, seeded, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Obviously-correct reference: plain recursion over segments, no cleverness. */
function oracle(pattern: string, topic: string): boolean {
  const p = pattern.split('.');
  const t = topic.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === t.length;
    const seg = p[i];
    if (seg === '**' || seg === '#') {
      for (let k = j; k <= t.length; k++) if (go(i + 1, k)) return true;
      return false;
    }
    if (j === t.length) return false;
    return (seg === '*' || seg === t[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

function catchError(fn: () => unknown): HubError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HubError) return err;
    throw err;
  }
  throw new Error('expected a HubError');
}

const CASES: [pattern: string, topic: string, matches: boolean][] = [
  // exact
  ['orders', 'orders', true],
  ['orders.eu.created', 'orders.eu.created', true],
  ['orders.eu.created', 'orders.eu', false],
  ['orders.eu', 'orders.eu.created', false],
  ['orders.eu', 'orders.us', false],
  ['user_events', 'user_events', true],
  ['a:b.c-d.e@f/g', 'a:b.c-d.e@f/g', true],
  // `*`: exactly one segment
  ['orders.*', 'orders.eu', true],
  ['orders.*', 'orders', false],
  ['orders.*', 'orders.eu.created', false],
  ['*.created', 'orders.created', true],
  ['*.created', 'created', false],
  ['orders.*.created', 'orders.eu.created', true],
  ['orders.*.created', 'orders.created', false],
  ['*', 'orders', true],
  ['*', 'orders.eu', false],
  ['*.*', 'a.b', true],
  ['*.*', 'a', false],
  // `**`: zero or more segments
  ['orders.**', 'orders', true],
  ['orders.**', 'orders.eu', true],
  ['orders.**', 'orders.eu.created', true],
  ['orders.**', 'order', false],
  ['orders.**', 'shipping.eu', false],
  ['**.created', 'created', true],
  ['**.created', 'orders.eu.created', true],
  ['**.created', 'orders.eu.created.late', false],
  ['orders.**.created', 'orders.created', true],
  ['orders.**.created', 'orders.eu.x.created', true],
  ['orders.**.created', 'orders.eu.updated', false],
  ['**', 'a', true],
  ['**', 'a.b.c.d', true],
  // `#` is an alias of `**`
  ['orders.#', 'orders', true],
  ['orders.#', 'orders.eu.created', true],
  ['#.created', 'created', true],
  ['#', 'anything.at.all', true],
  ['a.#.b.**', 'a.b', true],
  // several `**`
  ['**.a.**', 'a', true],
  ['**.a.**', 'x.a.y.z', true],
  ['**.a.**', 'x.b.y', false],
  ['a.**.b.**.c', 'a.b.c', true],
  ['a.**.b.**.c', 'a.x.b.y.z.c', true],
  ['a.**.b.**.c', 'a.x.c.b', false],
  ['**.**', 'a', true],
  ['**.a.**.a', 'a.a', true],
  ['**.a.**.a', 'a', false],
  // mixed
  ['*.**', 'a', true],
  ['*.**', 'a.b.c', true],
  ['**.*', 'a', true],
  ['*.**.*', 'a', false],
  ['*.**.*', 'a.b', true],
  ['a.*.**.z', 'a.b.z', true],
  ['a.*.**.z', 'a.z', false],
  ['a.*.**.z', 'a.b.c.d.z', true],
];

describe('matchTopic', () => {
  it.each(CASES)('%s vs %s → %s', (pattern, topic, expected) => {
    expect(matchTopic(pattern, topic)).toBe(expected);
    expect(oracle(pattern, topic)).toBe(expected);
  });

  it.each(CASES)('TopicMatcher agrees: %s vs %s → %s', (pattern, topic, expected) => {
    const m = new TopicMatcher<string>();
    m.add(pattern, 'v');
    expect(m.match(topic)).toEqual(expected ? ['v'] : []);
    // Run again: the second call is served from the topic cache.
    expect(m.match(topic)).toEqual(expected ? ['v'] : []);
  });
});

describe('validateTopic / validatePattern', () => {
  const long = Array.from({ length: 86 }, () => 'abc').join('.'); // 86*4-1 = 343 chars
  const tooMany = Array.from({ length: 33 }, () => 'a').join('.');
  const invalidTopics: [unknown, RegExp][] = [
    [42, /must be a string, got number/],
    [null, /must be a string, got null/],
    [undefined, /must be a string, got undefined/],
    ['', /is empty/],
    ['a..b', /segment 2 is empty/],
    ['.a', /segment 1 is empty/],
    ['a.', /segment 2 is empty/],
    ['a b', /invalid character " "/],
    ['a.b!', /invalid character "!"/],
    ['ü', /invalid character "ü"/],
    ['a.*', /wildcard/],
    ['a.**', /wildcard/],
    ['#', /wildcard/],
    ['a*', /wildcard/],
    [long, /longer than 256/],
    [tooMany, /more than 32 segments/],
  ];
  it.each(invalidTopics)('rejects topic %j', (topic, reason) => {
    const err = catchError(() => validateTopic(topic, 'event.topic'));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.message).toMatch(/^\[hub:event-bus\] event\.topic /);
    expect(err.message).toMatch(reason);
  });

  const invalidPatterns: [unknown, RegExp][] = [
    [{}, /must be a string, got object/],
    ['', /is empty/],
    ['a..*', /segment 2 is empty/],
    ['a.b*', /segment "b\*" mixes a wildcard with text/],
    ['*b', /mixes a wildcard with text/],
    ['a#', /mixes a wildcard with text/],
    ['a.**b', /mixes a wildcard with text/],
    ['***', /is not a wildcard/],
    ['*#', /is not a wildcard/],
    ['##', /is not a wildcard/],
    ['a.b?', /invalid character "\?"/],
    ['a*?', /invalid character "\?"/],
    [long, /longer than 256/],
    [tooMany.replace('a', '*'), /more than 32 segments/],
  ];
  it.each(invalidPatterns)('rejects pattern %j', (pattern, reason) => {
    const err = catchError(() => validatePattern(pattern, 'subscribe.pattern'));
    expect(err.code).toBe(INVALID_PATTERN_CODE);
    expect(err.message).toMatch(/^\[hub:event-bus\] subscribe\.pattern /);
    expect(err.message).toMatch(reason);
  });

  it('uses the default field names and the documented message', () => {
    expect(catchError(() => validateTopic('a..b')).message).toMatch(
      /^\[hub:event-bus\] topic "a\.\.b"/,
    );
    expect(catchError(() => validatePattern('a.b*')).message).toBe(
      '[hub:event-bus] pattern "a.b*" is invalid: segment "b*" mixes a wildcard with text',
    );
    expect(INVALID_PATTERN_CODE).toBe('HUB_INVALID_PATTERN');
  });

  it('accepts valid input and returns it unchanged', () => {
    const max = Array.from({ length: 32 }, () => 'abcdefg').join('.'); // 255 chars
    for (const t of ['a', 'orders.eu.created', 'A-b_c:d@e/f.0', max]) {
      expect(validateTopic(t)).toBe(t);
      expect(validatePattern(t)).toBe(t);
    }
    for (const p of ['*', '**', '#', 'a.*.b', 'a.**', '#.a.#', '*.*.**']) {
      expect(validatePattern(p)).toBe(p);
    }
  });

  it('TopicMatcher.add validates the pattern', () => {
    const m = new TopicMatcher<number>();
    expect(catchError(() => m.add('a.b*', 1)).code).toBe(INVALID_PATTERN_CODE);
    expect(m.size).toBe(0);
    expect(m.patterns()).toEqual([]);
  });
});

describe('TopicMatcher bookkeeping', () => {
  it('counts (pattern, value) pairs and ignores a repeated pair', () => {
    const m = new TopicMatcher<string>();
    m.add('a.*', 'x');
    m.add('a.*', 'x');
    m.add('a.*', 'y');
    m.add('a.b', 'x');
    expect(m.size).toBe(3);
    expect(m.patterns()).toEqual(['a.*', 'a.b']);
    expect(m.has('a.*')).toBe(true);
    expect(m.has('a.#')).toBe(false);

    expect(m.remove('a.*', 'z')).toBe(false);
    expect(m.remove('nope', 'x')).toBe(false);
    expect(m.remove('a.*', 'x')).toBe(true);
    expect(m.remove('a.*', 'x')).toBe(false);
    expect(m.size).toBe(2);
    expect(m.match('a.b')).toEqual(['y', 'x']);

    expect(m.remove('a.*', 'y')).toBe(true);
    expect(m.has('a.*')).toBe(false);
    expect(m.patterns()).toEqual(['a.b']);
    expect(m.match('a.b')).toEqual(['x']);
    expect(m.match('a.c')).toEqual([]);

    m.clear();
    expect(m.size).toBe(0);
    expect(m.patterns()).toEqual([]);
    expect(m.match('a.b')).toEqual([]);
    m.add('a.**', 'again');
    expect(m.match('a')).toEqual(['again']);
  });

  it('reports a value once per matching pattern, in pattern creation order', () => {
    const m = new TopicMatcher<string>();
    m.add('orders.**', 's1');
    m.add('orders.eu.created', 's2');
    m.add('orders.#', 's1'); // same value, different pattern string: reported twice
    m.add('*.eu.*', 's3');
    m.add('orders.**', 's4');
    const seen: [string, string][] = [];
    m.forEachMatch('orders.eu.created', (v, p) => seen.push([v, p]));
    expect(seen).toEqual([
      ['s1', 'orders.**'],
      ['s4', 'orders.**'],
      ['s2', 'orders.eu.created'],
      ['s1', 'orders.#'],
      ['s3', '*.eu.*'],
    ]);
    expect(m.match('orders')).toEqual(['s1', 's4', 's1']);
  });

  it('never reports a (pattern, value) twice through overlapping ** paths', () => {
    const m = new TopicMatcher<number>();
    for (const p of ['**.a.**', '**.**.a', '#.a.#.a.#', '**']) m.add(p, 1);
    const topic = 'a.a.a.a.a.a.a.a';
    const seen: string[] = [];
    m.forEachMatch(topic, (_, p) => seen.push(p));
    expect(seen.sort()).toEqual(['#.a.#.a.#', '**', '**.**.a', '**.a.**'].sort());
  });

  it('sees changes made after a topic was cached', () => {
    const m = new TopicMatcher<string>();
    m.add('a.*', 'one');
    expect(m.match('a.b')).toEqual(['one']);
    m.add('a.**', 'two');
    expect(m.match('a.b')).toEqual(['one', 'two']);
    m.add('a.*', 'three'); // existing pattern: live values, no invalidation needed
    expect(m.match('a.b')).toEqual(['one', 'three', 'two']);
    m.add('a.b', 'exact');
    expect(m.match('a.b')).toEqual(['one', 'three', 'two', 'exact']);
    m.remove('a.*', 'one');
    m.remove('a.*', 'three');
    expect(m.match('a.b')).toEqual(['two', 'exact']);
    m.remove('a.**', 'two');
    expect(m.match('a.b')).toEqual(['exact']);
    expect(m.match('a')).toEqual([]);
  });

  it('tolerates subscriptions changing inside forEachMatch', () => {
    const m = new TopicMatcher<string>();
    m.add('x.*', 'a');
    m.add('x.*', 'b');
    m.add('x.*', 'c');
    m.add('x.**', 'd');
    const seen: string[] = [];
    m.forEachMatch('x.y', (v) => {
      seen.push(v);
      if (v === 'a') {
        m.remove('x.*', 'a'); // self-unsubscribe must not skip 'b'
        m.remove('x.**', 'd'); // removed before its turn: not called
      }
    });
    expect(seen).toEqual(['a', 'b', 'c']);
    expect(m.match('x.y')).toEqual(['b', 'c']);
  });

  it('prunes the trie when patterns go away and can re-add them', () => {
    const m = new TopicMatcher<number>();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 50; i++) m.add(`r.${i}.**.z`, i);
      expect(m.match('r.7.q.z')).toEqual([7]);
      for (let i = 0; i < 50; i++) expect(m.remove(`r.${i}.**.z`, i)).toBe(true);
      expect(m.size).toBe(0);
      expect(m.match('r.7.q.z')).toEqual([]);
    }
  });

  it('works with the topic cache disabled and with a tiny cache', () => {
    for (const cacheSize of [0, 1, 2]) {
      const m = new TopicMatcher<string>({ cacheSize });
      m.add('a.*', 'star');
      m.add('**', 'all');
      for (let i = 0; i < 3; i++) {
        expect(m.match('a.b')).toEqual(['star', 'all']);
        expect(m.match('c')).toEqual(['all']);
        expect(m.match('a.c')).toEqual(['star', 'all']);
      }
    }
    expect(catchError(() => new TopicMatcher({ cacheSize: -1 })).code).toBe(
      ErrorCode.INVALID_CONFIG,
    );
  });
});

describe('TopicMatcher randomized cross-check', () => {
  const WORDS = ['a', 'b', 'c', 'dd'];
  const WILD = ['*', '**', '#'];

  function randomPattern(rnd: () => number): string {
    const n = 1 + Math.floor(rnd() * 5);
    const segs: string[] = [];
    for (let i = 0; i < n; i++) {
      segs.push(rnd() < 0.35 ? WILD[Math.floor(rnd() * 3)]! : WORDS[Math.floor(rnd() * 4)]!);
    }
    return segs.join('.');
  }

  function randomTopic(rnd: () => number): string {
    const n = 1 + Math.floor(rnd() * 6);
    return Array.from({ length: n }, () => WORDS[Math.floor(rnd() * 4)]!).join('.');
  }

  it('matchTopic agrees with the reference on 5,000 random pairs', () => {
    const rnd = prng(1234);
    for (let i = 0; i < 5000; i++) {
      const p = randomPattern(rnd);
      const t = randomTopic(rnd);
      if (matchTopic(p, t) !== oracle(p, t)) expect.fail(`${p} vs ${t}`);
    }
  });

  it('TopicMatcher agrees with matchTopic through adds and removes', () => {
    const rnd = prng(42);
    const m = new TopicMatcher<number>({ cacheSize: 64 });
    const live = new Map<string, Set<number>>();
    const expected = (topic: string): string[] => {
      const out: string[] = [];
      for (const [p, vals] of live) {
        if (matchTopic(p, topic)) for (const v of vals) out.push(`${p}|${v}`);
      }
      return out.sort();
    };
    const actual = (topic: string): string[] => {
      const out: string[] = [];
      m.forEachMatch(topic, (v, p) => out.push(`${p}|${v}`));
      return out.sort();
    };
    let checks = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 150; i++) {
        const p = randomPattern(rnd);
        const v = Math.floor(rnd() * 5);
        if (rnd() < 0.7) {
          m.add(p, v);
          if (!live.has(p)) live.set(p, new Set());
          live.get(p)!.add(v);
        } else {
          const had = live.get(p)?.has(v) ?? false;
          expect(m.remove(p, v)).toBe(had);
          live.get(p)?.delete(v);
          if (live.get(p)?.size === 0) live.delete(p);
        }
      }
      let size = 0;
      for (const vals of live.values()) size += vals.size;
      expect(m.size).toBe(size);
      expect(m.patterns().sort()).toEqual([...live.keys()].sort());
      for (let i = 0; i < 100; i++) {
        const t = randomTopic(rnd);
        const want = expected(t);
        const got = actual(t);
        if (got.join() !== want.join()) expect.fail(`round ${round}, topic ${t}`);
        expect(got).toEqual(want);
        checks++;
      }
    }
    expect(checks).toBe(2000);
    expect(m.size).toBeGreaterThan(0);
  });

  it('stays correct with 20,000 patterns', () => {
    const rnd = prng(7);
    const m = new TopicMatcher<number>();
    const pats: string[] = [];
    const regions = ['eu', 'us', 'ap', 'sa'];
    const actions = ['created', 'updated', 'deleted', 'shipped'];
    for (let i = 0; i < 20_000; i++) {
      const kind = i % 5;
      const svc = `svc${Math.floor(rnd() * 500)}`;
      const region = regions[Math.floor(rnd() * 4)]!;
      const action = actions[Math.floor(rnd() * 4)]!;
      const p =
        kind === 0
          ? `${svc}.${region}.${action}`
          : kind === 1
            ? `${svc}.*.${action}`
            : kind === 2
              ? `${svc}.${region}.**`
              : kind === 3
                ? `**.${action}.${i % 50}`
                : `${svc}.#.${action}`;
      pats.push(p);
      m.add(p, i);
    }
    expect(m.size).toBe(20_000);
    for (let i = 0; i < 120; i++) {
      const svc = `svc${Math.floor(rnd() * 500)}`;
      const region = regions[Math.floor(rnd() * 4)]!;
      const action = actions[Math.floor(rnd() * 4)]!;
      const topic =
        i % 2 === 0 ? `${svc}.${region}.${action}` : `${svc}.${region}.x.${action}.${i % 50}`;
      const want: number[] = [];
      pats.forEach((p, idx) => {
        if (matchTopic(p, topic)) want.push(idx);
      });
      const got = m.match(topic);
      expect(got.slice().sort((a, b) => a - b)).toEqual(want);
    }
  });
});
