import { createEvent, createHub, type Hub, memory } from '@hub/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parsePrometheus } from '../metrics/prom-parser.js';
import { msg, quiet, TestAdapter, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}

describe('metrics', () => {
  it('counts totals, per adapter and per type, with latency snapshots and rates', async () => {
    const hub = hubWith({ retry: { initialDelayMs: 1 }, maxDeliveries: 2 });
    await hub.onMessage('m', (m) => {
      if (m.payload === 'bad') throw new Error('no');
    });
    await hub.subscribe('t.*', () => {});
    for (let i = 0; i < 10; i++) await hub.send(msg({ destination: 'm', type: 'task_assignment' }));
    await hub.send(msg({ destination: 'm', type: 'query', payload: 'bad' }));
    await hub.publish(createEvent({ source: 's', topic: 't.x', type: 'created', data: 1 }));
    await waitFor(
      () => hub.metrics().totals.deadLettered === 1 && hub.metrics().totals.acked === 11,
      'traffic',
    );

    const m = hub.metrics();
    expect(m.hub).toBe('hub');
    expect(m.totals).toMatchObject({
      sent: 12,
      delivered: 12,
      acked: 11,
      failed: 2,
      redelivered: 1,
      deadLettered: 1,
      sendFailed: 0,
      rejected: 0,
    });
    expect(m.adapters.memory).toMatchObject({
      sent: 12,
      failed: 0,
      circuit: 'closed',
      healthy: true,
    });
    expect(m.adapters.memory?.latency.count).toBe(12);
    expect(m.messageTypes.task_assignment).toMatchObject({
      sent: 10,
      delivered: 10,
      acked: 10,
      failed: 0,
    });
    // Handler time is sampled: the 1st, 9th, 17th… job of a consumer are timed.
    expect(m.messageTypes.task_assignment?.handler.count).toBe(2);
    expect(m.messageTypes.query).toMatchObject({ sent: 1, failed: 2, deadLettered: 1 });
    expect(m.messageTypes['event:created']).toMatchObject({ sent: 1, delivered: 1, acked: 1 });
    expect(m.messagesPerSecond).toBeGreaterThan(0);
    expect(m.deliveriesPerSecond).toBeGreaterThan(0);
    expect(m.routingLatency.count).toBeGreaterThan(0);
    expect(m.activeConnections).toBe(1);
    expect(m.consumers).toBe(2);
    expect(m.inFlight).toBe(0);
  });

  it('reports an adapter with no sends with an empty latency snapshot', async () => {
    const hub = hubWith({ adapters: [memory({ name: 'a' }), memory({ name: 'b' })] });
    await hub.send(msg());
    const m = hub.metrics();
    expect(m.adapters.a?.latency.count).toBe(1);
    expect(m.adapters.b?.latency).toMatchObject({ count: 0, p99: 0 });
  });

  it('prometheus() text parses with a strict parser', async () => {
    const hub = hubWith({ adapters: [memory({ name: 'mem"ory' }), memory({ name: 'b' })] });
    await hub.onMessage('p', () => {});
    for (let i = 0; i < 5; i++) await hub.send(msg({ destination: 'p' }));
    await waitFor(() => hub.metrics().totals.acked === 5, 'acks');
    const families = parsePrometheus(hub.prometheus());
    expect(families.get('hub_sent_total')?.samples[0]?.value).toBe(5);
    expect(families.get('hub_circuit_open')?.type).toBe('gauge');
    expect(
      families
        .get('hub_circuit_open')
        ?.samples.map((s) => s.labels.adapter)
        .sort(),
    ).toEqual(['b', 'mem"ory']);
    expect(families.get('hub_messages_sent_total')?.type).toBe('counter');
    expect(families.get('hub_send_latency_seconds')?.type).toBe('summary');
    const custom = parsePrometheus(hub.prometheus('myapp_'));
    expect(custom.has('myapp_sent_total')).toBe(true);
  });

  it('getDetailedMetrics() is metrics()', async () => {
    const hub = hubWith({});
    const spy = vi.spyOn(hub, 'metrics');
    await hub.send(msg());
    const detailed = await hub.getDetailedMetrics();
    expect(spy).toHaveBeenCalledTimes(1);
    expect(detailed.totals.sent).toBe(1);
  });

  it('enableMetrics: false keeps totals but no series', async () => {
    const hub = hubWith({ enableMetrics: false });
    await hub.send(msg());
    const m = hub.metrics();
    expect(m.totals.sent).toBe(1);
    expect(m.messageTypes).toEqual({});
  });
});

describe('health', () => {
  it('is stopped before start and after close, healthy while running', async () => {
    const hub = hubWith({});
    expect(hub.health().hubStatus).toBe('stopped');
    await hub.start();
    const h = hub.health();
    expect(h.hubStatus).toBe('healthy');
    expect(h.state).toBe('running');
    expect(h.adapters.memory).toMatchObject({ healthy: true, circuit: 'closed', state: 'ready' });
    expect(h.performance.errorRate).toBe(0);
    await hub.close();
    expect(hub.health().hubStatus).toBe('stopped');
  });

  it('degraded with one adapter down, unhealthy with all down, back to healthy after', async () => {
    const a = memory({ name: 'a' });
    const b = memory({ name: 'b' });
    const hub = hubWith({ adapters: [a, b] });
    await hub.start();
    const changes: Array<[string, boolean]> = [];
    hub.on('health', (name, ok) => changes.push([name, ok]));
    a.disconnect();
    expect(hub.health().hubStatus).toBe('degraded');
    expect(hub.health().adapters.a?.healthy).toBe(false);
    b.disconnect();
    expect((await hub.getHealthStatus()).hubStatus).toBe('unhealthy');
    expect(changes).toEqual([
      ['a', false],
      ['b', false],
    ]);
    a.reconnect();
    b.reconnect();
    expect((await hub.getHealthStatus()).hubStatus).toBe('healthy');
    expect(hub.metrics().activeConnections).toBe(2);
  });

  it('the interval health check notices an adapter going down on its own', async () => {
    const t = new TestAdapter({ name: 't' });
    const hub = hubWith({ adapters: [t, memory()], healthCheckInterval: 0.02 });
    await hub.start();
    const changes: Array<[string, boolean]> = [];
    hub.on('health', (name, ok) => changes.push([name, ok]));
    t.silentHealth = false;
    await waitFor(() => changes.length === 1, 'health event from the interval check');
    expect(changes).toEqual([['t', false]]);
    expect(hub.metrics().adapters.t?.healthy).toBe(false);
  });

  it('an adapter state change updates routing at once, without waiting for the interval', async () => {
    const a = memory({ name: 'a' });
    const b = memory({ name: 'b' });
    const hub = hubWith({ adapters: [a, b], defaultRoutingStrategy: 'failover' });
    await hub.start();
    expect((await hub.send(msg())).adapter).toBe('a');
    a.disconnect();
    expect((await hub.send(msg())).adapter).toBe('b');
    expect(hub.metrics().adapters.a?.failed).toBe(0);
    a.reconnect();
    expect((await hub.send(msg())).adapter).toBe('a');
  });

  it('errorRate reflects failed sends', async () => {
    const a = memory({ faults: { failSend: 1 } });
    const hub = hubWith({ adapters: [a], sendRetry: { maxAttempts: 1 } });
    await hub.send(msg()).catch(() => {});
    a.clearFaults();
    await hub.send(msg());
    expect(hub.health().performance.errorRate).toBeCloseTo(0.5);
  });
});
