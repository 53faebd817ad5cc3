import { ErrorCode, HubError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { type BackoffOptions, backoffDelay } from '../../src/resilience/backoff.js';

/** mulberry32: a small seeded PRNG so the jitter tests are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const base = (attempt: number) => Math.min(5_000, 50 * 2 ** (attempt - 1));

describe('backoffDelay', () => {
  it('none: exact capped exponential', () => {
    const opts: BackoffOptions = { jitter: 'none' };
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((a) => backoffDelay(a, opts))).toEqual([
      50, 100, 200, 400, 800, 1600, 3200, 5000,
    ]);
    expect(backoffDelay(1_000, opts)).toBe(5_000); // factor ** 999 overflows; cap holds
    expect(backoffDelay(0, opts)).toBe(50); // attempts below 1 count as the first
  });

  it('full: within [0, base) for every attempt, cap respected', () => {
    const random = seeded(42);
    for (let attempt = 1; attempt <= 30; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, {}, random);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThan(base(attempt));
        expect(d).toBeLessThanOrEqual(5_000);
      }
    }
  });

  it('equal: within [base/2, base)', () => {
    const random = seeded(7);
    for (let attempt = 1; attempt <= 30; attempt++) {
      for (let i = 0; i < 200; i++) {
        const d = backoffDelay(attempt, { jitter: 'equal' }, random);
        expect(d).toBeGreaterThanOrEqual(base(attempt) / 2);
        expect(d).toBeLessThan(base(attempt));
      }
    }
  });

  it('random extremes map to the interval ends', () => {
    expect(backoffDelay(3, { jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(3, { jitter: 'equal' }, () => 0)).toBe(100);
    expect(backoffDelay(3, { jitter: 'full' }, () => 0.5)).toBe(100);
    expect(backoffDelay(3, { jitter: 'equal' }, () => 0.5)).toBe(150);
  });

  it('custom options: initial, factor, cap', () => {
    const opts: BackoffOptions = { initialDelayMs: 10, factor: 3, maxDelayMs: 500, jitter: 'none' };
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, opts))).toEqual([10, 30, 90, 270, 500]);
  });

  it.each(['full', 'equal', 'none'] as const)('mean is monotone non-decreasing (%s)', (jitter) => {
    const random = seeded(1234);
    let previous = -1;
    for (let attempt = 1; attempt <= 15; attempt++) {
      let sum = 0;
      const n = 2_000;
      for (let i = 0; i < n; i++) sum += backoffDelay(attempt, { jitter }, random);
      const mean = sum / n;
      // Exact expectations: full base/2, equal 3/4 base, none base; 5% sampling slack.
      const expected = base(attempt) * (jitter === 'full' ? 0.5 : jitter === 'equal' ? 0.75 : 1);
      expect(Math.abs(mean - expected)).toBeLessThanOrEqual(expected * 0.05);
      if (base(attempt) > base(attempt - 1 || 1)) expect(mean).toBeGreaterThan(previous);
      previous = mean;
    }
  });

  it('rejects bad options naming the field', () => {
    const cases: Array<[BackoffOptions, string]> = [
      [{ initialDelayMs: -1 }, 'initialDelayMs'],
      [{ maxDelayMs: Number.NaN }, 'maxDelayMs'],
      [{ factor: 0.5 }, 'factor'],
      [{ jitter: 'bogus' as 'full' }, 'jitter'],
    ];
    for (const [opts, field] of cases) {
      try {
        backoffDelay(1, opts);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(HubError);
        expect((err as HubError).code).toBe(ErrorCode.INVALID_CONFIG);
        expect((err as HubError).message).toContain(`"${field}"`);
      }
    }
  });
});
