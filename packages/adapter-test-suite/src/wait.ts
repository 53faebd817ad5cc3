import { ErrorCode, HubError } from '@hub/protocol';

export interface WaitForOptions {
  /** Give up after this long. Generous on purpose: CI is a noisy 2-core box. @default 20_000 */
  timeoutMs?: number;
  /** Pause between polls. @default 10 */
  intervalMs?: number;
  /**
   * What was awaited, for the timeout error. A function is called at timeout,
   * so it can report the numbers seen at that moment.
   * @default 'condition'
   */
  message?: string | (() => string);
}

/**
 * Poll `condition` until it returns a truthy value, and resolve with that
 * value. Used instead of fixed sleeps: a case waits exactly as long as the
 * adapter needs, up to a deadline. A throwing condition fails at once.
 * Rejects with a `HubError` (`HUB_TIMEOUT`) naming what was awaited.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 10;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() >= deadline) {
      const what = typeof options.message === 'function' ? options.message() : options.message;
      throw new HubError(
        ErrorCode.TIMEOUT,
        `[hub:adapter-test-suite] waitFor timed out after ${timeoutMs} ms: ${what ?? 'condition'}`,
      );
    }
    // no deadline timer: the only timer alive between polls is this one, so
    // cases that count active timers (R7) see none left behind by waitFor
    await new Promise<void>((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A promise that a case resolves by hand (a handler that holds its message until released). */
export interface Gate {
  readonly promise: Promise<void>;
  readonly released: boolean;
  release(): void;
}

export function createGate(): Gate {
  let release!: () => void;
  let released = false;
  const promise = new Promise<void>((resolve) => {
    release = resolve;
  });
  return {
    promise,
    get released() {
      return released;
    },
    release() {
      released = true;
      release();
    },
  };
}

/**
 * Settle with `work`, or reject with a `HubError` (`HUB_TIMEOUT`) saying that
 * `what` did not settle within `ms`: a cleanup step that hangs is reported as
 * such, not as the test runner's bare timeout. The timer is cleared either way.
 */
export async function settleWithin<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new HubError(
            ErrorCode.TIMEOUT,
            `[hub:adapter-test-suite] ${what} did not settle within ${ms} ms`,
          ),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}
