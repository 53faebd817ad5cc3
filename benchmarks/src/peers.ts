/**
 * The hub beside the libraries a user would pick instead, doing the same job
 * with the same payload in the same process and run, rounds alternating:
 * - Moleculer 0.14 events, in-process and over its Redis transporter;
 * - BullMQ job processing (add → worker → completed) against the hub's
 *   at-least-once delivery over Redis Streams, same handler concurrency;
 * - Socket.IO 4 client → server events, plain and acknowledged, against the
 *   hub over WebSocket (@hub/adapter-ws).
 * Each peer is set up as its own documentation recommends for speed (README.md
 * lists the settings); the raw client underneath is measured in the same run by
 * the redis.* and ws.* scenarios.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { keyLayout, redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createEvent, createHub, createMessage, memory } from '@hub/core';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { Server as SocketIoServer } from 'socket.io';
import { io as socketIoClient } from 'socket.io-client';
import {
  Arrivals,
  flood,
  logger,
  paired,
  payload300,
  pick,
  ratioOf,
  result,
  rotate,
  type ScenarioResult,
  stats,
} from './harness.js';
import { moleculerBroker } from './rpc.js';
import { hubPair } from './ws.js';

const ROUNDS = 5;
const BATCH = 1_000;

/** Moleculer set up as in the request/reply scenarios (its docs' fast settings, see rpc.ts). */
const broker = moleculerBroker;

/** A flood of `n` sends in batches; records client CPU µs per message in `cpu`. */
async function rate(
  n: number,
  arrivals: Arrivals,
  send: (i: number) => Promise<unknown> | undefined,
  cpu: number[],
  settled?: () => boolean | Promise<boolean>,
  timeLimitMs = pick(6_000, 2_000),
): Promise<number> {
  const r = await flood({
    total: n,
    batch: BATCH,
    timeLimitMs,
    arrivals,
    send,
    ...(settled ? { settled } : {}),
  });
  cpu.push(r.cpuUsPerMsg);
  if (r.partial) {
    cut.push(
      `a round was cut short: ${r.arrived.toLocaleString('en-US')} of ${r.issued.toLocaleString('en-US')} issued arrived (of ${n.toLocaleString('en-US')}) within the time limit; its rate covers what arrived`,
    );
  }
  return r.rate;
}

/** Rounds cut short since the last `takeCut()`: each scenario lists its own in its notes. */
let cut: string[] = [];
function takeCut(): string[] {
  const out = cut;
  cut = [];
  return out;
}

const cpuLine = (xs: number[]) => stats(xs.slice(1)).median.toFixed(2);

/** In-process events: hub.publish to a subscriber (memory adapter) vs Moleculer broker.emit to a local service. */
async function localEvents(): Promise<ScenarioResult> {
  takeCut();
  const n = pick(50_000, 20_000);
  const data = payload300();
  const hub = createHub({ name: 'peer-events', adapters: [memory()], logger });
  await hub.start();
  const hubArrivals = new Arrivals();
  await hub.subscribe('bench.ev', () => hubArrivals.inc());
  const b = broker('local');
  const mArrivals = new Arrivals();
  b.createService({ name: 'sink', events: { 'bench.ev': () => mArrivals.inc() } });
  await b.start();
  const cpu = { hub: [] as number[], m: [] as number[] };
  try {
    const [h, m] = await rotate(
      [
        () =>
          rate(
            n,
            hubArrivals,
            () => hub.publish(createEvent({ source: 'bench', topic: 'bench.ev', data })),
            cpu.hub,
          ),
        () => rate(n, mArrivals, () => b.emit('bench.ev', data) as Promise<unknown>, cpu.m),
      ],
      ROUNDS,
    );
    return result({
      suite: 'peers',
      id: 'peers.moleculer-events',
      title: 'in-process events: hub.publish (memory) vs Moleculer broker.emit (local service)',
      transport: 'memory',
      against: 'Moleculer (local)',
      unit: 'msg/s',
      higherIsBetter: true,
      ...paired(h!, m!),
      rounds: ROUNDS,
      targets: [],
      notes: [
        `${n.toLocaleString('en-US')} events of a 300 B payload per round, batches of ${BATCH} issued together and awaited; the clock stops at the last handler call`,
        'hub: hub.publish(createEvent(...)) with the event built inside the clock, memory() defaults, one subscriber',
        'Moleculer 0.14: broker.emit(event, payload) to a local service event handler (logger, metrics, tracing off)',
      ],
      extra: {
        'client CPU µs/msg, hub (median)': cpuLine(cpu.hub),
        'client CPU µs/msg, Moleculer (median)': cpuLine(cpu.m),
        'rounds cut short': takeCut().join('; ') || 'none',
      },
    });
  } finally {
    await Promise.allSettled([hub.close(), b.stop()]);
  }
}

/** Events over Redis Pub/Sub between two nodes of one process: hub send → other hub vs Moleculer emit → other broker. */
async function redisEvents(server: RedisServer): Promise<ScenarioResult> {
  takeCut();
  const n = pick(30_000, 10_000);
  const payload = payload300();
  const hubA = createHub({ name: 'peer-a', adapters: [redis({ url: server.url })], logger });
  const hubB = createHub({ name: 'peer-b', adapters: [redis({ url: server.url })], logger });
  const hubArrivals = new Arrivals();
  await hubB.onMessage('peers.ev', () => hubArrivals.inc(), { guarantees: ['best-effort'] });
  await Promise.all([hubA.start(), hubB.start()]);
  const mA = broker('m-a', server.url);
  const mB = broker('m-b', server.url);
  const mArrivals = new Arrivals();
  mB.createService({ name: 'sink', events: { 'peers.ev': () => mArrivals.inc() } });
  await Promise.all([mA.start(), mB.start()]);
  await mA.waitForServices('sink', 10_000);
  const cpu = { hub: [] as number[], m: [] as number[] };
  try {
    const [h, m] = await rotate(
      [
        () =>
          rate(
            n,
            hubArrivals,
            () =>
              hubA.send(
                createMessage({
                  source: 'bench',
                  destination: 'peers.ev',
                  payload,
                  deliveryGuarantee: 'best-effort',
                }),
              ),
            cpu.hub,
          ),
        () => rate(n, mArrivals, () => mA.emit('peers.ev', payload) as Promise<unknown>, cpu.m),
      ],
      ROUNDS,
    );
    return result({
      suite: 'peers',
      id: 'peers.moleculer-redis-events',
      title:
        'events over Redis Pub/Sub, two nodes: hub best-effort send vs Moleculer emit (Redis transporter)',
      transport: 'redis pub/sub',
      against: 'Moleculer (Redis)',
      unit: 'msg/s',
      higherIsBetter: true,
      ...paired(h!, m!),
      rounds: ROUNDS,
      targets: [{ kind: 'ratio-min', value: 1.2, label: '≥ 1.2× Moleculer' }],
      notes: [
        `${n.toLocaleString('en-US')} messages of a 300 B payload per round, batches of ${BATCH}; the clock stops at the last handler call on the other node`,
        'hub: hub A best-effort hub.send(createMessage(...)) (built inside the clock) → Redis Pub/Sub (the adapter batches a tick’s PUBLISHes) → endpoint on hub B',
        'Moleculer 0.14: broker A emit(event, payload) → Redis transporter (ioredis) → service on broker B; JSON serializer, logger/metrics/tracing off',
        'the raw ioredis baseline of the same path is redis.pubsub',
      ],
      extra: {
        'client CPU µs/msg, hub (median)': cpuLine(cpu.hub),
        'client CPU µs/msg, Moleculer (median)': cpuLine(cpu.m),
        'rounds cut short': takeCut().join('; ') || 'none',
      },
    });
  } finally {
    await Promise.allSettled([mA.stop(), mB.stop()]);
    await Promise.allSettled([hubA.close(), hubB.close()]);
  }
}

/**
 * The hub's at-least-once over Redis Streams against BullMQ, handler
 * concurrency `concurrency` on both: hub.send → XADD → consumer → handler → XACK
 * vs Queue.addBulk → Worker → completed. Also used by the concurrency sweep.
 */
export async function jobsRound(
  server: RedisServer,
  concurrency: number,
  n: { hub: number; bull: number },
  rounds: number,
  timeLimitMs = pick(6_000, 2_000),
): Promise<{ hub: number[]; bull: number[]; cpuHub: number[]; cpuBull: number[] }> {
  const url = new URL(server.url);
  const connection = { host: url.hostname, port: Number(url.port), maxRetriesPerRequest: null };
  const payload = payload300();
  const hub = createHub({
    name: `jobs-${concurrency}`,
    adapters: [redis({ url: server.url })],
    logger,
  });
  const endpoint = `jobs.c${concurrency}`;
  const hubArrivals = new Arrivals();
  await hub.onMessage(endpoint, () => hubArrivals.inc(), { concurrency });
  await hub.start();
  // The clock stops when Redis holds no unacknowledged entry (XPENDING = 0), as in
  // redis.streams: BullMQ's 'completed' also fires only once Redis has the job completed.
  const probe = createMessage({ source: 'bench', destination: endpoint, payload: 0 });
  const streamKey = keyLayout('hub').priorityStream(endpoint, probe.priority);
  const cmd = new Redis(server.url);
  cmd.on('error', () => {});
  const pending = async () => {
    const r = (await cmd.call('XPENDING', [streamKey, endpoint])) as [number, ...unknown[]];
    return Number(r[0]) === 0;
  };
  const queueName = `bench-c${concurrency}`;
  const queue = new Queue(queueName, { connection });
  const bullArrivals = new Arrivals();
  // BullMQ's guide for throughput: one worker with a higher concurrency, jobs removed on
  // completion (the completed set then costs no memory), bulk adds.
  const worker = new Worker(queueName, async () => undefined, {
    connection,
    concurrency,
    removeOnComplete: { count: 0 },
  });
  worker.on('completed', () => bullArrivals.inc());
  worker.on('error', () => {});
  await worker.waitUntilReady();
  const cpuHub: number[] = [];
  const cpuBull: number[] = [];
  const jobs = Array.from({ length: BATCH }, () => ({ name: 'job', data: payload }));
  try {
    const [h, b] = await rotate(
      [
        () =>
          rate(
            n.hub,
            hubArrivals,
            () =>
              hub.send(
                createMessage({
                  source: 'bench',
                  destination: endpoint,
                  payload,
                  deliveryGuarantee: 'at-least-once',
                }),
              ),
            cpuHub,
            pending,
            timeLimitMs,
          ),
        () =>
          rate(
            n.bull,
            bullArrivals,
            // One addBulk per batch of BATCH, as BullMQ recommends for adding many jobs.
            (i) =>
              (i + 1) % BATCH === 0 || i === n.bull - 1
                ? queue.addBulk(jobs.slice(0, (i % BATCH) + 1))
                : undefined,
            cpuBull,
            undefined,
            timeLimitMs,
          ),
      ],
      rounds,
    );
    return { hub: h!, bull: b!, cpuHub, cpuBull };
  } finally {
    await worker.close().catch(() => {});
    await queue.obliterate({ force: true }).catch(() => {});
    await queue.close().catch(() => {});
    await hub.close({ drainTimeoutMs: 2_000 }).catch(() => {});
    cmd.disconnect();
  }
}

export const JOBS_N = { hub: pick(15_000, 2_000), bull: pick(6_000, 1_000) };

async function bullmqJobs(server: RedisServer): Promise<ScenarioResult> {
  takeCut();
  const c = 16;
  const r = await jobsRound(server, c, JOBS_N, ROUNDS);
  return result({
    suite: 'peers',
    id: 'peers.bullmq',
    title: `at-least-once job processing over Redis, concurrency ${c}: hub Streams vs BullMQ`,
    transport: 'redis streams',
    against: 'BullMQ',
    unit: 'msg/s',
    higherIsBetter: true,
    ...paired(r.hub, r.bull),
    rounds: ROUNDS,
    targets: [],
    notes: [
      `hub: at-least-once hub.send (built inside the clock) → the adapter’s batched XADD → XREADGROUP consumer (concurrency ${c}) → handler → XACK; up to ${JOBS_N.hub.toLocaleString('en-US')} per round, the clock stops when every message was handled and Redis reports no pending entry (XPENDING = 0)`,
      `BullMQ: Queue.addBulk of ${BATCH} jobs at a time → one Worker (concurrency ${c}, removeOnComplete) → 'completed' event; up to ${JOBS_N.bull.toLocaleString('en-US')} jobs per round (fewer: BullMQ is slower and every round is bounded in time)`,
      'both: 300 B JSON payload, one redis-server, an empty handler; each round also bounded in time',
    ],
    extra: {
      'client CPU µs/msg, hub (median)': cpuLine(r.cpuHub),
      'client CPU µs/job, BullMQ (median)': cpuLine(r.cpuBull),
      'rounds cut short': takeCut().join('; ') || 'none',
    },
  });
}

/** Client → server events over WebSocket: hub wsClient → gateway vs Socket.IO, plain and acknowledged. */
async function socketIo(): Promise<ScenarioResult[]> {
  takeCut();
  const n = pick(20_000, 5_000);
  const hubArrivals = new Arrivals();
  const hub = await hubPair(() => {
    hubArrivals.inc();
  });
  const http = createServer();
  // Socket.IO's performance notes: WebSocket transport only (no long-polling first),
  // no per-message compression (off by default), no client bundle served.
  const io = new SocketIoServer(http, { serveClient: false, transports: ['websocket'] });
  const sioArrivals = new Arrivals();
  io.on('connection', (socket) => {
    socket.on('m', (_msg: unknown, ack?: () => void) => {
      sioArrivals.inc();
      if (typeof ack === 'function') ack();
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const { port } = http.address() as AddressInfo;
  const client = socketIoClient(`http://127.0.0.1:${port}`, { transports: ['websocket'] });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('connect_error', reject);
  });
  const cpu = { hub: [] as number[], plain: [] as number[], ack: [] as number[] };
  const msg = (i: number) =>
    createMessage({
      source: 'bench',
      destination: 'bench.ws',
      payload: payload300(i),
      deliveryGuarantee: 'best-effort',
    });
  try {
    const [h, p, a] = await rotate(
      [
        () => rate(n, hubArrivals, (i) => hub.client.send(msg(i)), cpu.hub),
        () =>
          rate(
            n,
            sioArrivals,
            (i) => {
              client.emit('m', msg(i));
              return undefined;
            },
            cpu.plain,
          ),
        () =>
          rate(
            n,
            sioArrivals,
            (i) => new Promise<void>((resolve) => client.emit('m', msg(i), () => resolve())),
            cpu.ack,
          ),
      ],
      ROUNDS,
    );
    const common = {
      suite: 'peers' as const,
      transport: 'websocket',
      unit: 'msg/s',
      higherIsBetter: true,
      hub: stats(h!),
      rounds: ROUNDS,
      targets: [],
    };
    const notes = [
      `${n.toLocaleString('en-US')} messages per round (the same envelope JSON with a 300 B payload, built inside the clock), ${BATCH} in flight; client and server in this process`,
      'hub: hub.send over wsClient → gateway → handler on the server hub; each send resolves on the server’s confirmation (acks of one turn share a frame)',
      'Socket.IO 4: client emit("m", envelope) → server handler; transports: ["websocket"], default JSON parser, no compression',
    ];
    const extra = {
      'rounds cut short': takeCut().join('; ') || 'none',
      'client+server CPU µs/msg: hub / Socket.IO plain / Socket.IO acked (median)': `${cpuLine(cpu.hub)} / ${cpuLine(cpu.plain)} / ${cpuLine(cpu.ack)}`,
    };
    return [
      result({
        ...common,
        id: 'peers.socketio-events',
        title: 'client → server events over WebSocket: hub (confirmed) vs Socket.IO emit (no ack)',
        against: 'Socket.IO (emit)',
        raw: stats(p!),
        ratio: ratioOf(h!, p!),
        notes: [
          ...notes,
          'Socket.IO side: plain emit, nothing confirmed (the hub still confirms every send)',
        ],
        extra,
      }),
      result({
        ...common,
        id: 'peers.socketio-acks',
        title: 'acknowledged client → server events: hub (confirmed) vs Socket.IO emit with ack',
        against: 'Socket.IO (ack)',
        raw: stats(a!),
        ratio: ratioOf(h!, a!),
        notes: [
          ...notes,
          `Socket.IO side: emit with an ack callback the server calls, ${BATCH} in flight`,
        ],
        extra,
      }),
    ];
  } finally {
    client.close();
    await new Promise<void>((r) => io.close(() => r()));
    await hub.close();
  }
}

/** Runs `fn` against its own redis-server on a free loopback port. */
async function withRedis<T>(fn: (s: RedisServer) => Promise<T>): Promise<T> {
  const server = await startRedisServer();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

export const peerScenarios: Array<{
  id: string;
  run: () => Promise<ScenarioResult | ScenarioResult[]>;
  ids?: string[];
  estimate: [number, number];
}> = [
  { id: 'peers.moleculer-events', run: localEvents, estimate: [12, 3] },
  { id: 'peers.moleculer-redis-events', run: () => withRedis(redisEvents), estimate: [15, 5] },
  { id: 'peers.bullmq', run: () => withRedis(bullmqJobs), estimate: [25, 8] },
  {
    id: 'peers.socketio',
    ids: ['peers.socketio-events', 'peers.socketio-acks'],
    run: socketIo,
    estimate: [15, 5],
  },
];
