import { ErrorCode, HubError } from '@hub/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CircuitBreaker,
  type CircuitBreakerOptions,
  CircuitOpenError,
  type CircuitState,
} from '../../src/resilience/circuit-breaker.js';

function setup(opts: CircuitBreakerOptions = {}) {
  const clock = { t: 1_000_000 };
  const breaker = new CircuitBreaker('redis', { now: () => clock.t, ...opts });
  const changes: Array<[CircuitState, CircuitState]> = [];
  breaker.onStateChange((state, prev) => changes.push([state, prev]));
  return { clock, breaker, changes };
}

describe('CircuitBreaker — closed', () => {
  it('starts closed and admits every call', () => {
    const { breaker } = setup();
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 100; i++) expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failures: 0,
      successes: 0,
      failureRate: 0,
    });
  });

  it('opens when the failure rate reaches the threshold once minimumThroughput is met', () => {
    const { breaker, changes } = setup({ minimumThroughput: 10, consecutiveFailures: 100 });
    // Alternate so consecutive failures never accumulate: rate 50% from the start.
    for (let i = 0; i < 4; i++) {
      breaker.onSuccess();
      breaker.onFailure();
    }
    // 8 calls, 50% failing: below minimumThroughput, still closed.
    expect(breaker.state).toBe('closed');
    breaker.onSuccess();
    expect(breaker.state).toBe('closed'); // 9 calls, 4/9 < 0.5
    breaker.onFailure(); // 10 calls, 5/10 = 0.5
    expect(breaker.state).toBe('open');
    expect(changes).toEqual([['open', 'closed']]);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('stays closed while the failure rate is below the threshold', () => {
    const { breaker } = setup({ minimumThroughput: 10, consecutiveFailures: 100 });
    for (let i = 0; i < 100; i++) {
      breaker.onSuccess();
      breaker.onSuccess();
      breaker.onFailure(); // 33%
    }
    expect(breaker.state).toBe('closed');
    expect(breaker.snapshot()).toMatchObject({ failures: 100, successes: 200 });
    expect(breaker.snapshot().failureRate).toBeCloseTo(1 / 3);
  });

  it('respects minimumThroughput: many failures under it do not open by rate', () => {
    const { breaker } = setup({ minimumThroughput: 20, consecutiveFailures: 100 });
    for (let i = 0; i < 19; i++) breaker.onFailure();
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.state).toBe('open');
  });

  it('opens after consecutiveFailures in a row regardless of rate', () => {
    const { breaker } = setup({ consecutiveFailures: 3, minimumThroughput: 1000 });
    for (let i = 0; i < 50; i++) breaker.onSuccess();
    breaker.onFailure();
    breaker.onFailure();
    breaker.onSuccess(); // breaks the streak
    breaker.onFailure();
    breaker.onFailure();
    expect(breaker.state).toBe('closed');
    breaker.onFailure();
    expect(breaker.state).toBe('open');
  });

  it('rolling window forgets old buckets', () => {
    const { breaker, clock } = setup({
      windowMs: 10_000,
      buckets: 10,
      minimumThroughput: 10,
      consecutiveFailures: 100,
    });
    for (let i = 0; i < 9; i++) breaker.onFailure();
    expect(breaker.snapshot().failures).toBe(9);
    // Just under one window later, those 9 still count...
    clock.t += 9_000;
    expect(breaker.snapshot().failures).toBe(9);
    // ...one window later their bucket is gone, so one more failure is 1 of 1 call.
    clock.t += 1_000;
    expect(breaker.snapshot().failures).toBe(0);
    breaker.onFailure();
    expect(breaker.snapshot()).toMatchObject({ failures: 1, successes: 0 });
    expect(breaker.state).toBe('closed');
  });

  it('the window slides bucket by bucket', () => {
    const { breaker, clock } = setup({ windowMs: 1_000, buckets: 4, consecutiveFailures: 100 });
    for (let step = 0; step < 8; step++) {
      breaker.onSuccess();
      clock.t += 250;
    }
    // Buckets are 250 ms: the window keeps the current bucket and the 3 before.
    expect(breaker.snapshot().successes).toBe(3);
  });

  it('validates options with a named field', () => {
    expect(() => new CircuitBreaker('x', { failureRateThreshold: 0 })).toThrow(
      /option "failureRateThreshold"/,
    );
    expect(() => new CircuitBreaker('x', { buckets: 0 })).toThrow(/option "buckets"/);
    expect(() => new CircuitBreaker('x', { windowMs: -1 })).toThrow(/option "windowMs"/);
    expect(() => new CircuitBreaker('x', { halfOpenProbes: 1.5 })).toThrow(
      /option "halfOpenProbes"/,
    );
    try {
      new CircuitBreaker('x', { cooldownMs: Number.NaN });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(HubError);
      expect((err as HubError).code).toBe(ErrorCode.INVALID_CONFIG);
    }
  });
});

describe('CircuitBreaker — open and half-open', () => {
  const openIt = (opts: CircuitBreakerOptions = {}) => {
    const s = setup({ consecutiveFailures: 1, cooldownMs: 5_000, ...opts });
    s.breaker.onFailure();
    expect(s.breaker.state).toBe('open');
    return s;
  };

  it('open rejects until the cooldown passes, then turns half-open lazily', () => {
    const { breaker, clock, changes } = openIt();
    const openedAt = clock.t;
    expect(breaker.snapshot()).toMatchObject({
      state: 'open',
      openedAt,
      nextProbeAt: openedAt + 5_000,
    });
    clock.t += 4_999;
    expect(breaker.tryAcquire()).toBe(false);
    expect(breaker.state).toBe('open');
    clock.t += 1;
    expect(changes).toEqual([['open', 'closed']]); // nothing happens without a clock read
    expect(breaker.state).toBe('half-open');
    expect(changes).toEqual([
      ['open', 'closed'],
      ['half-open', 'open'],
    ]);
    expect(breaker.snapshot().nextProbeAt).toBeUndefined();
  });

  it('ignores late results while open', () => {
    const { breaker } = openIt();
    breaker.onSuccess();
    breaker.onSuccess();
    breaker.onFailure();
    expect(breaker.state).toBe('open');
  });

  it('half-open admits exactly halfOpenProbes concurrent calls', () => {
    const { breaker, clock } = openIt({ halfOpenProbes: 3 });
    clock.t += 5_000;
    const admitted = Array.from({ length: 10 }, () => breaker.tryAcquire()).filter(Boolean);
    expect(admitted).toHaveLength(3);
    expect(breaker.state).toBe('half-open');
  });

  it('tryAcquire alone performs the open → half-open transition', () => {
    const { breaker, clock } = openIt();
    clock.t += 5_000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('a probe success closes the circuit with a fresh window', () => {
    const { breaker, clock, changes } = openIt();
    clock.t += 5_000;
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess(12);
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toEqual(['closed', 'half-open']);
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failures: 0,
      successes: 0,
      failureRate: 0,
    });
    expect(breaker.tryAcquire()).toBe(true);
  });

  it('needs successesToClose probe successes', () => {
    const { breaker, clock } = openIt({ successesToClose: 3 });
    clock.t += 5_000;
    for (let i = 0; i < 2; i++) {
      expect(breaker.tryAcquire()).toBe(true);
      breaker.onSuccess();
      expect(breaker.state).toBe('half-open');
    }
    expect(breaker.tryAcquire()).toBe(true);
    breaker.onSuccess();
    expect(breaker.state).toBe('closed');
  });

  it('a probe failure reopens with a fresh cooldown', () => {
    const { breaker, clock, changes } = openIt();
    clock.t += 7_000;
    expect(breaker.tryAcquire()).toBe(true);
    const failedAt = clock.t;
    breaker.onFailure(new Error('still down'));
    expect(breaker.state).toBe('open');
    expect(breaker.snapshot()).toMatchObject({ openedAt: failedAt, nextProbeAt: failedAt + 5_000 });
    clock.t += 4_999;
    expect(breaker.tryAcquire()).toBe(false);
    clock.t += 1;
    expect(breaker.tryAcquire()).toBe(true);
    expect(changes.map(([s]) => s)).toEqual(['open', 'half-open', 'open', 'half-open']);
  });

  it('release() returns a probe slot', () => {
    const { breaker, clock } = openIt({ halfOpenProbes: 1 });
    clock.t += 5_000;
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
    breaker.release();
    expect(breaker.state).toBe('half-open');
    expect(breaker.tryAcquire()).toBe(true);
    // Extra releases never create slots beyond halfOpenProbes.
    breaker.release();
    breaker.release();
    expect(breaker.tryAcquire()).toBe(true);
    expect(breaker.tryAcquire()).toBe(false);
  });

  it('reset() closes and clears, notifying listeners', () => {
    const { breaker, changes } = openIt();
    breaker.reset();
    expect(breaker.state).toBe('closed');
    expect(changes.at(-1)).toEqual(['closed', 'open']);
    expect(breaker.snapshot()).toEqual({
      state: 'closed',
      failures: 0,
      successes: 0,
      failureRate: 0,
    });
    const before = changes.length;
    breaker.reset(); // already closed: no notification
    expect(changes).toHaveLength(before);
  });

  it('listeners can unsubscribe, and a throwing listener does not break the breaker', () => {
    const { breaker, clock } = setup({ consecutiveFailures: 1 });
    const seen: CircuitState[] = [];
    breaker.onStateChange(() => {
      throw new Error('bad listener');
    });
    const off = breaker.onStateChange((s) => seen.push(s));
    breaker.onFailure();
    expect(seen).toEqual(['open']);
    off();
    clock.t += 10_000;
    expect(breaker.state).toBe('half-open');
    expect(seen).toEqual(['open']);
  });

  it('CircuitOpenError names the circuit and the wait', () => {
    const { breaker, clock } = openIt();
    clock.t += 1_500;
    const err = breaker.openError();
    expect(err).toBeInstanceOf(CircuitOpenError);
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(err.message).toBe('[hub:circuit] circuit "redis" is open; next probe in 3500ms');
    expect(err.retryInMs).toBe(3_500);
    expect(new CircuitOpenError('x', -5).message).toContain('next probe in 0ms');
  });
});

describe('CircuitBreaker — successes timed by the caller (`at`)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** A breaker on the default clock (Date.now), with that clock under test control and its reads counted. */
  function wallClockSetup(opts: CircuitBreakerOptions = {}) {
    const clock = { t: 1_000_000, reads: 0 };
    vi.spyOn(Date, 'now').mockImplementation(() => {
      clock.reads++;
      return clock.t;
    });
    const breaker = new CircuitBreaker('memory', { windowMs: 1_000, buckets: 4, ...opts });
    return { clock, breaker };
  }

  it('counts a success whose `at` falls in the bucket of the last clock read without reading the clock', () => {
    const { breaker, clock } = wallClockSetup();
    breaker.onSuccess(0); // reads the clock: the bucket [1_000_000, 1_000_250)
    expect(clock.reads).toBe(1);
    for (let i = 0; i < 100; i++) breaker.onSuccess(0, 1_000_000 + i);
    expect(clock.reads).toBe(1);
    expect(breaker.snapshot().successes).toBe(101);
  });

  it('reads the clock for an `at` outside that bucket, and the window still slides', () => {
    const { breaker, clock } = wallClockSetup();
    breaker.onSuccess(0);
    clock.t += 250;
    // A new bucket: the caller's time is not trusted without a read of its own.
    breaker.onSuccess(0, clock.t);
    expect(clock.reads).toBe(2);
    breaker.onSuccess(0, clock.t + 1);
    expect(clock.reads).toBe(2);
    // An `at` from before the current bucket (a drifted clock) reads the clock too.
    breaker.onSuccess(0, clock.t - 10_000);
    expect(clock.reads).toBe(3);
    expect(breaker.snapshot().successes).toBe(4);
    clock.t += 1_000;
    expect(breaker.snapshot().successes).toBe(0);
  });

  it('ignores `at` when the clock is injected (tests drive that clock alone)', () => {
    const t = { now: 5_000 };
    const breaker = new CircuitBreaker('memory', { windowMs: 1_000, buckets: 4, now: () => t.now });
    breaker.onSuccess(0);
    t.now += 1_000;
    // The stale bucket must not take it: the injected clock says that bucket is gone.
    breaker.onSuccess(0, 5_000);
    expect(breaker.snapshot().successes).toBe(1);
  });

  it('a reset forgets the bucket of the last read', () => {
    const { breaker, clock } = wallClockSetup();
    breaker.onSuccess(0);
    breaker.reset();
    breaker.onSuccess(0, clock.t);
    expect(clock.reads).toBe(2);
    expect(breaker.snapshot().successes).toBe(1);
  });
});
