/**
 * Circuit breaker for one adapter (or one route).
 *
 * Why our own and not cockatiel: the router reads breaker state synchronously
 * on every send (`tryAcquire()` must be a field read in the common closed
 * case), while cockatiel's policy is built around `execute(fn)`, which wraps
 * every call in extra promises — allocations we cannot afford on a path that
 * must do 1M msg/s. cockatiel 4 also requires Node 22 and we run on Node 20.
 *
 * Design: no timers at all. Every time-based transition (open → half-open,
 * forgetting old window buckets) happens lazily when the clock is read, so an
 * idle breaker costs nothing and tests drive it with an injected clock. The
 * rolling window is a ring of per-bucket counters in typed arrays, so recording
 * a success in the closed state allocates nothing.
 */
import { ErrorCode, HubError, type HubErrorOptions } from '@hub/protocol';

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /**
   * Open when failures / calls in the rolling window reaches this rate
   * (0 < rate <= 1), once `minimumThroughput` calls were seen.
   * @default 0.5
   */
  failureRateThreshold?: number;
  /**
   * Calls in the window before the failure rate counts, so two failures out
   * of three calls at start-up do not open the circuit.
   * @default 10
   */
  minimumThroughput?: number;
  /**
   * Open after this many failures in a row, regardless of rate — catches a
   * dead link on a low-traffic route long before `minimumThroughput`.
   * @default 5
   */
  consecutiveFailures?: number;
  /**
   * Length of the rolling window the failure rate is computed over, split
   * into `buckets` buckets; a whole bucket is forgotten at a time.
   * @default 10_000
   */
  windowMs?: number;
  /** Number of buckets the window is split into. @default 10 */
  buckets?: number;
  /** Time the circuit stays open before it lets probes through (open → half-open). @default 5_000 */
  cooldownMs?: number;
  /** Concurrent trial calls allowed in half-open. @default 1 */
  halfOpenProbes?: number;
  /** Successful probes needed to close the circuit again. @default 1 */
  successesToClose?: number;
  /** Injectable clock (ms) for tests. @default Date.now */
  now?: () => number;
}

export interface CircuitSnapshot {
  state: CircuitState;
  /** Failures in the rolling window. */
  failures: number;
  /** Successes in the rolling window. */
  successes: number;
  /** failures / (failures + successes) in the window; 0 when the window is empty. */
  failureRate: number;
  /** Clock time the circuit last opened (set while open or half-open). */
  openedAt?: number;
  /** Clock time the next probe is allowed (set while open). */
  nextProbeAt?: number;
}

export type CircuitStateListener = (state: CircuitState, prev: CircuitState) => void;

/** Rejection for a call refused because its circuit is open. */
export class CircuitOpenError extends HubError {
  /** Name of the breaker that refused the call. */
  readonly circuit: string;
  /** Milliseconds until the breaker lets a probe through. */
  readonly retryInMs: number;
  constructor(circuit: string, retryInMs: number, options?: HubErrorOptions) {
    const ms = Math.max(0, Math.ceil(retryInMs));
    super(
      ErrorCode.CIRCUIT_OPEN,
      `[hub:circuit] circuit "${circuit}" is open; next probe in ${ms}ms`,
      options,
    );
    this.name = 'CircuitOpenError';
    this.circuit = circuit;
    this.retryInMs = ms;
  }
}

function invalid(name: string, field: string, rule: string, value: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:circuit] circuit "${name}": option "${field}" must be ${rule} (got ${String(value)})`,
  );
}

function positiveInt(name: string, field: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw invalid(name, field, 'an integer >= 1', value);
  return value;
}

function positiveNumber(name: string, field: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw invalid(name, field, 'a finite number > 0', value);
  }
  return value;
}

export class CircuitBreaker {
  readonly name: string;

  private readonly threshold: number;
  private readonly minThroughput: number;
  private readonly maxConsecutive: number;
  private readonly nBuckets: number;
  private readonly bucketMs: number;
  private readonly cooldownMs: number;
  private readonly probes: number;
  private readonly successesToClose: number;
  private readonly now: () => number;
  /** The clock is Date.now (not injected): a caller's own reading of it can stand in for one. */
  private readonly wallClock: boolean;

  // Ring of window buckets: `epochs[i]` is the absolute bucket number
  // (floor(time / bucketMs)) slot i currently counts; NaN = never used.
  private readonly epochs: Float64Array;
  private readonly ok: Float64Array;
  private readonly fail: Float64Array;
  /** The bucket of the last clock read: its slot and its time span [curStart, curEnd). */
  private cur = 0;
  private curStart = Number.POSITIVE_INFINITY;
  private curEnd = Number.NEGATIVE_INFINITY;

  private _state: CircuitState = 'closed';
  private consecutive = 0;
  private openedAt: number | undefined;
  private nextProbeAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private listeners: CircuitStateListener[] = [];

  constructor(name: string, opts: CircuitBreakerOptions = {}) {
    this.name = name;
    const threshold = opts.failureRateThreshold ?? 0.5;
    if (!(threshold > 0 && threshold <= 1)) {
      throw invalid(name, 'failureRateThreshold', 'a number in (0, 1]', threshold);
    }
    this.threshold = threshold;
    this.minThroughput = positiveInt(name, 'minimumThroughput', opts.minimumThroughput ?? 10);
    this.maxConsecutive = positiveInt(name, 'consecutiveFailures', opts.consecutiveFailures ?? 5);
    this.nBuckets = positiveInt(name, 'buckets', opts.buckets ?? 10);
    this.bucketMs = positiveNumber(name, 'windowMs', opts.windowMs ?? 10_000) / this.nBuckets;
    const cooldown = opts.cooldownMs ?? 5_000;
    if (!(cooldown >= 0) || !Number.isFinite(cooldown)) {
      throw invalid(name, 'cooldownMs', 'a finite number >= 0', cooldown);
    }
    this.cooldownMs = cooldown;
    this.probes = positiveInt(name, 'halfOpenProbes', opts.halfOpenProbes ?? 1);
    this.successesToClose = positiveInt(name, 'successesToClose', opts.successesToClose ?? 1);
    this.now = opts.now ?? Date.now;
    this.wallClock = opts.now === undefined;
    this.epochs = new Float64Array(this.nBuckets).fill(Number.NaN);
    this.ok = new Float64Array(this.nBuckets);
    this.fail = new Float64Array(this.nBuckets);
  }

  /** Current state; moves open → half-open when the cooldown has passed (read from the clock). */
  get state(): CircuitState {
    if (this._state === 'open' && this.now() >= this.nextProbeAt) this.transition('half-open');
    return this._state;
  }

  /**
   * Ask to make a call. Closed: always true. Open: false. Half-open: true
   * while probe slots remain, and the caller now holds one — it must end it
   * with `onSuccess`, `onFailure` or `release`.
   */
  tryAcquire(): boolean {
    // Hot path: one field read when closed.
    if (this._state === 'closed') return true;
    if (this.state !== 'half-open') return false;
    if (this.probesInFlight >= this.probes) return false;
    this.probesInFlight++;
    return true;
  }

  /**
   * Report a successful call. `latencyMs` is accepted so callers report it
   * once; the breaker does not use it yet (reserved for slow-call detection).
   *
   * `at`: the wall-clock time (ms, as `Date.now()`) the caller read anyway
   * when the call ended. When it falls in the bucket of the breaker's last
   * clock read, the success is counted there without a clock read of its
   * own: on a VM a clock read costs ~0.1 µs, as much as the rest of this
   * method, and the send path makes two per request otherwise. Any other
   * `at` (a new bucket, a clock that drifted) and an injected `now` clock
   * make the breaker read its clock as before.
   */
  onSuccess(_latencyMs?: number, at?: number): void {
    switch (this._state) {
      case 'closed':
        this.consecutive = 0;
        if (at !== undefined && at >= this.curStart && at < this.curEnd && this.wallClock) {
          this.ok[this.cur]!++;
          return;
        }
        this.ok[this.slot(this.now())]!++;
        return;
      case 'half-open':
        if (this.probesInFlight > 0) this.probesInFlight--;
        if (++this.probeSuccesses >= this.successesToClose) this.transition('closed');
        return;
      default:
        // Open: a late answer to a call admitted before the circuit opened
        // says nothing about the link now; the probe decides.
        return;
    }
  }

  /**
   * Report a failed call. The error is accepted for symmetry and future
   * classification; the caller decides what counts as a failure (a rejected
   * message is not a broken link).
   */
  onFailure(_error?: unknown): void {
    switch (this._state) {
      case 'closed': {
        const t = this.now();
        this.fail[this.slot(t)]!++;
        if (++this.consecutive >= this.maxConsecutive) {
          this.open(t);
          return;
        }
        let failures = 0;
        let total = 0;
        const current = Math.floor(t / this.bucketMs);
        for (let i = 0; i < this.nBuckets; i++) {
          if (this.epochs[i]! > current - this.nBuckets) {
            failures += this.fail[i]!;
            total += this.fail[i]! + this.ok[i]!;
          }
        }
        if (total >= this.minThroughput && failures / total >= this.threshold) this.open(t);
        return;
      }
      case 'half-open':
        // Any failure while probing reopens: a late failure of a call admitted
        // while closed is just as much evidence that the link is still bad.
        this.open(this.now());
        return;
      default:
        return;
    }
  }

  /** A probe that ended without a verdict (cancelled, not attempted) gives its slot back. */
  release(): void {
    if (this._state === 'half-open' && this.probesInFlight > 0) this.probesInFlight--;
  }

  /** Back to closed with an empty window. */
  reset(): void {
    this.clearWindow();
    this.consecutive = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.openedAt = undefined;
    if (this._state !== 'closed') this.transition('closed');
  }

  /** Error to reject a refused call with; names the breaker and the wait. */
  openError(): CircuitOpenError {
    return new CircuitOpenError(this.name, Math.max(0, this.nextProbeAt - this.now()));
  }

  snapshot(): CircuitSnapshot {
    const state = this.state;
    const current = Math.floor(this.now() / this.bucketMs);
    let failures = 0;
    let successes = 0;
    for (let i = 0; i < this.nBuckets; i++) {
      const epoch = this.epochs[i]!;
      if (epoch > current - this.nBuckets && epoch <= current) {
        failures += this.fail[i]!;
        successes += this.ok[i]!;
      }
    }
    const total = failures + successes;
    const snap: CircuitSnapshot = {
      state,
      failures,
      successes,
      failureRate: total === 0 ? 0 : failures / total,
    };
    if (this.openedAt !== undefined && state !== 'closed') snap.openedAt = this.openedAt;
    if (state === 'open') snap.nextProbeAt = this.nextProbeAt;
    return snap;
  }

  /** Called synchronously on every transition; returns an unsubscribe function. */
  onStateChange(listener: CircuitStateListener): () => void {
    // Copy-on-write so a listener that unsubscribes during a notification
    // does not disturb the loop.
    this.listeners = [...this.listeners, listener];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  /** The ring slot counting time `t` (a new bucket resets the slot it takes over). */
  private slot(t: number): number {
    if (t >= this.curStart && t < this.curEnd) return this.cur;
    const epoch = Math.floor(t / this.bucketMs);
    const i = ((epoch % this.nBuckets) + this.nBuckets) % this.nBuckets;
    if (this.epochs[i] !== epoch) {
      this.epochs[i] = epoch;
      this.ok[i] = 0;
      this.fail[i] = 0;
    }
    this.cur = i;
    this.curStart = epoch * this.bucketMs;
    this.curEnd = this.curStart + this.bucketMs;
    return i;
  }

  private clearWindow(): void {
    this.curStart = Number.POSITIVE_INFINITY;
    this.curEnd = Number.NEGATIVE_INFINITY;
    this.epochs.fill(Number.NaN);
    this.ok.fill(0);
    this.fail.fill(0);
  }

  private open(t: number): void {
    this.openedAt = t;
    this.nextProbeAt = t + this.cooldownMs;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    this.consecutive = 0;
    this.transition('open');
  }

  private transition(next: CircuitState): void {
    const prev = this._state;
    if (next === 'half-open') {
      this.probesInFlight = 0;
      this.probeSuccesses = 0;
    } else if (next === 'closed') {
      // Start the new closed period with a clean slate, or the failures that
      // opened the circuit would reopen it on the first hiccup.
      this.clearWindow();
      this.consecutive = 0;
      this.openedAt = undefined;
    }
    this._state = next;
    if (prev === next) return;
    for (const listener of this.listeners) {
      try {
        listener(next, prev);
      } catch {
        // A faulty listener must not break the breaker's accounting on the
        // send path; listeners are for metrics and logs.
      }
    }
  }
}
