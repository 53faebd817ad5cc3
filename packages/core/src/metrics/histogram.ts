/**
 * Latency histogram and rate meter for hot paths: fixed typed arrays, no
 * allocation per record, no timers.
 */
import { ErrorCode, HubError } from '@hub/protocol';

export interface LatencySnapshot {
  count: number;
  /** Exact smallest recorded value (ms); 0 when empty. */
  min: number;
  /** Exact largest recorded value (ms); 0 when empty. */
  max: number;
  /** Exact mean (ms); 0 when empty. */
  mean: number;
  p50: number;
  p95: number;
  p99: number;
}

// Log-linear layout (HDR style) over integer microseconds: values below
// 2^SUB_BITS µs get one bucket per µs; every octave [2^k, 2^(k+1)) above is
// split into 2^SUB_BITS equal buckets. A bucket is reported by its midpoint,
// so the relative error is at most 1 / 2^(SUB_BITS+1) ≈ 0.4%.
const SUB_BITS = 7;
const SUB_COUNT = 1 << SUB_BITS; // 128
/** Largest value kept apart (µs): 2^26 µs ≈ 67 s covers the 60 s range; larger values share the top bucket. */
const TOP_BITS = 26;
const MAX_US = 2 ** TOP_BITS - 1;
const BUCKETS = SUB_COUNT * (TOP_BITS - SUB_BITS + 1); // 2560

function bucketOf(us: number): number {
  if (us < SUB_COUNT) return us;
  const k = 31 - Math.clz32(us); // octave: 2^k <= us < 2^(k+1)
  const shift = k - SUB_BITS;
  return SUB_COUNT * (shift + 1) + ((us >>> shift) - SUB_COUNT);
}

/** Midpoint of a bucket, in ms. */
function midpointMs(index: number): number {
  if (index < SUB_COUNT) return (index + 0.5) / 1000;
  const shift = Math.floor(index / SUB_COUNT) - 1;
  const sub = index % SUB_COUNT;
  const lower = (SUB_COUNT + sub) * 2 ** shift;
  return (lower + 2 ** shift / 2) / 1000;
}

/**
 * Records latencies in milliseconds (floats) with 1 µs resolution at the low
 * end and < 0.5% relative error up to ~67 s (larger values are counted in the
 * top bucket; min, max, mean stay exact). Negative values count as 0;
 * NaN and ±Infinity are ignored.
 */
export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private _count = 0;
  private _sum = 0;
  private _min = Number.POSITIVE_INFINITY;
  private _max = Number.NEGATIVE_INFINITY;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    if (ms < 0) ms = 0;
    const us = Math.min(MAX_US, Math.floor(ms * 1000));
    this.counts[bucketOf(us)]! += 1;
    this._count++;
    this._sum += ms;
    if (ms < this._min) this._min = ms;
    if (ms > this._max) this._max = ms;
  }

  get count(): number {
    return this._count;
  }

  /** Sum of recorded values (ms); Prometheus summaries need it. */
  get sum(): number {
    return this._sum;
  }

  /**
   * Nearest-rank percentile (ms) for p in 0..100: the smallest recorded value
   * such that p% of the values are at or below it, within the bucket error,
   * clamped to the exact min and max. 0 when empty.
   */
  percentile(p: number): number {
    if (this._count === 0) return 0;
    if (!(p > 0)) return this._min;
    if (p >= 100) return this._max;
    return this.atRank(Math.max(1, Math.ceil((p / 100) * this._count)));
  }

  snapshot(): LatencySnapshot {
    if (this._count === 0) return { count: 0, min: 0, max: 0, mean: 0, p50: 0, p95: 0, p99: 0 };
    return {
      count: this._count,
      min: this._min,
      max: this._max,
      mean: this._sum / this._count,
      p50: this.percentile(50),
      p95: this.percentile(95),
      p99: this.percentile(99),
    };
  }

  reset(): void {
    this.counts.fill(0);
    this._count = 0;
    this._sum = 0;
    this._min = Number.POSITIVE_INFINITY;
    this._max = Number.NEGATIVE_INFINITY;
  }

  /** Add another histogram's recordings to this one (e.g. to aggregate per-adapter histograms). */
  merge(other: LatencyHistogram): void {
    if (other._count === 0) return;
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this._count += other._count;
    this._sum += other._sum;
    if (other._min < this._min) this._min = other._min;
    if (other._max > this._max) this._max = other._max;
  }

  /**
   * Cumulative counts at each upper bound (ms, ascending), as a Prometheus
   * histogram's `le` buckets: a recording counts toward a bound when its
   * bucket's midpoint is at or below it (the same < 0.5% error as percentiles).
   */
  cumulative(boundsMs: readonly number[]): number[] {
    const out = new Array<number>(boundsMs.length).fill(0);
    if (this._count === 0) return out;
    let b = 0;
    let seen = 0;
    for (let i = 0; i < BUCKETS && b < boundsMs.length; i++) {
      const c = this.counts[i]!;
      if (c === 0) continue;
      const mid = midpointMs(i);
      while (b < boundsMs.length && mid > boundsMs[b]!) out[b++] = seen;
      seen += c;
    }
    for (; b < boundsMs.length; b++) out[b] = seen;
    return out;
  }

  private atRank(rank: number): number {
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(this._max, Math.max(this._min, midpointMs(i)));
    }
    return this._max;
  }
}

/**
 * Events per second over a rolling window of `buckets` buckets, lazily rolled
 * on clock reads (no timers). While the meter is younger than the window the
 * rate is taken over its age (at least one bucket), so it does not read low
 * right after start.
 */
export class RateMeter {
  private readonly bucketMs: number;
  private readonly epochs: Float64Array;
  private readonly counts: Float64Array;
  private readonly createdAt: number;
  private _total = 0;

  constructor(
    private readonly windowMs = 10_000,
    private readonly buckets = 10,
    private readonly now: () => number = Date.now,
  ) {
    if (!Number.isInteger(buckets) || buckets < 1) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:metrics] RateMeter "buckets" must be an integer >= 1 (got ${buckets})`,
      );
    }
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:metrics] RateMeter "windowMs" must be a finite number > 0 (got ${windowMs})`,
      );
    }
    this.bucketMs = windowMs / buckets;
    this.epochs = new Float64Array(buckets).fill(Number.NaN);
    this.counts = new Float64Array(buckets);
    this.createdAt = now();
  }

  mark(n = 1): void {
    const epoch = Math.floor(this.now() / this.bucketMs);
    const i = ((epoch % this.buckets) + this.buckets) % this.buckets;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.counts[i] = 0;
    }
    this.counts[i]! += n;
    this._total += n;
  }

  /** Events per second over the window. */
  rate(): number {
    const t = this.now();
    const epoch = Math.floor(t / this.bucketMs);
    let sum = 0;
    for (let i = 0; i < this.buckets; i++) {
      const e = this.epochs[i]!;
      if (e > epoch - this.buckets && e <= epoch) sum += this.counts[i]!;
    }
    // The window covers the full buckets before the current one plus the
    // elapsed part of the current one.
    const covered = (this.buckets - 1) * this.bucketMs + (t - epoch * this.bucketMs);
    const span = Math.max(this.bucketMs, Math.min(covered, t - this.createdAt, this.windowMs));
    return (sum * 1000) / span;
  }

  /** Events marked since creation. */
  get total(): number {
    return this._total;
  }
}
