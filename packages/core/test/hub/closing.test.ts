import { createHub, createMemoryBroker, type Hub, MemoryDedupStore, memory } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, msg, quiet, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

describe('closing an instance hands its messages to another, intact', () => {
  it('does not burn attempts in a nack loop while draining; the next instance still retries', async () => {
    const broker = createMemoryBroker();
    const a = createHub({
      adapters: [memory({ broker })],
      logger: quiet,
      retry: { initialDelayMs: 1 },
    });
    const b = createHub({
      adapters: [memory({ broker })],
      logger: quiet,
      retry: { initialDelayMs: 1 },
    });
    hubs.push(a, b);
    await a.start();
    await b.start();
    const gate = deferred();
    let heldByA = 0;
    await a.onMessage(
      'work',
      () => {
        heldByA++;
        return gate.promise;
      },
      { concurrency: 2 },
    );
    for (let i = 0; i < 20; i++) await a.send(msg({ destination: 'work', payload: i }));
    await waitFor(() => heldByA === 2, 'A holds two');

    // A closes while holding 2 and having 18 queued; its drain runs for 150 ms.
    const closing = a.close({ drainTimeoutMs: 150 });
    const attempts = new Map<number, number[]>();
    await b.onMessage<number>('work', (m, ctx) => {
      const list = attempts.get(m.payload) ?? [];
      list.push(ctx.attempt);
      attempts.set(m.payload, list);
      if (list.length === 1) throw new Error('first try fails'); // B must still get to retry
    });
    await closing;
    gate.resolve();
    await waitFor(
      () => attempts.size === 20 && [...attempts.values()].every((l) => l.length === 2),
      'B handled all 20, each retried once',
    );
    // Without the fix the drain nacked each message back to A hundreds of thousands of times.
    const firstAttempts = [...attempts.values()].map((l) => l[0]!);
    expect(Math.max(...firstAttempts)).toBeLessThanOrEqual(2);
    expect(b.metrics().totals.deadLettered).toBe(0);
  });

  it('exactly-once: a duplicate released by a closing instance never frees the lease of the copy still running', async () => {
    const broker = createMemoryBroker();
    const store = new MemoryDedupStore();
    const cfg = { logger: quiet, dedup: { store } };
    const a = createHub({ ...cfg, adapters: [memory({ broker })] });
    const b = createHub({ ...cfg, adapters: [memory({ broker })] });
    hubs.push(a, b);
    await a.start();
    await b.start();
    const gate = deferred();
    const runs: string[] = [];
    await a.onMessage(
      'once',
      () => {
        runs.push('a');
        return gate.promise;
      },
      { concurrency: 1 },
    );
    const first = msg({ destination: 'once', deliveryGuarantee: 'exactly-once' });
    await a.send(first);
    await waitFor(() => runs.length === 1, 'A runs the first copy');
    await a.send({ ...first }); // a retried send: same id, queued behind the running copy on A
    await waitFor(() => a.metrics().totals.delivered === 2, 'A holds the duplicate');
    await b.onMessage('once', () => {
      runs.push('b');
    });
    const closing = a.close({ drainTimeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 50)); // let a broken release reach B while A still runs
    gate.resolve();
    await closing;
    await waitFor(() => b.metrics().totals.duplicates === 1, 'B drops the duplicate');
    expect(runs).toEqual(['a']);
  });
});
