import { ErrorCode, type HubError, type UnifiedMessage } from '@hub/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { InboundDelivery } from '../../src/adapter/contract.js';
import { AdapterError } from '../../src/adapter/errors.js';
import { createMemoryBroker, type MemoryAdapter, memory } from '../../src/adapters/memory.js';
import {
  closeAll,
  collect,
  context,
  msg,
  mulberry32,
  open,
  settleTurns,
  waitFor,
} from './memory-helpers.js';

const opened: MemoryAdapter[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await closeAll(opened);
});

const ids = (ds: InboundDelivery[]): string[] => ds.map((d) => d.envelope.id);

describe('memory adapter: fault injection', () => {
  it('failSend (probability, seeded): rejects with a retryable AdapterError and enqueues nothing', async () => {
    const { adapter } = await open({ faults: { failSend: 0.5, random: mulberry32(1) } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'f' });
    const accepted: string[] = [];
    let failed = 0;
    for (let i = 0; i < 200; i++) {
      const m = msg('f', i);
      try {
        await adapter.send(m);
        accepted.push(m.id);
      } catch (err) {
        failed++;
        expect(err).toBeInstanceOf(AdapterError);
        expect(err).toMatchObject({ retryable: true, code: ErrorCode.ADAPTER_FAILED });
        expect((err as Error).message).toMatch(/\[hub:memory\].*"f".*injected/);
      }
    }
    expect(failed).toBeGreaterThan(50);
    expect(failed).toBeLessThan(150);
    await waitFor(() => c.got.length === accepted.length, 'accepted deliveries');
    await settleTurns();
    expect(ids(c.got)).toEqual(accepted);
    expect(adapter.health().detail).toMatchObject({ sendFailures: failed, sent: accepted.length });
  });

  it('failSend (predicate) and setFaults at runtime', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'p' });
    adapter.setFaults({ failSend: (e) => e.kind === 'message' && e.payload === 'bad' });
    await expect(adapter.send(msg('p', 'bad'))).rejects.toBeInstanceOf(AdapterError);
    await adapter.send(msg('p', 'good'));
    adapter.setFaults({ failSend: undefined });
    await adapter.send(msg('p', 'bad'));
    await waitFor(() => c.got.length === 2, 'two');
    expect(c.payloads()).toEqual(['good', 'bad']);
  });

  it('drop: accepted but silently lost, counted; the same seed drops the same messages', async () => {
    const run = async (): Promise<{ delivered: unknown[]; dropped: unknown }> => {
      const { adapter } = await open({ faults: { drop: 0.3, random: mulberry32(99) } }, opened);
      const c = await collect(adapter, { kind: 'endpoint', address: 'd' });
      for (let i = 0; i < 300; i++) await expect(adapter.send(msg('d', i))).resolves.toBeDefined();
      const dropped = adapter.health().detail?.droppedByFault as number;
      await waitFor(() => c.got.length === 300 - dropped, 'survivors');
      await settleTurns();
      return { delivered: c.payloads(), dropped };
    };
    const one = await run();
    const two = await run();
    expect(one.dropped).toBeGreaterThan(40);
    expect(one.dropped).toBeLessThan(140);
    expect(one.delivered.length).toBe(300 - (one.dropped as number));
    expect(two).toEqual(one);
  });

  it('duplicate: delivered twice as two independent deliveries, both must be settled', async () => {
    const { adapter } = await open({ faults: { duplicate: 1 } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'dup' }, () => {});
    const m = msg('dup', 'x');
    await adapter.send(m);
    await waitFor(() => c.got.length === 2, 'two copies');
    expect(ids(c.got)).toEqual([m.id, m.id]);
    expect(c.got[0]).not.toBe(c.got[1]);
    c.got[0]?.ack();
    expect(adapter.health().detail?.inflight).toBe(1);
    c.got[1]?.ack();
    expect(adapter.health().detail?.inflight).toBe(0);
  });

  it('duplicate with a probability is seeded', async () => {
    const { adapter } = await open({ faults: { duplicate: 0.25, random: mulberry32(5) } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'dp' });
    for (let i = 0; i < 200; i++) await adapter.send(msg('dp', i));
    await waitFor(() => c.got.length >= 200, 'at least all');
    await settleTurns();
    const extra = c.got.length - 200;
    expect(extra).toBeGreaterThan(20);
    expect(extra).toBeLessThan(90);
    expect(new Set(c.payloads()).size).toBe(200);
  });

  it('delayMs (fixed): deliveries arrive no sooner than the delay', async () => {
    const { adapter } = await open({ faults: { delayMs: 60 } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'dl' });
    const t0 = performance.now();
    await adapter.send(msg('dl', 1));
    await settleTurns();
    expect(c.got.length).toBe(0);
    expect(adapter.health().detail?.inflight).toBe(1);
    await waitFor(() => c.got.length === 1, 'delayed delivery');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(55);
  });

  it('delayMs [min, max] spreads deliveries but loses nothing; ordered lanes still hold', async () => {
    const { adapter } = await open({ faults: { delayMs: [0, 20], random: mulberry32(3) } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'dr', prefetch: 50 });
    for (let i = 0; i < 100; i++)
      await adapter.send(msg('dr', i, { guarantee: 'ordered', partitionKey: `k${i % 4}` }));
    await waitFor(() => c.got.length === 100, 'all');
    for (let k = 0; k < 4; k++) {
      const seq = (c.payloads() as number[]).filter((p) => p % 4 === k);
      expect(seq).toEqual([...seq].sort((a, b) => a - b));
    }
  });

  it('reorder: each drained batch is shuffled (same set, different order), seeded', async () => {
    const { adapter } = await open({ faults: { reorder: true, random: mulberry32(11) } }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'ro', prefetch: 1000 });
    const sent = Array.from({ length: 200 }, (_, i) => i);
    await Promise.all(sent.map((i) => adapter.send(msg('ro', i))));
    await waitFor(() => c.got.length === 200, 'all');
    const got = c.payloads() as number[];
    expect(got).not.toEqual(sent);
    expect([...got].sort((a, b) => a - b)).toEqual(sent);
    adapter.setFaults({ reorder: false });
    await Promise.all([300, 301, 302].map((i) => adapter.send(msg('ro', i))));
    await waitFor(() => c.got.length === 203, 'in order again');
    expect(c.payloads().slice(200)).toEqual([300, 301, 302]);
  });

  it('disconnect / reconnect: unhealthy and degraded, sends reject retryably, delivery pauses then resumes', async () => {
    const { adapter, ctx } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'dc' });
    expect(adapter.health()).toMatchObject({ state: 'ready', healthy: true });
    // accepted, then the link drops before the drain delivers it
    const before = adapter.send(msg('dc', 'queued-before'));
    adapter.disconnect();
    await before;
    expect(adapter.health()).toMatchObject({ state: 'degraded', healthy: false });
    expect(adapter.health().lastError).toMatch(/connection lost/);
    expect(ctx.errors.some((e) => (e as HubError).code === ErrorCode.CONNECTION_FAILED)).toBe(true);
    const err = await adapter.send(msg('dc', 'x')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AdapterError);
    expect(err).toMatchObject({ code: ErrorCode.CONNECTION_FAILED, retryable: true });
    await settleTurns();
    expect(c.got.length).toBe(0);
    adapter.reconnect();
    expect(adapter.health()).toMatchObject({ state: 'ready', healthy: true });
    await adapter.send(msg('dc', 'after'));
    await waitFor(() => c.got.length === 2, 'resumed');
    expect(c.payloads()).toEqual(['queued-before', 'after']);
  });

  it('a disconnected hub does not stop another hub on the same broker', async () => {
    const broker = createMemoryBroker();
    const { adapter: a } = await open({ broker }, opened);
    const { adapter: b } = await open({ broker }, opened);
    const ca = await collect(a, { kind: 'endpoint', address: 'shared' });
    const cb = await collect(b, { kind: 'endpoint', address: 'shared' });
    a.disconnect();
    for (let i = 0; i < 10; i++) await b.send(msg('shared', i));
    await waitFor(() => cb.got.length === 10, 'all to the connected hub');
    expect(ca.got.length).toBe(0);
  });
});

describe('memory adapter: lifecycle', () => {
  it('close is idempotent, rejects later sends and subscribes with HUB_CLOSED, and leaves no timers', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const adapter = memory({ faults: { delayMs: 60_000 } });
    await adapter.connect(context());
    const held = await collect(adapter, { kind: 'endpoint', address: 'lc' }, () => {});
    const nacker = await collect(adapter, { kind: 'endpoint', address: 'lc2' }, (d) =>
      d.nack({ delayMs: 60_000 }),
    );
    await adapter.send(msg('lc', 1)); // delivery held by the delay fault
    adapter.setFaults({ delayMs: undefined });
    await adapter.send(msg('lc2', 1)); // delivered, then nacked with a long delay
    await vi.waitFor(() => expect(nacker.got.length).toBe(1));
    expect(vi.getTimerCount()).toBe(2);
    const first = adapter.close();
    const second = adapter.close();
    expect(second).toBe(first);
    await first;
    await adapter.close();
    expect(vi.getTimerCount()).toBe(0);
    expect(adapter.health()).toMatchObject({ state: 'closed', healthy: false });
    await expect(adapter.send(msg('lc', 2))).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    await expect(
      adapter.subscribe({
        kind: 'endpoint',
        address: 'lc',
        prefetch: 1,
        maxDeliveries: 1,
        deliver: () => {},
        reject: () => {},
      }),
    ).rejects.toMatchObject({ code: ErrorCode.CLOSED });
    expect(held.got.length).toBe(0);
    await held.sub.close();
    await expect(adapter[Symbol.asyncDispose]()).resolves.toBeUndefined();
  });

  it('settles after close are ignored, and nothing is delivered after close', async () => {
    const adapter = memory();
    await adapter.connect(context());
    const c = await collect(adapter, { kind: 'endpoint', address: 'sac', prefetch: 1 }, () => {});
    await adapter.send(msg('sac', 1));
    await adapter.send(msg('sac', 2));
    await waitFor(() => c.got.length === 1, 'first');
    await adapter.close();
    const d = c.got[0] as InboundDelivery;
    expect(() => d.ack()).not.toThrow();
    expect(() => d.nack({ delayMs: 5 })).not.toThrow();
    await expect(d.deadLetter('late')).resolves.toBeUndefined();
    await settleTurns();
    expect(c.got.length).toBe(1);
    expect(adapter.health().detail).toMatchObject({ queued: 0, inflight: 0, groups: 0 });
  });

  it('closing one hub of a shared broker hands its unsettled and delayed messages to the other', async () => {
    const broker = createMemoryBroker();
    const { adapter: a } = await open({ broker }, opened);
    const { adapter: b } = await open({ broker }, opened);
    const ca = await collect(a, { kind: 'endpoint', address: 'h', prefetch: 2 }, (d) => {
      if ((d.envelope as UnifiedMessage).payload === 'nacked') d.nack({ delayMs: 60_000 });
    });
    await a.send(msg('h', 'held'));
    await a.send(msg('h', 'nacked'));
    await waitFor(() => ca.got.length === 2, 'both at a');
    const cb = await collect(b, { kind: 'endpoint', address: 'h' });
    await a.close();
    await waitFor(() => cb.got.length === 2, 'both moved to b');
    expect(cb.payloads().sort()).toEqual(['held', 'nacked']);
    expect(cb.got.map((d) => d.attempt)).toEqual([2, 2]);
    // The shared broker keeps working for b.
    await b.send(msg('h', 'more'));
    await waitFor(() => cb.got.length === 3, 'more');
    expect(broker.inspect()).toMatchObject({ endpoints: { h: { h: { consumers: 1 } } } });
  });
});
