/**
 * Capped exponential backoff with jitter: the one helper every reconnect loop
 * and retry in Hub uses, so they all behave (and are tuned) the same way.
 */
import { ErrorCode, HubError } from '@hub/protocol';

export interface BackoffOptions {
  /** Delay before the first retry, before jitter. @default 50 */
  initialDelayMs?: number;
  /** Upper bound of any delay, before jitter. @default 5_000 */
  maxDelayMs?: number;
  /** Growth per attempt (>= 1). @default 2 */
  factor?: number;
  /**
   * How the delay is randomised so many clients that failed together do not
   * retry together: `full` picks uniformly in [0, d), `equal` in [d/2, d),
   * `none` uses d.
   * @default 'full'
   */
  jitter?: 'full' | 'equal' | 'none';
}

function invalid(field: string, rule: string, value: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:backoff] option "${field}" must be ${rule} (got ${String(value)})`,
  );
}

/**
 * Delay in ms before retry number `attempt` (1-based: the wait after the
 * first failure): min(maxDelayMs, initialDelayMs * factor^(attempt-1)), then
 * jittered. `random` is injectable so tests can seed it.
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const initial = opts.initialDelayMs ?? 50;
  const max = opts.maxDelayMs ?? 5_000;
  const factor = opts.factor ?? 2;
  if (!(initial >= 0) || !Number.isFinite(initial)) {
    throw invalid('initialDelayMs', 'a finite number >= 0', initial);
  }
  if (!(max >= 0)) throw invalid('maxDelayMs', 'a number >= 0', max);
  if (!(factor >= 1) || !Number.isFinite(factor)) {
    throw invalid('factor', 'a finite number >= 1', factor);
  }
  const n = attempt >= 1 ? Math.floor(attempt) : 1;
  // factor ** big overflows to Infinity, which min() caps: no overflow checks needed.
  const base = Math.min(max, initial * factor ** (n - 1));
  switch (opts.jitter ?? 'full') {
    case 'none':
      return base;
    case 'equal':
      return base / 2 + random() * (base / 2);
    case 'full':
      return random() * base;
    default:
      throw invalid('jitter', "'full', 'equal' or 'none'", opts.jitter);
  }
}
