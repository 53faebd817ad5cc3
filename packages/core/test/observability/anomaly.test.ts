/**
 * A hub that notices when a transport gets slow: a real slowdown of a
 * transport's sends (each send waits on a timer) departs from the latency
 * baseline, emits `anomaly` with the figures, marks the adapter degraded in
 * health and metrics, and recovers when the sends are fast again.
 */
import { type AnomalyReport, createHub, type Hub } from '@hub/core';
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

    adapter.delayMs = 40; // the transport slows down
    await sendSerially(hub, 12);
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
    await sendSerially(hub, 30);
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

  it('bad options are refused naming the field', () => {
    expect(() => createHub({ anomalyDetection: { factor: 0 } })).toThrow(
      /anomalyDetection\.factor/,
    );
    expect(() => createHub({ anomalyDetection: { facter: 2 } as never })).toThrow(/factor/);
  });
});
