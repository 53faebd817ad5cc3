import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type RedisServer, startRedisCluster, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, type SubscribeOptions, silentLogger } from '@hub/core';
import { createEvent, DeliveryGuarantee, jsonCodec, type UnifiedEvent } from '@hub/protocol';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyLayout, type RedisAdapterOptions, redis, topicAddress } from '../src/index.js';
import { uniquePrefix, waitFor as waitUntil } from './helpers.js';

// Events published at-least-once over Redis are kept in a stream per topic,
// read by a consumer group per subscribing group (see the README, "Durable topics").

const kept = (topic: string, i: number, extra: Partial<Parameters<typeof createEvent>[0]> = {}) =>
  createEvent({
    source: 'shop',
    topic,
    type: 'order_created',
    data: { i },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    ...extra,
  });

/** Publish all, `parallel` at a time. */
async function publishAll(h: Hub, events: readonly UnifiedEvent[], parallel = 64): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < events.length) await h.publish(events[next++]!);
    }),
  );
}

/** A subscription recording how often each event id arrived. */
async function record(
  h: Hub,
  pattern: string,
  options: SubscribeOptions = {},
): Promise<{ got: Map<string, number>; off: () => Promise<void> }> {
  const got = new Map<string, number>();
  const off = await h.subscribe(
    pattern,
    (ev: UnifiedEvent) => {
      got.set(ev.id, (got.get(ev.id) ?? 0) + 1);
    },
    options,
  );
  return { got, off };
}

/** Wait for `cond`, naming it on timeout. */
const waitFor = (cond: () => boolean | Promise<boolean>, timeoutMs = 20_000) =>
  waitUntil(cond, () => `condition ${String(cond)}`, timeoutMs);

const dupes = (m: Map<string, number>) => [...m.values()].filter((n) => n > 1).length;

/** One Redis deployment the durable-topic tests run over. */
interface Deployment {
  options: RedisAdapterOptions;
  raw: Redis | Cluster;
  /** Standalone only: the server, for redis-cli. */
  server?: RedisServer;
  stop(): Promise<void>;
}

const DEPLOYMENTS = {
  'redis-server': async (): Promise<Deployment> => {
    const server = await startRedisServer();
    const raw = new Redis(server.url);
    raw.on('error', () => {});
    return { options: { url: server.url }, raw, server, stop: () => server.stop() };
  },
  'Redis Cluster, 3 masters': async (): Promise<Deployment> => {
    const c = await startRedisCluster({ masters: 3 });
    const raw = new Cluster([...c.nodes]);
    raw.on('error', () => {});
    return { options: { cluster: { nodes: [...c.nodes] } }, raw, stop: () => c.stop() };
  },
} as const;

const hubs: Hub[] = [];

describe.each(Object.keys(DEPLOYMENTS) as (keyof typeof DEPLOYMENTS)[])(
  'durable topics over %s',
  (name) => {
    let deployment: Deployment;
    const raw = () => deployment.raw;

    beforeAll(async () => {
      deployment = await DEPLOYMENTS[name]();
    }, 60_000);
    afterAll(async () => {
      await Promise.allSettled(hubs.splice(0).map((h) => h.close()));
      deployment?.raw.disconnect();
      await deployment?.stop();
    });

    async function hub(
      hubName: string,
      prefix: string,
      options: Partial<RedisAdapterOptions> = {},
    ): Promise<Hub> {
      const h = createHub({
        name: hubName,
        adapters: [
          redis({ ...deployment.options, keyPrefix: prefix, claimIdleMs: 2_000, ...options }),
        ],
        logger: silentLogger,
      });
      hubs.push(h);
      await h.start();
      return h;
    }

    it('a group down while 10,000 kept events are published gets all of them when it returns; a second group gets all too', async () => {
      const prefix = uniquePrefix('dt-down');
      const topic = 'orders.created';
      const first = await hub('billing-1', prefix);
      const billing = await record(first, topic, { group: 'billing' });
      const shipping = await record(await hub('shipping', prefix), topic, { group: 'shipping' });
      await first.close(); // the billing group is down
      const publisher = await hub('shop', prefix);
      const events = Array.from({ length: 10_000 }, (_, i) => kept(topic, i));
      await publishAll(publisher, events);
      expect(billing.got.size).toBeLessThan(events.length);
      const back = await record(await hub('billing-2', prefix), topic, { group: 'billing' });
      await waitFor(
        () =>
          back.got.size + billing.got.size >= events.length && shipping.got.size >= events.length,
        60_000,
      );
      const union = new Set([...billing.got.keys(), ...back.got.keys()]);
      expect(events.filter((e) => !union.has(e.id))).toEqual([]);
      expect(events.filter((e) => !shipping.got.has(e.id))).toEqual([]);
      expect(dupes(shipping.got)).toBe(0);
    }, 120_000);

    it('instances of one group share the events, no loss and no duplicate without faults', async () => {
      const prefix = uniquePrefix('dt-share');
      const topic = 'orders.paid';
      const a = await record(await hub('a', prefix), topic, { group: 'g' });
      const b = await record(await hub('b', prefix), topic, { group: 'g' });
      const publisher = await hub('shop', prefix);
      const events = Array.from({ length: 2_000 }, (_, i) => kept(topic, i));
      await publishAll(publisher, events);
      await waitFor(() => a.got.size + b.got.size >= events.length, 30_000);
      const all = new Map([...a.got]);
      for (const [id, n] of b.got) all.set(id, (all.get(id) ?? 0) + n);
      expect(events.filter((e) => !all.has(e.id))).toEqual([]);
      expect(dupes(all)).toBe(0);
      expect(a.got.size).toBeGreaterThan(0);
      expect(b.got.size).toBeGreaterThan(0);
    }, 60_000);

    it('a pattern subscription picks up a topic that appears after it subscribed', async () => {
      const prefix = uniquePrefix('dt-pattern');
      // A rescan far away: only the announcement of the new topic can attach it in time.
      const sub = await record(await hub('audit', prefix, { topicRescanMs: 600_000 }), 'orders.*', {
        group: 'audit',
      });
      const publisher = await hub('shop', prefix);
      const later = Array.from({ length: 50 }, (_, i) => kept('orders.refunded', i));
      const other = kept('invoices.sent', 0);
      await publishAll(publisher, [...later, other]);
      await waitFor(() => later.every((e) => sub.got.has(e.id)), 20_000);
      expect(sub.got.has(other.id)).toBe(false);
    }, 30_000);

    it('replay from an entry id and from a time', async () => {
      const prefix = uniquePrefix('dt-replay');
      const topic = 'orders.shipped';
      // A group exists first, so the topic is kept from the start.
      const publisher = await hub('shop', prefix);
      const warm = await record(publisher, topic, { group: 'warm' });
      const events = Array.from({ length: 20 }, (_, i) => kept(topic, i));
      for (const e of events) await publisher.publish(e);
      await waitFor(() => warm.got.size >= events.length);
      // Entry ids, in publish order (one stream: the default priority).
      const stream = keyLayout(prefix).priorityStream(topicAddress(topic), 2);
      const entries = await raw().xrange(stream, '-', '+');
      expect(entries.map(([, f]) => f[f.indexOf('id') + 1])).toEqual(events.map((e) => e.id));
      const ids = entries.map(([id]) => id);
      // From after the 10th entry: exactly the last 10.
      const fromId = await record(await hub('r1', prefix), topic, {
        group: 'from-id',
        startFrom: { id: ids[9]! },
      });
      await waitFor(() => fromId.got.size >= 10);
      expect([...fromId.got.keys()].sort()).toEqual(
        events
          .slice(10)
          .map((e) => e.id)
          .sort(),
      );
      // From a time: the entries at or after the 15th entry's time (ids are times).
      const t15 = Number(ids[15]!.split('-')[0]);
      const fromTime = await record(await hub('r2', prefix), topic, {
        group: 'from-time',
        startFrom: { time: t15 },
      });
      const expected = events
        .filter((_, i) => Number(ids[i]!.split('-')[0]) >= t15)
        .map((e) => e.id);
      await waitFor(() => fromTime.got.size >= expected.length);
      expect([...fromTime.got.keys()].sort()).toEqual(expected.sort());
      // 'now': none of the old ones.
      const fromNow = await record(await hub('r3', prefix), topic, {
        group: 'from-now',
        startFrom: 'now',
      });
      const fresh = kept(topic, 99);
      await publisher.publish(fresh);
      await waitFor(() => fromNow.got.has(fresh.id));
      expect(fromNow.got.size).toBe(1);
    }, 30_000);

    it('retention trims by length and by age, and the lag of each group is reported', async () => {
      const prefix = uniquePrefix('dt-retention');
      const opts = {
        lagCheckIntervalMs: 200,
        topicRetention: { 'metrics.*': { maxLen: 100 }, 'logs.**': { maxAgeMs: 500 } },
      };
      const publisher = await hub('shop', prefix, opts);
      // A group that never handles anything: its lag is what was kept.
      const gate = new Promise<void>(() => {});
      await publisher.subscribe('metrics.cpu', () => gate, {
        group: 'slow',
        prefetch: 1,
        concurrency: 1,
      });
      await publisher.subscribe('logs.app', () => gate, {
        group: 'slow',
        prefetch: 1,
        concurrency: 1,
      });
      await publishAll(
        publisher,
        Array.from({ length: 500 }, (_, i) => kept('metrics.cpu', i)),
      );
      await publishAll(
        publisher,
        Array.from({ length: 50 }, (_, i) => kept('logs.app', i)),
      );
      const keys = keyLayout(prefix);
      const cpu = keys.priorityStream(topicAddress('metrics.cpu'), 2);
      const logs = keys.priorityStream(topicAddress('logs.app'), 2);
      await waitFor(async () => Number(await raw().xlen(cpu)) <= 100, 10_000);
      await waitFor(async () => Number(await raw().xlen(logs)) === 0, 10_000);
      const adapter = publisher.adapters.get('redis')!;
      const report = (await adapter.inspect()) as {
        topics: Record<string, Record<string, { lag: number }>>;
      };
      const slowCpu = report.topics['metrics.cpu']?.[JSON.stringify(['slow', 'metrics.cpu'])];
      expect(slowCpu?.lag).toBeGreaterThan(0);
      await waitFor(() => {
        const lag =
          (adapter.health().detail as { topicLag?: Record<string, number> }).topicLag ?? {};
        return (lag[`${JSON.stringify(['slow', 'metrics.cpu'])} metrics.cpu`] ?? 0) > 0;
      }, 10_000);
    }, 30_000);

    it('interop: a topic stream entry read with plain redis-cli XREADGROUP decodes per the protocol doc', async (t) => {
      const server = deployment.server;
      if (server === undefined)
        return t.skip('redis-cli against one node: the standalone run covers it');
      const prefix = uniquePrefix('dt-cli');
      const topic = 'orders.cli';
      const publisher = await hub('shop', prefix);
      const ev = kept(topic, 7, { headers: { 'x-tenant': 'acme' } });
      await publisher.publish(ev);
      const stream = keyLayout(prefix).priorityStream(topicAddress(topic), 2);
      const port = String(new URL(server.url).port);
      const run = promisify(execFile);
      await run('redis-cli', ['-p', port, 'XGROUP', 'CREATE', stream, 'plain', '0']);
      const { stdout } = await run('redis-cli', [
        '-p',
        port,
        '--no-raw',
        'XREADGROUP',
        'GROUP',
        'plain',
        'c1',
        'COUNT',
        '1',
        'STREAMS',
        stream,
        '>',
      ]);
      // Fields come as: "v" "1" "id" "<id>" "env" "<json>"; --no-raw quotes each value.
      const lines = stdout.split('\n').map((l) =>
        l
          .replace(/^\s*\d+\)\s*/, '')
          .replace(/^\s*\d+\)\s*/, '')
          .trim(),
      );
      const at = lines.indexOf('"env"');
      expect(at).toBeGreaterThan(0);
      const envelope = jsonCodec.decode(JSON.parse(lines[at + 1]!)) as UnifiedEvent;
      expect(envelope).toMatchObject({
        kind: 'event',
        id: ev.id,
        topic,
        deliveryGuarantee: 'at-least-once',
        data: { i: 7 },
      });
      expect(lines[lines.indexOf('"id"') + 1]).toBe(JSON.stringify(ev.id));
    }, 20_000);
  },
);
