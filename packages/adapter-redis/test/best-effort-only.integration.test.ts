import { type RedisServer, redisCli, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const hubs: Hub[] = [];
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

/** Every key matching `pattern` (SCAN, so it is safe on a busy server). */
async function scanKeys(pattern: string): Promise<string[]> {
  const out = await redisCli(server, ['--scan', '--pattern', pattern]);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .sort();
}

/** Connections open on the server (the redis-cli asking counts once, every time). */
async function clientCount(): Promise<number> {
  const out = await redisCli(server, ['CLIENT', 'LIST']);
  return out.split('\n').filter((l) => l.startsWith('id=')).length;
}

interface Detail {
  connections: { readers: string[]; subscriber: string };
  streamSubscriptions: number;
  pubsubChannels: number;
}
const detail = async (a: RedisAdapter) => (await a.inspect()) as unknown as Detail;

describe("subscriptions whose guarantees hint is ['best-effort'] only", () => {
  it('a hub request() round trip leaves no inbox streams and no blocking reader behind', async () => {
    const prefix = uniquePrefix('inbox');
    const make = (name: string) => {
      const adapter = redis({ url: server.url, keyPrefix: prefix });
      const hub = createHub({ name, logger: silentLogger, adapters: [adapter] });
      hubs.push(hub);
      return { hub, adapter };
    };
    const service = make('svc');
    const client = make('client');
    await service.hub.start();
    await service.hub.onMessage('calc', (msg) => ({
      doubled: (msg.payload as { x: number }).x * 2,
    }));
    await client.hub.start();
    // The inbox needs the Pub/Sub connection; count it only when it is not open yet.
    const subscriberBefore = (await detail(client.adapter)).connections.subscriber;
    const before = await clientCount();

    const reply = await client.hub.request(
      createMessage({ source: 'client', destination: 'calc', payload: { x: 21 } }),
      { timeoutMs: 15_000 },
    );
    expect(reply.payload).toEqual({ doubled: 42 });
    // A second request reuses the inbox: still no reader.
    const again = await client.hub.request(
      createMessage({ source: 'client', destination: 'calc', payload: { x: 5 } }),
      { timeoutMs: 15_000 },
    );
    expect(again.payload).toEqual({ doubled: 10 });

    // The request went through the service's streams (the control: scanning finds keys)...
    expect((await scanKeys(`${prefix}*calc*`)).length).toBeGreaterThan(0);
    // ...but the inbox has no stream, group, lease or partition member key: only
    // its Pub/Sub listener set (one sorted set, removed when the inbox closes).
    const inboxKeys = await scanKeys(`${prefix}*_inbox*`);
    expect(inboxKeys).toHaveLength(1);
    expect(inboxKeys[0]).toMatch(/:\{_inbox\.[^}]+\}:listeners$/);
    const d = await detail(client.adapter);
    expect(d.streamSubscriptions).toBe(0);
    expect(d.connections.readers).toEqual([]);
    // the inbox's shared channel and its own member channel
    expect(d.pubsubChannels).toBe(2);
    // The inbox added the Pub/Sub connection at most, no reader (which would be one more).
    expect(await clientCount()).toBe(before + (subscriberBefore === 'none' ? 1 : 0));
  }, 60_000);

  it("a direct subscription with guarantees ['best-effort'] receives best-effort messages over Pub/Sub only", async () => {
    const prefix = uniquePrefix('beo');
    const a = redis({ url: server.url, keyPrefix: prefix });
    adapters.push(a);
    await connected(a, 'b1');
    const r = recorder('replies');
    const sub = await a.subscribe(r.spec({ guarantees: ['best-effort'] }));
    const m = message('replies', { hi: 1 }, { guarantee: 'best-effort' });
    const res = await a.send(m);
    expect(res.protocol).toBe('redis-pubsub');
    await waitFor(
      () => r.deliveries.length === 1,
      () => `deliveries ${r.deliveries.length}`,
    );
    expect(r.deliveries[0]!.envelope).toMatchObject({ id: m.id, payload: { hi: 1 } });
    expect(await scanKeys(`${prefix}*`)).toEqual([a.keys.pubsubMembers('replies')]);
    const d = await detail(a);
    expect(d.streamSubscriptions).toBe(0);
    expect(d.connections.readers).toEqual([]);
    expect(d.pubsubChannels).toBe(2);
    await sub.close();
    expect((await detail(a)).pubsubChannels).toBe(0);
    // Leaving removed the last listener: Redis drops the empty set, nothing is left behind.
    expect(await scanKeys(`${prefix}*`)).toEqual([]);
  });

  it('a hint naming any stream guarantee keeps the stream consumer', async () => {
    const prefix = uniquePrefix('bemix');
    const a = redis({ url: server.url, keyPrefix: prefix });
    adapters.push(a);
    await connected(a, 'm1');
    const r = recorder('mixed');
    const sub = await a.subscribe(r.spec({ guarantees: ['best-effort', 'at-least-once'] }));
    const best = message('mixed', { n: 1 }, { guarantee: 'best-effort' });
    const durable = message('mixed', { n: 2 });
    await a.send(best);
    expect((await a.send(durable)).protocol).toBe('redis-streams');
    await waitFor(
      () => r.deliveries.length === 2,
      () => `deliveries ${r.ids().join(',')}`,
    );
    expect(r.ids().sort()).toEqual([best.id, durable.id].sort());
    const d = await detail(a);
    expect(d.streamSubscriptions).toBe(1);
    expect(d.connections.readers).toHaveLength(1);
    await sub.close();
    expect((await detail(a)).streamSubscriptions).toBe(0);
  });
});
