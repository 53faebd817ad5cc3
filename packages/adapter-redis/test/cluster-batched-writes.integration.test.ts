import { spawn } from 'node:child_process';
import { type RedisCluster, startRedisCluster } from '@hub/adapter-test-suite';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { keyLayout, type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

// On a Cluster, the stream sends of one tick to one stream (one slot: the
// endpoint's hash tag) go as one script call, as on a single node; a
// redirection (the slot moved) is followed for the whole batch.

let cluster: RedisCluster;
const adapters: RedisAdapter[] = [];
const nodes: Redis[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
  for (const n of cluster.nodes) {
    const r = new Redis(n.port, n.host);
    r.on('error', () => {});
    nodes.push(r);
  }
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  for (const r of nodes) r.disconnect();
  await cluster?.stop();
});

/**
 * `redis-cli MONITOR` on one node, counting the PUBLISHes of keys under
 * `prefix` sent by a client (`direct`) or run by a script (`scripted`), and
 * the EVALs; resolves once monitoring; the returned function stops it.
 */
async function monitor(
  port: number,
  prefix: string,
  seen: { direct: number; scripted: number; scripts: number },
): Promise<() => Promise<void>> {
  const child = spawn('redis-cli', ['-h', '127.0.0.1', '-p', String(port), 'MONITOR'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let rest = '';
  let ready: () => void = () => {};
  const monitoring = new Promise<void>((resolve) => {
    ready = resolve;
  });
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === 'OK') ready();
      const m = /^[\d.]+ \[\d+ ([^\]]+)\] "(\w+)"/.exec(line);
      if (!m || !line.includes(prefix)) continue;
      const cmd = m[2]!.toLowerCase();
      if (cmd === 'publish') {
        if (m[1] === 'lua') seen.scripted++;
        else seen.direct++;
      } else if (cmd === 'eval') seen.scripts++;
    }
  });
  await Promise.race([monitoring, exited]);
  return async () => {
    child.kill('SIGTERM');
    await exited;
  };
}

/** Calls of one command on every node (INFO commandstats). */
async function calls(command: string): Promise<number> {
  let total = 0;
  for (const r of nodes) {
    const info = await r.info('commandstats');
    const m = new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info);
    total += m ? Number(m[1]) : 0;
  }
  return total;
}

it('Cluster: 2,000 concurrent sends go as batched script calls, and a slot moved under the sender is followed for whole batches', async () => {
  const prefix = uniquePrefix('clb');
  const endpoint = 'batched';
  const sender = redis({ cluster: { nodes: [...cluster.nodes] }, keyPrefix: prefix });
  const receiver = redis({ cluster: { nodes: [...cluster.nodes] }, keyPrefix: prefix });
  adapters.push(sender, receiver);
  await connected(sender, 'sender');
  // Nothing but the sender runs commands until the receiver subscribes at the end.
  const before = { xadd: await calls('xadd'), eval: await calls('eval') };
  const first = Array.from({ length: 1_000 }, (_, i) => message(endpoint, { i }));
  await Promise.all(first.map((m) => sender.send(m)));
  const after = { xadd: await calls('xadd'), eval: await calls('eval') };
  // One script per batch (each running its XADDs inside), not one command per send.
  expect(after.eval - before.eval).toBeGreaterThan(0);
  expect(after.eval - before.eval).toBeLessThan(100);
  expect(after.xadd - before.xadd).toBe(first.length);

  // Move the slot of the endpoint's streams to another master behind the sender's back
  // (its keys migrated first), so its next batches are answered MOVED.
  const stream = keyLayout(prefix).priorityStream(endpoint, 2);
  const slot = Number(await nodes[0]!.cluster('KEYSLOT', stream));
  const owner = async () => {
    const slots = (await nodes[0]!.cluster('SLOTS')) as unknown as [
      number,
      number,
      [string, number, string],
    ][];
    const range = slots.find(([a, b]) => slot >= a && slot <= b)!;
    const i = cluster.nodes.findIndex((n) => n.port === range[2][1]);
    return { i, myId: range[2][2] };
  };
  const from = await owner();
  const toIndex = (from.i + 1) % nodes.length;
  const src = nodes[from.i]!;
  const dst = nodes[toIndex]!;
  const dstId = String(await dst.cluster('MYID'));
  await dst.cluster('SETSLOT', slot, 'IMPORTING', from.myId);
  await src.cluster('SETSLOT', slot, 'MIGRATING', dstId);
  for (let guard = 0; guard < 100; guard++) {
    const keys = (await src.cluster('GETKEYSINSLOT', slot, 100)) as string[];
    if (keys.length === 0) break;
    await src.migrate('127.0.0.1', cluster.nodes[toIndex]!.port, '', 0, 5_000, 'KEYS', ...keys);
  }
  for (const r of nodes) await r.cluster('SETSLOT', slot, 'NODE', dstId);
  const movedBefore = await calls('eval');
  const redirections = async () =>
    Number(/errorstat_MOVED:count=(\d+)/.exec(await src.info('errorstats'))?.[1] ?? 0);
  const redirectedBefore = await redirections();

  const second = Array.from({ length: 1_000 }, (_, i) => message(endpoint, { i: 1_000 + i }));
  await Promise.all(second.map((m) => sender.send(m)));
  expect(await calls('eval')).toBeGreaterThan(movedBefore);
  // The old owner answered MOVED: the batches were sent again to the new one.
  expect(await redirections()).toBeGreaterThan(redirectedBefore);
  const all = [...first, ...second];
  await connected(receiver, 'receiver');
  const got = new Set<string>();
  await receiver.subscribe(
    recorder(endpoint, (d) => {
      got.add(d.envelope.id);
      return d.ack();
    }).spec({ prefetch: 256 }),
  );
  await waitFor(
    () => all.every((m) => got.has(m.id)),
    () => `received ${got.size} of ${all.length}`,
    60_000,
  );
  expect(Number(await dst.xlen(stream))).toBeGreaterThanOrEqual(all.length);
}, 120_000);

it('Cluster: 1,000 concurrent best-effort sends go as batched PUBLISH script calls, one channel per batch, in order', async () => {
  const prefix = uniquePrefix('clpub');
  const endpoint = 'published';
  const sender = redis({ cluster: { nodes: [...cluster.nodes] }, keyPrefix: prefix });
  const receiver = redis({ cluster: { nodes: [...cluster.nodes] }, keyPrefix: prefix });
  adapters.push(sender, receiver);
  await connected(receiver, 'receiver');
  const got: number[] = [];
  await receiver.subscribe(
    recorder(endpoint, (d) => {
      got.push((d.envelope as { payload: { i: number } }).payload.i);
      return d.ack();
    }).spec(),
  );
  await connected(sender, 'sender');
  // MONITOR on every node tells a PUBLISH a client sent from one a script ran
  // (redis-cli prints `[0 lua] "PUBLISH" …` for the latter).
  const seen = { direct: 0, scripted: 0, scripts: 0 };
  const monitors = await Promise.all(cluster.nodes.map((n) => monitor(n.port, prefix, seen)));
  const all = Array.from({ length: 1_000 }, (_, i) =>
    message(endpoint, { i }, { guarantee: 'best-effort' }),
  );
  try {
    await Promise.all(all.map((m) => sender.send(m)));
    await waitFor(
      () => seen.scripted + seen.direct >= all.length,
      () => `monitored ${JSON.stringify(seen)}`,
    );
  } finally {
    await Promise.all(monitors.map((stop) => stop()));
  }
  // Every PUBLISH ran inside a few script calls, not one command per send.
  expect(seen.direct).toBe(0);
  expect(seen.scripted).toBe(all.length);
  expect(seen.scripts).toBeGreaterThan(0);
  expect(seen.scripts).toBeLessThan(100);
  await waitFor(
    () => got.length >= all.length,
    () => `received ${got.length} of ${all.length}`,
    30_000,
  );
  // One channel's batches go to one node: the messages arrive in the order sent.
  expect(got).toEqual(all.map((_, i) => i));
}, 60_000);
