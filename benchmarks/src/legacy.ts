/**
 * @hub/legacy-compat: conversion throughput of the plain JSON shape, and the
 * latency the bridge adds over a direct Redis hop.
 */
import { redis } from '@hub/adapter-redis';
import { startRedisServer } from '@hub/adapter-test-suite';
import { createHub, silentLogger } from '@hub/core';
import { convertLegacyMessage, createLegacyBridge } from '@hub/legacy-compat';
import { createMessage, type UnifiedMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import {
  alternate,
  percentile,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  sleep,
  stats,
  waitFor,
} from './harness.js';

const ROUNDS = roundsFor(5);
/** Each bridge round takes N / RATE seconds per side: fewer rounds keep the whole run within its bound. */
const BRIDGE_ROUNDS = roundsFor(3);
const CONVERT_N = pick(200_000, 50_000);

/** Legacy messages as a producer writes them: snake_case, epoch seconds, named priority. */
function legacyMessages(n: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < n; i++) {
    out.push({
      message_type: 'task_assignment',
      sender: 'coordinator',
      recipient: `worker_${i & 7}`,
      payload: { task_id: String(i), data: { n: i } },
      timestamp: 1_733_270_400 + i,
      priority: 'high',
      message_id: `m-${i}`,
    });
  }
  return out;
}

export async function convert(): Promise<ScenarioResult> {
  const input = legacyMessages(1_024);
  const texts = input.map((m) => JSON.stringify(m));
  let sink = 0;
  // Results are kept, so the compiler cannot drop the work of either side.
  const keepAlive: unknown[] = new Array(1024);
  const rate = (fn: (i: number) => void) => () => {
    const t0 = performance.now();
    for (let i = 0; i < CONVERT_N; i++) fn(i);
    return Promise.resolve(CONVERT_N / ((performance.now() - t0) / 1000));
  };
  // Hub: the converter (detection, field mapping, keys header, validation).
  const hubFn = rate((i) => {
    const env = convertLegacyMessage(input[i & 1023]);
    keepAlive[i & 1023] = env;
    sink += env.timestamp & 1;
  });
  // Raw: the hand-written converter a team would otherwise keep (same fields, no detection, no checks).
  const rawFn = rate((i) => {
    const m = input[i & 1023]!;
    const msg: UnifiedMessage = createMessage({
      source: m.sender as string,
      destination: m.recipient as string,
      type: m.message_type as string,
      payload: m.payload,
      priority: 3,
      id: m.message_id as string,
      timestamp: (m.timestamp as number) * 1000,
    });
    keepAlive[i & 1023] = msg;
    sink += msg.timestamp & 1;
  });
  const r = await alternate({
    rounds: ROUNDS,
    warmup: { hub: hubFn, raw: rawFn },
    hub: hubFn,
    raw: rawFn,
  });
  const textRate: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    textRate.push(
      await rate((i) => {
        sink += convertLegacyMessage(texts[i & 1023]).timestamp & 1;
      })(),
    );
  }
  if (sink === -1) console.log(sink);
  return result({
    suite: 'core',
    id: 'legacy.convert',
    title: 'legacy conversion, plain JSON shape (convertLegacyMessage)',
    unit: 'msg/s',
    higherIsBetter: true,
    ...r,
    rounds: ROUNDS,
    targets: [{ kind: 'hub-min', value: 500_000, label: '≥ 500,000 msg/s' }],
    notes: [
      `${CONVERT_N.toLocaleString('en-US')} conversions per round of 1,024 parsed legacy objects in rotation (snake_case, epoch seconds, named priority, an id)`,
      'hub: shape detection, field mapping, legacy-keys header, envelope validation',
      'raw: createMessage from the same fields by hand, nothing checked',
    ],
    extra: { 'from JSON text, msg/s (median)': Math.round(stats(textRate).median) },
  });
}

const RATE = 1_000;
const N = pick(1_500, 500);
/** A warm-up round per side: enough to settle the JIT and the connections, short to keep the run bounded. */
const WARM_N = 500;

/** Steady sends of `n` at `RATE`/s on `channel`; latency from each send to its arrival, µs p99. */
async function steady(
  producer: Redis,
  channel: string,
  arrivals: Map<number, number>,
  n = N,
): Promise<number[]> {
  arrivals.clear();
  const sentAt = new Float64Array(n);
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    sentAt[i] = performance.now();
    void producer.publish(
      channel,
      JSON.stringify({ event: 'tick', channel: 'ticks', data: { i } }),
    );
  }
  await waitFor(() => arrivals.size >= n, 20_000);
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const at = arrivals.get(i);
    lat.push(at === undefined ? Number.POSITIVE_INFINITY : (at - sentAt[i]!) * 1000);
  }
  return lat;
}

export async function bridgeLatency(): Promise<ScenarioResult> {
  const server = await startRedisServer();
  const producer = new Redis(server.url);
  const direct = new Redis(server.url);
  const hub = createHub({
    logger: silentLogger,
    adapters: [redis({ url: server.url, keyPrefix: 'bench-legacy' })],
  });
  await hub.start();
  const bridge = createLegacyBridge({
    hub,
    redis: server.url,
    inbound: [{ from: 'pubsub', channel: 'legacy:bridged' }],
    onError: () => {},
  });
  try {
    const hubArrivals = new Map<number, number>();
    const rawArrivals = new Map<number, number>();
    await hub.subscribe('ticks', (e) => {
      hubArrivals.set((e.data as { i: number }).i, performance.now());
    });
    await bridge.start();
    direct.on('message', (_c: string, text: string) => {
      rawArrivals.set((JSON.parse(text) as { data: { i: number } }).data.i, performance.now());
    });
    await direct.subscribe('legacy:direct');
    const hubP50: number[] = [];
    const rawP50: number[] = [];
    const r = await alternate({
      rounds: BRIDGE_ROUNDS,
      collect: false,
      warmup: {
        hub: () => steady(producer, 'legacy:bridged', hubArrivals, WARM_N),
        raw: () => steady(producer, 'legacy:direct', rawArrivals, WARM_N),
      },
      hub: async () => {
        const lat = await steady(producer, 'legacy:bridged', hubArrivals);
        hubP50.push(percentile(lat, 50));
        return percentile(lat, 99);
      },
      raw: async () => {
        const lat = await steady(producer, 'legacy:direct', rawArrivals);
        rawP50.push(percentile(lat, 50));
        return percentile(lat, 99);
      },
    });
    return result({
      suite: 'redis',
      id: 'legacy.bridge-p99',
      title: `bridge added latency: legacy PUBLISH → bridge → hub subscriber vs → raw subscriber, ${RATE.toLocaleString('en-US')} msg/s`,
      unit: 'µs p99',
      higherIsBetter: false,
      ...r,
      rounds: BRIDGE_ROUNDS,
      targets: [],
      notes: [
        `${N.toLocaleString('en-US')} legacy plain JSON events per round at a steady ${RATE.toLocaleString('en-US')} msg/s; latency from each PUBLISH to its handler, lost messages infinitely late`,
        'hub: the bridge subscribes, converts, publishes into the hub (Redis adapter, Pub/Sub), a hub subscriber receives: two Redis hops',
        'raw: an ioredis subscriber on the legacy channel: one hop. The difference is what the bridge adds',
      ],
      extra: {
        'added p99 µs (median of hub − raw)': Math.round(
          stats(r.hub.values.map((h, i) => h - r.raw.values[i]!)).median,
        ),
        'hub p50 µs (median)': Math.round(stats(hubP50).median),
        'raw p50 µs (median)': Math.round(stats(rawP50).median),
      },
    });
  } finally {
    await bridge.close();
    await hub.close({ drainTimeoutMs: 0 });
    producer.disconnect();
    direct.disconnect();
    await server.stop();
  }
}

export const legacyScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'legacy.convert', run: convert },
  { id: 'legacy.bridge-p99', run: bridgeLatency },
];
