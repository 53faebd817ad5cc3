import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type HandlerContext, type Hub, silentLogger } from '@hub/core';
import { createEvent, DeliveryGuarantee, type UnifiedEvent } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

// The core's event history (`subscribe(..., { replay })`) over events that
// reach a hub through Redis durable topics: what a hub received from the
// topic streams is replayed from its history to a new subscription, before
// the live events, each event once, even when the new subscription's group
// is also started back in the stream where the same events are kept.

let server: RedisServer;
const hubs: Hub[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  await server?.stop();
});

async function hub(name: string, prefix: string): Promise<Hub> {
  const h = createHub({
    name,
    adapters: [redis({ url: server.url, keyPrefix: prefix })],
    logger: silentLogger,
  });
  hubs.push(h);
  await h.start();
  return h;
}

const kept = (topic: string, i: number) =>
  createEvent({
    source: 'shop',
    topic,
    type: 'order_created',
    data: { i },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });

/** A subscription recording each arrival (id and where it came from), in order. */
function recorder() {
  const got: Array<{ id: string; adapter: string }> = [];
  const handler = (ev: UnifiedEvent, ctx: HandlerContext) => {
    got.push({ id: ev.id, adapter: ctx.adapter });
  };
  return { got, handler };
}

it('events received over Redis durable topics are replayed from the hub history, then live ones, each once', async () => {
  const prefix = uniquePrefix('history');
  const publisher = await hub('shop', prefix);
  const billing = await hub('billing', prefix);
  // The billing hub receives the kept events through its group's stream consumer.
  const first = recorder();
  await billing.subscribe('orders.*', first.handler, { group: 'billing' });
  const old = Array.from({ length: 30 }, (_, i) =>
    kept(i % 2 === 0 ? 'orders.created' : 'orders.paid', i),
  );
  for (const e of old) await publisher.publish(e);
  await waitFor(
    () => first.got.length >= old.length,
    () => `billing received ${first.got.length} of ${old.length}`,
  );
  expect(new Set(first.got.map((g) => g.adapter))).toEqual(new Set(['redis']));

  // A new subscription on the billing hub asks for the history: the received
  // events come first, from the history, in publish order per topic.
  const replay = recorder();
  await billing.subscribe('orders.created', replay.handler, { group: 'audit', replay: true });
  const created = old.filter((e) => e.topic === 'orders.created').map((e) => e.id);
  expect(replay.got.map((g) => g.id)).toEqual(created);
  expect(new Set(replay.got.map((g) => g.adapter))).toEqual(new Set(['history']));

  // Then live, through Redis.
  const fresh = Array.from({ length: 10 }, (_, i) => kept('orders.created', 100 + i));
  for (const e of fresh) await publisher.publish(e);
  await waitFor(
    () => fresh.every((e) => replay.got.some((g) => g.id === e.id)),
    () => `live after replay: ${replay.got.length - created.length} of ${fresh.length}`,
  );
  expect(replay.got.slice(created.length)).toEqual(
    fresh.map((e) => ({ id: e.id, adapter: 'redis' })),
  );

  // Replay from the history and a group started back in the stream (where the
  // same events are kept): the hub hands each event once.
  const both = recorder();
  await billing.subscribe('orders.created', both.handler, {
    group: 'reporting',
    replay: true,
    startFrom: { time: 0 },
  });
  const all = [...created, ...fresh.map((e) => e.id)];
  const last = kept('orders.created', 999);
  await publisher.publish(last);
  await waitFor(
    () => both.got.some((g) => g.id === last.id),
    () => `reporting got ${both.got.length}`,
  );
  const ids = both.got.map((g) => g.id);
  expect(ids.slice(0, all.length)).toEqual(all);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.at(-1)).toBe(last.id);
}, 60_000);
