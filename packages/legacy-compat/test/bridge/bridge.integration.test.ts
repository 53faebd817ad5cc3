import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import type { Envelope, UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import { createEvent, createMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BRIDGE_HEADER,
  createLegacyBridge,
  type LegacyBridge,
  type LegacyBridgeOptions,
  SHAPE_HEADER,
} from '../../src/index.js';
import { startHub } from './helpers.js';

let server: RedisServer;
let legacy: Redis;
let subscriber: Redis;
const hubs: Hub[] = [];
const bridges: LegacyBridge[] = [];
const errors: string[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  legacy = new Redis(server.url);
  subscriber = new Redis(server.url);
});
afterEach(async () => {
  await Promise.allSettled(bridges.splice(0).map((b) => b.close()));
  await Promise.allSettled(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 0 })));
  errors.length = 0;
});
afterAll(async () => {
  legacy?.disconnect();
  subscriber?.disconnect();
  await server?.stop();
});

async function setup(opts: Omit<LegacyBridgeOptions, 'hub' | 'redis'>) {
  const hub = await startHub(server.url);
  hubs.push(hub);
  const bridge = createLegacyBridge({
    hub,
    redis: server.url,
    blockMs: 200,
    onError: (err, where) => errors.push(`${where}: ${String(err)}`),
    ...opts,
  });
  bridges.push(bridge);
  return { hub, bridge };
}

const statsOf = (b: LegacyBridge, route: string) => {
  const s = b.stats().find((x) => x.route === route);
  if (!s)
    throw new Error(
      `no route ${route} in ${b
        .stats()
        .map((x) => x.route)
        .join(', ')}`,
    );
  return s;
};

let n = 0;
const unique = (name: string) => `${name}${++n}`;

describe('legacy → hub', () => {
  it('Pub/Sub channel: legacy JSON events arrive as hub events, marked and labelled', async () => {
    const channel = unique('legacy:events:');
    const { hub, bridge } = await setup({ inbound: [{ from: 'pubsub', channel }] });
    const got: UnifiedEvent[] = [];
    await hub.subscribe('user_events', (e) => {
      got.push(e);
    });
    await bridge.start();
    for (let i = 0; i < 3; i++) {
      await legacy.publish(
        channel,
        JSON.stringify({
          event: 'user_registered',
          channel: 'user_events',
          from: 'user_service',
          data: { i },
        }),
      );
    }
    await waitFor(() => got.length === 3, { message: () => `3 events, got ${got.length}` });
    expect(got.map((e) => e.data)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    expect(got[0]).toMatchObject({ type: 'user_registered', source: 'user_service' });
    expect(got[0]!.headers[SHAPE_HEADER]).toBe('plain-json');
    expect(got[0]!.headers[BRIDGE_HEADER]).toBe('from-legacy');
    // The handler can run before the bridge's send has resolved: wait for the count.
    await waitFor(() => statsOf(bridge, `pubsub:${channel}`)?.forwarded === 3);
    expect(statsOf(bridge, `pubsub:${channel}`)).toMatchObject({ received: 3, forwarded: 3 });
  });

  it('list queue: every item reaches the endpoint, the lists end empty, junk goes to the dead list', async () => {
    const key = unique('legacy:tasks:');
    const { hub, bridge } = await setup({ inbound: [{ from: 'list', key }] });
    const got: UnifiedMessage[] = [];
    await hub.onMessage('worker', (m) => {
      got.push(m);
    });
    for (let i = 0; i < 20; i++) {
      await legacy.lpush(
        key,
        JSON.stringify({ type: 'task', to: 'worker', message_id: `t-${i}`, payload: { i } }),
      );
    }
    await legacy.lpush(key, 'this is not json');
    await bridge.start();
    await waitFor(() => got.length === 20, { message: () => `20 messages, got ${got.length}` });
    expect(new Set(got.map((m) => m.id)).size).toBe(20);
    await waitFor(async () => (await legacy.llen(`${key}:processing:bridge`)) === 0);
    expect(await legacy.llen(key)).toBe(0);
    expect(await legacy.lrange(`${key}:dead`, 0, -1)).toEqual(['this is not json']);
    expect(statsOf(bridge, `list:${key}`)).toMatchObject({
      received: 21,
      forwarded: 20,
      failed: 1,
    });
    expect(errors.some((e) => e.includes('not JSON'))).toBe(true);
  });

  it('stream: entries are acknowledged after the hub accepted them', async () => {
    const key = unique('legacy:stream:');
    const { hub, bridge } = await setup({ inbound: [{ from: 'stream', key, start: '0' }] });
    const got: UnifiedMessage[] = [];
    await hub.onMessage('billing', (m) => {
      got.push(m);
    });
    for (let i = 0; i < 10; i++) {
      await legacy.xadd(
        key,
        '*',
        'data',
        JSON.stringify({ action: 'charge', target: 'billing', body: { i } }),
      );
    }
    await legacy.xadd(key, '*', 'type', 'charge', 'to', 'billing', 'amount', '5');
    await bridge.start();
    await waitFor(() => got.length === 11, { message: () => `11 messages, got ${got.length}` });
    expect(got.at(-1)?.headers['legacy-extensions']).toBe('{"amount":"5"}');
    await waitFor(async () => ((await legacy.xpending(key, 'hub-bridge')) as [number])[0] === 0);
  });
  it('stream: entries a stopped bridge had read but not acknowledged are sent first', async () => {
    const key = unique('legacy:stream:');
    // A bridge with this id read three entries, then died before acknowledging them.
    await legacy.xgroup('CREATE', key, 'hub-bridge', '0', 'MKSTREAM');
    for (let i = 0; i < 3; i++) {
      await legacy.xadd(key, '*', 'data', JSON.stringify({ type: 't', to: 'ledger', data: { i } }));
    }
    await legacy.xreadgroup('GROUP', 'hub-bridge', 'bridge', 'COUNT', 3, 'STREAMS', key, '>');
    await legacy.xadd(
      key,
      '*',
      'data',
      JSON.stringify({ type: 't', to: 'ledger', data: { i: 3 } }),
    );
    const { hub, bridge } = await setup({ inbound: [{ from: 'stream', key }] });
    const got: unknown[] = [];
    await hub.onMessage('ledger', (m) => {
      got.push(m.payload);
    });
    await bridge.start();
    await waitFor(() => got.length === 4, { message: () => `4 messages, got ${got.length}` });
    expect(got.slice(0, 3)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    await waitFor(() => statsOf(bridge, `stream:${key}`)?.forwarded === 4);
    expect(statsOf(bridge, `stream:${key}`)).toMatchObject({ recovered: 3, forwarded: 4 });
    await waitFor(async () => ((await legacy.xpending(key, 'hub-bridge')) as [number])[0] === 0);
  });
});

describe('hub → legacy', () => {
  it('events, endpoint messages and streams reach legacy consumers in their JSON', async () => {
    const channel = unique('legacy:orders:');
    const list = unique('legacy:jobs:');
    const stream = unique('legacy:audit:');
    const { hub, bridge } = await setup({
      outbound: [
        { from: { topic: 'orders.*' }, to: 'pubsub', channel },
        { from: { endpoint: 'legacy_worker' }, to: 'list', key: list },
        { from: { topic: 'audit' }, to: 'stream', key: stream, shape: 'cloudevents' },
      ],
    });
    const seen: string[] = [];
    subscriber.on('message', (ch: string, m: string) => {
      if (ch === channel) seen.push(m);
    });
    await subscriber.subscribe(channel);
    await bridge.start();
    await hub.publish(
      createEvent({ source: 'shop', type: 'order_created', topic: 'orders.eu', data: { n: 1 } }),
    );
    await hub.send(
      createMessage({
        source: 'new_service',
        destination: 'legacy_worker',
        type: 'resize',
        payload: { w: 2 },
      }),
    );
    await hub.publish(
      createEvent({ source: 'svc', type: 'login', topic: 'audit', data: { u: 'x' } }),
    );
    await waitFor(() => seen.length === 1);
    expect(JSON.parse(seen[0]!)).toMatchObject({
      type: 'order_created',
      topic: 'orders.eu',
      from: 'shop',
      data: { n: 1 },
      headers: { [BRIDGE_HEADER]: 'to-legacy' },
    });
    const item = await waitFor(() => legacy.rpop(list));
    expect(JSON.parse(item)).toMatchObject({
      type: 'resize',
      from: 'new_service',
      to: 'legacy_worker',
      data: { w: 2 },
    });
    const entries = await waitFor(async () => {
      const r = await legacy.xrange(stream, '-', '+');
      return r.length > 0 ? r : undefined;
    });
    expect(JSON.parse(entries[0]![1][1]!)).toMatchObject({
      specversion: '1.0',
      type: 'login',
      data: { u: 'x' },
    });
    await subscriber.unsubscribe(channel);
  });
});

describe('loop prevention', () => {
  it('with both directions on the same channel and topic, each message is bridged once', async () => {
    const channel = unique('legacy:chat:');
    const { hub, bridge } = await setup({
      inbound: [{ from: 'pubsub', channel }],
      outbound: [{ from: { topic: 'chat' }, to: 'pubsub', channel }],
    });
    const onHub: Envelope[] = [];
    await hub.subscribe('chat', (e) => {
      onHub.push(e);
    });
    const onLegacy: string[] = [];
    subscriber.on('message', (ch: string, m: string) => {
      if (ch === channel) onLegacy.push(m);
    });
    await subscriber.subscribe(channel);
    await bridge.start();
    const inbound = () => statsOf(bridge, `pubsub:${channel}`);
    const outbound = () => statsOf(bridge, `topic:chat -> pubsub:${channel}`);

    // Legacy producer → hub; the outbound route sees it come back and stops there.
    await legacy.publish(channel, JSON.stringify({ event: 'chat', data: 'from legacy' }));
    await waitFor(() => outbound().loopsPrevented === 1, {
      message: () => JSON.stringify(bridge.stats()),
    });
    // Hub producer → legacy; the inbound route sees it come back and stops there.
    await hub.publish(createEvent({ source: 'new_app', topic: 'chat', data: 'from hub' }));
    await waitFor(() => inbound().loopsPrevented === 1, {
      message: () => JSON.stringify(bridge.stats()),
    });

    expect(onHub.map((e) => (e as UnifiedEvent).data)).toEqual(['from legacy', 'from hub']);
    expect(onLegacy.map((m) => JSON.parse(m).data)).toEqual(['from legacy', 'from hub']);
    expect(inbound()).toMatchObject({ received: 2, forwarded: 1, loopsPrevented: 1 });
    expect(outbound()).toMatchObject({ received: 2, forwarded: 1, loopsPrevented: 1 });
    await subscriber.unsubscribe(channel);
  });
});

describe('options', () => {
  it('unknown and malformed options are typed config errors naming them', () => {
    const base = { hub: { send() {} } as never, redis: 'redis://127.0.0.1:1' };
    expect(() => createLegacyBridge({ ...base, inbnd: [] } as never)).toThrow(
      /inbnd.*did you mean `inbound`/,
    );
    expect(() => createLegacyBridge({ ...base, inbound: [{ from: 'kafka' } as never] })).toThrow(
      /inbound\[0\]\.from/,
    );
    expect(() =>
      createLegacyBridge({ ...base, outbound: [{ to: 'list', key: 'k', from: {} } as never] }),
    ).toThrow(/outbound\[0\]\.from/);
  });
});
