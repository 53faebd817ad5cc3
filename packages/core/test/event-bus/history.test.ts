import { ErrorCode, HubError, type UnifiedEvent } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { EventHistory, INVALID_PATTERN_CODE } from '../../src/event-bus/index.js';

const T0 = 1_700_000_000_000;
let counter = 0;

function ev(topic: string, timestamp: number, id = `e${++counter}`): UnifiedEvent {
  return {
    kind: 'event',
    version: 1,
    id,
    timestamp,
    source: 'test',
    type: 'thing_happened',
    topic,
    data: { n: counter },
    headers: {},
  };
}

/** A clock the test moves by hand: no sleeping. */
function clock(start = T0): { now: () => number; set: (t: number) => void } {
  let t = start;
  return { now: () => t, set: (v) => (t = v) };
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

const ids = (events: UnifiedEvent[]): string[] => events.map((e) => e.id);

describe('EventHistory', () => {
  it('keeps the newest maxPerTopic events per topic', () => {
    const c = clock();
    const h = new EventHistory({ maxPerTopic: 3, now: c.now });
    for (let i = 0; i < 5; i++) h.record(ev('a', T0 + i, `a${i}`));
    h.record(ev('b', T0, 'b0'));
    expect(ids(h.query('a'))).toEqual(['a2', 'a3', 'a4']);
    expect(ids(h.query('b'))).toEqual(['b0']);
    expect(h.size).toBe(4);
    // Wrap the ring several times.
    for (let i = 5; i < 12; i++) h.record(ev('a', T0 + i, `a${i}`));
    expect(ids(h.query('a'))).toEqual(['a9', 'a10', 'a11']);
    expect(h.size).toBe(4);
  });

  it('drops events older than maxAgeMs (clock injected)', () => {
    const c = clock();
    const h = new EventHistory({ maxAgeMs: 1000, now: c.now });
    h.record(ev('a', T0 - 500, 'old'));
    h.record(ev('a', T0, 'mid'));
    h.record(ev('b', T0 - 900, 'b-old'));
    expect(ids(h.query('**'))).toEqual(['b-old', 'old', 'mid']);
    c.set(T0 + 600);
    // 'old' (T0-500) and 'b-old' (T0-900) are now older than 1000 ms.
    expect(ids(h.query('**'))).toEqual(['mid']);
    expect(h.size).toBe(1);
    // Already expired on arrival: not kept.
    h.record(ev('a', T0 - 2000, 'ancient'));
    expect(ids(h.query('a'))).toEqual(['mid']);
    expect(h.size).toBe(1);
  });

  it('prune(now) drops expired events on every topic, using timestamps in the past', () => {
    const h = new EventHistory({ maxAgeMs: 60_000 });
    const now = Date.now();
    h.record(ev('x.1', now - 50_000, 'x1'));
    h.record(ev('x.2', now - 10_000, 'x2'));
    h.record(ev('x.3', now, 'x3'));
    expect(h.size).toBe(3);
    h.prune(now + 20_000);
    expect(h.size).toBe(2);
    h.prune(now + 55_000);
    expect(h.size).toBe(1);
    h.prune(now + 120_000);
    expect(h.size).toBe(0);
  });

  it('evicts the least recently written topic beyond maxTopics', () => {
    const c = clock();
    const h = new EventHistory({ maxTopics: 3, now: c.now });
    h.record(ev('t1', T0, 't1a'));
    h.record(ev('t2', T0, 't2a'));
    h.record(ev('t3', T0, 't3a'));
    h.record(ev('t1', T0 + 1, 't1b')); // t1 is now the most recently written
    h.record(ev('t4', T0 + 2, 't4a')); // evicts t2
    expect(ids(h.query('t2'))).toEqual([]);
    expect(ids(h.query('*'))).toEqual(['t1a', 't3a', 't1b', 't4a']);
    expect(h.size).toBe(4);
    h.record(ev('t5', T0 + 3, 't5a')); // evicts t3
    expect(ids(h.query('t3'))).toEqual([]);
    expect(h.size).toBe(4);
  });

  it('queries by pattern across topics, sorted by timestamp then recording order', () => {
    const c = clock(T0 + 100);
    const h = new EventHistory({ now: c.now });
    h.record(ev('orders.eu.created', T0 + 3, 'o3'));
    h.record(ev('orders.us.created', T0 + 1, 'o1'));
    h.record(ev('orders.eu.updated', T0 + 2, 'o2'));
    h.record(ev('shipping.eu.created', T0 + 1, 's1'));
    h.record(ev('orders.us.created', T0 + 1, 'o1bis')); // same timestamp: after o1
    h.record(ev('orders', T0, 'o0'));
    expect(ids(h.query('orders.*.created'))).toEqual(['o1', 'o1bis', 'o3']);
    expect(ids(h.query('**.created'))).toEqual(['o1', 's1', 'o1bis', 'o3']);
    expect(ids(h.query('orders.#'))).toEqual(['o0', 'o1', 'o1bis', 'o2', 'o3']);
    expect(ids(h.query('orders.us.created'))).toEqual(['o1', 'o1bis']);
    expect(ids(h.query('nothing.here'))).toEqual([]);
    expect(ids(h.query('*.eu.*'))).toEqual(['s1', 'o2', 'o3']);
  });

  it('sorts a topic whose events arrived out of timestamp order', () => {
    const c = clock(T0 + 100);
    const h = new EventHistory({ now: c.now });
    h.record(ev('a', T0 + 5, 'late'));
    h.record(ev('a', T0 + 1, 'early'));
    expect(ids(h.query('a'))).toEqual(['early', 'late']);
  });

  it('applies sinceMs (inclusive) and limit (newest N, oldest-first)', () => {
    const c = clock(T0 + 100);
    const h = new EventHistory({ now: c.now });
    for (let i = 0; i < 10; i++) h.record(ev(i % 2 === 0 ? 'p.even' : 'p.odd', T0 + i, `p${i}`));
    expect(ids(h.query('p.*', { sinceMs: T0 + 7 }))).toEqual(['p7', 'p8', 'p9']);
    expect(ids(h.query('p.*', { limit: 3 }))).toEqual(['p7', 'p8', 'p9']);
    expect(ids(h.query('p.even', { limit: 2 }))).toEqual(['p6', 'p8']);
    expect(ids(h.query('p.*', { sinceMs: T0 + 2, limit: 2 }))).toEqual(['p8', 'p9']);
    expect(ids(h.query('p.*', { sinceMs: T0 + 8, limit: 5 }))).toEqual(['p8', 'p9']);
    expect(ids(h.query('p.*', { limit: 0 }))).toEqual([]);
    expect(h.query('p.*', { limit: 100 })).toHaveLength(10);
  });

  it('ignores an id already recorded for that topic', () => {
    const c = clock();
    const h = new EventHistory({ maxPerTopic: 2, now: c.now });
    h.record(ev('a', T0, 'dup'));
    h.record(ev('a', T0 + 1, 'dup'));
    expect(ids(h.query('a'))).toEqual(['dup']);
    expect(h.query('a')[0]!.timestamp).toBe(T0);
    h.record(ev('b', T0, 'dup')); // other topic: a different event
    expect(h.size).toBe(2);
    // Once pushed out of the ring, the id is no longer remembered.
    h.record(ev('a', T0 + 2, 'x'));
    h.record(ev('a', T0 + 3, 'y'));
    h.record(ev('a', T0 + 4, 'dup'));
    expect(ids(h.query('a'))).toEqual(['y', 'dup']);
  });

  it('clear() empties everything', () => {
    const h = new EventHistory();
    h.record(ev('a', Date.now()));
    h.record(ev('b', Date.now()));
    expect(h.size).toBe(2);
    h.clear();
    expect(h.size).toBe(0);
    expect(h.query('**')).toEqual([]);
  });

  it('sweeps topics nobody writes to any more', () => {
    const c = clock();
    const h = new EventHistory({ maxAgeMs: 10_000, now: c.now });
    for (let i = 0; i < 50; i++) h.record(ev(`quiet.${i}`, T0));
    expect(h.size).toBe(50);
    c.set(T0 + 20_000);
    h.record(ev('busy', T0 + 20_000));
    expect(h.size).toBe(1);
  });

  it('rejects bad options, patterns and events with HubError', () => {
    for (const opts of [
      { maxPerTopic: 0 },
      { maxTopics: 1.5 },
      { maxAgeMs: -1 },
      { maxAgeMs: Number.NaN },
    ]) {
      expect(catchError(() => new EventHistory(opts)).code).toBe(ErrorCode.INVALID_CONFIG);
    }
    const h = new EventHistory();
    expect(catchError(() => h.query('a.b*')).code).toBe(INVALID_PATTERN_CODE);
    expect(catchError(() => h.query('a', { limit: -1 })).code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(catchError(() => h.query('a', { sinceMs: Number.NaN })).code).toBe(
      ErrorCode.INVALID_MESSAGE,
    );
    const bad = { ...ev('a', Date.now()), timestamp: Number.NaN };
    expect(catchError(() => h.record(bad)).code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(h.size).toBe(0);
    // Infinity disables age retention.
    const forever = new EventHistory({ maxAgeMs: Number.POSITIVE_INFINITY });
    forever.record(ev('a', 0, 'epoch'));
    expect(ids(forever.query('a'))).toEqual(['epoch']);
  });
});
