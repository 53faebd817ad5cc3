/**
 * A hub notices a slow Redis: a delaying TCP proxy in front of a real
 * redis-server slows every send; the hub emits `anomaly` (degraded), reports
 * the adapter degraded in health, and recovers once the link is fast again.
 */
import {
  type RedisServer,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
} from '@hub/adapter-test-suite';
import { type AnomalyReport, createHub, createMessage, type Hub, silentLogger } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix } from './helpers.js';

let server: RedisServer;
let proxy: TcpProxy;
let hub: Hub | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startTcpProxy({ targetPort: server.port });
});
afterAll(async () => {
  await hub?.close();
  await proxy?.close();
  await server?.stop();
});

it('a delaying proxy makes the redis adapter degraded (anomaly event, health), then recovered', async () => {
  hub = createHub({
    logger: silentLogger,
    adapters: [redis({ url: `redis://127.0.0.1:${proxy.port}`, keyPrefix: uniquePrefix('slow') })],
    anomalyDetection: { warmup: 30, sustain: 5, minDeltaMs: 10 },
  });
  const reports: AnomalyReport[] = [];
  hub.on('anomaly', (r) => reports.push(r));
  await hub.start();
  // At-least-once: each send waits for its XADD to come back through the proxy.
  const send = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await hub!.send(
        createMessage({
          source: 'test',
          destination: 'slow_link',
          payload: i,
          deliveryGuarantee: 'at-least-once' as never,
        }),
      );
    }
  };
  await send(40);
  expect(reports).toEqual([]);

  proxy.setDelay(60);
  await send(10);
  expect(reports.map((r) => r.state)).toEqual(['degraded']);
  expect(reports[0]!.adapter).toBe('redis');
  const slow = reports[0]!;
  if (slow.metric !== 'send-latency') throw new Error(`expected send-latency, got ${slow.metric}`);
  expect(slow.currentMs).toBeGreaterThan(slow.thresholdMs);
  expect(hub.health().adapters.redis!.degraded).toBe(true);
  expect(hub.health().hubStatus).toBe('degraded');

  proxy.setDelay(0);
  // Bounded: recovery needs `sustain` fast sends once the recent mean is back.
  for (let i = 0; i < 40 && reports.length < 2; i++) await send(1);
  expect(reports.map((r) => r.state)).toEqual(['degraded', 'recovered']);
  expect(hub.health().adapters.redis!.degraded).toBe(false);
});
