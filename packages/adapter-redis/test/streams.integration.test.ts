import { type RedisServer, redisCli, startRedisServer } from '@hub/adapter-test-suite';
import type { InboundDelivery } from '@hub/core';
import { createEvent, HubError } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];
let raw: Redis;

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

function make(prefix: string, extra: Parameters<typeof redis>[0] = {}): RedisAdapter {
  const a = redis({ url: server.url, keyPrefix: prefix, claimIdleMs: 1_000, ...extra });
  adapters.push(a);
  return a;
}

describe('pub/sub', () => {
  it('best-effort messages and events round trip; patterns match a superset filtered by topic', async () => {
    const prefix = uniquePrefix('ps');
    const a = make(prefix);
    await connected(a, 'i1');
    const ep = recorder('svc');
    const orders = recorder('orders.*');
    const all = recorder('**');
    await a.subscribe(ep.spec());
    await a.subscribe(orders.spec({ kind: 'topic', address: 'orders.*' }));
    await a.subscribe(all.spec({ kind: 'topic', address: '**' }));
    const res = await a.send(message('svc', { n: 1 }, { guarantee: 'best-effort' }));
    expect(res.protocol).toBe('redis-pubsub');
    await a.send(createEvent({ source: 't', topic: 'orders.eu', data: { x: 1 } }));
    await a.send(createEvent({ source: 't', topic: 'users.created', data: { x: 2 } }));
    await waitFor(
      () =>
        ep.deliveries.length === 1 && orders.deliveries.length === 1 && all.deliveries.length === 2,
      () =>
        `ep=${ep.deliveries.length} orders=${orders.deliveries.length} all=${all.deliveries.length}`,
    );
    expect(orders.deliveries[0]!.envelope).toMatchObject({ kind: 'event', topic: 'orders.eu' });
    expect(ep.deliveries[0]!.envelope).toMatchObject({ kind: 'message', payload: { n: 1 } });
  });
});

describe('streams', () => {
  it('round trip: 100 messages with headers and binary-safe payloads, exact id set', async () => {
    const prefix = uniquePrefix('rt');
    const a = make(prefix);
    await connected(a, 'i1');
    const r = recorder('ep');
    await a.subscribe(r.spec());
    const sent = new Map<string, unknown>();
    for (let i = 0; i < 100; i++) {
      const payload = {
        i,
        bytes: new Uint8Array([0, 255, i % 256, 10, 13]),
        s: `nul\u0000 é 😀 \r\n "quoted" ${'x'.repeat(i * 10)}`,
        arr: [1, null, true],
      };
      const m = message('ep', payload);
      m.headers = {
        'x-n': String(i),
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      };
      sent.set(m.id, payload);
      const res = await a.send(m);
      expect(res.protocol).toBe('redis-streams');
      expect(res.brokerId).toMatch(/^\d+-\d+$/);
    }
    await waitFor(
      () => r.deliveries.length >= 100,
      () => `received ${r.deliveries.length}/100`,
    );
    expect(new Set(r.ids())).toEqual(new Set(sent.keys()));
    for (const d of r.deliveries) {
      expect(d.attempt).toBe(1);
      if (d.envelope.kind !== 'message') throw new Error('not a message');
      expect(d.envelope.payload).toEqual(sent.get(d.envelope.id));
      expect(d.envelope.headers['x-n']).toBe(String((d.envelope.payload as { i: number }).i));
    }
    await waitFor(
      async () => (await pending(a, 'ep')) === 0,
      () => 'pending not 0',
    );
  });

  it('competing consumers: 2,000 messages over 3 instances, each handled once', async () => {
    const prefix = uniquePrefix('cc');
    const sender = make(prefix);
    await connected(sender, 's');
    const seen = new Map<string, number>();
    const perInstance = [0, 0, 0];
    for (let i = 0; i < 3; i++) {
      const a = make(prefix);
      await connected(a, `c${i}`);
      const r = recorder('work', (d) => {
        seen.set(d.envelope.id, (seen.get(d.envelope.id) ?? 0) + 1);
        perInstance[i]!++;
        return d.ack();
      });
      await a.subscribe(r.spec({ prefetch: 8 }));
    }
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: 2_000 }, async (_, i) => {
        const m = message('work', { i });
        ids.push(m.id);
        await sender.send(m);
      }),
    );
    await waitFor(
      () => seen.size >= 2_000,
      () => `received ${seen.size}/2000`,
    );
    const lost = ids.filter((id) => !seen.has(id)).length;
    const dup = [...seen.values()].filter((n) => n > 1).length;
    expect({ sent: 2_000, received: seen.size, lost, dup }).toEqual({
      sent: 2_000,
      received: 2_000,
      lost: 0,
      dup: 0,
    });
    expect(perInstance.filter((n) => n > 0).length).toBeGreaterThan(1);
  });

  it('two groups each receive every message', async () => {
    const prefix = uniquePrefix('g2');
    const a = make(prefix);
    await connected(a, 'i1');
    const g1 = recorder('ep');
    const g2 = recorder('ep');
    await a.subscribe(g1.spec({ group: 'one' }));
    await a.subscribe(g2.spec({ group: 'two' }));
    for (let i = 0; i < 50; i++) await a.send(message('ep', { i }));
    await waitFor(
      () => g1.deliveries.length >= 50 && g2.deliveries.length >= 50,
      () => `${g1.deliveries.length} ${g2.deliveries.length}`,
    );
    expect(new Set(g1.ids())).toEqual(new Set(g2.ids()));
  });

  it('nack → redelivery with a rising attempt that matches the Redis delivery count', async () => {
    const prefix = uniquePrefix('nack');
    const a = make(prefix);
    await connected(a, 'i1');
    const r = recorder('ep', (d) => (d.attempt < 3 ? d.nack({ delayMs: 10 }) : d.ack()));
    await a.subscribe(r.spec());
    const m = message('ep', 'x');
    await a.send(m);
    await waitFor(
      () => r.deliveries.length >= 3,
      () => `deliveries ${r.deliveries.length}`,
    );
    expect(r.deliveries.map((d) => d.attempt)).toEqual([1, 2, 3]);
    const env = r.deliveries[2]!.envelope;
    expect(env.kind === 'message' && env.attempt).toBe(3);
    await waitFor(
      async () => (await pending(a, 'ep')) === 0,
      () => 'still pending',
    );
  });

  it('deadLetter: entry lands in the DLQ with reason and attempts, pending cleared', async () => {
    const prefix = uniquePrefix('dlq');
    const a = make(prefix);
    await connected(a, 'i1');
    const r = recorder('ep', (d) =>
      d.attempt < 2 ? d.nack() : d.deadLetter('handler failed twice'),
    );
    await a.subscribe(r.spec());
    const m = message('ep', { bad: true });
    await a.send(m);
    await waitFor(
      async () => (await a.readDeadLetters('ep')).length === 1,
      () => 'no DLQ entry',
    );
    const [entry] = await a.readDeadLetters('ep');
    expect(entry!.envelope.id).toBe(m.id);
    expect(entry!.reason).toBe('handler failed twice');
    expect(entry!.attempts).toBe(2);
    expect(entry!.deadLetteredAt).toBeGreaterThan(0);
    await waitFor(
      async () => (await pending(a, 'ep')) === 0,
      () => 'still pending',
    );
  });

  it('undecodable entries go to the DLQ with the reason; the consumer keeps going', async () => {
    const prefix = uniquePrefix('bad');
    const a = make(prefix);
    await connected(a, 'i1');
    const r = recorder('ep');
    await a.subscribe(r.spec());
    const key = a.keys.priorityStream('ep', 2);
    await redisCli(server, ['XADD', key, '*', 'env', '{"truncated":']);
    await redisCli(server, ['XADD', key, '*', 'foo', 'bar']);
    await raw.xadd(
      key,
      '*',
      'v',
      '1',
      'id',
      'x',
      'env',
      JSON.stringify({ kind: 'message', version: 99 }),
    );
    const good = message('ep', 'fine');
    await a.send(good);
    await waitFor(
      () => r.deliveries.length === 1 && r.rejected.length === 3,
      () => `ok=${r.deliveries.length} rejected=${r.rejected.length}`,
    );
    expect(r.deliveries[0]!.envelope.id).toBe(good.id);
    const dlq = await raw.xrange(a.keys.dlq('ep'), '-', '+');
    expect(dlq).toHaveLength(3);
    const reasons = dlq.map(([, f]) => f[f.indexOf('reason') + 1]);
    for (const reason of reasons) expect(reason).toMatch(/^undecodable: /);
    // No `env`: every original field is kept as `raw.<name>`.
    expect(dlq[1]![1]).toEqual(expect.arrayContaining(['raw.foo', 'bar']));
    await waitFor(
      async () => (await pending(a, 'ep')) === 0,
      () => 'still pending',
    );
    for (const x of r.rejected) {
      expect(x.error).toBeInstanceOf(HubError);
      expect(x.error.message).toMatch(/^\[hub:(redis|protocol)\]/);
    }
    // The failure names the offending field.
    expect(reasons[2]).toMatch(/version/);
  });

  it('priorities: a backlog is read highest first', async () => {
    const prefix = uniquePrefix('prio');
    const a = make(prefix);
    await connected(a, 'i1');
    for (let i = 0; i < 20; i++) await a.send(message('ep', { p: 1 }, { priority: 1 }));
    for (let i = 0; i < 20; i++) await a.send(message('ep', { p: 5 }, { priority: 5 }));
    for (let i = 0; i < 20; i++) await a.send(message('ep', { p: 3 }, { priority: 3 }));
    const r = recorder('ep');
    await a.subscribe(r.spec({ prefetch: 1 }));
    await waitFor(
      () => r.deliveries.length >= 60,
      () => `received ${r.deliveries.length}`,
    );
    const order = r.deliveries.map((d) =>
      d.envelope.kind === 'message' ? (d.envelope.payload as { p: number }).p : 0,
    );
    expect(order).toEqual([...Array(20).fill(5), ...Array(20).fill(3), ...Array(20).fill(1)]);
  });

  it('flow control: with prefetch 1 and the ack withheld, the next message is not delivered', async () => {
    const prefix = uniquePrefix('fc');
    const a = make(prefix);
    await connected(a, 'i1');
    const held: InboundDelivery[] = [];
    const r = recorder('ep', (d) => {
      held.push(d);
    });
    await a.subscribe(r.spec({ prefetch: 1 }));
    await a.send(message('ep', 1));
    await a.send(message('ep', 2));
    await waitFor(
      () => held.length === 1,
      () => `held ${held.length}`,
    );
    // Give the reader several block cycles; it must not hand over a second message.
    const until = Date.now() + 1_500;
    await waitFor(
      () => Date.now() > until || held.length > 1,
      () => '',
    );
    expect(held).toHaveLength(1);
    await held[0]!.ack();
    await waitFor(
      () => held.length === 2,
      () => `held ${held.length}`,
    );
    await held[1]!.ack();
  });

  it('a consumer group lost by the broker (stream deleted) is recreated; delivery resumes', async () => {
    const prefix = uniquePrefix('nogroup');
    const a = make(prefix);
    const ctx = await connected(a, 'i1');
    const r = recorder('ep');
    await a.subscribe(r.spec());
    await a.send(message('ep', 1));
    await waitFor(
      () => r.deliveries.length === 1,
      () => 'first not received',
    );
    await raw.del(a.keys.priorityStream('ep', 2), a.keys.priorityStream('ep', 5));
    const m = message('ep', 2);
    await a.send(m);
    await waitFor(
      () => r.ids().includes(m.id),
      () => `not received after group loss: ${ctx.warnings.join(' | ')}`,
    );
    expect(ctx.warnings.some((w) => w.includes('consumer group missing'))).toBe(true);
  });

  it('interop: a hub message is readable with plain redis-cli XREADGROUP', async () => {
    const prefix = uniquePrefix('cli');
    const a = make(prefix);
    await connected(a, 'i1');
    const m = message('ep', { hello: 'world' });
    m.headers = { 'x-k': 'v' };
    await a.send(m);
    const key = a.keys.priorityStream('ep', 2);
    await redisCli(server, ['XGROUP', 'CREATE', key, 'cli', '0']);
    const out = await redisCli(server, [
      'XREADGROUP',
      'GROUP',
      'cli',
      'me',
      'COUNT',
      '1',
      'STREAMS',
      key,
      '>',
    ]);
    const lines = out.trim().split('\n');
    expect(lines).toContain('v');
    expect(lines).toContain(m.id);
    const env = JSON.parse(lines[lines.indexOf('env') + 1]!);
    expect(env).toMatchObject({
      kind: 'message',
      id: m.id,
      destination: 'ep',
      payload: { hello: 'world' },
      headers: { 'x-k': 'v' },
    });
    expect(key).toBe(`${prefix}:{ep}:p2`);
  });
});

async function pending(a: RedisAdapter, ep: string): Promise<number> {
  const info = (await a.inspect()).endpoints as Record<string, { pending: number }>;
  return info[ep]?.pending ?? -1;
}
