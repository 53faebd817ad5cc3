/**
 * How cost grows with the work, each sweep hub beside its baseline in the same run:
 * - scale.payload: Redis Pub/Sub throughput at 100 B, 1 KB and 64 KB payloads (hub vs raw ioredis);
 * - scale.concurrency: at-least-once over Redis at handler concurrency 1, 16, 256 (hub Streams vs BullMQ);
 * - scale.patterns: publish latency with 10 … 100,000 pattern subscriptions (memory; vs eventemitter3 exact);
 * - scale.rate: Redis Pub/Sub latency at fixed offered rates (open loop, from the intended send
 *   time), rising until p99 breaks, so the knee shows (hub vs raw ioredis).
 * Every sweep is bounded: fixed points, a count and a time limit per point.
 */
import { startRedisServer } from '@hub/adapter-test-suite';
import { createEvent, createHub, createMessage, memory, type UnifiedEvent } from '@hub/core';
import { EventEmitter } from 'eventemitter3';
import {
  alternate,
  type CurvePoint,
  flood,
  logger,
  percentile,
  pick,
  result,
  type ScenarioResult,
  stats,
} from './harness.js';
import { JOBS_N, jobsRound } from './peers.js';
import { HubSide, loadAdapter, type Msg, PUBSUB_ENDPOINT, RawSide, steady } from './redis.js';

/** A JSON payload whose serialized size is about `bytes`. */
function payloadOf(bytes: number): { seq: number; note: string; t: number } {
  const base = { seq: 0, note: '', t: 0 };
  base.note = 'x'.repeat(Math.max(0, bytes - JSON.stringify(base).length));
  return base;
}

const kb = (b: number) => (b >= 1024 ? `${b / 1024} KB` : `${b} B`);

async function withRedisSides<T>(fn: (hub: HubSide, raw: RawSide) => Promise<T>): Promise<T> {
  const server = await startRedisServer();
  const mod = await loadAdapter();
  if (typeof mod === 'string') {
    await server.stop();
    throw new Error(mod);
  }
  const raw = new RawSide(server.url);
  let hub: HubSide | undefined;
  try {
    await raw.start();
    // Pub/Sub only: the raw side's Streams reader would be one more wake-up source.
    await raw.pauseReader();
    hub = await HubSide.create(mod, server.url);
    return await fn(hub, raw);
  } finally {
    await hub?.close().catch(() => {});
    await raw.close().catch(() => {});
    await server.stop();
  }
}

/** Redis Pub/Sub throughput at three payload sizes. */
async function payloadSweep(): Promise<ScenarioResult> {
  const sizes = [100, 1024, 64 * 1024];
  const rounds = pick(2, 1);
  return withRedisSides(async (hubSide, raw) => {
    const points: CurvePoint[] = [];
    let last: Awaited<ReturnType<typeof alternate>> | undefined;
    const notes: string[] = [];
    for (const size of sizes) {
      // The same bytes per round at every size (bounded): 64 KB messages are fewer.
      const n = Math.max(
        500,
        Math.min(pick(20_000, 5_000), Math.floor((pick(64, 16) * 2 ** 20) / size)),
      );
      const payload = payloadOf(size);
      const envs = (destination: string) =>
        Array.from({ length: n }, () =>
          createMessage({
            source: 'bench',
            destination,
            payload,
            deliveryGuarantee: 'best-effort',
          }),
        ) as unknown as Msg[];
      // At most ~4 MB in flight: Redis drops a Pub/Sub subscriber whose output buffer passes
      // 32 MB (client-output-buffer-limit pubsub, its default), which 1,000 sends of 64 KB would.
      const batch = Math.max(1, Math.min(1_000, Math.floor((4 * 2 ** 20) / size)));
      const hubEnvs = envs(PUBSUB_ENDPOINT);
      const rawEnvs = envs('raw');
      const run = (side: 'hub' | 'raw') => async () => {
        const a = side === 'hub' ? hubSide.arrivals : raw.arrivals;
        if (side === 'hub') hubSide.onPubSub = () => a.inc();
        else raw.onPubSub = () => a.inc();
        const r = await flood({
          total: n,
          batch,
          timeLimitMs: pick(6_000, 2_000),
          arrivals: a,
          send: (i) => (side === 'hub' ? hubSide.hub.send(hubEnvs[i]!) : raw.publish(rawEnvs[i]!)),
        });
        if (r.partial)
          notes.push(`${side} at ${kb(size)}: ${r.arrived}/${r.issued} of ${n} arrived`);
        return r.rate;
      };
      last = await alternate({
        rounds,
        warmup: { hub: run('hub'), raw: run('raw') },
        hub: run('hub'),
        raw: run('raw'),
      });
      points.push({ x: size, series: 'hub', y: last.hub.median });
      points.push({ x: size, series: 'raw ioredis', y: last.raw.median });
    }
    return result({
      suite: 'scale',
      id: 'scale.payload',
      title: 'Redis Pub/Sub throughput by payload size (headline: 64 KB)',
      transport: 'redis pub/sub',
      unit: 'msg/s',
      higherIsBetter: true,
      ...last!,
      rounds,
      targets: [],
      notes: [
        `payloads of ${sizes.map(kb).join(', ')}; per size up to ${pick(20_000, 5_000).toLocaleString('en-US')} messages or ${pick(64, 16)} MB per round, batches of 1,000 sends or 4 MB (64 sends of 64 KB: Redis drops a Pub/Sub subscriber whose output buffer passes 32 MB), ${rounds} round(s) per side after a warm-up`,
        'hub: best-effort hub.send → the adapter’s batched PUBLISH → subscriber → handler; raw: ioredis PUBLISH (auto-pipelining) of the same envelope JSON → SUBSCRIBE connection → JSON.parse',
        ...notes,
      ],
      curve: { xLabel: 'payload bytes', yLabel: 'msg/s', xLog: true, yLog: true, points },
    });
  });
}

/** At-least-once over Redis at handler concurrency 1, 16 and 256: hub Streams vs BullMQ. */
async function concurrencySweep(): Promise<ScenarioResult> {
  const levels = [1, 16, 256];
  const rounds = 1;
  const server = await startRedisServer();
  try {
    const points: CurvePoint[] = [];
    let last: { hub: number[]; bull: number[] } | undefined;
    for (const c of levels) {
      last = await jobsRound(server, c, JOBS_N, rounds, pick(3_000, 1_500));
      points.push({ x: c, series: 'hub (Streams)', y: stats(last.hub).median });
      points.push({ x: c, series: 'BullMQ', y: stats(last.bull).median });
    }
    return result({
      suite: 'scale',
      id: 'scale.concurrency',
      title: 'at-least-once over Redis by handler concurrency: hub vs BullMQ (headline: 256)',
      transport: 'redis streams',
      against: 'BullMQ',
      unit: 'msg/s',
      higherIsBetter: true,
      hub: stats(last!.hub),
      raw: stats(last!.bull),
      ratio: stats(last!.hub.map((h, i) => h / last!.bull[i]!)),
      rounds,
      targets: [],
      notes: [
        `handler concurrency ${levels.join(', ')} on both sides (hub onMessage concurrency, BullMQ Worker concurrency), empty handler, ${rounds} round(s) per side after a warm-up; otherwise as peers.bullmq`,
      ],
      curve: { xLabel: 'handler concurrency', yLabel: 'msg/s', xLog: true, points },
    });
  } finally {
    await server.stop();
  }
}

/** Publish latency with a growing number of pattern subscriptions (memory adapter). */
async function patternSweep(): Promise<ScenarioResult> {
  const counts = pick([10, 1_000, 10_000, 100_000], [10, 1_000, 10_000]);
  const EVENTS = pick(5_000, 1_000);
  const SETUP_LIMIT_MS = 30_000;
  const MATCHES = 4;
  const points: CurvePoint[] = [];
  const notes: string[] = [];
  let last: Awaited<ReturnType<typeof alternate>> | undefined;
  let count = 0;
  let waiter: (() => void) | undefined;
  const onMatch = () => {
    if (++count === MATCHES && waiter) {
      const w = waiter;
      waiter = undefined;
      w();
    }
  };
  const ee = new EventEmitter();
  for (let k = 0; k < MATCHES; k++) ee.on('orders.r1.created', onMatch);
  const ev = createEvent({ source: 'bench', topic: 'orders.r1.created', data: payloadOf(300) });
  for (const subs of counts) {
    const hub = createHub({ name: 'bench-patterns', adapters: [memory()], logger });
    await hub.start();
    // Exactly MATCHES match the published topic: three wildcards and one exact; the rest never match.
    const patterns = ['orders.*.created', 'orders.**', '**.created', 'orders.r1.created'];
    const t0 = performance.now();
    let made = 0;
    for (const p of patterns) {
      await hub.subscribe(p, onMatch);
      made++;
    }
    for (let i = 0; made < subs && performance.now() - t0 < SETUP_LIMIT_MS; i++, made++) {
      const p =
        i % 4 === 0
          ? `svc${i}.*.created`
          : i % 4 === 1
            ? `svc${i}.**`
            : i % 4 === 2
              ? `tenant.t${i}.#`
              : `orders.r${i + 2}.deleted`;
      await hub.subscribe(p, () => {});
    }
    const setupMs = performance.now() - t0;
    if (made < subs)
      notes.push(
        `${subs}: setup stopped at ${made} subscriptions after ${SETUP_LIMIT_MS / 1000} s`,
      );
    const measure = async (publish: (e: UnifiedEvent) => unknown) => {
      const lat = new Float64Array(EVENTS);
      let done = 0;
      const stopAt = performance.now() + pick(4_000, 1_500);
      for (let i = 0; i < EVENTS && performance.now() < stopAt; i++) {
        count = 0;
        const s = performance.now();
        const p = publish(ev);
        if (p instanceof Promise) await p;
        if (count < MATCHES) {
          const ok = await new Promise<boolean>((resolve) => {
            const t = setTimeout(() => resolve(false), 2_000);
            waiter = () => {
              clearTimeout(t);
              resolve(true);
            };
          });
          if (!ok) break;
        }
        lat[done++] = (performance.now() - s) * 1000;
      }
      return percentile(lat.subarray(0, done), 99);
    };
    last = await alternate({
      rounds: pick(2, 1),
      collect: false,
      warmup: {
        hub: () => measure((e) => hub.publish(e)),
        raw: () => measure((e) => ee.emit(e.topic, e)),
      },
      hub: () => measure((e) => hub.publish(e)),
      raw: () => measure((e) => ee.emit(e.topic, e)),
    });
    points.push({ x: made, series: 'hub p99', y: last.hub.median });
    points.push({ x: made, series: 'eventemitter3 exact p99', y: last.raw.median });
    notes.push(
      `${made.toLocaleString('en-US')} subscriptions: set up in ${Math.round(setupMs)} ms`,
    );
    await hub.close({ drainTimeoutMs: 500 });
  }
  return result({
    suite: 'scale',
    id: 'scale.patterns',
    title: `publish latency by number of pattern subscriptions (headline: ${counts.at(-1)!.toLocaleString('en-US')})`,
    transport: 'memory',
    unit: 'µs p99',
    higherIsBetter: false,
    ...last!,
    rounds: pick(2, 1),
    targets: [],
    notes: [
      `hub.subscribe of ${counts.map((c) => c.toLocaleString('en-US')).join(' / ')} patterns (*, **, #, exact; setup bounded at ${SETUP_LIMIT_MS / 1000} s), of which exactly ${MATCHES} match the published topic; latency from publish() to the last matching handler, one event at a time, up to ${EVENTS.toLocaleString('en-US')} per round`,
      `raw: eventemitter3 emit on the exact topic to its ${MATCHES} listeners (no pattern matching at all), the floor`,
      ...notes,
    ],
    curve: { xLabel: 'pattern subscriptions', yLabel: 'µs p99', xLog: true, yLog: true, points },
  });
}

/** p99 above which a rate counts as broken: the ≤ 2 ms target of the steady-rate scenarios. */
const BREAK_P99_US = 2_000;

/** Redis Pub/Sub latency at rising fixed rates until p99 breaks (open loop). Runs in the latency child. */
async function rateSweep(): Promise<ScenarioResult> {
  const rates = pick([1_000, 2_000, 5_000, 10_000, 20_000, 40_000, 80_000], [1_000, 5_000, 20_000]);
  const seconds = pick(0.6, 0.4);
  return withRedisSides(async (hubSide, raw) => {
    const points: CurvePoint[] = [];
    const knee = { hub: 0, raw: 0 };
    const broken = { hub: false, raw: false };
    const notes: string[] = [];
    for (const rate of rates) {
      const n = Math.min(60_000, Math.round(rate * seconds));
      const row: Record<string, { p50: number; p99: number; lost: number }> = {};
      for (const side of ['hub', 'raw'] as const) {
        if (broken[side]) continue;
        const r = await steady(
          n,
          (m) => (side === 'hub' ? hubSide.hub.send(m) : raw.publish(m)),
          (fn) => {
            if (side === 'hub') hubSide.onPubSub = fn;
            else raw.onPubSub = fn;
          },
          side === 'hub' ? PUBSUB_ENDPOINT : 'raw',
          'best-effort',
          rate,
        );
        row[side] = r;
        const name = side === 'hub' ? 'hub' : 'raw ioredis';
        points.push({ x: rate, series: `${name} p50`, y: r.p50 });
        points.push({ x: rate, series: `${name} p99`, y: Number.isFinite(r.p99) ? r.p99 : 1e6 });
        if (r.p99 <= BREAK_P99_US && r.lost === 0) knee[side] = rate;
        else broken[side] = true;
      }
      notes.push(
        `${rate.toLocaleString('en-US')}/s: ${(['hub', 'raw'] as const)
          .filter((s) => row[s])
          .map(
            (s) =>
              `${s} p50 ${Math.round(row[s]!.p50)} µs, p99 ${Number.isFinite(row[s]!.p99) ? Math.round(row[s]!.p99) : '∞'} µs${row[s]!.lost ? `, ${row[s]!.lost} lost` : ''}`,
          )
          .join('; ')}`,
      );
      if (broken.hub && broken.raw) break;
    }
    return result({
      suite: 'scale',
      id: 'scale.rate',
      title: `Redis Pub/Sub latency by offered rate: the highest rate with p99 ≤ ${BREAK_P99_US / 1000} ms`,
      transport: 'redis pub/sub',
      unit: 'msg/s at p99 ≤ 2 ms',
      higherIsBetter: true,
      hub: stats([knee.hub]),
      raw: stats([knee.raw]),
      ratio: knee.raw > 0 ? stats([knee.hub / knee.raw]) : null,
      rounds: 1,
      targets: [],
      notes: [
        `open loop at ${rates.map((r) => r.toLocaleString('en-US')).join(', ')} msg/s, ${seconds} s per rate and side, best-effort, 300 B payload; latency from each message’s intended send time (coordinated omission accounted for), a lost message counts as infinitely late; a side stops at the first rate whose p99 exceeds ${BREAK_P99_US} µs or loses a message`,
        'runs in the latency child process (the flags of redis.latency-*), hub and raw alternating per rate',
        ...notes,
      ],
      curve: { xLabel: 'offered msg/s', yLabel: 'latency µs', xLog: true, yLog: true, points },
    });
  });
}

export const scaleScenarios: Array<{
  id: string;
  run: () => Promise<ScenarioResult | ScenarioResult[]>;
  estimate: [number, number];
  child?: boolean;
  slow?: boolean;
}> = [
  { id: 'scale.payload', run: payloadSweep, estimate: [20, 6] },
  { id: 'scale.concurrency', run: concurrencySweep, estimate: [45, 15] },
  { id: 'scale.patterns', run: patternSweep, estimate: [40, 6] },
  { id: 'scale.rate', run: rateSweep, estimate: [40, 8], child: true },
];
