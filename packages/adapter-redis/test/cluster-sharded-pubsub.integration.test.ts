import {
  type RedisCluster,
  type RedisServer,
  redisCli,
  startRedisCluster,
  startRedisServer,
} from '@hub/adapter-test-suite';
import { createEvent, ErrorCode, HubError } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyLayout, type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

// `shardedPubSub` on a Cluster: best-effort messages go by SPUBLISH to the
// node owning their channel's slot and are received by SSUBSCRIBE; events
// (pattern subscriptions) stay on classic Pub/Sub. Off, everything is classic.

let cluster: RedisCluster;
let single: RedisServer;
const adapters: RedisAdapter[] = [];
const nodes: Redis[] = [];

beforeAll(async () => {
  [cluster, single] = await Promise.all([startRedisCluster({ masters: 3 }), startRedisServer()]);
  for (const n of cluster.nodes) {
    const r = new Redis(n.port, n.host);
    r.on('error', () => {});
    nodes.push(r);
  }
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  for (const r of nodes) r.disconnect();
  await Promise.allSettled([cluster?.stop(), single?.stop()]);
});

/** The channels under `prefix` of `PUBSUB <sub>` on every node, as `redis-cli -c` lists them. */
async function pubsubList(sub: 'CHANNELS' | 'SHARDCHANNELS', prefix: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of cluster.nodes) {
    const text = await redisCli(n, ['-c', 'PUBSUB', sub, `${prefix}:*`]);
    out.push(...text.split('\n').filter((l) => l.trim() !== ''));
  }
  return out.sort();
}

/** The port of the node whose `PUBSUB SHARDCHANNELS` lists each channel under `prefix`. */
async function shardChannelNodes(prefix: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const n of cluster.nodes) {
    const text = await redisCli(n, ['PUBSUB', 'SHARDCHANNELS', `${prefix}:*`]);
    for (const c of text.split('\n').filter((l) => l.trim() !== '')) out.set(c, n.port);
  }
  return out;
}

/** Calls of one command on every node (INFO commandstats; a script's calls count too). */
async function calls(command: string): Promise<number> {
  let total = 0;
  for (const r of nodes) {
    const info = await r.info('commandstats');
    total += Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  }
  return total;
}

const clusterAdapter = (prefix: string, shardedPubSub?: boolean) => {
  const a = redis({
    cluster: { nodes: [...cluster.nodes] },
    keyPrefix: prefix,
    ...(shardedPubSub === undefined ? {} : { shardedPubSub }),
  });
  adapters.push(a);
  return a;
};

it('sharded: 1,000 best-effort messages go by SPUBLISH and all arrive, in order, over SSUBSCRIBE', async () => {
  const prefix = uniquePrefix('shm');
  const endpoint = 'sharded';
  const sender = clusterAdapter(prefix, true);
  const receiver = clusterAdapter(prefix, true);
  await connected(receiver, 'receiver');
  const got: number[] = [];
  await receiver.subscribe(
    recorder(endpoint, (d) => {
      got.push((d.envelope as { payload: { i: number } }).payload.i);
      return d.ack();
    }).spec(),
  );
  await connected(sender, 'sender');

  // The endpoint's shared channel and the receiver's member channel are shard
  // channels, seen by PUBSUB SHARDCHANNELS and not by the classic PUBSUB CHANNELS.
  const shard = await pubsubList('SHARDCHANNELS', prefix);
  expect(shard).toContain(keyLayout(prefix).channel(endpoint));
  expect(shard.some((c) => c.startsWith(`${prefix}:chm:`))).toBe(true);
  expect(await pubsubList('CHANNELS', prefix)).toEqual([]);

  const before = { spublish: await calls('spublish'), publish: await calls('publish') };
  const all = Array.from({ length: 1_000 }, (_, i) =>
    message(endpoint, { i }, { guarantee: 'best-effort' }),
  );
  await Promise.all(all.map((m) => sender.send(m)));
  await waitFor(
    () => got.length >= all.length,
    () => `received ${got.length} of ${all.length}`,
    30_000,
  );
  // One channel's batches go to one node: no loss, no duplicate, the order sent.
  expect(got).toEqual(all.map((_, i) => i));
  expect((await calls('spublish')) - before.spublish).toBe(all.length);
  expect((await calls('publish')) - before.publish).toBe(0);
}, 90_000);

/** Move `slot` (and any keys in it) to the next master, as a resharding does. */
async function moveSlot(slot: number): Promise<void> {
  const slots = (await nodes[0]!.cluster('SLOTS')) as unknown as [
    number,
    number,
    [string, number, string],
  ][];
  const range = slots.find(([a, b]) => slot >= a && slot <= b)!;
  const from = cluster.nodes.findIndex((n) => n.port === range[2][1]);
  const to = (from + 1) % nodes.length;
  const src = nodes[from]!;
  const dst = nodes[to]!;
  const dstId = String(await dst.cluster('MYID'));
  await dst.cluster('SETSLOT', slot, 'IMPORTING', range[2][2]);
  await src.cluster('SETSLOT', slot, 'MIGRATING', dstId);
  for (let guard = 0; guard < 100; guard++) {
    const keys = (await src.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    if (keys.length === 0) break;
    await src.migrate('127.0.0.1', cluster.nodes[to]!.port, '', 0, 5_000, 'KEYS', ...keys);
  }
  for (const r of nodes) await r.cluster('SETSLOT', slot, 'NODE', dstId);
}

it('sharded: after the slots of the hub’s channels move to another master, messages arrive again, all of them', async () => {
  const prefix = uniquePrefix('shmv');
  const endpoint = 'moving';
  const sender = clusterAdapter(prefix, true);
  const receiver = clusterAdapter(prefix, true);
  await connected(receiver, 'receiver');
  const got = new Set<number>();
  await receiver.subscribe(
    recorder(endpoint, (d) => {
      got.add((d.envelope as { payload: { i: number } }).payload.i);
      return d.ack();
    }).spec(),
  );
  await connected(sender, 'sender');
  const send = (i: number) => sender.send(message(endpoint, { i }, { guarantee: 'best-effort' }));
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(i)));
  await waitFor(
    () => got.size >= 100,
    () => `received ${got.size} of 100`,
  );
  const channels = await pubsubList('SHARDCHANNELS', prefix);
  expect(channels.length).toBeGreaterThanOrEqual(2);
  const before = await shardChannelNodes(prefix);
  const slots = new Set<number>();
  for (const c of channels) slots.add(Number(await nodes[0]!.cluster('KEYSLOT', c)));
  for (const slot of slots) await moveSlot(slot);
  // Best-effort: what is sent while the subscription moves may be lost; once
  // a probe gets through, the channel is served by its new node.
  let probe = 1_000_000;
  await waitFor(
    async () => {
      if ([...got].some((i) => i >= 1_000_000)) return true;
      await send(probe++).catch(() => {});
      return false;
    },
    () => `no probe arrived after the move (sent ${probe - 1_000_000})`,
    30_000,
  );
  // The subscriptions moved with the slots: each channel is listed by another node now.
  const after = await shardChannelNodes(prefix);
  for (const c of channels) {
    expect(after.get(c)).toBeDefined();
    expect(after.get(c)).not.toBe(before.get(c));
  }
  await Promise.all(Array.from({ length: 100 }, (_, i) => send(100 + i)));
  await waitFor(
    () => Array.from({ length: 100 }, (_, i) => 100 + i).every((i) => got.has(i)),
    () => `received ${[...got].filter((i) => i >= 100 && i < 200).length} of 100 after the move`,
  );
}, 90_000);

it('sharded: best-effort events keep classic Pub/Sub (topic subscriptions are patterns) and all arrive, in order', async () => {
  const prefix = uniquePrefix('she');
  const publisher = clusterAdapter(prefix, true);
  const listener = clusterAdapter(prefix, true);
  await connected(listener, 'listener');
  const got: number[] = [];
  const spec = recorder('orders.*', (d) => {
    got.push((d.envelope as { data: { i: number } }).data.i);
    return d.ack();
  }).spec({ kind: 'topic', address: 'orders.*' });
  // Every subscriber gets each event (no group: a group's claims may reorder).
  delete (spec as { group?: string }).group;
  await listener.subscribe(spec);
  await connected(publisher, 'publisher');
  const all = Array.from({ length: 1_000 }, (_, i) =>
    createEvent({ source: 's', topic: 'orders.created', data: { i } }),
  );
  await Promise.all(all.map((e) => publisher.send(e)));
  await waitFor(
    () => got.length >= all.length,
    () => `received ${got.length} of ${all.length}`,
    30_000,
  );
  expect(got).toEqual(all.map((_, i) => i));
}, 90_000);

it('default (off): the hub’s channels are classic, listed by PUBSUB CHANNELS and not by SHARDCHANNELS', async () => {
  const prefix = uniquePrefix('shoff');
  const endpoint = 'classic';
  const sender = clusterAdapter(prefix);
  const receiver = clusterAdapter(prefix);
  await connected(receiver, 'receiver');
  const got = recorder(endpoint);
  await receiver.subscribe(got.spec());
  await connected(sender, 'sender');
  expect(await pubsubList('CHANNELS', prefix)).toContain(keyLayout(prefix).channel(endpoint));
  expect(await pubsubList('SHARDCHANNELS', prefix)).toEqual([]);
  const before = await calls('spublish');
  await sender.send(message(endpoint, 1, { guarantee: 'best-effort' }));
  await waitFor(
    () => got.deliveries.length === 1,
    () => `received ${got.deliveries.length}`,
  );
  expect((await calls('spublish')) - before).toBe(0);
}, 60_000);

it('standalone server: shardedPubSub is ignored with a warning, and a plain SUBSCRIBE still sees the hub’s messages', async () => {
  const prefix = uniquePrefix('shone');
  const endpoint = 'alone';
  const a = redis({
    url: `redis://127.0.0.1:${single.port}`,
    keyPrefix: prefix,
    shardedPubSub: true,
  });
  adapters.push(a);
  const ctx = await connected(a, 'alone');
  expect(ctx.warnings.some((w) => w.includes('"shardedPubSub" is ignored'))).toBe(true);
  const plain = new Redis(single.port, '127.0.0.1');
  plain.on('error', () => {});
  try {
    const seen: string[] = [];
    plain.on('message', (_channel: string, text: string) => seen.push(text));
    await plain.subscribe(keyLayout(prefix).channel(endpoint));
    const m = message(endpoint, 'hello', { guarantee: 'best-effort' });
    await a.send(m);
    await waitFor(
      () => seen.some((t) => t.includes(m.id)),
      () => `plain subscriber saw ${seen.length}`,
    );
  } finally {
    plain.disconnect();
  }
}, 60_000);

it('refuses a shardedPubSub that is not a boolean, naming the field', () => {
  let err: unknown;
  try {
    redis({ url: 'redis://127.0.0.1:1', shardedPubSub: 'yes' as unknown as boolean });
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HubError);
  expect((err as HubError).code).toBe(ErrorCode.INVALID_CONFIG);
  expect((err as Error).message).toContain('"shardedPubSub"');
});
