/**
 * A best-effort message to an endpoint nobody serves: Pub/Sub says how many
 * subscribers a PUBLISH reached, so the sender knows it reached nobody. The
 * send fails with HUB_NO_RECEIVER (not retried, not a broken link) instead of
 * succeeding while the message is gone.
 */
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createMessage, ErrorCode } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const hubs: Hub[] = [];
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  await server?.stop();
});

const bestEffort = (destination: string) =>
  createMessage({ source: 't', destination, payload: 1, deliveryGuarantee: 'best-effort' });

it('a best-effort send nobody receives fails with HUB_NO_RECEIVER; once served, it succeeds', async () => {
  const keyPrefix = uniquePrefix('nr');
  const sender = createHub({
    name: 'sender',
    adapters: [redis({ url: server.url, keyPrefix })],
    logger: silentLogger,
  });
  hubs.push(sender);
  await sender.start();

  for (let i = 0; i < 10; i++) {
    const err = await sender.send(bestEffort('nobody')).then(
      () => undefined,
      (e: { code?: string; message: string }) => e,
    );
    expect(err?.code).toBe(ErrorCode.NO_RECEIVER);
    expect(err?.message).toMatch(/"nobody": no receiver/);
  }
  // Not a broken link: the circuit stays closed and other sends are unaffected.
  expect(sender.health().adapters.redis?.circuit).toBe('closed');
  expect(sender.health().hubStatus).toBe('healthy');

  // A receiver comes (another process, here another hub): sends reach it.
  const receiver = createHub({
    name: 'receiver',
    adapters: [redis({ url: server.url, keyPrefix })],
    logger: silentLogger,
  });
  hubs.push(receiver);
  await receiver.start();
  const got: string[] = [];
  await receiver.onMessage('later', (m) => {
    got.push(m.id);
  });
  const m = bestEffort('later');
  await sender.send(m);
  await waitFor(
    () => got.includes(m.id),
    () => 'not received',
  );

  // It leaves: the member the sender remembers is gone, and so is everyone.
  await receiver.close();
  const after = await sender.send(bestEffort('later')).then(
    () => 'sent',
    (e: { code?: string }) => e.code,
  );
  expect(after).toBe(ErrorCode.NO_RECEIVER);
});
