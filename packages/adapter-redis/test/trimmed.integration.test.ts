import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
let raw: Redis;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.port, '127.0.0.1');
  raw.on('error', () => {});
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  raw?.disconnect();
  await server?.stop();
});

it('entries trimmed while pending to a dead consumer are counted and dropped, not delivered, no crash', async () => {
  const prefix = uniquePrefix('trim');
  const a = redis({ url: server.url, keyPrefix: prefix, claimIdleMs: 300 });
  adapters.push(a);
  const ctx = await connected(a, 'live');
  const key = a.keys.priorityStream('ep', 2);
  for (let i = 0; i < 5; i++) await a.send(message('ep', { i }));
  // A consumer that reads and dies: the 5 entries sit in its PEL.
  await raw.xgroup('CREATE', key, 'ep', '0', 'MKSTREAM');
  const read = await raw.xreadgroup('GROUP', 'ep', 'dead', 'COUNT', '10', 'STREAMS', key, '>');
  expect((read as unknown[][])[0]![1]).toHaveLength(5);
  await raw.xtrim(key, 'MAXLEN', 0);
  const rec = recorder('ep');
  await a.subscribe(rec.spec());
  const good = message('ep', 'after');
  await a.send(good);
  const stats = async () =>
    (
      (await a.inspect()).endpoints as Record<
        string,
        { trimmedWhilePending: number; pending: number }
      >
    ).ep!;
  await waitFor(
    async () => (await stats()).trimmedWhilePending === 5,
    async () => JSON.stringify(await stats()),
  );
  await waitFor(
    () => rec.deliveries.length === 1,
    () => `deliveries ${rec.deliveries.length}`,
  );
  expect(rec.ids()).toEqual([good.id]);
  await waitFor(
    async () => (await stats()).pending === 0,
    async () => JSON.stringify(await stats()),
  );
  expect(ctx.warnings.some((w) => w.includes('trimmed'))).toBe(true);
});
