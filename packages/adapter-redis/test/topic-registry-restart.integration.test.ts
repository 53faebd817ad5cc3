import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, DeliveryGuarantee, type UnifiedEvent } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyLayout, redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

// A redis-server restarted without persistence comes back empty: the topic
// registry (how pattern subscriptions find topic streams), the groups'
// first-subscription times and the consumer groups are gone. The adapters
// that were connected put back what they know: publishers register their
// topics again on the next publish, subscriptions register the topics they
// read and re-create their groups.

let server: RedisServer;
let raw: Redis;
const hubs: Hub[] = [];

beforeAll(async () => {
  server = await startRedisServer(); // no persistence: a restart loses everything
  raw = new Redis(server.url, { maxRetriesPerRequest: 1 });
  raw.on('error', () => {});
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  raw?.disconnect();
  await server?.stop();
});

const kept = (topic: string, i: number) =>
  createEvent({
    source: 'shop',
    topic,
    type: 'order_created',
    data: { i },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });

async function hub(name: string, prefix: string): Promise<Hub> {
  // A rescan far away: the registry must be refilled by the reconnect, not by the periodic rescan.
  const h = createHub({
    name,
    adapters: [
      redis({ url: server.url, keyPrefix: prefix, topicRescanMs: 600_000, claimIdleMs: 2_000 }),
    ],
    logger: silentLogger,
  });
  hubs.push(h);
  await h.start();
  return h;
}

async function record(h: Hub, pattern: string, group: string) {
  const got = new Set<string>();
  await h.subscribe(pattern, (ev: UnifiedEvent) => void got.add(ev.id), { group });
  return got;
}

/** Publish, retrying each event (same id) while the adapter reconnects. */
async function publishAll(h: Hub, events: readonly UnifiedEvent[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (const ev of events) {
    for (;;) {
      try {
        await h.publish(ev);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
}

it('after a restart without persistence the registry is refilled: existing and new pattern subscriptions find the topics, groups are re-created', async () => {
  const prefix = uniquePrefix('reg-restart');
  const keys = keyLayout(prefix);
  const topic = 'orders.created';
  const publisher = await hub('shop', prefix);
  const audit = await record(await hub('audit', prefix), 'orders.*', 'audit');
  const before = Array.from({ length: 20 }, (_, i) => kept(topic, i));
  await publishAll(publisher, before);
  await waitFor(
    () => before.every((e) => audit.has(e.id)),
    () => `audit got ${audit.size} of ${before.length} before the restart`,
  );

  await server.kill();
  await server.restart();

  // The running subscription puts its topic back on its own (no publish needed).
  await waitFor(
    async () => (await raw.zscore(keys.topicRegistry(), topic)) !== null,
    async () =>
      `registry after the restart: ${JSON.stringify(await raw.zrange(keys.topicRegistry(), 0, -1))}`,
  );
  await waitFor(
    async () =>
      (await raw.hexists(keys.topicGroups(), JSON.stringify(['audit', 'orders.*']))) === 1,
    () => 'the audit group first-subscription time is back',
  );

  // A pattern subscription made after the restart finds the topic the publisher
  // already knew (it publishes without a fresh announcement otherwise).
  await raw.del(keys.topicRegistry()); // only the publisher can put it back now
  const late = await record(await hub('late', prefix), 'orders.*', 'late');
  const after = Array.from({ length: 20 }, (_, i) => kept(topic, 100 + i));
  await publishAll(publisher, after);
  await waitFor(
    () => after.every((e) => audit.has(e.id)) && after.every((e) => late.has(e.id)),
    () =>
      `after the restart: audit got ${after.filter((e) => audit.has(e.id)).length}, late got ${after.filter((e) => late.has(e.id)).length} of ${after.length}`,
    30_000,
  );
  expect(await raw.zscore(keys.topicRegistry(), topic)).not.toBeNull();
}, 90_000);
