/**
 * Noticing a slow or failing transport: per adapter and per destination, a
 * baseline of send latency (exponentially weighted mean and deviation) and
 * of the error rate (exponentially weighted share of failed attempts), each
 * beside a fast-moving recent mean. When the recent mean stays past the
 * threshold for `sustain` sends in a row the adapter (or destination) is
 * degraded; when it stays back near the baseline as long, it has recovered.
 * A baseline does not learn while degraded, so a lasting slowdown or failure
 * rate is not taken for the new normal.
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
  /**
   * A departure of the error rate must also exceed its baseline by this share
   * of send attempts (0..1): a few failures among many sends are not news.
   * @default 0.2
   */
  minErrorRate?: number;
}

/** What every `anomaly` event carries. */
interface AnomalyBase {
  adapter: string;
  /**
   * The destination (or topic) whose sends departed from their own baseline;
   * absent when the adapter's sends as a whole departed.
   */
  destination?: string;
  /** `degraded` when it departed, `recovered` when it came back. */
  state: 'degraded' | 'recovered';
  at: number;
}

/** Send latency departed from (or came back to) its baseline. */
export interface LatencyAnomaly extends AnomalyBase {
  metric: 'send-latency';
  /** Baseline mean (ms). */
  baselineMs: number;
  /** Baseline standard deviation (ms). */
  deviationMs: number;
  /** Recent mean (ms) when the state changed. */
  currentMs: number;
  /** The threshold it crossed (ms). */
  thresholdMs: number;
}

/** The share of failing sends departed from (or came back to) its baseline. */
export interface ErrorRateAnomaly extends AnomalyBase {
  metric: 'error-rate';
  /** Baseline share of send attempts that failed (0..1). */
  baselineRate: number;
  /** Recent share (0..1, exponentially weighted) when the state changed. */
  currentRate: number;
  /** The threshold it crossed (0..1). */
  thresholdRate: number;
}

/** The figures an `anomaly` event carries, by `metric`. */
export type AnomalyReport = LatencyAnomaly | ErrorRateAnomaly;

const BASELINE_ALPHA = 0.05;
const RECENT_ALPHA = 0.3;
/** The error rate's recent mean moves slower than latency's: one failure alone must not cross. */
const RECENT_ERROR_ALPHA = 0.2;

/**
 * The rule both baselines share: a figure past its departure threshold for
 * `sustain` observations in a row departs (degraded); back under its recovery
 * threshold as long, it recovers. `hold` keeps a departure from being declared.
 */
class Sustained {
  degraded = false;
  private streak = 0;

  constructor(private readonly sustain: number) {}

  /** While healthy: true when this observation makes the departure (the state is now degraded). */
  departs(over: boolean, hold: boolean): boolean {
    if (!over || hold) {
      this.streak = 0;
      return false;
    }
    return this.flipAfterStreak();
  }

  /** While degraded: true when this observation makes the recovery. */
  recovers(under: boolean): boolean {
    if (!under) {
      this.streak = 0;
      return false;
    }
    return this.flipAfterStreak();
  }

  private flipAfterStreak(): boolean {
    if (++this.streak < this.sustain) return false;
    this.streak = 0;
    this.degraded = !this.degraded;
    return true;
  }
}

/** One adapter's (or one destination's) latency baseline. */
export class LatencyBaseline {
  private n = 0;
  private mean = 0;
  private variance = 0;
  private recent = 0;
  private readonly state: Sustained;
  private readonly factor: number;
  private readonly minDeltaMs: number;
  private readonly warmup: number;

  constructor(
    private readonly adapter: string,
    options: AnomalyOptions,
    private readonly destination: string | undefined = undefined,
  ) {
    this.factor = options.factor ?? 3;
    this.minDeltaMs = options.minDeltaMs ?? 10;
    this.warmup = options.warmup ?? 50;
    this.state = new Sustained(options.sustain ?? 10);
  }

  get degraded(): boolean {
    return this.state.degraded;
  }

  /**
   * Record one send's latency; a report when the state changed. With `hold`,
   * a departure is not declared (the recent mean still moves, recovery still
   * counts): a destination holds while its adapter as a whole has departed.
   */
  observe(ms: number, hold = false): LatencyAnomaly | undefined {
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
    if (!this.state.degraded) {
      const over = this.recent > threshold;
      if (this.state.departs(over, hold)) return this.report(threshold, sd);
      if (!over) this.learn(ms, BASELINE_ALPHA);
      return undefined;
    }
    const back = Math.max(this.mean * 1.5, this.mean + 2 * sd, this.mean + this.minDeltaMs / 2);
    return this.state.recovers(this.recent <= back) ? this.report(back, sd) : undefined;
  }

  private learn(ms: number, alpha: number): void {
    const d = ms - this.mean;
    this.mean += alpha * d;
    this.variance = (1 - alpha) * (this.variance + alpha * d * d);
  }

  /** The report of a state change that just happened. */
  private report(threshold: number, sd: number): LatencyAnomaly {
    return {
      adapter: this.adapter,
      ...(this.destination === undefined ? {} : { destination: this.destination }),
      metric: 'send-latency',
      state: this.state.degraded ? 'degraded' : 'recovered',
      baselineMs: this.mean,
      deviationMs: sd,
      currentMs: this.recent,
      thresholdMs: threshold,
      at: Date.now(),
    };
  }
}

/**
 * One adapter's (or one destination's) error-rate baseline: every send
 * attempt is a 0 (accepted) or a 1 (failed on the way: a retryable error,
 * the kind that also feeds the circuit breaker), averaged slowly for the
 * baseline and quickly for the recent rate. A departure needs the recent
 * rate past `factor` × the baseline and past the baseline + `minErrorRate`,
 * for `sustain` attempts in a row; recovery needs it back under half that
 * margin as long. The baseline does not learn while degraded.
 */
export class ErrorRateBaseline {
  private n = 0;
  private base = 0;
  private recentRate = 0;
  private readonly state: Sustained;
  private readonly factor: number;
  private readonly minRate: number;
  private readonly warmup: number;

  constructor(
    private readonly adapter: string,
    options: AnomalyOptions,
    private readonly destination: string | undefined = undefined,
  ) {
    this.factor = options.factor ?? 3;
    this.minRate = options.minErrorRate ?? 0.2;
    this.warmup = options.warmup ?? 50;
    this.state = new Sustained(options.sustain ?? 10);
  }

  get degraded(): boolean {
    return this.state.degraded;
  }

  /** The recent share of failed attempts (0..1). */
  get recent(): number {
    return this.recentRate;
  }

  /** Record one send attempt; a report when the state changed. `hold`: as {@link LatencyBaseline.observe}. */
  observe(failed: boolean, hold = false): ErrorRateAnomaly | undefined {
    const x = failed ? 1 : 0;
    this.recentRate += RECENT_ERROR_ALPHA * (x - this.recentRate);
    if (this.n < this.warmup) {
      this.n++;
      this.base += (x - this.base) / this.n;
      return undefined;
    }
    if (!this.state.degraded) {
      const threshold = Math.max(this.base * this.factor, this.base + this.minRate);
      const over = this.recentRate > threshold;
      if (this.state.departs(over, hold)) return this.report(threshold);
      if (!over) this.base += BASELINE_ALPHA * (x - this.base);
      return undefined;
    }
    const back = Math.max(this.base * 1.5, this.base + this.minRate / 2);
    return this.state.recovers(this.recentRate <= back) ? this.report(back) : undefined;
  }

  /** The report of a state change that just happened. */
  private report(threshold: number): ErrorRateAnomaly {
    return {
      adapter: this.adapter,
      ...(this.destination === undefined ? {} : { destination: this.destination }),
      metric: 'error-rate',
      state: this.state.degraded ? 'degraded' : 'recovered',
      baselineRate: this.base,
      currentRate: this.recentRate,
      thresholdRate: threshold,
      at: Date.now(),
    };
  }
}
