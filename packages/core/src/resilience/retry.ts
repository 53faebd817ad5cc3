import { ErrorCode, isRetryable as errorIsRetryable, HubError } from '@hub/protocol';
import { type BackoffOptions, backoffDelay } from './backoff.js';

export interface RetryOptions extends BackoffOptions {
  /** Total calls of `fn`, the first one included. @default 3 */
  maxAttempts?: number;
  /**
   * Whether a failure is worth another attempt.
   * @default `isRetryable` of `@hub/protocol`: Hub errors say so themselves (`retryable`, by their code)
   */
  isRetryable?: (err: unknown) => boolean;
  /** Stops retrying: a pending wait or attempt rejects at once. */
  signal?: AbortSignal;
  /** Called before each wait, with the failure, the attempt that failed (1-based) and the delay. */
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/**
 * The error an aborted wait or retry rejects with: the signal's reason when it
 * is already a HubError (so a closing hub can pass its own), otherwise a
 * HubError with code CLOSED carrying the reason as `cause`.
 */
export function abortError(signal: AbortSignal): HubError {
  const reason: unknown = signal.reason;
  if (reason instanceof HubError) return reason;
  return new HubError(ErrorCode.CLOSED, '[hub] operation aborted', { cause: reason });
}

/**
 * Resolve after `ms`. The timer is unref'd (a backoff wait never keeps a
 * process alive on its own) and is cleared when `signal` aborts, rejecting at
 * once with `abortError(signal)`.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal));
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError(signal!));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settle like `p`, or reject as soon as `signal` aborts; the listener is always removed. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/**
 * Call `fn` until it resolves, at most `maxAttempts` times, waiting
 * `backoffDelay(attempt)` between calls. Rejects with the last error when
 * attempts run out or `isRetryable` says no; with `abortError(signal)` when
 * the signal aborts (during a wait or an attempt — the attempt itself is not
 * cancelled, its outcome is ignored).
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const maxAttempts = opts.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:retry] option "maxAttempts" must be an integer >= 1 (got ${String(maxAttempts)})`,
    );
  }
  const isRetryable = opts.isRetryable ?? errorIsRetryable;
  const { signal, onRetry } = opts;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortError(signal);
    try {
      return await (signal ? raceAbort(fn(attempt), signal) : fn(attempt));
    } catch (err) {
      if (signal?.aborted) throw abortError(signal);
      if (attempt >= maxAttempts || !isRetryable(err)) throw err;
      const delayMs = backoffDelay(attempt, opts);
      onRetry?.(err, attempt, delayMs);
      await sleep(delayMs, signal);
    }
  }
}
