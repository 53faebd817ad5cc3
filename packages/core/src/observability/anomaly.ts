/**
 * Noticing a slow transport: per adapter, a baseline of send latency
 * (exponentially weighted mean and deviation) and a fast-moving recent mean.
 * When the recent mean stays past the threshold for `sustain` sends in a row
 * the adapter is degraded; when it stays back near the baseline as long, it
 * has recovered. The baseline does not learn while degraded, so a lasting
 * slowdown is not taken for the new normal.
 */

export interface AnomalyOptions {
  /** Recent latency past `factor` × the baseline (and past the deviation band) is a departure. @default 3 */
  factor?: number;
  /** A departure must also exceed the baseline by this much (ms): jitter of a few milliseconds is not news. @default 10 */
  minDeltaMs?: number;
  /** Sends observed before judging (the baseline forms first). @default 50 */
  warmup?: number;
  /** Sends in a row past (or back under) the threshold before the state changes. @default 10 */
  sustain?: number;
}

/** The figures an `anomaly` event carries. */
export interface AnomalyReport {
  adapter: string;
  /** What departed from its baseline. */
  metric: 'send-latency';
  /** `degraded` when it departed, `recovered` when it came back. */
  state: 'degraded' | 'recovered';
  /** Baseline mean (ms). */
  baselineMs: number;
  /** Baseline standard deviation (ms). */
  deviationMs: number;
  /** Recent mean (ms) when the state changed. */
  currentMs: number;
  /** The threshold it crossed (ms). */
  thresholdMs: number;
  at: number;
}

const BASELINE_ALPHA = 0.05;
const RECENT_ALPHA = 0.3;

/** One adapter's latency baseline. */
export class LatencyBaseline {
  private n = 0;
  private mean = 0;
  private variance = 0;
  private recent = 0;
  private streak = 0;
  degraded = false;
  private readonly factor: number;
  private readonly minDeltaMs: number;
  private readonly warmup: number;
  private readonly sustain: number;

  constructor(
    private readonly adapter: string,
    options: AnomalyOptions,
  ) {
    this.factor = options.factor ?? 3;
    this.minDeltaMs = options.minDeltaMs ?? 10;
    this.warmup = options.warmup ?? 50;
    this.sustain = options.sustain ?? 10;
  }

  /** Record one send's latency; a report when the state changed. */
  observe(ms: number): AnomalyReport | undefined {
    this.recent = this.n === 0 ? ms : this.recent + RECENT_ALPHA * (ms - this.recent);
    if (this.n < this.warmup) {
      this.learn(ms, 1 / (this.n + 1));
      this.n++;
      return undefined;
    }
    const sd = Math.sqrt(this.variance);
    const threshold = Math.max(
      this.mean * this.factor,
      this.mean + 4 * sd,
      this.mean + this.minDeltaMs,
    );
    if (!this.degraded) {
      if (this.recent > threshold) {
        if (++this.streak >= this.sustain) return this.flip(true, threshold, sd);
      } else {
        this.streak = 0;
        this.learn(ms, BASELINE_ALPHA);
      }
      return undefined;
    }
    const back = Math.max(this.mean * 1.5, this.mean + 2 * sd, this.mean + this.minDeltaMs / 2);
    if (this.recent <= back) {
      if (++this.streak >= this.sustain) return this.flip(false, back, sd);
    } else {
      this.streak = 0;
    }
    return undefined;
  }

  private learn(ms: number, alpha: number): void {
    const d = ms - this.mean;
    this.mean += alpha * d;
    this.variance = (1 - alpha) * (this.variance + alpha * d * d);
  }

  private flip(degraded: boolean, threshold: number, sd: number): AnomalyReport {
    this.degraded = degraded;
    this.streak = 0;
    return {
      adapter: this.adapter,
      metric: 'send-latency',
      state: degraded ? 'degraded' : 'recovered',
      baselineMs: this.mean,
      deviationMs: sd,
      currentMs: this.recent,
      thresholdMs: threshold,
      at: Date.now(),
    };
  }
}
