import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { createCommunicationHub, type Hub, silentLogger } from '@hub/core';
import { createMessage, DeliveryGuarantee } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DroppedOption, migrateConfig } from '../../src/index.js';

// createCommunicationHub(migrateConfig(old)) must start a working hub on the
// legacy system's Redis: a password-protected redis-server of its own here.
describe('migrateConfig starts a working hub', () => {
  let server: RedisServer;
  const hubs: Hub[] = [];
  beforeAll(async () => {
    server = await startRedisServer({ password: 'legacy-pw' });
  });
  afterAll(async () => {
    await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
    await server?.stop();
  });

  async function roundTrip(legacy: Record<string, unknown>, dropped: DroppedOption[]) {
    const config = migrateConfig(legacy, { onDropped: (d) => dropped.push(...d) });
    const hub = createCommunicationHub({ ...config, logger: silentLogger });
    hubs.push(hub);
    expect(await hub.initialize()).toBe(true);
    const got: unknown[] = [];
    await hub.onMessage('worker_agent', (m) => {
      got.push(m.payload);
    });
    const result = await hub.sendMessage(
      createMessage({
        source: 'coordinator',
        destination: 'worker_agent',
        payload: { task_id: '123' },
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      }),
    );
    expect(result).toMatchObject({ success: true, protocol: 'redis-streams' });
    const health = await hub.getHealthStatus();
    expect(Object.keys(health.adapters)).toEqual(['redis']);
    await waitFor(() => got.length > 0, { message: 'the migrated hub to deliver the message' });
    expect(got).toEqual([{ task_id: '123' }]);
    await hub.close();
  }

  it('from the seed shape (snake_case, password in connection_params)', async () => {
    const dropped: DroppedOption[] = [];
    await roundTrip(
      {
        name: 'LegacyHub',
        max_concurrent_messages: 1000,
        message_timeout_ms: 10_000,
        redis_config: {
          protocol: 'redis_streams',
          host: '127.0.0.1',
          port: server.port,
          pool_size: 10,
          connection_params: { password: 'legacy-pw', decode_responses: true },
        },
        websocket_config: { protocol: 'websocket', host: '127.0.0.1', port: 0 },
        enable_metrics: true,
        enable_health_monitoring: true,
        health_check_interval: 30,
      },
      dropped,
    );
    expect(dropped.map((d) => d.option)).toEqual([
      'redis_config.protocol',
      'redis_config.pool_size',
      'redis_config.connection_params.decode_responses',
      'websocket_config.protocol',
    ]);
  });

  it('from an environment variable set', async () => {
    await roundTrip(
      {
        name: 'EnvHub',
        redis_config: {
          PATH: '/usr/bin',
          REDIS_HOST: '127.0.0.1',
          REDIS_PORT: String(server.port),
          REDIS_PASSWORD: 'legacy-pw',
        },
      },
      [],
    );
  });
});
