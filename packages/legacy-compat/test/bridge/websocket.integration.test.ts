import type { AddressInfo } from 'node:net';
import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import { createEvent, type UnifiedEvent } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createLegacyBridge, type LegacyBridge } from '../../src/index.js';
import { startHub } from './helpers.js';

let server: RedisServer;
let wss: WebSocketServer;
let hub: Hub | undefined;
let bridge: LegacyBridge | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => wss.once('listening', resolve));
});
afterAll(async () => {
  await bridge?.close();
  await hub?.close({ drainTimeoutMs: 0 });
  for (const c of wss?.clients ?? []) c.terminate();
  await new Promise((resolve) => wss?.close(resolve));
  await server?.stop();
});

const broadcast = (text: string) => {
  for (const c of wss.clients) if (c.readyState === WebSocket.OPEN) c.send(text);
};

describe('a legacy WebSocket endpoint', () => {
  it('frames in become hub events, hub events go out as frames, loop-safe, across a dropped connection', async () => {
    const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/legacy`;
    const fromBridge: string[] = [];
    wss.on('connection', (socket) => {
      socket.on('message', (data) => fromBridge.push(data.toString()));
    });
    hub = await startHub(server.url);
    const alerts: UnifiedEvent[] = [];
    await hub.subscribe('alerts', (e) => {
      alerts.push(e);
    });
    bridge = createLegacyBridge({
      hub,
      redis: server.url,
      inbound: [{ from: 'websocket', url }],
      outbound: [{ from: { topic: 'alerts' }, to: 'websocket', url }],
      onError: () => {},
    });
    await bridge.start();
    await waitFor(() => wss.clients.size === 2);
    const stats = (route: string) => bridge!.stats().find((s) => s.route === route)!;
    const inbound = `websocket:${url}`;
    const outbound = `topic:alerts -> websocket:${url}`;

    broadcast(JSON.stringify({ event: 'alerts', data: { level: 'high' }, from: 'old_gateway' }));
    await waitFor(() => alerts.length === 1 && stats(outbound).loopsPrevented === 1);
    expect(alerts[0]).toMatchObject({ source: 'old_gateway', data: { level: 'high' } });

    await hub.publish(
      createEvent({ source: 'new_monitor', topic: 'alerts', data: { level: 'low' } }),
    );
    await waitFor(() => fromBridge.length === 1);
    expect(JSON.parse(fromBridge[0]!)).toMatchObject({
      type: 'alerts',
      from: 'new_monitor',
      data: { level: 'low' },
      headers: { 'legacy-bridge': 'to-legacy' },
    });

    // The endpoint drops both connections: the links reconnect and carry on.
    for (const c of wss.clients) c.terminate();
    await waitFor(() => stats(inbound).retries >= 1 && wss.clients.size === 2, {
      message: () => JSON.stringify(bridge!.stats()),
    });
    broadcast(JSON.stringify({ event: 'alerts', data: { level: 'again' } }));
    await waitFor(() => alerts.length === 3, { message: () => `3 alerts, got ${alerts.length}` });
    expect(alerts.map((a) => a.data)).toEqual([
      { level: 'high' },
      { level: 'low' },
      { level: 'again' },
    ]);
    expect(stats(inbound)).toMatchObject({ received: 2, forwarded: 2 });
  });
});
