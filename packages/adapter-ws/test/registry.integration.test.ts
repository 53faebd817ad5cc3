import { waitFor } from '@hub/adapter-test-suite';
import { AdapterRegistry, createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsAdapter as browserWsAdapter } from '../src/client/index.js';
import { type WebSocketConstructor, WsClientAdapter, wsAdapter } from '../src/index.js';
import { startServer, trackHub } from './helpers.js';

const reconnect = { initialDelayMs: 20, maxDelayMs: 200 };

/** The server hub answers, and the client hub built from config sends, serves and subscribes through it. */
async function roundTrip(server: Hub, client: Hub): Promise<void> {
  await server.onMessage('math', (m) => (m.payload as number) * 2);
  const reply = await client.request(
    createMessage({ source: 'c', destination: 'math', payload: 21 }),
    { timeoutMs: 5_000 },
  );
  expect(reply.payload).toBe(42);
  await client.onMessage('remote', (m) => ({ echo: m.payload }));
  const back = await server.request(
    createMessage({ source: 's', destination: 'remote', payload: 'hi' }),
    { timeoutMs: 5_000 },
  );
  expect(back.payload).toEqual({ echo: 'hi' });
  const seen: unknown[] = [];
  await client.subscribe('feed.*', (e) => {
    seen.push(e.data);
  });
  await server.publish(createEvent({ source: 's', topic: 'feed.a', data: 1 }));
  await waitFor(() => seen.length === 1);
}

describe('the ws client through the core adapter registry', () => {
  it('createHub({ adapters: [wsAdapter], websocketConfig }) builds a hub whose broker is the gateway', async () => {
    const { hub: server, gateway } = await startServer();
    const client = trackHub(
      createHub({
        name: 'from-config',
        logger: silentLogger,
        adapters: [wsAdapter],
        websocketConfig: { url: gateway.url, reconnect },
      }),
    );
    await client.start();
    const adapter = client.adapters.get('ws');
    expect(adapter).toBeInstanceOf(WsClientAdapter);
    // the protocol name resolves to it too
    expect(client.adapters.get('websocket')).toBe(adapter);
    expect(client.adapterRegistry.names()).toEqual(['ws']);
    await roundTrip(server, client);
  });

  it('adapterConfig.ws is read when there is no websocketConfig; the registry builds more by name or alias', async () => {
    const { hub: server, gateway } = await startServer();
    const client = trackHub(
      createHub({
        name: 'from-adapter-config',
        logger: silentLogger,
        adapters: [wsAdapter],
        adapterConfig: { ws: { url: gateway.url, reconnect } },
      }),
    );
    await client.start();
    await roundTrip(server, client);
    // the factory stays registered: another client of the same gateway, by the protocol name
    const more = client.adapterRegistry.create('websocket', { url: gateway.url, name: 'ws2' });
    expect(more).toBeInstanceOf(WsClientAdapter);
    expect(more.name).toBe('ws2');
    // a registry of its own takes the factory the same way
    const registry = new AdapterRegistry().registerFactory(wsAdapter);
    expect(registry.create('ws', { url: gateway.url })).toBeInstanceOf(WsClientAdapter);
    expect(() => registry.create('ws', {})).toThrow(/url/);
  });

  it("the browser entry's factory builds a working hub too (here on ws's WebSocket class)", async () => {
    const { hub: server, gateway } = await startServer();
    const client = trackHub(
      createHub({
        name: 'browser-factory',
        logger: silentLogger,
        adapters: [browserWsAdapter],
        websocketConfig: {
          url: gateway.url,
          reconnect,
          WebSocket: WebSocket as unknown as WebSocketConstructor,
        },
      }),
    );
    await client.start();
    expect(client.adapters.get('ws')).toBeInstanceOf(WsClientAdapter);
    await roundTrip(server, client);
  });
});

describe('the gateway beside the registry', () => {
  it('is no transport of its hub: the registry and routing are unchanged, its figures are in health and metrics', async () => {
    const { hub, gateway } = await startServer();
    expect(hub.adapterRegistry.names()).toEqual(['memory']);
    expect(hub.health().components[gateway.options.name]?.healthy).toBe(true);
    expect(hub.metrics().components[gateway.options.name]?.connections).toBe(0);
    // the hub still routes through its own transport
    const got: unknown[] = [];
    await hub.onMessage('local', (m) => {
      got.push(m.payload);
    });
    await hub.send(createMessage({ source: 's', destination: 'local', payload: 1 }));
    await waitFor(() => got.length === 1);
  });
});
