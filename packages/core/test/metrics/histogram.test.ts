import { describe, expect, it } from 'vitest';
import { LatencyHistogram, RateMeter } from '../../src/metrics/histogram.js';

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

/** Nearest-rank percentile of sorted values: the definition the histogram approximates. */
function exact(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const PERCENTILES = [1, 10, 25, 50, 75, 90, 95, 99, 99.9];

describe('LatencyHistogram', () => {
  it('percentiles within 2% of exact on a log-uniform distribution (1 µs .. 60 s)', () => {
    const random = seeded(99);
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // log-uniform over [0.001 ms, 60_000 ms]
      const v = 0.001 * 60_000_000 ** random();
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of PERCENTILES) {
      const want = exact(values, p);
      const got = h.percentile(p);
      // Values under ~50 µs sit in 1 µs buckets: allow half a bucket absolute there.
      expect(Math.abs(got - want), `p${p}: got ${got}, want ${want}`).toBeLessThanOrEqual(
        Math.max(want * 0.02, 0.0005),
      );
    }
  });

  it('percentiles within 2% on a realistic latency shape (lognormal around 0.2 ms)', () => {
    const random = seeded(5);
    const h = new LatencyHistogram();
    const values: number[] = [];
    for (let i = 0; i < 50_000; i++) {
      // Box-Muller lognormal: median 0.2 ms, long tail.
      const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
      const v = 0.2 * Math.exp(z);
      values.push(v);
      h.record(v);
    }
    values.sort((a, b) => a - b);
    for (const p of PERCENTILES) {
      const want = exact(values, p);
      expect(Math.abs(h.percentile(p) - want), `p${p}`).toBeLessThanOrEqual(want * 0.02);
    }
    const snap = h.snapshot();
    expect(Math.abs(snap.p50 - exact(values, 50))).toBeLessThanOrEqual(exact(values, 50) * 0.02);
    expect(Math.abs(snap.p95 - exact(values, 95))).toBeLessThanOrEqual(exact(values, 95) * 0.02);
    expect(Math.abs(snap.p99 - exact(values, 99))).toBeLessThanOrEqual(exact(values, 99) * 0.02);
  });

  it('min, max, mean and count are exact', () => {
    const h = new LatencyHistogram();
    const values = [0.0003, 1.25, 3.5, 17.125, 250.75, 59_999.5];
    for (const v of values) h.record(v);
    const snap = h.snapshot();
    expect(snap.count).toBe(values.length);
    expect(h.count).toBe(values.length);
    expect(snap.min).toBe(0.0003);
    expect(snap.max).toBe(59_999.5);
    expect(snap.mean).toBe(values.reduce((a, b) => a + b, 0) / values.length);
    expect(h.sum).toBe(values.reduce((a, b) => a + b, 0));
    expect(h.percentile(0)).toBe(0.0003);
    expect(h.percentile(100)).toBe(59_999.5);
  });

  it('a single value reports itself for every percentile', () => {
    const h = new LatencyHistogram();
    h.record(7.3);
    for (const p of [0, 1, 50, 99, 100]) expect(h.percentile(p)).toBe(7.3);
  });

  it('values beyond the range land in the top bucket but max stays exact', () => {
    const h = new LatencyHistogram();
    h.record(1);
    h.record(3_600_000); // one hour
    expect(h.snapshot().max).toBe(3_600_000);
    expect(h.percentile(100)).toBe(3_600_000);
    expect(h.percentile(50)).toBeCloseTo(1, 1);
  });

  it('ignores NaN and infinities, clamps negatives to 0', () => {
    const h = new LatencyHistogram();
    h.record(Number.NaN);
    h.record(Number.POSITIVE_INFINITY);
    h.record(Number.NEGATIVE_INFINITY);
    expect(h.count).toBe(0);
    h.record(-3);
    expect(h.snapshot()).toMatchObject({ count: 1, min: 0, max: 0, mean: 0 });
  });

  it('empty snapshot is all zeros', () => {
    expect(new LatencyHistogram().snapshot()).toEqual({
      count: 0,
      min: 0,
      max: 0,
      mean: 0,
      p50: 0,
      p95: 0,
      p99: 0,
    });
    expect(new LatencyHistogram().percentile(50)).toBe(0);
  });

  it('merge equals recording everything into one', () => {
    const random = seeded(3);
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    const all = new LatencyHistogram();
    for (let i = 0; i < 10_000; i++) {
      const v = random() * 10;
      (i % 3 === 0 ? a : b).record(v);
      all.record(v);
    }
    b.record(500);
    all.record(500);
    a.merge(b);
    const merged = a.snapshot();
    const direct = all.snapshot();
    expect(merged.count).toBe(direct.count);
    expect(merged.min).toBe(direct.min);
    expect(merged.max).toBe(direct.max);
    expect(merged.mean).toBeCloseTo(direct.mean, 9);
    for (const p of PERCENTILES) expect(a.percentile(p)).toBe(all.percentile(p));
    // Merging an empty histogram changes nothing.
    a.merge(new LatencyHistogram());
    expect(a.snapshot()).toEqual(merged);
  });

  it('reset empties it', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 100; i++) h.record(i);
    h.reset();
    expect(h.snapshot()).toEqual(new LatencyHistogram().snapshot());
    h.record(2);
    expect(h.snapshot()).toMatchObject({ count: 1, min: 2, max: 2, p50: 2 });
  });
});

describe('RateMeter', () => {
  it('rate over the window with an injected clock', () => {
    const clock = { t: 0 };
    const m = new RateMeter(10_000, 10, () => clock.t);
    // 50 events per second for 20 seconds, in 100 ms steps.
    for (let step = 0; step < 200; step++) {
      m.mark(5);
      clock.t += 100;
    }
    expect(m.total).toBe(1_000);
    expect(m.rate()).toBeCloseTo(50, 5);
  });

  it('forgets events older than the window', () => {
    const clock = { t: 0 };
    const m = new RateMeter(10_000, 10, () => clock.t);
    m.mark(1_000);
    clock.t = 9_999;
    expect(m.rate()).toBeCloseTo(1_000_000 / 9_999, 5); // still in the window, over its age
    clock.t = 10_000; // the 1 s bucket holding the marks has left the window
    expect(m.rate()).toBe(0);
    expect(m.total).toBe(1_000);
  });

  it('a young meter rates over its age, at least one bucket', () => {
    const clock = { t: 1_000_000 };
    const m = new RateMeter(10_000, 10, () => clock.t);
    clock.t += 2_000;
    m.mark(100);
    expect(m.rate()).toBeCloseTo(50, 5); // 100 events over 2 s of life
    const fresh = new RateMeter(10_000, 10, () => clock.t);
    fresh.mark(3);
    expect(fresh.rate()).toBe(3); // no spike: at least one 1 s bucket
  });

  it('rejects bad construction', () => {
    expect(() => new RateMeter(0)).toThrow(/windowMs/);
    expect(() => new RateMeter(1_000, 0)).toThrow(/buckets/);
  });
});

describe('LatencyHistogram.cumulative (Prometheus le buckets)', () => {
  it('counts each recording at every bound at or above it', () => {
    const h = new LatencyHistogram();
    for (const ms of [0.05, 0.5, 5, 5, 70_000]) h.record(ms);
    expect(h.cumulative([0.01, 0.1, 1, 10, 60_000])).toEqual([0, 1, 2, 4, 4]);
    expect(new LatencyHistogram().cumulative([1, 2])).toEqual([0, 0]);
  });
});
