import { createHub, type Hub, silentLogger } from '@hub/core';
import { afterAll } from 'vitest';
import type { WsClientOptions } from '../src/index.js';
import { type WsGateway, type WsServerOptions, wsClient, wsServer } from '../src/index.js';

/** Everything a test started, closed in afterAll even when the test failed. */
const started: Array<{ close(): Promise<unknown> }> = [];
afterAll(async () => {
  for (const s of started.splice(0).reverse()) await s.close().catch(() => {});
});

export function track<T extends { close(): Promise<unknown> }>(thing: T): T {
  started.push(thing);
  return thing;
}

/** Hubs close with a short drain: tests leave handlers hanging on purpose. */
export function trackHub(hub: Hub): Hub {
  track({ close: () => hub.close({ drainTimeoutMs: 200 }) });
  return hub;
}

/** A server hub (memory transport) with a gateway on a free loopback port. */
export async function startServer(
  options: Partial<WsServerOptions> = {},
  hub: Hub = trackHub(createHub({ name: 'server', logger: silentLogger })),
): Promise<{ hub: Hub; gateway: WsGateway }> {
  await hub.start();
  const gateway = track(await wsServer({ hub, port: 0, ...options }));
  return { hub, gateway };
}

/** A hub whose only transport is a ws client of `url`. */
export async function startClient(
  url: string,
  options: Partial<WsClientOptions> = {},
  name = 'client',
): Promise<Hub> {
  const hub = trackHub(
    createHub({
      name,
      logger: silentLogger,
      adapters: [wsClient({ url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, ...options })],
    }),
  );
  await hub.start();
  return hub;
}
