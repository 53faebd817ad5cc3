import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createEvent, HubError } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LONE_BYTES, MAX_BATCH_BYTES, MAX_BATCH_ENTRIES } from '../src/batch.js';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

// Stream sends of one tick go to Redis as one script call per stream (batched
// XADD, for throughput). These tests read Redis's own command counters, so each has its
// own server: nothing else may run commands on it meanwhile.
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

async function make(prefix: string): Promise<RedisAdapter> {
  // No listener heartbeat (an EVAL) while a test counts script calls.
  const a = redis({ url: server.url, keyPrefix: prefix, heartbeatMs: 600_000 });
  adapters.push(a);
  await connected(a, 'i1');
  return a;
}

/** Calls of `EVALSHA`/`EVAL`/`XADD`/`PUBLISH` so far (commands run by a script count too). */
async function calls(): Promise<{ scripts: number; xadd: number; publish: number }> {
  const info = await raw.info('commandstats');
  const n = (cmd: string) => Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
  return { scripts: n('evalsha') + n('eval'), xadd: n('xadd'), publish: n('publish') };
}

describe('batched XADD', () => {
  it('sends of one tick to one stream: one script call per batch, entries in send order, one id each', async () => {
    const a = await make(uniquePrefix('bx'));
    const n = MAX_BATCH_ENTRIES * 2 + 10;
    const msgs = Array.from({ length: n }, (_, i) => message('ep', { i }));
    const before = await calls();
    const results = await Promise.all(msgs.map((m) => a.send(m)));
    const after = await calls();
    // Three batches (256 + 256 + 10), each one script call; every entry is still one XADD.
    expect(after.scripts - before.scripts).toBe(3);
    expect(after.xadd - before.xadd).toBe(n);
    const ids = results.map((r) => r.brokerId!);
    expect(new Set(ids).size).toBe(n);
    const entries = (await raw.xrange(a.keys.priorityStream('ep', 2), '-', '+')) as Array<
      [string, string[]]
    >;
    expect(entries.map(([id]) => id)).toEqual(ids);
    for (let i = 0; i < n; i++) {
      const [, fields] = entries[i]!;
      expect(fields.slice(0, 4)).toEqual(['v', '1', 'id', msgs[i]!.id]);
      expect(fields[4]).toBe('env');
      expect(JSON.parse(fields[5]!)).toMatchObject({ id: msgs[i]!.id, payload: { i } });
    }
  });

  it('a lone send is a plain XADD; streams of one tick are batched apart', async () => {
    const a = await make(uniquePrefix('bx1'));
    let before = await calls();
    await a.send(message('solo', { x: 1 }));
    let after = await calls();
    expect(after.scripts - before.scripts).toBe(0);
    expect(after.xadd - before.xadd).toBe(1);
    // A busy tick first (two sends): the next tick batches from its first send on.
    await Promise.all([a.send(message('warm', 1)), a.send(message('warm', 2))]);
    before = await calls();
    const sent = await Promise.all([
      a.send(message('p', { n: 1 }, { priority: 1 })),
      a.send(message('q', { n: 2 })),
      a.send(message('p', { n: 3 }, { priority: 1 })),
      a.send(message('q', { n: 4 })),
      a.send(message('p', { n: 5 })),
    ]);
    after = await calls();
    // p (priority 1) and q get a script call each; p at priority 2 has one entry: a plain XADD.
    expect(after.scripts - before.scripts).toBe(2);
    expect(after.xadd - before.xadd).toBe(5);
    expect(sent.every((r) => /^\d+-\d+$/.test(r.brokerId!))).toBe(true);
    expect(await raw.xlen(a.keys.priorityStream('p', 1))).toBe(2);
    expect(await raw.xlen(a.keys.priorityStream('q', 2))).toBe(2);
    expect(await raw.xlen(a.keys.priorityStream('p', 2))).toBe(1);
  });

  it('after a quiet tick the first send is written at once, the ones after it in that tick batched', async () => {
    const a = await make(uniquePrefix('bxq'));
    // A tick with one send: the next tick is "quiet".
    await a.send(message('q1', 0));
    let before = await calls();
    const first = await Promise.all([1, 2].map((i) => a.send(message('q1', { i }))));
    let after = await calls();
    // The first went as a plain XADD when it was sent; the second, alone in its batch, too.
    expect(after.scripts - before.scripts).toBe(0);
    expect(after.xadd - before.xadd).toBe(2);
    // That tick had two sends: the next one batches from its first send on.
    before = await calls();
    const second = await Promise.all([3, 4].map((i) => a.send(message('q1', { i }))));
    after = await calls();
    expect(after.scripts - before.scripts).toBe(1);
    expect(after.xadd - before.xadd).toBe(2);
    const entries = (await raw.xrange(a.keys.priorityStream('q1', 2), '-', '+')) as Array<
      [string, string[]]
    >;
    // In send order, one entry each (the first entry is the tick of one send).
    expect(entries.map(([id]) => id).slice(1)).toEqual(
      [...first, ...second].map((r) => r.brokerId),
    );
  });

  it('after SCRIPT FLUSH (or a restart) the batch still goes: the body travels with every call', async () => {
    const a = await make(uniquePrefix('bxf'));
    await Promise.all([a.send(message('f', 1)), a.send(message('f', 2))]);
    await raw.script('FLUSH');
    const res = await Promise.all([1, 2, 3].map((i) => a.send(message('f', i))));
    expect(res).toHaveLength(3);
    expect(await raw.xlen(a.keys.priorityStream('f', 2))).toBe(5);
  });

  it('bounded in bytes; a large message goes alone; order kept across batches, even after SCRIPT FLUSH', async () => {
    const a = await make(uniquePrefix('bxb'));
    const mid = 'm'.repeat(40_000); // 40 KB: under LONE_BYTES, 12 fit in MAX_BATCH_BYTES
    expect(mid.length).toBeLessThan(LONE_BYTES);
    const perBatch = Math.floor(MAX_BATCH_BYTES / (mid.length + 21));
    let before = await calls();
    const mids = Array.from({ length: perBatch * 2 + 3 }, (_, i) => message('big', { i, mid }));
    await Promise.all(mids.map((m) => a.send(m)));
    let after = await calls();
    expect(after.scripts - before.scripts).toBe(3);
    expect(after.xadd - before.xadd).toBe(mids.length);
    // An emptied script cache must not reorder: a small batch, a large message alone
    // (a plain XADD), then a small one, all written in one flush.
    await raw.script('FLUSH');
    const huge = 'h'.repeat(LONE_BYTES + 1);
    const seq = [
      message('big', { k: 's1' }),
      message('big', { k: 's2' }),
      message('big', { k: 'huge', huge }),
      message('big', { k: 's3' }),
    ];
    before = await calls();
    await Promise.all(seq.map((m) => a.send(m)));
    after = await calls();
    expect(after.scripts - before.scripts).toBe(1);
    expect(after.xadd - before.xadd).toBe(4);
    const entries = (await raw.xrange(a.keys.priorityStream('big', 2), '-', '+')) as Array<
      [string, string[]]
    >;
    expect(entries.map(([, f]) => f[3])).toEqual([...mids, ...seq].map((m) => m.id));
  });

  it('a batch Redis refuses fails every send in it, typed; the next batch goes', async () => {
    const a = await make(uniquePrefix('bxe'));
    const key = a.keys.priorityStream('bad', 2);
    await raw.set(key, 'not a stream');
    const outcomes = await Promise.allSettled([1, 2, 3].map((i) => a.send(message('bad', { i }))));
    for (const o of outcomes) {
      expect(o.status).toBe('rejected');
      const err = (o as PromiseRejectedResult).reason as HubError;
      expect(err).toBeInstanceOf(HubError);
      expect(err.message).toMatch(/WRONGTYPE/);
    }
    await raw.del(key);
    const ok = await Promise.all([1, 2].map((i) => a.send(message('bad', { i }))));
    expect(ok.every((r) => r.protocol === 'redis-streams')).toBe(true);
    expect(await raw.xlen(key)).toBe(2);
  });
});

describe('batched PUBLISH', () => {
  it('best-effort sends of one tick: one script call per batch, every message delivered, in order', async () => {
    const prefix = uniquePrefix('bp');
    const a = await make(prefix);
    const rec = recorder('ps');
    await a.subscribe(
      rec.spec({ guarantees: ['best-effort'] as never, prefetch: 10_000, maxDeliveries: 1 }),
    );
    // A first send reads the listener set; the measured tick then has a view.
    await a.send(message('ps', { warm: true }, { guarantee: 'best-effort' }));
    await waitFor(
      () => rec.deliveries.length === 1,
      () => `warm-up ${rec.deliveries.length}`,
    );
    const n = MAX_BATCH_ENTRIES + 44;
    const msgs = Array.from({ length: n }, (_, i) =>
      message('ps', { i }, { guarantee: 'best-effort' }),
    );
    const before = await calls();
    const results = await Promise.all(msgs.map((m) => a.send(m)));
    const after = await calls();
    expect(results.every((r) => r.protocol === 'redis-pubsub')).toBe(true);
    expect(after.scripts - before.scripts).toBe(2);
    expect(after.publish - before.publish).toBe(n);
    await waitFor(
      () => rec.deliveries.length === n + 1,
      () => `received ${rec.deliveries.length}/${n + 1}`,
    );
    expect(rec.ids().slice(1)).toEqual(msgs.map((m) => m.id));
  });

  it('large messages are published one by one: a subscriber is never pushed past its output buffer', async () => {
    const prefix = uniquePrefix('bpl');
    const a = await make(prefix);
    const rec = recorder('lp');
    await a.subscribe(rec.spec({ guarantees: ['best-effort'] as never, prefetch: 1_000 }));
    await a.send(message('lp', 0, { guarantee: 'best-effort' }));
    await waitFor(
      () => rec.deliveries.length === 1,
      () => `warm-up ${rec.deliveries.length}`,
    );
    const blob = 'b'.repeat(LONE_BYTES + 10);
    const msgs = Array.from({ length: 40 }, (_, i) =>
      message('lp', { i, blob }, { guarantee: 'best-effort' }),
    );
    const before = await calls();
    await Promise.all(msgs.map((m) => a.send(m)));
    const after = await calls();
    expect(after.scripts - before.scripts).toBe(0);
    expect(after.publish - before.publish).toBe(40);
    await waitFor(
      () => rec.deliveries.length === 41,
      () => `received ${rec.deliveries.length}/41`,
    );
  });

  it('events of one tick are batched too; a lone send is a plain PUBLISH; SCRIPT FLUSH is survived', async () => {
    const prefix = uniquePrefix('bpe');
    const a = await make(prefix);
    const topics = recorder('t.*');
    const spec = topics.spec({ kind: 'topic', address: 't.*' });
    delete (spec as { group?: string }).group; // every subscriber, not a topic group
    await a.subscribe(spec);
    let before = await calls();
    await a.send(createEvent({ source: 's', topic: 't.one', data: 0 }));
    let after = await calls();
    expect(after.scripts - before.scripts).toBe(0);
    expect(after.publish - before.publish).toBe(1);
    await raw.script('FLUSH');
    before = await calls();
    await Promise.all(
      [1, 2, 3].map((i) => a.send(createEvent({ source: 's', topic: `t.e${i}`, data: i }))),
    );
    after = await calls();
    expect(after.publish - before.publish).toBe(3);
    await waitFor(
      () => topics.deliveries.length === 4,
      () => `received ${topics.deliveries.length}/4`,
    );
    expect(topics.deliveries.map((d) => (d.envelope as { topic: string }).topic)).toEqual([
      't.one',
      't.e1',
      't.e2',
      't.e3',
    ]);
  });
});
