import {
  type ConsumerHost,
  type ConsumerObserver,
  type ConsumerOptions,
  DeadLetterError,
  type DedupStore,
  type Envelope,
  type HandlerContext,
  type InboundDelivery,
  MemoryDedupStore,
  type NackOptions,
  ReceivePipeline,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { deferred, msg, quiet, timerCount, waitFor } from '../hub/helpers.js';

interface Settled {
  acks: number;
  nacks: NackOptions[];
  dead: Array<{ reason: string; attempts: number | undefined }>;
}

function delivery(envelope: Envelope, attempt = 1, opts: { asyncAck?: 'reject' } = {}) {
  const s: Settled = { acks: 0, nacks: [], dead: [] };
  const d: InboundDelivery = {
    envelope,
    attempt,
    ack: () => {
      s.acks++;
      if (opts.asyncAck === 'reject') return Promise.reject(new Error('XACK failed'));
    },
    nack: (o) => {
      s.nacks.push(o ?? {});
    },
    deadLetter: async (reason, attempts) => {
      s.dead.push({ reason, attempts });
    },
  };
  return { d, s };
}

function counts() {
  const c = { delivered: 0, acked: 0, failed: 0, retried: 0, dead: 0, dup: 0, expired: 0 };
  const observer: ConsumerObserver = {
    delivered: () => void c.delivered++,
    acked: () => void c.acked++,
    failed: () => void c.failed++,
    retried: () => void c.retried++,
    deadLettered: () => void c.dead++,
    duplicate: () => void c.dup++,
    expired: () => void c.expired++,
  };
  return { c, observer };
}

function consumer(
  handler: (env: Envelope, ctx: HandlerContext) => unknown,
  opts: Partial<ConsumerOptions> = {},
  host: Partial<ConsumerHost> = {},
) {
  const { c, observer } = counts();
  const h: ConsumerHost = {
    logger: quiet,
    observer,
    dedup: new MemoryDedupStore(),
    dedupWindowMs: 60_000,
    dedupLeaseMs: 30_000,
    retryBackoff: { initialDelayMs: 1, maxDelayMs: 2 },
    reply: async () => {},
    inbound: undefined,
    ...host,
  };
  const con = new ReceivePipeline(h, {
    kind: 'endpoint',
    address: 'ep',
    handler,
    concurrency: 4,
    maxDeliveries: 3,
    handlerTimeoutMs: undefined,
    ...opts,
  });
  return { con, c };
}

describe('ReceivePipeline', () => {
  it('never runs more than `concurrency` handlers and never goes negative', async () => {
    let running = 0;
    let max = 0;
    const { con, c } = consumer(
      async () => {
        running++;
        max = Math.max(max, running);
        await new Promise((r) => setImmediate(r));
        running--;
      },
      { concurrency: 3 },
    );
    const all = Array.from({ length: 50 }, () => delivery(msg()));
    for (const { d } of all) con.accept(d, 'mem');
    await waitFor(() => c.acked === 50, 'all acked');
    expect(max).toBe(3);
    expect(con.inFlight).toBe(0);
    expect(all.every(({ s }) => s.acks === 1 && s.nacks.length === 0)).toBe(true);
  });

  it('ordered lanes: one key at a time, different keys in parallel', async () => {
    const gates = new Map<string, ReturnType<typeof deferred<void>>>();
    const order: string[] = [];
    const { con, c } = consumer(async (env) => {
      const p = (env as { payload: string }).payload;
      order.push(p);
      const g = deferred();
      gates.set(p, g);
      await g.promise;
    });
    for (const p of ['a1', 'a2', 'b1', 'a3', 'b2']) {
      const key = p[0]!;
      con.accept(
        delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: key, payload: p })).d,
        'mem',
      );
    }
    await waitFor(() => order.length === 2, 'heads of both lanes');
    expect(order).toEqual(['a1', 'b1']);
    gates.get('a1')?.resolve();
    await waitFor(() => order.length === 3, 'a2');
    expect(order[2]).toBe('a2');
    gates.get('b1')?.resolve();
    gates.get('a2')?.resolve();
    await waitFor(() => order.length === 5, 'rest');
    gates.get('a3')?.resolve();
    gates.get('b2')?.resolve();
    await waitFor(() => c.acked === 5, 'acks');
    expect(order.filter((p) => p.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
    expect(order.filter((p) => p.startsWith('b'))).toEqual(['b1', 'b2']);
    expect(con.inFlight).toBe(0);
  });

  it('a long lane behind a synchronous handler does not recurse (no stack overflow)', async () => {
    const head = deferred();
    let calls = 0;
    const { con, c } = consumer(
      (env) => {
        calls++;
        if ((env as { payload: number }).payload === 0) return head.promise;
        return undefined;
      },
      { concurrency: 1 },
    );
    const n = 30_000;
    for (let i = 0; i < n; i++) {
      con.accept(
        delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: 'k', payload: i })).d,
        'mem',
      );
    }
    expect(calls).toBe(1);
    head.resolve();
    await waitFor(() => c.acked === n, 'lane drained');
    expect(calls).toBe(n);
    expect(con.inFlight).toBe(0);

    // Same for the shared queue.
    const gate = deferred();
    let qcalls = 0;
    const q = consumer(
      (env) => {
        qcalls++;
        if ((env as { payload: number }).payload === 0) return gate.promise;
        return undefined;
      },
      { concurrency: 1 },
    );
    for (let i = 0; i < n; i++) q.con.accept(delivery(msg({ payload: i })).d, 'mem');
    gate.resolve();
    await waitFor(() => q.c.acked === n, 'queue drained');
    expect(qcalls).toBe(n);
  });

  it('drain releases queued deliveries and whole lanes, waits for running ones, and leaks nothing', async () => {
    const gate = deferred();
    const { con, c } = consumer(() => gate.promise, { concurrency: 2 });
    const running = [
      delivery(msg()),
      delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: 'L' })),
    ];
    const queued = [
      delivery(msg()),
      delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: 'M' })),
    ];
    const laneWaiting = [
      delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: 'L' })),
      delivery(msg({ deliveryGuarantee: 'ordered', partitionKey: 'M' })),
    ];
    for (const { d } of [...running, ...queued, ...laneWaiting]) con.accept(d, 'mem');
    expect(con.inFlight).toBe(6);
    const drained = con.drain(30_000);
    // Released, not nacked: the subscription's close hands them back, so a
    // nack cannot come straight back to this paused consumer in a loop.
    expect(con.inFlight).toBe(3);
    gate.resolve();
    await drained;
    for (const { s } of [...queued, ...laneWaiting]) {
      expect(s.nacks).toHaveLength(0);
      expect(s.acks).toBe(0);
    }
    for (const { s } of running) expect(s.acks).toBe(1);
    expect(c.acked).toBe(2);
    expect(con.inFlight).toBe(0);
    // After drain: new deliveries are left unsettled too (no handler call).
    const late = delivery(msg());
    con.accept(late.d, 'mem');
    expect(late.s.nacks).toHaveLength(0);
    expect(late.s.acks).toBe(0);
    expect(c.acked).toBe(2);
  });

  it('drain clears pending retry timers and releases those deliveries', async () => {
    const before = timerCount();
    const { con, c } = consumer(
      () => {
        throw new Error('fail');
      },
      { maxDeliveries: 10 },
      { retryBackoff: { initialDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' } },
    );
    const d = delivery(msg());
    con.accept(d.d, 'mem');
    expect(c.retried).toBe(1);
    expect(con.inFlight).toBe(1);
    expect(timerCount()).toBe(before + 1);
    await con.drain(1_000);
    expect(timerCount()).toBe(before);
    expect(d.s.nacks).toHaveLength(0); // released to the subscription's close
    expect(con.inFlight).toBe(0);
  });

  it('drain past its timeout releases hung handlers and stops their timeout timers', async () => {
    const before = timerCount();
    const hung = deferred();
    const { con, c } = consumer(() => hung.promise, { handlerTimeoutMs: 60_000 });
    const d = delivery(msg());
    con.accept(d.d, 'mem');
    expect(timerCount()).toBe(before + 1);
    await con.drain(10);
    expect(timerCount()).toBe(before);
    expect(d.s.nacks).toHaveLength(0); // released to the subscription's close
    expect(con.inFlight).toBe(0);
    hung.resolve();
    await new Promise((r) => setImmediate(r));
    expect(d.s.acks).toBe(0);
    expect(c.acked).toBe(0);
  });

  it('drain releases each hung handler once after many timed handlers came and went (retries included)', async () => {
    const before = timerCount();
    const hung = deferred();
    const { con, c } = consumer(
      (env, ctx) => {
        const p = (env as { payload: string }).payload;
        if (p === 'hang') return hung.promise;
        // The first attempt of each "retry" message fails, so its job is timed twice.
        if (p === 'retry' && ctx.attempt === 1) return Promise.reject(new Error('once'));
        return new Promise((r) => setImmediate(r));
      },
      { handlerTimeoutMs: 60_000, concurrency: 8, maxDeliveries: 2 },
    );
    const hangs = [delivery(msg({ payload: 'hang' })), delivery(msg({ payload: 'hang' }))];
    for (const h of hangs) con.accept(h.d, 'mem');
    const rest = Array.from({ length: 300 }, (_, i) =>
      delivery(msg({ payload: i % 3 === 0 ? 'retry' : 'ok' })),
    );
    for (const r of rest) con.accept(r.d, 'mem');
    await waitFor(() => c.acked === 300, 'all but the hung ones acked');
    // The two hung handlers hold their timers; every other timer was cleared.
    // (At most: a timer of an earlier test may fire meanwhile, which only lowers the count.)
    const held = timerCount();
    expect(held).toBeLessThanOrEqual(before + 2);
    await con.drain(10);
    // Drain stops both hung handlers' timers.
    expect(timerCount()).toBeLessThanOrEqual(held - 2);
    expect(timerCount()).toBeLessThanOrEqual(before);
    expect(con.inFlight).toBe(0);
    for (const h of hangs) expect(h.s.nacks).toHaveLength(0); // released to the subscription's close
    hung.resolve();
    await new Promise((r) => setImmediate(r));
    expect(c.acked).toBe(300);
    expect(c.retried).toBe(100);
  });

  it('a timed-out attempt that finishes late settles nothing twice', async () => {
    const late = deferred();
    let calls = 0;
    const { con, c } = consumer(
      () => {
        calls++;
        return late.promise;
      },
      { handlerTimeoutMs: 10, maxDeliveries: 1 },
    );
    const d = delivery(msg());
    con.accept(d.d, 'mem');
    await waitFor(() => d.s.dead.length === 1, 'dead-lettered by timeout');
    expect(d.s.dead[0]?.reason).toMatch(/timed out after 10ms/);
    expect(d.s.dead[0]?.attempts).toBe(1);
    late.resolve();
    await new Promise((r) => setTimeout(r, 5));
    expect(d.s.acks).toBe(0);
    expect(c.acked).toBe(0);
    expect(calls).toBe(1);
    expect(con.inFlight).toBe(0);
  });

  it('dead-letters after maxDeliveries counting from the transport attempt', async () => {
    const attempts: number[] = [];
    const { con } = consumer(
      (_e, ctx) => {
        attempts.push(ctx.attempt);
        throw new Error('boom');
      },
      { maxDeliveries: 4 },
    );
    const d = delivery(msg(), 2);
    con.accept(d.d, 'mem');
    await waitFor(() => d.s.dead.length === 1, 'dead letter');
    expect(attempts).toEqual([2, 3, 4]);
    expect(d.s.dead[0]).toEqual({ reason: 'boom', attempts: 4 });
  });

  it('a handler failing with a DeadLetterError is dead-lettered at once with its reason, not retried', async () => {
    const attempts: number[] = [];
    const { con, c } = consumer(
      (_e, ctx) => {
        attempts.push(ctx.attempt);
        return Promise.reject(new DeadLetterError('refused for good'));
      },
      { maxDeliveries: 4 },
    );
    const d = delivery(msg());
    con.accept(d.d, 'mem');
    await waitFor(() => c.dead === 1, 'dead letter');
    expect(attempts).toEqual([1]);
    expect(d.s.dead).toEqual([{ reason: 'refused for good', attempts: 1 }]);
    expect(c.retried).toBe(0);
    expect(d.s.nacks).toEqual([]);
  });

  it('a rejected transport ack never becomes an unhandled rejection', async () => {
    const { con, c } = consumer(() => undefined);
    const d = delivery(msg(), 1, { asyncAck: 'reject' });
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      con.accept(d.d, 'mem');
      await waitFor(() => c.acked === 1, 'acked');
      await new Promise((r) => setTimeout(r, 10));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('a failed batched ack is logged by every consumer it reaches, each to its own hub logger', async () => {
    // A transport that batches acks hands every ack of a batch one promise; a
    // consumer watches it once. Two consumers (of two hubs in one process) that
    // get the same promise must each log it: what one watched is not the other's.
    const shared = Promise.reject(new Error('XACK failed'));
    shared.catch(() => {});
    const logs: string[][] = [[], []];
    const consumers = logs.map(
      (lines) =>
        consumer(() => undefined, {}, { logger: { ...quiet, warn: (m: string) => lines.push(m) } })
          .con,
    );
    for (const con of consumers) {
      const d = delivery(msg());
      con.accept({ ...d.d, ack: () => shared }, 'mem');
    }
    await waitFor(
      () => logs.every((lines) => lines.length === 1),
      'each consumer logged the failed ack',
    );
    expect(logs.map((lines) => lines[0])).toEqual([
      expect.stringContaining('ack of'),
      expect.stringContaining('ack of'),
    ]);
  });

  it('exactly-once: a busy id is nacked with a delay, a done id is acked as a duplicate', async () => {
    const gate = deferred();
    const { con, c } = consumer(() => gate.promise);
    const m = msg({ deliveryGuarantee: 'exactly-once' });
    const first = delivery(m);
    const second = delivery({ ...m });
    con.accept(first.d, 'mem');
    con.accept(second.d, 'mem');
    expect(second.s.nacks).toHaveLength(1);
    expect(second.s.nacks[0]?.delayMs).toBeGreaterThan(0);
    gate.resolve();
    await waitFor(() => first.s.acks === 1, 'first acked');
    const third = delivery({ ...m });
    con.accept(third.d, 'mem');
    await waitFor(() => third.s.acks === 1, 'duplicate acked');
    expect(c.dup).toBe(1);
    expect(c.acked).toBe(1);
  });

  it('exactly-once: a failing async dedup store releases the delivery for later', async () => {
    const broken: DedupStore = {
      begin: () => Promise.reject(new Error('redis down')),
      commit: () => {},
      abort: () => {},
    };
    let calls = 0;
    const { con } = consumer(() => void calls++, {}, { dedup: broken });
    const d = delivery(msg({ deliveryGuarantee: 'exactly-once' }));
    con.accept(d.d, 'mem');
    await waitFor(() => d.s.nacks.length === 1, 'released');
    expect(calls).toBe(0);
    expect(con.inFlight).toBe(0);
  });

  it('drops expired deliveries and acks events/messages of the wrong kind', () => {
    const { con, c } = consumer(() => undefined);
    const expired = delivery(msg({ expiresAt: Date.now() - 1 }));
    con.accept(expired.d, 'mem');
    expect(expired.s.acks).toBe(1);
    expect(c.expired).toBe(1);
    expect(c.delivered).toBe(0);
  });

  it('priorities: the queue serves higher priority first', async () => {
    const gate = deferred();
    const order: number[] = [];
    let first = true;
    const { con, c } = consumer(
      (env) => {
        if (first) {
          first = false;
          return gate.promise;
        }
        order.push((env as { priority: number }).priority);
        return undefined;
      },
      { concurrency: 1 },
    );
    con.accept(delivery(msg()).d, 'mem');
    for (const p of [1, 3, 5, 2, 4] as const) con.accept(delivery(msg({ priority: p })).d, 'mem');
    gate.resolve();
    await waitFor(() => c.acked === 6, 'all');
    expect(order).toEqual([5, 4, 3, 2, 1]);
  });

  it('synchronous inbound middleware queues the delivery at once; a sync throw or async rejection dead-letters it', async () => {
    const seen: string[] = [];
    const { con, c } = consumer(
      (env) => {
        seen.push(env.headers['x-in'] ?? '');
      },
      {},
      {
        inbound: (env) => {
          if (env.kind === 'message' && env.payload === 'bad') throw new Error('bad signature');
          if (env.kind === 'message' && env.payload === 'late')
            return Promise.reject(new Error('late refusal'));
          return { ...env, headers: { ...env.headers, 'x-in': 'yes' } };
        },
      },
    );
    const good = delivery(msg({ payload: 'ok' }));
    con.accept(good.d, 'mem');
    // Handed to the handler inside accept(), as without middleware: no promise in between.
    expect(seen).toEqual(['yes']);
    const bad = delivery(msg({ payload: 'bad' }));
    con.accept(bad.d, 'mem');
    const late = delivery(msg({ payload: 'late' }));
    con.accept(late.d, 'mem');
    await waitFor(() => bad.s.dead.length === 1 && late.s.dead.length === 1, 'dead-lettered');
    expect(bad.s.dead[0]!.reason).toContain('bad signature');
    expect(late.s.dead[0]!.reason).toContain('late refusal');
    await waitFor(() => c.acked === 1 && c.dead === 2, 'settled');
    expect(seen).toEqual(['yes']);
    expect(con.inFlight).toBe(0);
  });
});
