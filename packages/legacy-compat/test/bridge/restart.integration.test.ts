import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLegacyBridge, type LegacyBridge } from '../../src/index.js';
import { startHub } from './helpers.js';

let server: RedisServer;
let legacy: Redis;
let hub: Hub | undefined;
let bridge: LegacyBridge | undefined;

beforeAll(async () => {
  server = await startRedisServer({ aof: true });
  legacy = new Redis(server.url);
  legacy.on('error', () => {});
});
afterAll(async () => {
  await bridge?.close();
  await hub?.close({ drainTimeoutMs: 0 });
  legacy?.disconnect();
  await server?.stop();
});

describe('the bridge outlives a Redis restart', () => {
  it('its blocking reader fails, backs off, reconnects and carries on', async () => {
    hub = await startHub(server.url);
    const got = new Set<string>();
    await hub.onMessage('worker', (m) => {
      got.add(m.id);
    });
    const errors: string[] = [];
    bridge = createLegacyBridge({
      hub,
      redis: server.url,
      blockMs: 200,
      inbound: [{ from: 'list', key: 'legacy:restart' }],
      onError: (err, where) => errors.push(`${where}: ${String(err)}`),
    });
    await bridge.start();
    const push = (from: number) =>
      legacy.lpush(
        'legacy:restart',
        ...Array.from({ length: 5 }, (_, i) =>
          JSON.stringify({ type: 'task', to: 'worker', id: `r-${from + i}` }),
        ),
      );
    await push(0);
    await waitFor(() => got.size === 5);
    await server.restart();
    await push(5);
    await waitFor(() => got.size === 10, {
      timeoutMs: 30_000,
      message: () => `10 delivered, got ${got.size}; ${errors.slice(-3).join(' | ')}`,
    });
    const s = bridge.stats()[0]!;
    expect(s.forwarded).toBeGreaterThanOrEqual(10);
    expect(s.retries).toBeGreaterThan(0);
    expect(errors.some((e) => e.includes('BLMOVE'))).toBe(true);
    await waitFor(async () => (await legacy.llen('legacy:restart:processing:bridge')) === 0);
  });
});
