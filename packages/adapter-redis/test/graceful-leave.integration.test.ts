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

it('messages already queued behind a busy handler are still handled by the draining instance', async () => {
  const prefix = uniquePrefix('queued');
  const adapter = redis({ url: server.url, keyPrefix: prefix });
  const a = createHub({
    name: 'a',
    logger: silentLogger,
    drainTimeoutMs: 5_000,
    adapters: [adapter],
  });
  hubs.push(a);
  await a.start();
  const sender = await hub(prefix, 'sender');
  const got: string[] = [];
  let release: () => void = () => {};
  const busy = new Promise<void>((r) => {
    release = r;
  });
  const off = await a.onMessage(
    'ep',
    async (m) => {
      got.push(m.id);
      if (got.length === 1) await busy;
    },
    { concurrency: 1 },
  );
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const m = createMessage({
      source: 's',
      destination: 'ep',
      payload: { i },
      deliveryGuarantee: 'best-effort',
    });
    ids.push(m.id);
    await sender.send(m);
  }
  // All ten reached a: one running, nine queued (Pub/Sub cannot give them back).
  await waitFor(
    () => a.metrics().totals.delivered >= 10,
    () => `delivered ${a.metrics().totals.delivered}/10`,
  );
  const leaving = off();
  // Release the busy handler only once the drain runs: pause has taken a off
  // its own channel (shared channel left), and the drain follows at once.
  await waitFor(
    async () => ((await adapter.inspect()) as { pubsubChannels: number }).pubsubChannels <= 1,
    () => 'pause did not finish',
  );
  release();
  await leaving;
  expect(ids.filter((id) => !got.includes(id))).toEqual([]);
});

it('a topic group member leaving mid-stream: every event handled once by the group (claims in flight are honoured)', async () => {
  const prefix = uniquePrefix('claimleave');
  const [a, b, pub] = [await hub(prefix, 'a'), await hub(prefix, 'b'), await hub(prefix, 'pub')];
  const got = new Map<string, number>();
  const count = (id: string) => got.set(id, (got.get(id) ?? 0) + 1);
  const offA = await a.subscribe('jobs.*', (e) => void count(e.id), { group: 'g' });
  await b.subscribe('jobs.*', (e) => void count(e.id), { group: 'g' });
  const ids: string[] = [];
  let leaving: Promise<void> | undefined;
  const sends: Array<Promise<unknown>> = [];
  for (let i = 0; i < 1_000; i++) {
    const e = createEvent({ source: 'p', topic: 'jobs.run', data: { i } });
    ids.push(e.id);
    sends.push(pub.publish(e));
    if (i % 100 === 99) await Promise.all(sends.splice(0));
    if (i === 500) leaving = offA();
  }
  await Promise.all(sends);
  await leaving;
  await waitFor(
    () => ids.every((id) => got.has(id)),
    () => `handled ${ids.filter((id) => got.has(id)).length}/${ids.length}`,
  );
  expect([...got.values()].filter((n) => n !== 1)).toEqual([]);
});
