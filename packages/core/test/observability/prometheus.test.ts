/**
 * The hub's collectors on a real prom-client registry: read at scrape time,
 * Prometheus names and types, bounded labels, and (I3) the text of both the
 * registry and `hub.prometheus()` parsed by an independent parser.
 */
import {
  createHub,
  createMessage,
  ErrorCode,
  type Hub,
  memory,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import parsePrometheus from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { TestAdapter, waitFor } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

const msg = (destination: string, type = 'command'): UnifiedMessage =>
  createMessage({ source: 'test', destination, payload: { n: 1 }, messageType: type as never });

type Families = ReturnType<typeof parsePrometheus>;
const family = (all: Families, name: string) => {
  const f = all.find((x) => x.name === name);
  expect(f, name).toBeDefined();
  return f!;
};
const sample = (all: Families, name: string, labels: Record<string, string> = {}) => {
  const f = family(all, name);
  const m = f.metrics.find((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v));
  expect(m, `${name} ${JSON.stringify(labels)}`).toBeDefined();
  return m!;
};

describe('prom-client collectors', () => {
  it('counters, gauges and histograms read the hub at scrape time; the text parses (I3)', async () => {
    const hub = createHub({ logger: silentLogger, adapters: [memory()], maxDeliveries: 1 });
    hubs.push(hub);
    const registry = new Registry();
    hub.registerPrometheus(registry);
    let calls = 0;
    await hub.onMessage('worker', () => {
      calls++;
      if (calls === 3) throw new Error('third fails');
    });
    await hub.start();

    const before = parsePrometheus(await registry.metrics());
    expect(sample(before, 'hub_messages_sent_total').value).toBe('0');

    for (let i = 0; i < 5; i++) await hub.send(msg('worker', 'command'));
    await waitFor(
      () => hub.metrics().totals.acked + hub.metrics().totals.deadLettered === 5,
      'settled',
    );
    await expect(
      hub.send({ ...msg('worker'), destination: '' } as UnifiedMessage),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE,
    });

    const text = await registry.metrics();
    const all = parsePrometheus(text);
    expect(family(all, 'hub_messages_sent_total').type).toBe('COUNTER');
    expect(sample(all, 'hub_messages_sent_total').value).toBe('5');
    expect(sample(all, 'hub_messages_acked_total').value).toBe('4');
    expect(sample(all, 'hub_messages_dead_lettered_total').value).toBe('1');
    expect(sample(all, 'hub_messages_refused_total').value).toBe('1');
    expect(sample(all, 'hub_adapter_sent_total', { adapter: 'memory' }).value).toBe('5');
    expect(sample(all, 'hub_type_sent_total', { type: 'command' }).value).toBe('5');
    expect(sample(all, 'hub_circuit_state', { adapter: 'memory', state: 'closed' }).value).toBe(
      '1',
    );
    expect(sample(all, 'hub_circuit_state', { adapter: 'memory', state: 'open' }).value).toBe('0');
    expect(sample(all, 'hub_adapter_healthy', { adapter: 'memory' }).value).toBe('1');

    const send = family(all, 'hub_send_duration_seconds');
    expect(send.type).toBe('HISTOGRAM');
    // (this parser keeps only the buckets of a histogram sample)
    const h = send.metrics[0] as unknown as { buckets: Record<string, string> };
    // (object keys: integer-like bounds come first, so order by the bound)
    const entries = Object.entries(h.buckets).sort(([a], [b]) => Number(a) - Number(b));
    expect(entries.at(-1)![0]).toBe('+Inf');
    expect(entries).toHaveLength(19);
    const counts = entries.map(([, v]) => Number(v));
    for (let i = 1; i < counts.length; i++)
      expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(counts.at(-1)).toBe(5);
    expect(text).toContain('hub_send_duration_seconds_count{adapter="memory"} 5');

    // Every counter ends in _total, every duration is in seconds.
    for (const f of all) {
      if (f.type === 'COUNTER') expect(f.name).toMatch(/_total$/);
      if (f.type === 'HISTOGRAM') expect(f.name).toMatch(/_seconds$/);
    }
    // The hub's own text keeps working and parses too.
    expect(() => parsePrometheus(hub.prometheus())).not.toThrow();
    expect(sample(parsePrometheus(hub.prometheus()), 'hub_sent_total').value).toBe('5');
  });

  it('queue depths: sends in flight, adapter backlog and held deliveries, the same in both expositions (I3)', async () => {
    const hub = createHub({ logger: silentLogger, adapters: [memory()] });
    hubs.push(hub);
    const registry = new Registry();
    hub.registerPrometheus(registry);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    // Four handlers at once; the other deliveries wait in the consumer or the broker.
    await hub.onMessage(
      'worker',
      async () => {
        started++;
        await gate;
      },
      { concurrency: 4, prefetch: 6 },
    );
    await hub.start();
    for (let i = 0; i < 10; i++) await hub.send(msg('worker'));
    await waitFor(() => started === 4, 'four handlers running');

    const fromText = parsePrometheus(hub.prometheus());
    const fromRegistry = parsePrometheus(await registry.metrics());
    for (const all of [fromText, fromRegistry]) {
      // Held by the consumer: its prefetch (4 running, 2 queued); the rest the broker keeps.
      expect(
        sample(all, 'hub_deliveries_pending', { kind: 'endpoint', address: 'worker' }).value,
      ).toBe('6');
      // Everything not acked yet is the adapter's backlog: 6 unacked and 4 queued.
      expect(sample(all, 'hub_adapter_backlog', { adapter: 'memory' }).value).toBe('10');
      expect(sample(all, 'hub_adapter_sends_in_flight', { adapter: 'memory' }).value).toBe('0');
      expect(sample(all, 'hub_sends_in_flight').value).toBe('0');
      expect(sample(all, 'hub_adapter_error_rate', { adapter: 'memory' }).value).toBe('0');
      for (const metric of ['send-latency', 'error-rate']) {
        expect(sample(all, 'hub_adapter_anomaly', { adapter: 'memory', metric }).value).toBe('0');
      }
      for (const name of [
        'hub_deliveries_pending',
        'hub_adapter_backlog',
        'hub_adapter_sends_in_flight',
        'hub_adapter_error_rate',
        'hub_adapter_anomaly',
        'hub_adapter_degraded',
        'hub_destination_degraded',
      ]) {
        expect(family(all, name).type).toBe('GAUGE');
      }
    }
    expect(hub.metrics().pendingDeliveries).toBe(6);
    expect(hub.metrics().adapters.memory).toMatchObject({ backlog: 10, inFlight: 0 });

    release();
    await waitFor(() => hub.metrics().totals.acked === 10, 'all acked');
    const drained = parsePrometheus(hub.prometheus());
    expect(sample(drained, 'hub_deliveries_pending', { address: 'worker' }).value).toBe('0');
    expect(sample(drained, 'hub_adapter_backlog', { adapter: 'memory' }).value).toBe('0');
  });

  it('sends a slow transport has not settled show per adapter, and settle back to 0', async () => {
    const slow = new TestAdapter({ name: 'slow' });
    slow.delayMs = 200;
    const hub = createHub({ logger: silentLogger, adapters: [slow] });
    hubs.push(hub);
    await hub.start();
    const sends = Promise.all([1, 2, 3].map(() => hub.send(msg('worker'))));
    const inFlight = () =>
      sample(parsePrometheus(hub.prometheus()), 'hub_adapter_sends_in_flight', {
        adapter: 'slow',
      }).value;
    expect(inFlight()).toBe('3');
    expect(hub.metrics().adapters.slow!.inFlight).toBe(3);
    await sends;
    expect(inFlight()).toBe('0');
    // An adapter without backlog() reports none: no series rather than a made-up 0.
    expect(family(parsePrometheus(hub.prometheus()), 'hub_adapter_backlog').metrics).toEqual([]);
  });

  it('labels stay bounded: more than 500 message types share the `other` series', async () => {
    const hub = createHub({ logger: silentLogger, adapters: [memory()] });
    hubs.push(hub);
    const registry = new Registry();
    hub.registerPrometheus(registry);
    await hub.onMessage('worker', () => {});
    await hub.start();
    for (let i = 0; i < 520; i++) await hub.send(msg('worker', `type_${i}`));
    const all = parsePrometheus(await registry.metrics());
    const types = family(all, 'hub_type_sent_total').metrics.map((m) => m.labels?.type);
    expect(types.length).toBeLessThanOrEqual(501);
    expect(types).toContain('other');
  });

  it('two hubs share a registry with different prefixes; the returned function removes the collectors', async () => {
    const a = createHub({ logger: silentLogger, adapters: [memory()] });
    const b = createHub({ logger: silentLogger, adapters: [memory()] });
    hubs.push(a, b);
    const registry = new Registry();
    const offA = a.registerPrometheus(registry);
    expect(() => b.registerPrometheus(registry)).toThrow(/already been registered/);
    b.registerPrometheus(registry, { prefix: 'hub_b_' });
    expect(await registry.metrics()).toContain('hub_b_messages_sent_total');
    offA();
    const text = await registry.metrics();
    expect(text).not.toMatch(/^hub_messages_sent_total/m);
    expect(text).toContain('hub_b_messages_sent_total');
  });

  it('bad arguments are a typed error naming the argument', () => {
    const hub = createHub({ logger: silentLogger, adapters: [memory()] });
    hubs.push(hub);
    expect(() => hub.registerPrometheus({} as never)).toThrow(/registry/);
    expect(() => hub.registerPrometheus(new Registry(), { prefix: '1bad' })).toThrow(/prefix/);
    expect(() => hub.registerPrometheus(new Registry(), { prefx: 'x' } as never)).toThrow(/prefix/);
  });
});
