import { ErrorCode, HubError, type HubErrorOptions } from '@hub/protocol';

/** An operation did not finish in time. Retrying may succeed. */
export class TimeoutError extends HubError {
  constructor(message: string, options?: HubErrorOptions) {
    super(ErrorCode.TIMEOUT, message, options);
    this.name = 'TimeoutError';
  }
}

/**
 * Settle like `promise`, or reject with a `TimeoutError` naming `what` after
 * `ms`. `ms <= 0` or `Infinity` means no timeout (the promise is returned
 * as is). The timer is cleared as soon as the promise settles, so nothing
 * lingers; it is not unref'd, because a timeout that could be skipped by the
 * process exiting would hide a hang instead of reporting it.
 *
 * The underlying operation is not cancelled — pass it an AbortSignal if it
 * takes one. Its late rejection is observed here, so it never surfaces as an
 * unhandled rejection.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  if (!(ms > 0) || ms === Number.POSITIVE_INFINITY) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new TimeoutError(`[hub] ${what} timed out after ${ms}ms`));
    }, ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
