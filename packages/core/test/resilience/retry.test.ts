import { ErrorCode, HubError } from '@hub/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { retry, sleep } from '../../src/resilience/retry.js';

class Flaky extends Error {
  constructor(
    message: string,
    readonly retryable = true,
  ) {
    super(message);
  }
}

describe('retry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('returns the first success and passes the 1-based attempt', async () => {
    const attempts: number[] = [];
    const p = retry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Flaky(`fail ${attempt}`);
        return 'ok';
      },
      { maxAttempts: 5, jitter: 'none' },
    );
    await vi.runAllTimersAsync();
    await expect(p).resolves.toBe('ok');
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('stops at maxAttempts and throws the last error; onRetry sees each wait', async () => {
    const retries: Array<[string, number, number]> = [];
    let calls = 0;
    const p = retry(
      async (attempt) => {
        calls++;
        throw new Flaky(`fail ${attempt}`);
      },
      {
        maxAttempts: 4,
        jitter: 'none',
        initialDelayMs: 10,
        onRetry: (err, attempt, delayMs) =>
          retries.push([(err as Error).message, attempt, delayMs]),
      },
    );
    const outcome = p.catch((err: unknown) => err);
    await vi.runAllTimersAsync();
    const err = await outcome;
    expect((err as Error).message).toBe('fail 4');
    expect(calls).toBe(4);
    expect(retries).toEqual([
      ['fail 1', 1, 10],
      ['fail 2', 2, 20],
      ['fail 3', 3, 40],
    ]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('waits the backoff delay between attempts', async () => {
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        if (calls < 3) throw new Flaky('x');
        return calls;
      },
      { jitter: 'none', initialDelayMs: 100 },
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(99);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    await expect(p).resolves.toBe(3);
  });

  it('does not retry when isRetryable says no (default: err.retryable === false)', async () => {
    let calls = 0;
    const fatal = new Flaky('fatal', false);
    await expect(
      retry(async () => {
        calls++;
        throw fatal;
      }),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
          throw new Flaky('custom');
        },
        { isRetryable: () => false },
      ),
    ).rejects.toThrow('custom');
    expect(calls).toBe(1);
  });

  it('retries non-object throws by default', async () => {
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        throw 'string failure';
      },
      { maxAttempts: 2 },
    ).catch((err: unknown) => err);
    await vi.runAllTimersAsync();
    expect(await p).toBe('string failure');
    expect(calls).toBe(2);
  });

  it('abort during a wait rejects at once and leaves no timer', async () => {
    const ac = new AbortController();
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        throw new Flaky('down');
      },
      { maxAttempts: 10, initialDelayMs: 60_000, jitter: 'none', signal: ac.signal },
    ).catch((err: unknown) => err);
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
    ac.abort();
    const err = await p;
    expect(err).toBeInstanceOf(HubError);
    expect((err as HubError).code).toBe(ErrorCode.CLOSED);
    expect((err as HubError).cause).toBe(ac.signal.reason);
    expect(vi.getTimerCount()).toBe(0);
    expect(calls).toBe(1);
  });

  it('abort during an attempt rejects at once with a HubError reason as is', async () => {
    const ac = new AbortController();
    const p = retry(() => new Promise<never>(() => {}), { signal: ac.signal }).catch(
      (err: unknown) => err,
    );
    const reason = new HubError(ErrorCode.CLOSED, '[hub] hub closed');
    ac.abort(reason);
    expect(await p).toBe(reason);
  });

  it('an already aborted signal never calls fn', async () => {
    const ac = new AbortController();
    ac.abort();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
        },
        { signal: ac.signal },
      ),
    ).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(calls).toBe(0);
  });

  it('rejects bad maxAttempts', async () => {
    await expect(retry(async () => 1, { maxAttempts: 0 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('"maxAttempts"'),
    });
  });
});

describe('sleep', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves after ms and unrefs its timer', async () => {
    // Real timers: check the handle is unref'd and resolves.
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const p = sleep(1);
    const handle = spy.mock.results[0]?.value as NodeJS.Timeout;
    spy.mockRestore();
    expect(handle.hasRef()).toBe(false);
    await expect(p).resolves.toBeUndefined();
  });

  it('abort rejects at once and clears the timer', async () => {
    vi.useFakeTimers();
    const ac = new AbortController();
    const p = sleep(10_000, ac.signal).catch((err: unknown) => err);
    expect(vi.getTimerCount()).toBe(1);
    ac.abort(new Error('stop'));
    const err = await p;
    expect(err).toMatchObject({ code: ErrorCode.CLOSED });
    expect((err as HubError).cause).toEqual(new Error('stop'));
    expect(vi.getTimerCount()).toBe(0);
  });
});
