import { ErrorCode, HubError } from '@hub/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TimeoutError, withTimeout } from '../../src/resilience/timeout.js';

describe('withTimeout', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolves with the value and clears its timer', async () => {
    const p = withTimeout(Promise.resolve(42), 1_000, 'send');
    expect(vi.getTimerCount()).toBe(1);
    await expect(p).resolves.toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('passes the rejection through and clears its timer', async () => {
    const boom = new Error('boom');
    const p = withTimeout(Promise.reject(boom), 1_000, 'send');
    await expect(p).rejects.toBe(boom);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('rejects with a TimeoutError after ms', async () => {
    let settle!: (v: string) => void;
    const slow = new Promise<string>((resolve) => {
      settle = resolve;
    });
    const p = withTimeout(slow, 250, 'request to "billing"');
    const outcome = p.then(
      () => 'resolved',
      (err: unknown) => err,
    );
    await vi.advanceTimersByTimeAsync(249);
    let done = false;
    void outcome.then(() => {
      done = true;
    });
    await Promise.resolve();
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const err = await outcome;
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toBeInstanceOf(HubError);
    expect((err as TimeoutError).code).toBe(ErrorCode.TIMEOUT);
    expect((err as TimeoutError).message).toBe('[hub] request to "billing" timed out after 250ms');
    // A late settle of the underlying promise changes nothing.
    settle('late');
    await expect(p).rejects.toBeInstanceOf(TimeoutError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it.each([0, -5, Number.POSITIVE_INFINITY])('ms = %s means no timeout', async (ms) => {
    const inner = Promise.resolve('x');
    const p = withTimeout(inner, ms, 'send');
    expect(p).toBe(inner);
    expect(vi.getTimerCount()).toBe(0);
    await expect(p).resolves.toBe('x');
  });
});
