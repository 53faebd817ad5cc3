/**
 * Work-sharing over Pub/Sub (best-effort listener sets, topic group claims)
 * and a graceful unsubscribe: the leaving instance stops taking new work
 * before it drains (Subscription.pause), so nothing sent meanwhile is dropped.
 */
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createEvent, createHub, createMessage, type Hub, silentLogger } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const hubs: Hub[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
  await server?.stop();
});

async function hub(prefix: string, name: string): Promise<Hub> {
  const h = createHub({
    name,
    logger: silentLogger,
    drainTimeoutMs: 5_000,
    adapters: [redis({ url: server.url, keyPrefix: prefix })],
  });
  hubs.push(h);
  await h.start();
  return h;
}

it('an instance unsubscribing while its handler is busy: best-effort messages sent meanwhile go to the other instance', async () => {
  const prefix = uniquePrefix('leave');
  const [h1, h2, sender] = [
    await hub(prefix, 'h1'),
    await hub(prefix, 'h2'),
    await hub(prefix, 'sender'),
  ];
  const got: string[] = [];
  let release: () => void = () => {};
  const busy = new Promise<void>((r) => {
    release = r;
  });
  let first = true;
  const off1 = await h1.onMessage('ep', async (m) => {
    got.push(m.id);
    if (first) {
      first = false;
      await busy; // holds the drain open
    }
  });
  await h2.onMessage('ep', (m) => {
    got.push(m.id);
  });
  const send = (i: number) =>
    sender.send(
      createMessage({
        source: 's',
        destination: 'ep',
        payload: { i },
        deliveryGuarantee: 'best-effort',
      }),
    );
  // Until h1 holds its busy message (round robin: one of the first two).
  for (let i = 0; first && i < 50; i++) await send(i);
  expect(first).toBe(false);
  const leaving = off1();
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) ids.push((await send(100 + i)).messageId);
  release();
  await leaving;
  await waitFor(
    () => ids.every((id) => got.includes(id)),
    () => `handled ${ids.filter((id) => got.includes(id)).length}/20 sent during the drain`,
  );
  // each exactly once: none dropped by the draining instance, none handled twice
  expect(ids.filter((id) => got.filter((x) => x === id).length !== 1)).toEqual([]);
});

it('topic groups are per pattern, and a claim is only taken for an event the pattern really matches', async () => {
  const prefix = uniquePrefix('claims');
  const [a, b, pub] = [await hub(prefix, 'a'), await hub(prefix, 'b'), await hub(prefix, 'pub')];
  const gotA: string[] = [];
  const gotB: string[] = [];
  // Same group name, different patterns: two groups (as on the memory transport).
  await a.subscribe('orders.*', (e) => void gotA.push(e.id), { group: 'workers' });
  await b.subscribe('orders.created.v2', (e) => void gotB.push(e.id), { group: 'workers' });
  const v2: string[] = [];
  const created: string[] = [];
  for (let i = 0; i < 20; i++) {
    // 'orders.*' does not match orders.created.v2, though the Redis glob does.
    const e1 = createEvent({ source: 'p', topic: 'orders.created.v2', data: { i } });
    const e2 = createEvent({ source: 'p', topic: 'orders.created', data: { i } });
    v2.push(e1.id);
    created.push(e2.id);
    await pub.publish(e1);
    await pub.publish(e2);
  }
  await waitFor(
    () => gotB.length >= 20 && gotA.length >= 20,
    () => `a ${gotA.length}/20, b ${gotB.length}/20`,
  );
  expect([...gotB].sort()).toEqual([...v2].sort());
  expect([...gotA].sort()).toEqual([...created].sort());
});
