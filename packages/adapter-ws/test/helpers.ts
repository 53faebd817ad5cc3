import { createHub, type Hub, silentLogger } from '@hub/core';
import { afterAll } from 'vitest';
import type { WsClientOptions } from '../src/index.js';
import { type WsGateway, type WsServerOptions, wsClient, wsServer } from '../src/index.js';

/** Everything a test started, closed in afterAll even when the test failed. */
const started: Array<{ close(): Promise<unknown> }> = [];
afterAll(async () => {
  // all at once: a Redis-backed hub takes up to its read block to close
  await Promise.allSettled(started.splice(0).map((s) => s.close()));
  for (const s of last.splice(0)) await s.close().catch(() => {});
});

/** Closed after everything `track` holds (a broker the tracked hubs use). */
const last: Array<{ close(): Promise<unknown> }> = [];
export function trackLast<T extends { close(): Promise<unknown> }>(thing: T): T {
  last.push(thing);
  return thing;
}

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
