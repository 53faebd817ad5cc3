/**
 * After redis-server comes back, the adapter must be usable again at once:
 * while it reports unhealthy the hub fails every send immediately, so the time
 * from "server back" to "healthy" is time of failed sends. Two parts: the
 * reconnect backoff is capped short (a restarted server is found by the next
 * attempt), and health flips on the connection's 'ready' event itself, not at
 * the next periodic health check.
 */
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { afterAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let own: RedisServer | undefined;
let hub: Hub | undefined;

afterAll(async () => {
  await hub?.close();
  await own?.stop();
});

it('after a restart the adapter is healthy on the ready event and sends work, within one short reconnect delay', async () => {
  own = await startRedisServer();
  const adapter = redis({ url: own.url, keyPrefix: uniquePrefix('back') });
  // A periodic health check far away: only the ready event can flip health.
  hub = createHub({
    name: 'back',
    adapters: [adapter],
    logger: silentLogger,
    healthCheckInterval: 3_600,
  });
  await hub.start();
  const h = hub;
  const send = () =>
    h.send(
      createMessage({
        source: 't',
        destination: 'ep',
        payload: 1,
        deliveryGuarantee: 'at-least-once',
      }),
    );
  await send();

  const events: string[] = [];
  const commands = adapter.commands;
  let lastDelay = 0;
  commands.on('reconnecting', (delay: number) => {
    lastDelay = delay;
  });
  commands.on('ready', () => {
    // Registered after the adapter's own listener: by now the hub must know.
    events.push(`ready healthy=${h.health().adapters.redis?.healthy}`);
  });
  h.on('health', (_name: string, healthy: boolean) => events.push(`health ${healthy}`));

  await own.kill();
  // Let the backoff grow to its cap: several attempts on the closed port.
  let attempts = 0;
  commands.on('reconnecting', () => attempts++);
  await waitFor(
    () => attempts >= 8,
    () => `only ${attempts} reconnect attempts`,
  );
  // Meanwhile the hub fails sends at once: the adapter is unhealthy.
  const during = await send().then(
    () => 'sent',
    (e: { code?: string }) => e.code,
  );
  expect(during).toBe('HUB_CIRCUIT_OPEN');

  // Restart right as a new wait begins: the wait is the longest it can be.
  await new Promise<void>((resolve) => commands.once('reconnecting', () => resolve()));
  const waitMs = lastDelay;
  const t0 = Date.now();
  await own.restart();
  await waitFor(
    () => events.some((e) => e.startsWith('ready')),
    () => `no ready event: ${events.join(', ')}`,
  );
  const readyAfterMs = Date.now() - t0;
  await send();

  // Health flipped on the ready event itself, before any periodic check.
  expect(events).toEqual(['health false', 'health true', 'ready healthy=true']);
  // The wait in progress when the server came back is short: it, not a
  // health interval, is all the time sends failed.
  expect(waitMs).toBeLessThanOrEqual(500);
  expect(readyAfterMs, `ready ${readyAfterMs} ms after the restart`).toBeLessThan(1_000);
});
