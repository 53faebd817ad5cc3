/**
 * Durable events over Redis: one publisher, two groups of two instances each,
 * every group receiving every event (at-least-once, a stream per topic).
 * Judged against raw ioredis doing the same by hand: XADD, two consumer
 * groups of two XREADGROUP readers each, XACK per read.
 */

import { redis } from '@hub/adapter-redis';
import { startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub } from '@hub/core';
import { createEvent, DeliveryGuarantee, jsonCodec, type UnifiedEvent } from '@hub/protocol';
import { Redis } from 'ioredis';
import {
  Arrivals,
  alternate,
  flood,
  logger,
  payload300,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  stats,
  waitFor,
} from './harness.js';

const ROUNDS = roundsFor(5);
const N = pick(20_000, 4_000);
const BATCH = 1_000;
const TOPIC = 'bench.durable';
const GROUPS = ['g1', 'g2'] as const;
const INSTANCES = 2;
const RAW_STREAM = 'rawdur:st';
const RAW_COUNT = 100;

export const buildDurableEvents = (n: number): UnifiedEvent[] =>
  Array.from({ length: n }, (_, i) =>
    createEvent({
      source: 'bench',
      topic: TOPIC,
      type: 'bench_event',
      data: payload300(i),
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    }),
  );

/** Deliveries counted per group: `first` drives the flood's clock, `second` is awaited after it. */
export class GroupCounts {
  readonly first = new Arrivals();
  second = 0;
  reset(): void {
    this.first.reset();
    this.second = 0;
  }
  inc(group: number): void {
    if (group === 0) this.first.inc();
    else this.second++;
  }
}

/** Raw ioredis: XADD with auto-pipelining; per group two readers, XREADGROUP COUNT 100 BLOCK 200 → JSON.parse → XACK. */
class RawSide {
  private readonly pub: Redis;
  private readonly readers: Redis[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];
  readonly counts = new GroupCounts();

  constructor(private readonly url: string) {
    this.pub = new Redis(url, { enableAutoPipelining: true });
  }

  async start(): Promise<void> {
    for (const g of GROUPS) {
      await this.pub.xgroup('CREATE', RAW_STREAM, g, '$', 'MKSTREAM');
    }
    GROUPS.forEach((g, gi) => {
      for (let i = 0; i < INSTANCES; i++) {
        const r = new Redis(this.url, { enableAutoPipelining: true });
        this.readers.push(r);
        this.loops.push(this.read(r, g, gi, `c${i}`));
      }
    });
  }

  private async read(r: Redis, group: string, gi: number, consumer: string): Promise<void> {
    while (!this.stopped) {
      const reply = (await r.xreadgroup(
        'GROUP',
        group,
        consumer,
        'COUNT',
        RAW_COUNT,
        'BLOCK',
        200,
        'STREAMS',
        RAW_STREAM,
        '>',
      )) as [string, [string, string[]][]][] | null;
      if (!reply) continue;
      const ids: string[] = [];
      for (const [id, fields] of reply[0]![1]) {
        jsonCodec.decode(fields[5]!);
        ids.push(id);
        this.counts.inc(gi);
      }
      void r.xack(RAW_STREAM, group, ...ids);
    }
  }

  send(ev: UnifiedEvent): Promise<unknown> {
    return this.pub.xadd(
      RAW_STREAM,
      'MAXLEN',
      '~',
      1_000_000,
      '*',
      'v',
      '1',
      'id',
      ev.id,
      'env',
      jsonCodec.encode(ev),
    );
  }

  /** CPU seconds redis-server has used so far (user + system), read on the publisher connection. */
  async serverCpu(): Promise<number> {
    const info = await this.pub.info('cpu');
    const at = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
    return at('used_cpu_user') + at('used_cpu_sys');
  }

  async pending(): Promise<number> {
    let n = 0;
    for (const g of GROUPS) n += Number(((await this.pub.xpending(RAW_STREAM, g)) as [number])[0]);
    return n;
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
    for (const r of [this.pub, ...this.readers]) r.disconnect();
  }
}

/** The hub: one publisher hub, and per group two hubs subscribed with that group (each its own adapter). */
export class HubSide {
  readonly counts = new GroupCounts();
  private constructor(
    readonly publisher: Hub,
    private readonly subscribers: Hub[],
  ) {}

  static async create(url: string, prefix: string): Promise<HubSide> {
    const make = async (name: string) => {
      const h = createHub({ name, adapters: [redis({ url, keyPrefix: prefix })], logger });
      await h.start();
      return h;
    };
    const publisher = await make('bench-pub');
    const side = new HubSide(publisher, []);
    for (const [gi, g] of GROUPS.entries()) {
      for (let i = 0; i < INSTANCES; i++) {
        const h = await make(`bench-${g}-${i}`);
        side.subscribers.push(h);
        await h.subscribe(
          TOPIC,
          () => {
            side.counts.inc(gi);
          },
          { group: g, prefetch: RAW_COUNT },
        );
      }
    }
    return side;
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.publisher, ...this.subscribers].map((h) => h.close()));
  }
}

async function durableEvents(): Promise<ScenarioResult> {
  const server = await startRedisServer();
  const raw = new RawSide(server.url);
  let hub: HubSide | undefined;
  try {
    await raw.start();
    hub = await HubSide.create(server.url, 'benchdur');
    const side = hub;
    const hubEvents = buildDurableEvents(N);
    const rawEvents = buildDurableEvents(N);
    const cpu = { hub: [] as number[], raw: [] as number[] };
    const serverCpu = { hub: [] as number[], raw: [] as number[] };
    const round = async (
      counts: GroupCounts,
      send: (ev: UnifiedEvent) => Promise<unknown>,
      events: UnifiedEvent[],
      total: number,
      cpuOut: number[],
      serverOut: number[] = [],
    ) => {
      counts.reset();
      let issued = 0;
      const server0 = await raw.serverCpu();
      const r = await flood({
        total,
        batch: BATCH,
        timeLimitMs: 10_000,
        arrivals: counts.first,
        send: (i) => {
          issued = i + 1;
          return send(events[i]!);
        },
        // The clock stops when the second group has every event too.
        settled: () => counts.second >= issued,
      });
      cpuOut.push(r.cpuUsPerMsg);
      serverOut.push((((await raw.serverCpu()) - server0) * 1e6) / Math.max(1, r.arrived));
      return r.rate;
    };
    const out = await alternate({
      rounds: ROUNDS,
      warmup: {
        hub: () =>
          round(side.counts, (e) => side.publisher.publish(e), hubEvents, Math.min(5_000, N), []),
        raw: () => round(raw.counts, (e) => raw.send(e), rawEvents, Math.min(5_000, N), []),
      },
      hub: () =>
        round(side.counts, (e) => side.publisher.publish(e), hubEvents, N, cpu.hub, serverCpu.hub),
      raw: () => round(raw.counts, (e) => raw.send(e), rawEvents, N, cpu.raw, serverCpu.raw),
    });
    await waitFor(async () => (await raw.pending()) === 0, 5_000);
    return result({
      suite: 'redis',
      id: 'redis.durable-events',
      title: 'Redis durable events: 1 publisher, 2 groups × 2 instances, each group gets all',
      unit: 'events/s per group',
      higherIsBetter: true,
      ...out,
      rounds: ROUNDS,
      targets: [
        { kind: 'ratio-min', value: 0.75, label: '≥ 0.75× raw' },
        { kind: 'hub-min', value: 40_000, label: '≥ 40,000 events/s per group' },
      ],
      notes: [
        `${N.toLocaleString('en-US')} pre-built events (300 B data) per round, both sides; batches of ${BATCH} publishes awaited together; the rate is events delivered to each group per second, the clock stops when both groups have every event`,
        'hub: hub.publish(at-least-once event) → XADD to the topic stream (batched per tick) → per group two hubs, each its own adapter: XREADGROUP consumer (prefetch 100) → handler → XACK',
        'raw: ioredis XADD (MAXLEN ~, v/id/env fields, auto-pipelining) → per group two reader connections, XREADGROUP COUNT 100 BLOCK 200 → JSON decode each → one XACK per read',
        `redis-server ${server.url}`,
      ],
      extra: {
        'client CPU µs/event, hub (median)': Number(stats(cpu.hub).median.toFixed(2)),
        'client CPU µs/event, raw (median)': Number(stats(cpu.raw).median.toFixed(2)),
        'redis-server CPU µs/event, hub (median)': Number(stats(serverCpu.hub).median.toFixed(2)),
        'redis-server CPU µs/event, raw (median)': Number(stats(serverCpu.raw).median.toFixed(2)),
      },
    });
  } finally {
    await hub?.close();
    await raw.close();
    await server.stop();
  }
}

export const redisDurableScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'redis.durable-events', run: durableEvents },
];
