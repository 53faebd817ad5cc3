/**
 * Hub-only load for CPU profiling, without the raw side or the alternation:
 *   node --cpu-prof --cpu-prof-dir=/tmp/hub-prof --import tsx --conditions=@hub/source \
 *     src/profile.ts best-effort|at-least-once|publish|redis-pubsub|redis-streams [messages]
 *     src/profile.ts request|redis-request [requests]   (BENCH_INFLIGHT=100 for 100 in flight,
 *       BENCH_WARMUP=20000 for that many requests and a full collection first)
 *     src/profile.ts redis-durable [events]   (redis.durable-events, the hub side only)
 *     src/profile.ts ws-send|ws-request [n]   (ws.one-way and ws.round-trip, the hub side only:
 *       a client hub on wsClient and a server hub behind a gateway, in this process)
 *     src/profile.ts ws-send-direct [n]   (ws-send with each message handed to the wsClient
 *       adapter itself: the client hub's pipeline left out, the rest as ws-send)
 * The redis modes start their own redis-server on a free loopback port.
 */
import { redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createEvent, createHub, createMessage, type DeliveryGuarantee, memory } from '@hub/core';
import { Arrivals, flood, logger, payload300 } from './harness.js';
import { buildDurableEvents, HubSide as DurableSide } from './redis-durable.js';
import { hubPair } from './ws.js';

const mode = process.argv[2] ?? 'best-effort';
const onRedis = mode.startsWith('redis-');
const total = Number(process.argv[3] ?? (onRedis || mode.startsWith('ws-') ? 200_000 : 1_000_000));
let server: RedisServer | undefined;
if (onRedis) server = await startRedisServer();
const hub = createHub({
  name: 'profile',
  // BENCH_SHARE=1: memory({ shareObjects: true }) (no payload check, no copies).
  adapters: [
    server ? redis({ url: server.url }) : memory({ shareObjects: process.env.BENCH_SHARE === '1' }),
  ],
  logger,
});
await hub.start();
const arrivals = new Arrivals();
const payload = payload300();

if (mode === 'ws-send' || mode === 'ws-send-direct' || mode === 'ws-request') {
  // What ws.one-way and ws.round-trip measure of the hub: client and server
  // hubs in this process, so the CPU per message covers both ends.
  const pair = await hubPair((m) =>
    mode === 'ws-request' ? (m as { payload: unknown }).payload : arrivals.inc(),
  );
  const sending =
    mode === 'ws-send' ? pair.client : mode === 'ws-send-direct' ? pair.adapter : undefined;
  const one = (i: number): Promise<unknown> =>
    sending !== undefined
      ? sending.send(
          createMessage({
            source: 'bench',
            destination: 'bench.ws',
            payload: payload300(i),
            deliveryGuarantee: 'best-effort',
          }),
        )
      : pair.client.request(
          createMessage({ source: 'bench', destination: 'bench.ws', payload: payload300(i) }),
          { timeoutMs: 5_000 },
        );
  const run = async (n: number) => {
    if (sending !== undefined) {
      await flood({ total: n, batch: 1_000, timeLimitMs: 20_000, arrivals, send: one });
    } else {
      for (let i = 0; i < n; i++) await one(i);
    }
  };
  await run(Math.min(total, 20_000)); // warm-up
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await run(total);
  const cpu = process.cpuUsage(cpu0);
  const unit = sending !== undefined ? 'msg' : 'round trip';
  console.log(
    `${mode}: ${Math.round((total / (performance.now() - t0)) * 1000)} ${unit}/s over ${total}, CPU (both ends) ${((cpu.user + cpu.system) / total).toFixed(2)} µs/${unit} (user ${(cpu.user / total).toFixed(2)}, system ${(cpu.system / total).toFixed(2)})`,
  );
  await pair.close();
} else if (mode === 'request' || mode === 'redis-request') {
  // Best-effort request/reply, BENCH_INFLIGHT callers each awaiting one request at a time.
  const inflight = Number(process.env.BENCH_INFLIGHT) || 1;
  await hub.onMessage('p', (m) => m.payload, { guarantees: ['best-effort'] });
  let t0 = performance.now();
  let done = 0;
  let goal = total;
  const caller = async () => {
    while (done < goal && performance.now() - t0 < 20_000) {
      done++;
      await hub.request(
        createMessage({ source: 'p', destination: 'p', payload, deliveryGuarantee: 'best-effort' }),
        { timeoutMs: 5_000 },
      );
    }
  };
  // BENCH_WARMUP=n: n requests first, then a full collection when `--expose-gc` allows it
  // (the benchmark forces one between rounds, and what a request leaves behind differs after one).
  const warmup = Number(process.env.BENCH_WARMUP) || 0;
  if (warmup > 0) {
    goal = warmup;
    await Promise.all(Array.from({ length: inflight }, caller));
    (globalThis as { gc?: () => void }).gc?.();
    done = 0;
    goal = total;
    t0 = performance.now();
  }
  const cpu0 = process.cpuUsage();
  await Promise.all(Array.from({ length: inflight }, caller));
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${mode} (${inflight} in flight): ${Math.round((done / (performance.now() - t0)) * 1000)} req/s over ${done}, client CPU ${((cpu.user + cpu.system) / done).toFixed(2)} µs/req`,
  );
} else if (mode === 'redis-durable') {
  // One publisher, two groups of two hubs: what redis.durable-events measures of the hub.
  const side = await DurableSide.create(server!.url, 'profdur');
  const chunk = Math.min(total, 20_000);
  const events = buildDurableEvents(chunk);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  while (done < total && performance.now() - t0 < 20_000) {
    side.counts.reset();
    let issued = 0;
    const r = await flood({
      total: chunk,
      batch: 1_000,
      timeLimitMs: 10_000,
      arrivals: side.counts.first,
      send: (i) => {
        issued = i + 1;
        return side.publisher.publish(events[i]!);
      },
      settled: () => side.counts.second >= issued,
    });
    done += r.arrived;
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${mode}: ${Math.round((done / (performance.now() - t0)) * 1000)} events/s per group over ${done}, client CPU ${((cpu.user + cpu.system) / done).toFixed(2)} µs/event`,
  );
  await side.close();
} else if (mode === 'publish') {
  for (let i = 0; i < 10_000; i++)
    await hub.subscribe(i < 4 ? 'orders.**' : `svc${i}.*.created`, () => arrivals.inc());
  const t0 = performance.now();
  let n = 0;
  for (; n < total && performance.now() - t0 < 20_000; n++) {
    await hub.publish(
      createEvent({ source: 'p', topic: `orders.r${n % 100}.created`, data: payload }),
    );
  }
  await arrivals.until(n * 4, 5_000);
  console.log(`${mode}: ${Math.round((n / (performance.now() - t0)) * 1000)} events/s`);
} else {
  const guarantee = (
    mode === 'redis-pubsub' ? 'best-effort' : mode === 'redis-streams' ? 'at-least-once' : mode
  ) as DeliveryGuarantee;
  // BENCH_CONCURRENCY / BENCH_PREFETCH try consumer settings other than the defaults.
  const concurrency = Number(process.env.BENCH_CONCURRENCY) || undefined;
  const prefetch = Number(process.env.BENCH_PREFETCH) || undefined;
  await hub.onMessage('p', () => arrivals.inc(), {
    ...(concurrency ? { concurrency } : {}),
    ...(prefetch ? { prefetch } : {}),
  });
  const chunk = Math.min(total, 100_000);
  const envs = Array.from({ length: chunk }, () =>
    createMessage({ source: 'p', destination: 'p', payload, deliveryGuarantee: guarantee }),
  );
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  while (done < total && performance.now() - t0 < 20_000) {
    const r = await flood({
      total: chunk,
      batch: 1_000,
      timeLimitMs: 10_000,
      arrivals,
      send: (i) => hub.send(envs[i]!),
    });
    done += r.arrived;
  }
  const cpu = process.cpuUsage(cpu0);
  console.log(
    `${mode}: ${Math.round((done / (performance.now() - t0)) * 1000)} msg/s over ${done}, client CPU ${((cpu.user + cpu.system) / done).toFixed(2)} µs/msg`,
  );
}
if (server && process.env.BENCH_STATS === '1') {
  // BENCH_STATS=1: the commands Redis ran, to see round trips per message.
  const { Redis } = await import('ioredis');
  const r = new Redis(server.url);
  const info = await r.info('commandstats');
  for (const line of info.split('\n')) if (/calls=\d{3,}/.test(line)) console.log(line.trim());
  r.disconnect();
}
await hub.close();
await server?.stop();
