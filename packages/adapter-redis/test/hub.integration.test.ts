import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, createMessage } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis, redisAdapter, redisDedupStore } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const hubs: Hub[] = [];
const closers: Array<() => Promise<void> | void> = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  for (const c of closers) await c();
  await server?.stop();
});

async function startHubs(
  n: number,
  prefix: string,
  extra: Parameters<typeof createHub>[0] = {},
): Promise<Hub[]> {
  const out: Hub[] = [];
  for (let i = 0; i < n; i++) {
    const hub = createHub({
      name: 'svc',
      logger: silentLogger,
      adapters: [redis({ url: server.url, keyPrefix: prefix, claimIdleMs: 2_000 })],
      retry: { initialDelayMs: 1, maxDelayMs: 5 },
      ...extra,
    });
    hubs.push(hub);
    await hub.start();
    out.push(hub);
  }
  return out;
}

it('three hubs share one endpoint (each message handled once) and all receive a broadcast', async () => {
  const prefix = uniquePrefix('hub');
  const [a, b, c] = await startHubs(3, prefix);
  const handled = new Map<string, string[]>();
  const events: Array<{ hub: number; topic: string }> = [];
  for (const [i, hub] of [a!, b!, c!].entries()) {
    await hub.onMessage(
      'worker',
      async (msg) => {
        handled.set(msg.id, [...(handled.get(msg.id) ?? []), `h${i}`]);
      },
      { concurrency: 4 },
    );
    await hub.subscribe('orders.*', (ev) => {
      events.push({ hub: i, topic: ev.topic });
    });
  }
  const ids: string[] = [];
  for (let i = 0; i < 300; i++) {
    const m = createMessage({ source: 'client', destination: 'worker', payload: { i } });
    ids.push(m.id);
    const res = await a!.send(m);
    expect(res.protocol).toBe('redis-streams');
  }
  await a!.publish(createEvent({ source: 'client', topic: 'orders.created', data: { n: 1 } }));
  await a!.publish(createEvent({ source: 'client', topic: 'users.created', data: { n: 2 } }));
  await waitFor(
    () => ids.every((id) => handled.has(id)) && events.length >= 3,
    () => `handled ${handled.size}/300 events ${events.length}`,
  );
  const dup = [...handled.values()].filter((h) => h.length > 1).length;
  expect(dup).toBe(0);
  expect(new Set([...handled.values()].map((h) => h[0])).size).toBeGreaterThan(1);
  expect(events.map((e) => e.hub).sort()).toEqual([0, 1, 2]);
  expect(events.every((e) => e.topic === 'orders.created')).toBe(true);
});

it('a handler that always throws: maxDeliveries attempts, then the Redis DLQ with the reason', async () => {
  const prefix = uniquePrefix('hubdlq');
  const [a] = await startHubs(1, prefix);
  const attempts: number[] = [];
  await a!.onMessage(
    'poison',
    async (_msg, ctx) => {
      attempts.push(ctx.attempt);
      throw new Error('always fails');
    },
    { maxDeliveries: 3 },
  );
  const m = createMessage({ source: 'client', destination: 'poison', payload: 'x' });
  await a!.send(m);
  await waitFor(
    async () => (await a!.readDeadLetters('poison')).length === 1,
    () => `attempts ${attempts.join(',')}`,
  );
  const [dl] = await a!.readDeadLetters('poison');
  expect(dl!.envelope.id).toBe(m.id);
  expect(dl!.reason).toMatch(/always fails/);
  expect(attempts).toHaveLength(3);
});

it('R12 exactly-once with the Redis dedup store: a retried send (same id) is handled once across hubs', async () => {
  const prefix = uniquePrefix('hubeo');
  const stores = [0, 1].map(() => redisDedupStore({ url: server.url, keyPrefix: prefix }));
  for (const s of stores) closers.push(() => s.close?.());
  const hs: Hub[] = [];
  for (const store of stores) hs.push(...(await startHubs(1, prefix, { dedup: { store } })));
  const seen: string[] = [];
  for (const h of hs) {
    await h.onMessage('pay', async (msg) => {
      seen.push(msg.id);
    });
  }
  const ids: string[] = [];
  for (let i = 0; i < 50; i++) {
    const m = createMessage({
      source: 'client',
      destination: 'pay',
      payload: { i },
      deliveryGuarantee: 'exactly-once',
    });
    ids.push(m.id);
    // The uncertain send: the sender could not tell whether it landed, so it sends again.
    await hs[0]!.send(m);
    await hs[1]!.send({ ...m });
  }
  await waitFor(
    () => ids.every((id) => seen.includes(id)),
    () => `seen ${new Set(seen).size}/50`,
  );
  const drained = Date.now() + 1_000;
  await waitFor(
    () => Date.now() > drained,
    () => '',
  );
  const dup = seen.length - new Set(seen).size;
  expect({ handled: seen.length, unique: new Set(seen).size, dup }).toEqual({
    handled: 50,
    unique: 50,
    dup: 0,
  });
});

it('config-driven: adapters: [redisAdapter] with redisConfig (legacy ConnectionConfig shape)', async () => {
  const hub = createHub({
    name: 'cfg',
    logger: silentLogger,
    adapters: [redisAdapter],
    redisConfig: { host: '127.0.0.1', port: server.port, keyPrefix: uniquePrefix('cfg') },
  });
  hubs.push(hub);
  await hub.start();
  const got: unknown[] = [];
  await hub.onMessage('ep', (msg) => {
    got.push(msg.payload);
  });
  await hub.send(createMessage({ source: 's', destination: 'ep', payload: 'hi' }));
  await waitFor(
    () => got.length === 1,
    () => 'not received',
  );
});
