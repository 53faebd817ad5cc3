import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import type { DedupStore } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisDedupStore } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const stores: DedupStore[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(stores.map((s) => s.close?.()));
  await server?.stop();
});

it('two instances share dedup state: new → busy → done; abort frees only our own lease', async () => {
  const keyPrefix = uniquePrefix('dd');
  const a = redisDedupStore({ url: server.url, keyPrefix });
  const b = redisDedupStore({ url: server.url, keyPrefix });
  stores.push(a, b);
  expect(await a.begin('m1', 10_000)).toBe('new');
  expect(await b.begin('m1', 10_000)).toBe('busy');
  await a.commit('m1', 60_000);
  expect(await b.begin('m1', 10_000)).toBe('done');
  expect(await a.begin('m1', 10_000)).toBe('done');

  expect(await a.begin('m2', 10_000)).toBe('new');
  await b.abort('m2'); // not b's lease: must not free it
  expect(await b.begin('m2', 10_000)).toBe('busy');
  await a.abort('m2');
  expect(await b.begin('m2', 10_000)).toBe('new');
});

it('an expired lease (crashed holder) can be taken over; the done record expires after the window', async () => {
  const keyPrefix = uniquePrefix('dd');
  const a = redisDedupStore({ url: server.url, keyPrefix });
  const b = redisDedupStore({ url: server.url, keyPrefix });
  stores.push(a, b);
  expect(await a.begin('m', 50)).toBe('new');
  await waitFor(
    async () => (await b.begin('m', 10_000)) === 'new',
    () => 'lease never expired',
  );
  // a's late abort must not delete b's lease
  await a.abort('m');
  expect(await a.begin('m', 10_000)).toBe('busy');
  await b.commit('m', 50);
  await waitFor(
    async () => (await a.begin('m', 10_000)) === 'new',
    () => 'done record never expired',
  );
});
