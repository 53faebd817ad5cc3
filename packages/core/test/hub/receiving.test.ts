import {
  createHub,
  type Envelope,
  ErrorCode,
  type Hub,
  type MemoryAdapter,
  memory,
  Priority,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, msg, quiet, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}

/** Seeded PRNG so a failing run can be reproduced. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('handler failures', () => {
  it('retries with backoff, then dead-letters after maxDeliveries with the reason and attempt count', async () => {
    const hub = hubWith({ maxDeliveries: 3, retry: { initialDelayMs: 1, maxDelayMs: 4 } });
    const attempts: number[] = [];
    const dead: Array<{ env: Envelope; reason: string; attempts: number }> = [];
    hub.on('deadLetter', (env, reason, n) => dead.push({ env, reason, attempts: n }));
    await hub.onMessage('poison', (_m, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error('cannot parse order');
    });
    const m = msg({ destination: 'poison' });
    await hub.send(m);
    await waitFor(() => dead.length === 1, 'deadLetter event');
    expect(attempts).toEqual([1, 2, 3]);
    expect(dead[0]).toMatchObject({ reason: 'cannot parse order', attempts: 3 });
    expect(dead[0]?.env.id).toBe(m.id);

    const dlq = await hub.readDeadLetters('poison');
    expect(dlq).toHaveLength(1);
    expect(dlq[0]?.envelope.id).toBe(m.id);
    expect(dlq[0]?.reason).toContain('cannot parse order');
    expect(dlq[0]?.attempts).toBe(3);
    expect(hub.metrics().totals).toMatchObject({
      failed: 3,
      redelivered: 2,
      deadLettered: 1,
      acked: 0,
    });
  });

  it('a handler that succeeds on a retry is acked once', async () => {
    const hub = hubWith({ retry: { initialDelayMs: 1, maxDelayMs: 2 } });
    let calls = 0;
    await hub.onMessage('flaky', () => {
      if (++calls < 3) throw new Error('transient');
    });
    await hub.send(msg({ destination: 'flaky' }));
    await waitFor(() => hub.metrics().totals.acked === 1, 'ack');
    expect(calls).toBe(3);
    expect(await hub.readDeadLetters('flaky')).toEqual([]);
  });

  it('handlerTimeoutMs fails a hung attempt and retries it', async () => {
    const hub = hubWith({ retry: { initialDelayMs: 1, maxDelayMs: 2 } });
    const seen: number[] = [];
    const never = deferred();
    await hub.onMessage(
      'hangs',
      async (_m, ctx) => {
        seen.push(ctx.attempt);
        if (ctx.attempt === 1) await never.promise;
        return undefined;
      },
      { handlerTimeoutMs: 30 },
    );
    await hub.send(msg({ destination: 'hangs' }));
    await waitFor(() => hub.metrics().totals.acked === 1, 'ack of attempt 2');
    expect(seen).toEqual([1, 2]);
    never.resolve();
    // The late result of the timed-out attempt must not settle the delivery again.
    await new Promise((r) => setImmediate(r));
    expect(hub.metrics().totals.acked).toBe(1);

    const hub2 = hubWith({});
    await hub2.onMessage('hangs2', () => new Promise(() => {}), {
      handlerTimeoutMs: 20,
      maxDeliveries: 1,
    });
    await hub2.send(msg({ destination: 'hangs2' }));
    await waitFor(async () => (await hub2.readDeadLetters('hangs2')).length === 1, 'timeout DLQ');
    expect((await hub2.readDeadLetters('hangs2'))[0]?.reason).toMatch(/timed out/);
  });
});

describe('exactly-once', () => {
  it('the duplicate fault never reaches the handler twice; duplicates are counted', async () => {
    const adapter = memory({ faults: { duplicate: 1 } });
    const hub = hubWith({ adapters: [adapter] });
    const counts = new Map<string, number>();
    await hub.onMessage('once', (m) => {
      counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
    });
    const n = 25;
    for (let i = 0; i < n; i++)
      await hub.send(msg({ destination: 'once', deliveryGuarantee: 'exactly-once' }));
    await waitFor(() => hub.metrics().totals.duplicates === n, 'all duplicates dropped');
    expect(counts.size).toBe(n);
    expect([...counts.values()].every((c) => c === 1)).toBe(true);
    expect(hub.metrics().totals.acked).toBe(n);
  });

  it('the same id sent twice is handled once', async () => {
    const hub = hubWith({});
    const got: string[] = [];
    await hub.onMessage('once2', (m) => {
      got.push(m.id);
    });
    const m = msg({ destination: 'once2', deliveryGuarantee: 'exactly-once' });
    await hub.send(m);
    await waitFor(() => got.length === 1, 'first');
    await hub.send({ ...m });
    await waitFor(() => hub.metrics().totals.duplicates === 1, 'duplicate counted');
    expect(got).toEqual([m.id]);

    // at-least-once makes no such promise: both copies reach the handler.
    const a = msg({ destination: 'once2' });
    await hub.send(a);
    await hub.send({ ...a });
    await waitFor(() => got.length === 3, 'both at-least-once copies');
  });

  it('a failed first attempt does not mark the id done', async () => {
    const hub = hubWith({ retry: { initialDelayMs: 1 }, maxDeliveries: 1 });
    let calls = 0;
    await hub.onMessage('once3', () => {
      calls++;
      if (calls === 1) throw new Error('first fails');
    });
    const m = msg({ destination: 'once3', deliveryGuarantee: 'exactly-once' });
    await hub.send(m);
    await waitFor(() => hub.metrics().totals.deadLettered === 1, 'dead-lettered');
    await hub.send({ ...m });
    await waitFor(() => calls === 2, 'processed on resend');
  });
});

describe('ordered', () => {
  for (const reorder of [false, true]) {
    it(`keeps per-key order: 16 keys x 100 msgs, concurrency 8, random delays${reorder ? ', reorder fault' : ''}`, async () => {
      const random = prng(reorder ? 7 : 3);
      const adapter = memory(reorder ? { faults: { reorder: true, random } } : {});
      const hub = hubWith({ adapters: [adapter] });
      const seen = new Map<string, number[]>();
      let running = 0;
      let maxRunning = 0;
      await hub.onMessage(
        'ordered',
        async (m) => {
          running++;
          maxRunning = Math.max(maxRunning, running);
          const d = random();
          if (d < 0.3) await new Promise((r) => setTimeout(r, 1));
          else if (d < 0.6) await new Promise((r) => setImmediate(r));
          const p = m.payload as { key: string; n: number };
          const list = seen.get(p.key) ?? [];
          list.push(p.n);
          seen.set(p.key, list);
          running--;
        },
        { concurrency: 8 },
      );
      const sends: Promise<unknown>[] = [];
      for (let n = 0; n < 100; n++) {
        for (let k = 0; k < 16; k++) {
          const key = `k${k}`;
          sends.push(
            hub.send(
              msg({
                destination: 'ordered',
                deliveryGuarantee: 'ordered',
                partitionKey: key,
                payload: { key, n },
              }),
            ),
          );
        }
      }
      await Promise.all(sends);
      await waitFor(() => hub.metrics().totals.acked === 1600, 'all acked', 60_000);
      const expected = Array.from({ length: 100 }, (_, i) => i);
      for (let k = 0; k < 16; k++) expect(seen.get(`k${k}`), `key k${k}`).toEqual(expected);
      expect(maxRunning).toBeGreaterThan(1);
      expect(maxRunning).toBeLessThanOrEqual(8);
    });
  }
});

describe('priorities, expiry and flow control', () => {
  it('serves higher priority first under backlog, and the starvation guard lets low ones through', async () => {
    const hub = hubWith({});
    const gate = deferred();
    const order: number[] = [];
    let first = true;
    await hub.onMessage(
      'prio',
      async (m) => {
        if (first) {
          first = false;
          await gate.promise;
          return;
        }
        order.push(m.priority);
      },
      { concurrency: 1, prefetch: 200 },
    );
    await hub.send(msg({ destination: 'prio', priority: Priority.NORMAL }));
    await waitFor(() => hub.metrics().totals.delivered === 1, 'blocker delivered');
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < 40; i++) {
      sends.push(hub.send(msg({ destination: 'prio', priority: Priority.LOW })));
      sends.push(hub.send(msg({ destination: 'prio', priority: Priority.CRITICAL })));
    }
    await Promise.all(sends);
    await waitFor(() => hub.metrics().totals.delivered === 81, 'backlog delivered to the consumer');
    gate.resolve();
    await waitFor(() => order.length === 80, 'all handled');
    const lastHigh = order.lastIndexOf(Priority.CRITICAL);
    const firstLow = order.indexOf(Priority.LOW);
    // Mostly high first...
    expect(order.slice(0, 16).every((p) => p === Priority.CRITICAL)).toBe(true);
    expect(lastHigh).toBeLessThan(order.lastIndexOf(Priority.LOW));
    // ...but the lowest still progresses while highs wait.
    expect(firstLow).toBeLessThan(lastHigh);
  });

  it('drops expired messages and counts them, never delivering', async () => {
    const adapter = memory({ faults: { delayMs: 60 } });
    const hub = hubWith({ adapters: [adapter] });
    const got: unknown[] = [];
    await hub.onMessage('ttl', (m) => {
      got.push(m.payload);
    });
    await hub.send(msg({ destination: 'ttl', ttlMs: 10, payload: 'stale' }));
    await hub.send(msg({ destination: 'ttl', ttlMs: 60_000, payload: 'fresh' }));
    await waitFor(() => hub.metrics().totals.expired === 1 && got.length === 1, 'expiry');
    expect(got).toEqual(['fresh']);
    expect(hub.metrics().totals.delivered).toBe(1);
  });

  it('flow control: with concurrency 1 and prefetch 1 the next message waits for the ack', async () => {
    const adapter = memory();
    const hub = hubWith({ adapters: [adapter] });
    const gate = deferred();
    const got: unknown[] = [];
    await hub.onMessage(
      'flow',
      async (m) => {
        got.push(m.payload);
        if (m.payload === 1) await gate.promise;
      },
      { concurrency: 1, prefetch: 1 },
    );
    await hub.send(msg({ destination: 'flow', payload: 1 }));
    await hub.send(msg({ destination: 'flow', payload: 2 }));
    await waitFor(() => got.length === 1, 'first');
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(got).toEqual([1]);
    expect(hub.metrics().totals.delivered).toBe(1);
    expect((adapter as MemoryAdapter).health().detail).toMatchObject({ queued: 1, inflight: 1 });
    gate.resolve();
    await waitFor(() => got.length === 2, 'second after ack');
    expect(got).toEqual([1, 2]);
  });

  it('rejects bad consume options', async () => {
    const hub = hubWith({});
    await expect(hub.onMessage('x', () => {}, { concurrency: 0 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
    await expect(hub.onMessage('x', () => {}, { prefetch: -1 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
    await expect(hub.onMessage('x', () => {}, { adapter: 'nope' })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
    await expect(hub.onMessage('bad endpoint!', () => {})).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE,
    });
  });

  it('unsubscribe stops delivery; instances of one endpoint share the work', async () => {
    const hub = hubWith({});
    const a: unknown[] = [];
    const b: unknown[] = [];
    const offA = await hub.onMessage('shared', (m) => {
      a.push(m.payload);
    });
    await hub.onMessage('shared', (m) => {
      b.push(m.payload);
    });
    for (let i = 0; i < 20; i++) await hub.send(msg({ destination: 'shared', payload: i }));
    await waitFor(() => a.length + b.length === 20, 'all 20');
    expect(a.length).toBeGreaterThan(0);
    expect(b.length).toBeGreaterThan(0);
    await offA();
    await offA();
    const before = a.length;
    for (let i = 0; i < 5; i++) await hub.send(msg({ destination: 'shared', payload: 100 + i }));
    await waitFor(() => b.length + before === 25, 'after unsubscribe');
    expect(a.length).toBe(before);
  });
});

describe('options.guarantees', () => {
  it('is validated, and passed to the adapter as a subscription hint', async () => {
    const seen: Array<readonly string[] | undefined> = [];
    const adapter = memory();
    const subscribe = adapter.subscribe.bind(adapter);
    adapter.subscribe = (spec) => {
      seen.push(spec.guarantees);
      return subscribe(spec);
    };
    const hub = createHub({ adapters: [adapter], logger: quiet });
    try {
      await hub.start();
      await expect(
        hub.onMessage('g', () => {}, { guarantees: ['sometimes' as never] }),
      ).rejects.toMatchObject({ code: 'HUB_INVALID_CONFIG' });
      await hub.onMessage('g', () => {}, { guarantees: ['best-effort'] });
      await hub.onMessage('h', () => {});
      expect(seen).toEqual([['best-effort'], undefined]);
    } finally {
      await hub.close();
    }
  });
});
