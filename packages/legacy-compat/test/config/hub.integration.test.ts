import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { type WsGateway, wsServer } from '@hub/adapter-ws';
import { createCommunicationHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DroppedOption, migrateConfig, migrateWsConfig } from '../../src/index.js';

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
        websocket_config: { protocol: 'websocket', host: '0.0.0.0', port: 8765 },
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
      'websocket_config',
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

// A legacy hub that was a WebSocket client of a server: the migrated config
// connects the new hub to a real gateway (wsServer) with the same settings.
describe('migrateConfig connects to a WebSocket gateway', () => {
  let serverHub: Hub;
  let gateway: WsGateway;
  const hubs: Hub[] = [];
  beforeAll(async () => {
    serverHub = createCommunicationHub({ name: 'gateway', logger: silentLogger });
    await serverHub.start();
    await serverHub.onMessage('math', (m) => (m.payload as number) * 2);
    // the legacy server settings, migrated, start the gateway
    const serverOptions = migrateWsConfig(
      { host: '127.0.0.1', port: 0, path: '/hub', max_size: 65_536, origins: null },
      { role: 'server', onDropped: () => {} },
    );
    gateway = await wsServer({ hub: serverHub, tokens: ['legacy-token'], ...serverOptions });
  });
  afterAll(async () => {
    await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
    await gateway?.close();
    await serverHub?.close({ drainTimeoutMs: 0 });
  });

  it('from a legacy ConnectionConfig (host, port, path, ping_interval, a bearer header)', async () => {
    const dropped: DroppedOption[] = [];
    const config = migrateConfig(
      {
        name: 'LegacyWsHub',
        message_timeout_ms: 5_000,
        websocket_config: {
          protocol: 'websocket',
          host: '127.0.0.1',
          port: gateway.port,
          path: '/hub',
          pool_size: 2,
          connection_params: {
            ping_interval: 5,
            ping_timeout: 5,
            extra_headers: { Authorization: 'Bearer legacy-token' },
          },
        },
      },
      { onDropped: (d) => dropped.push(...d) },
    );
    expect(config.websocketConfig).toEqual({
      url: `ws://127.0.0.1:${gateway.port}/hub`,
      token: 'legacy-token',
      pingIntervalMs: 5_000,
    });
    expect(dropped.map((d) => d.option)).toEqual([
      'websocket_config.protocol',
      'websocket_config.pool_size',
      'websocket_config.connection_params.ping_timeout',
    ]);
    const hub = createCommunicationHub({ ...config, logger: silentLogger });
    hubs.push(hub);
    expect(await hub.initialize()).toBe(true);
    expect(Object.keys((await hub.getHealthStatus()).adapters)).toEqual(['ws']);

    // request/reply through the gateway to a handler on the server's hub
    const reply = await hub.request(
      createMessage({ source: 'legacy', destination: 'math', payload: 21 }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toBe(42);
    // a message the other way: the server's hub sends to an endpoint this hub serves
    const got: unknown[] = [];
    await hub.onMessage('legacy_worker', (m) => {
      got.push(m.payload);
    });
    await waitFor(
      async () =>
        (
          await serverHub.sendMessage(
            createMessage({ source: 'gateway', destination: 'legacy_worker', payload: { n: 1 } }),
          )
        ).success,
      { message: 'the served endpoint to reach the gateway hub' },
    );
    await waitFor(() => got.length > 0, { message: 'the migrated hub to receive the message' });
    expect(got[0]).toEqual({ n: 1 });
    // and an event from the migrated hub reaches a subscriber on the server's hub
    const events: unknown[] = [];
    await serverHub.subscribe('legacy_events', (e) => {
      events.push(e.data);
    });
    const sent = await hub.publishEvent(
      createEvent({ source: 'legacy', topic: 'legacy_events', type: 'ping', data: { ok: true } }),
    );
    expect(sent.success).toBe(true);
    await waitFor(() => events.length > 0, { message: 'the event to reach the gateway hub' });
    expect(events).toEqual([{ ok: true }]);
    await hub.close();
  });
});
