/**
 * A hub that notices when a transport gets slow or starts failing: a real
 * slowdown of a transport's sends (each send waits on a timer) departs from
 * the latency baseline, and failures injected into the memory adapter's
 * sends depart from the error-rate baseline (of the adapter, or of one
 * destination). Each emits `anomaly` with the figures, marks the adapter
 * degraded in health and metrics, and recovers when the sends are good again.
 */
import {
  type AnomalyReport,
  createHub,
  type ErrorRateAnomaly,
  type Hub,
  memory,
  type UnifiedMessage,
} from '@hub/core';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, TestAdapter } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

/** Send `n` messages one after the other (each latency observed on its own). */
async function sendSerially(hub: Hub, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await hub.send(msg({ destination: 'ep' }));
}

describe('anomaly detection', () => {
  it('a slowdown emits anomaly (degraded) with the figures, shows in health and metrics, then recovers', async () => {
    const adapter = new TestAdapter({ name: 'slowable' });
    const hub = createHub({
      logger: quiet,
      adapters: [adapter],
      anomalyDetection: { warmup: 40, sustain: 5, minDeltaMs: 5 },
    });
    hubs.push(hub);
    const reports: AnomalyReport[] = [];
    hub.on('anomaly', (r) => reports.push(r));
    await hub.start();

    await sendSerially(hub, 60); // the baseline: sends at in-process speed
    expect(reports).toEqual([]);
    expect(hub.health().adapters.slowable!.degraded).toBe(false);

    adapter.delayMs = 100; // the transport slows down
    // Bounded: the departure needs `sustain` slow sends once the recent mean is past the threshold.
    for (let i = 0; i < 30 && reports.length === 0; i++) await sendSerially(hub, 1);
    expect(reports).toHaveLength(1);
    const slow = reports[0]!;
    expect(slow).toMatchObject({ adapter: 'slowable', metric: 'send-latency', state: 'degraded' });
    if (slow.metric !== 'send-latency') throw new Error('narrowing');
    expect(slow.currentMs).toBeGreaterThan(slow.thresholdMs);
    expect(slow.baselineMs).toBeLessThan(5);
    const health = hub.health();
    expect(health.adapters.slowable!.degraded).toBe(true);
    expect(health.hubStatus).toBe('degraded');
    expect(hub.metrics().adapters.slowable!.degraded).toBe(true);
    expect(hub.prometheus()).toContain('hub_adapter_degraded{adapter="slowable"} 1');

    adapter.delayMs = 0; // back to normal
    for (let i = 0; i < 60 && reports.length < 2; i++) await sendSerially(hub, 1);
    expect(reports).toHaveLength(2);
    expect(reports[1]).toMatchObject({ adapter: 'slowable', state: 'recovered' });
    expect(hub.health().adapters.slowable!.degraded).toBe(false);
    expect(hub.health().hubStatus).toBe('healthy');
    expect(hub.prometheus()).toContain('hub_adapter_degraded{adapter="slowable"} 0');
  });

  it('steady latency (jitter within the band) raises nothing; anomalyDetection: false turns it off', async () => {
    const adapter = new TestAdapter({ name: 'steady' });
    const hub = createHub({ logger: quiet, adapters: [adapter], anomalyDetection: { warmup: 20 } });
    hubs.push(hub);
    const reports: AnomalyReport[] = [];
    hub.on('anomaly', (r) => reports.push(r));
    await hub.start();
    adapter.delayMs = 2;
    await sendSerially(hub, 60);
    expect(reports).toEqual([]);

    const off = new TestAdapter({ name: 'off' });
    const quietHub = createHub({ logger: quiet, adapters: [off], anomalyDetection: false });
    hubs.push(quietHub);
    const none: AnomalyReport[] = [];
    quietHub.on('anomaly', (r) => none.push(r));
    await quietHub.start();
    await sendSerially(quietHub, 60);
    off.delayMs = 40;
    await sendSerially(quietHub, 10);
    expect(none).toEqual([]);
    expect(quietHub.health().adapters.off!.degraded).toBe(false);
  });

  it('failing sends depart from the error-rate baseline: anomaly with the figures, degraded in health and metrics, then recovery', async () => {
    let failing = false;
    let attempt = 0;
    const adapter = memory({
      // every other attempt fails while `failing`: a 50 % error rate, deterministic
      faults: { failSend: () => failing && attempt++ % 2 === 0 },
    });
    const hub = createHub({
      logger: quiet,
      adapters: [adapter],
      sendRetry: { maxAttempts: 1 },
      // the breaker would open at 50 %; this test watches the baseline alone
      circuitBreaker: { failureRateThreshold: 1, consecutiveFailures: 1_000 },
      // latency is not under test: an event-loop stall on a loaded machine must not count
      anomalyDetection: { warmup: 30, sustain: 5, minDeltaMs: 10_000 },
    });
    hubs.push(hub);
    const reports: AnomalyReport[] = [];
    hub.on('anomaly', (r) => reports.push(r));
    await hub.onMessage('ep', () => {});
    await hub.start();
    const send = async (n: number, destination = 'ep') => {
      let failed = 0;
      for (let i = 0; i < n; i++) {
        await hub.send(msg({ destination })).catch(() => failed++);
      }
      return failed;
    };

    expect(await send(40)).toBe(0); // the baseline: no failures
    expect(reports).toEqual([]);

    failing = true;
    expect(await send(20)).toBe(10);
    const errors = reports.filter((r): r is ErrorRateAnomaly => r.metric === 'error-rate');
    expect(errors).toHaveLength(1);
    const bad = errors[0]!;
    expect(bad).toMatchObject({ adapter: 'memory', state: 'degraded' });
    expect(bad.destination).toBeUndefined(); // the adapter as a whole, not one destination per event
    expect(bad.baselineRate).toBeLessThan(0.1); // learned while the first failures were within the margin
    expect(bad.currentRate).toBeGreaterThan(bad.thresholdRate);
    expect(bad.thresholdRate).toBeCloseTo(bad.baselineRate + 0.2);
    const health = hub.health();
    expect(health.adapters.memory!.degraded).toBe(true);
    expect(health.adapters.memory!.anomalies).toEqual([{ metric: 'error-rate' }]);
    expect(health.hubStatus).toBe('degraded');
    expect(hub.metrics().adapters.memory!.errorRate).toBeGreaterThan(0.2);
    const text = parsePrometheus(hub.prometheus());
    const gauge = (name: string, labels: Record<string, string>) =>
      text
        .find((f) => f.name === name)
        ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value;
    expect(gauge('hub_adapter_degraded', { adapter: 'memory' })).toBe('1');
    expect(gauge('hub_adapter_anomaly', { adapter: 'memory', metric: 'error-rate' })).toBe('1');
    expect(gauge('hub_adapter_anomaly', { adapter: 'memory', metric: 'send-latency' })).toBe('0');
    expect(Number(gauge('hub_adapter_error_rate', { adapter: 'memory' }))).toBeGreaterThan(0.2);

    failing = false;
    await send(30);
    expect(reports.filter((r) => r.metric === 'error-rate').map((r) => r.state)).toEqual([
      'degraded',
      'recovered',
    ]);
    expect(reports.every((r) => r.destination === undefined)).toBe(true);
    expect(hub.health().adapters.memory!.degraded).toBe(false);
    expect(hub.health().hubStatus).toBe('healthy');
    expect(hub.prometheus()).toContain('hub_adapter_degraded{adapter="memory"} 0');
  });

  it('one failing destination departs from its own baseline while the adapter as a whole stays within its own', async () => {
    let failing = false;
    const adapter = memory({
      faults: {
        failSend: (env) => failing && (env as UnifiedMessage).destination === 'orders',
      },
    });
    const hub = createHub({
      logger: quiet,
      adapters: [adapter],
      sendRetry: { maxAttempts: 1 },
      circuitBreaker: { failureRateThreshold: 1, consecutiveFailures: 1_000 },
      // latency is not under test: an event-loop stall on a loaded machine must not count
      anomalyDetection: { warmup: 30, sustain: 5, minDeltaMs: 10_000 },
    });
    hubs.push(hub);
    const reports: AnomalyReport[] = [];
    hub.on('anomaly', (r) => reports.push(r));
    await hub.onMessage('orders', () => {});
    await hub.onMessage('users', () => {});
    await hub.start();
    // Nine sends to `users` for one to `orders`: a failing `orders` is a
    // tenth of the adapter's attempts, within the adapter's margin.
    const round = async () => {
      for (let i = 0; i < 9; i++) await hub.send(msg({ destination: 'users' }));
      await hub.send(msg({ destination: 'orders' })).catch(() => {});
    };
    for (let r = 0; r < 40; r++) await round();
    expect(reports).toEqual([]);

    failing = true;
    for (let r = 0; r < 10 && reports.length === 0; r++) await round();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({
      adapter: 'memory',
      destination: 'orders',
      metric: 'error-rate',
      state: 'degraded',
    });
    const health = hub.health().adapters.memory!;
    expect(health.degraded).toBe(true);
    expect(health.anomalies).toEqual([{ metric: 'error-rate', destination: 'orders' }]);
    expect(hub.prometheus()).toContain(
      'hub_destination_degraded{adapter="memory",destination="orders",metric="error-rate"} 1',
    );

    failing = false;
    for (let r = 0; r < 30 && reports.length < 2; r++) await round();
    expect(reports.map((r) => [r.destination, r.state])).toEqual([
      ['orders', 'degraded'],
      ['orders', 'recovered'],
    ]);
    expect(hub.health().adapters.memory!.degraded).toBe(false);
    expect(hub.prometheus()).not.toContain('hub_destination_degraded{');
  });

  it('bad options are refused naming the field', () => {
    expect(() => createHub({ anomalyDetection: { factor: 0 } })).toThrow(
      /anomalyDetection\.factor/,
    );
    expect(() => createHub({ anomalyDetection: { facter: 2 } as never })).toThrow(/factor/);
    expect(() => createHub({ anomalyDetection: { minErrorRate: 1.5 } })).toThrow(
      /anomalyDetection\.minErrorRate/,
    );
  });
});
