/**
 * Redis suite: the hub over @hub/adapter-redis against raw ioredis
 * doing the same work, both in this process, against one redis-server this
 * runner starts on a free loopback port.
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { RedisServer } from '@hub/adapter-test-suite';
import { startRedisServer } from '@hub/adapter-test-suite';
import {
  createHub,
  createMessage,
  type DeliveryGuarantee,
  type Hub,
  type ProtocolAdapter,
  type UnifiedMessage,
} from '@hub/core';
import { Redis } from 'ioredis';
import {
  Arrivals,
  alternate,
  flood,
  logger,
  payload300,
  percentile,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  sleep,
  stats,
  type Target,
  unavailable,
} from './harness.js';

/**
 * Throughput rounds are cheap (≈ 1 s each), and on a shared 2-core box one round swings by
 * ±20 %: seven pairs keep the median ratio steady. Latency rounds take STEADY_N / STEADY_RATE s.
 */
const ROUNDS = roundsFor(7);
const LATENCY_ROUNDS = roundsFor(3);
/** Rounds of the second Streams baseline (raw with the adapter's XADD batching), after the pairs. */
const BATCHED_ROUNDS = roundsFor(5);
const BATCH = 1_000;
const PUBSUB_N = pick(30_000, 10_000);
const STREAMS_N = pick(20_000, 5_000);
const STEADY_RATE = 1_000;
const STEADY_N = pick(2_000, 500);
const WARM_N = pick(500, 200);

const PS_ENDPOINT = 'bench.ps';
const ST_ENDPOINT = 'bench.st';
const RAW_CHANNEL = 'raw:ch:bench';
const RAW_STREAM = 'raw:st:bench';
const RAW_GROUP = 'bench';
/** XREADGROUP COUNT of the raw reader, and the hub consumer's prefetch (its read batch). */
const RAW_COUNT = 100;

/** One XADD per (id, env) pair, in order: what the adapter's batched XADD runs. */
const BATCH_XADD = `local out = {}
for i = 2, #ARGV, 2 do
  out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', '1', 'id', ARGV[i], 'env', ARGV[i + 1])
end
return out`;

/** One PUBLISH per (channel, message) pair, in order: what the adapter's batched PUBLISH runs. */
const BATCH_PUBLISH = `local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return out`;

type Payload = ReturnType<typeof payload300> & { t: number };
export type Msg = UnifiedMessage<Payload>;

/** What the hub side needs from @hub/adapter-redis, loaded lazily so a missing adapter is a reported gap, not a crash. */
interface RedisModule {
  redis(options: { url: string }): ProtocolAdapter;
  keyLayout(prefix: string): {
    priorityStream(destination: string, priority: 1 | 2 | 3 | 4 | 5): string;
  };
}

export async function loadAdapter(): Promise<RedisModule | string> {
  try {
    const mod = (await import('@hub/adapter-redis')) as Partial<RedisModule>;
    if (typeof mod.redis !== 'function' || typeof mod.keyLayout !== 'function') {
      return '@hub/adapter-redis does not export redis() and keyLayout()';
    }
    return mod as RedisModule;
  } catch (err) {
    return `@hub/adapter-redis failed to load: ${(err as Error).message.split('\n')[0]}`;
  }
}

function build(n: number, destination: string, guarantee: DeliveryGuarantee): Msg[] {
  const payload = { ...payload300(), t: 0 };
  return Array.from({ length: n }, () =>
    createMessage({ source: 'bench', destination, payload, deliveryGuarantee: guarantee }),
  );
}

/** Raw ioredis side: a publisher with auto-pipelining, a subscriber, and a Streams consumer loop. */
export class RawSide {
  readonly cmd: Redis;
  readonly sub: Redis;
  readonly reader: Redis;
  readonly arrivals = new Arrivals();
  onPubSub: (m: Msg) => void = () => {};
  onStream: (m: Msg) => void = () => {};
  private reading = false;
  private loop: Promise<void> | undefined;
  readErrors = 0;

  constructor(url: string) {
    this.cmd = new Redis(url, { enableAutoPipelining: true, lazyConnect: true });
    this.sub = new Redis(url, { lazyConnect: true });
    this.reader = new Redis(url, { lazyConnect: true });
    for (const c of [this.cmd, this.sub, this.reader]) c.on('error', () => {});
  }

  async start(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect(), this.reader.connect()]);
    this.sub.on('message', (_ch: string, text: string) => this.onPubSub(JSON.parse(text) as Msg));
    await this.sub.subscribe(RAW_CHANNEL);
    await this.cmd.call('XGROUP', ['CREATE', RAW_STREAM, RAW_GROUP, '$', 'MKSTREAM']);
    this.reading = true;
    this.loop = this.readLoop();
  }

  publish(m: Msg): Promise<unknown> {
    return this.cmd.publish(RAW_CHANNEL, JSON.stringify(m));
  }

  /** The same entry layout the adapter writes: v, id, env; approximate MAXLEN as the adapter does. */
  xadd(m: Msg): Promise<unknown> {
    return this.cmd.call('XADD', [
      RAW_STREAM,
      'MAXLEN',
      '~',
      '1000000',
      '*',
      'v',
      '1',
      'id',
      m.id,
      'env',
      JSON.stringify(m),
    ]);
  }

  private batches = new Map<string, { args: string[]; done: Promise<unknown> }>();

  /**
   * The adapter's write batching done by hand: the XADDs (or PUBLISHes) of one
   * tick as one script call, every send of the tick sharing its promise. The
   * second, stricter baseline the report shows beside the plain pipeline.
   */
  private batched(
    script: string,
    numkeys: number,
    head: string[],
    pair: [string, string],
  ): Promise<unknown> {
    let b = this.batches.get(script);
    if (b === undefined) {
      const args: string[] = [];
      const done = new Promise<unknown>((resolve, reject) => {
        process.nextTick(() => {
          this.batches.delete(script);
          this.cmd.eval(script, numkeys, ...head, ...args).then(resolve, reject);
        });
      });
      b = { args, done };
      this.batches.set(script, b);
    }
    b.args.push(pair[0], pair[1]);
    return b.done;
  }

  xaddBatched(m: Msg): Promise<unknown> {
    return this.batched(BATCH_XADD, 1, [RAW_STREAM, '1000000'], [m.id, JSON.stringify(m)]);
  }

  publishBatched(m: Msg): Promise<unknown> {
    return this.batched(BATCH_PUBLISH, 0, [], [RAW_CHANNEL, JSON.stringify(m)]);
  }

  /** XREADGROUP COUNT 100 → handle each → one XACK per read, pipelined with the producer's writes. */
  private async readLoop(): Promise<void> {
    while (this.reading) {
      let reply: unknown;
      try {
        reply = await this.reader.call('XREADGROUP', [
          'GROUP',
          RAW_GROUP,
          'c1',
          'COUNT',
          String(RAW_COUNT),
          'BLOCK',
          '200',
          'STREAMS',
          RAW_STREAM,
          '>',
        ]);
      } catch {
        this.readErrors++;
        if (this.reading) await sleep(10);
        continue;
      }
      if (!Array.isArray(reply)) continue;
      for (const [, entries] of reply as Array<[string, Array<[string, string[]]>]>) {
        const ids: string[] = [];
        for (const [id, fields] of entries) {
          ids.push(id);
          const env = fields[fields.indexOf('env') + 1]!;
          this.onStream(JSON.parse(env) as Msg);
        }
        if (ids.length > 0) this.cmd.call('XACK', [RAW_STREAM, RAW_GROUP, ...ids]).catch(() => {});
      }
    }
  }

  async pending(): Promise<number> {
    const r = (await this.cmd.call('XPENDING', [RAW_STREAM, RAW_GROUP])) as [number, ...unknown[]];
    return Number(r[0]);
  }

  /**
   * The Streams reader blocks and re-reads every 200 ms; a Pub/Sub scenario does not
   * need it, and both sides share this process, so it is stopped for those scenarios
   * (one wake-up source less in the p99 of both sides).
   */
  async pauseReader(): Promise<void> {
    this.reading = false;
    await this.loop?.catch(() => {});
    this.loop = undefined;
  }

  resumeReader(): void {
    if (this.reading) return;
    this.reading = true;
    this.loop = this.readLoop();
  }

  async close(): Promise<void> {
    this.reading = false;
    this.reader.disconnect();
    await this.loop?.catch(() => {});
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
  }
}

/** Hub side: one hub over the redis adapter only, serving a Pub/Sub endpoint and a Streams endpoint. */
export class HubSide {
  readonly arrivals = new Arrivals();
  onPubSub: (m: Msg) => void = () => {};
  onStream: (m: Msg) => void = () => {};
  private constructor(
    readonly hub: Hub,
    private readonly cmd: Redis,
    private readonly streamKey: string,
  ) {}

  static async create(mod: RedisModule, url: string): Promise<HubSide> {
    const hub = createHub({ name: 'bench-redis', adapters: [mod.redis({ url })], logger });
    await hub.start();
    const probe = createMessage({ source: 'bench', destination: ST_ENDPOINT, payload: 0 });
    const cmd = new Redis(url);
    cmd.on('error', () => {});
    const side = new HubSide(
      hub,
      cmd,
      mod.keyLayout('hub').priorityStream(ST_ENDPOINT, probe.priority),
    );
    await hub.onMessage<Payload>(PS_ENDPOINT, (m) => side.onPubSub(m));
    // Same read batch as the raw reader (COUNT 100): the hub reads at most `prefetch` entries
    // per XREADGROUP, and its default (max(concurrency * 2, 32) = 32) would give the raw side
    // three times fewer round trips per message than the hub gets.
    await hub.onMessage<Payload>(ST_ENDPOINT, (m) => side.onStream(m), { prefetch: RAW_COUNT });
    return side;
  }

  /** Entries of the endpoint's stream still unacknowledged in Redis (the clock stops at zero). */
  async pending(): Promise<number> {
    const r = (await this.cmd.call('XPENDING', [this.streamKey, ST_ENDPOINT])) as [
      number,
      ...unknown[],
    ];
    return Number(r[0]);
  }

  async close(): Promise<void> {
    await this.hub.close({ drainTimeoutMs: 2_000 });
    await this.cmd.quit().catch(() => {});
  }
}

export const PUBSUB_ENDPOINT = PS_ENDPOINT;

export const isLatencyId = (id: string): boolean => id.startsWith('redis.latency-');

/**
 * V8 flags of the process that runs the latency scenarios (run.ts starts it).
 * The open-loop sender spins on setImmediate between sends to send on time,
 * and the spin's garbage (~400 MB/s of Immediate objects) sets the GC pace:
 * - 1 MB semi-spaces make those collections ~0.1 ms each instead of
 *   ~1 ms every 30 ms, which landed on whichever side was being measured;
 * - single-threaded GC keeps V8's helper threads off the second core, where
 *   they preempted redis-server (2-core box: stalls of 2–5 ms, both sides).
 * Both sides run under the same flags. They would slow the throughput
 * scenarios down, so those run in the parent with Node's defaults.
 */
export const LATENCY_NODE_FLAGS = ['--single-threaded-gc', '--max-semi-space-size=1'];

export const REDIS_IDS = [
  'redis.pubsub',
  'redis.streams',
  'redis.latency-pubsub',
  'redis.latency-streams',
] as const;

const META: Record<
  (typeof REDIS_IDS)[number],
  { title: string; unit: string; higherIsBetter: boolean; targets: Target[] }
> = {
  'redis.pubsub': {
    title: 'Redis best-effort Pub/Sub end to end',
    unit: 'msg/s',
    higherIsBetter: true,
    targets: [{ kind: 'ratio-min', value: 0.85, label: '≥ 0.85× raw' }],
  },
  'redis.streams': {
    title: 'Redis at-least-once Streams send → handler → ack',
    unit: 'msg/s',
    higherIsBetter: true,
    targets: [
      { kind: 'ratio-min', value: 0.75, label: '≥ 0.75× raw' },
      { kind: 'hub-min', value: 50_000, label: '≥ 50,000 msg/s' },
    ],
  },
  'redis.latency-pubsub': {
    title: `Redis Pub/Sub p99 at a steady ${STEADY_RATE.toLocaleString('en-US')} msg/s`,
    unit: 'µs p99',
    higherIsBetter: false,
    targets: [{ kind: 'hub-max', value: 2_000, label: 'p99 ≤ 2 ms' }],
  },
  'redis.latency-streams': {
    title: `Redis Streams p99 at a steady ${STEADY_RATE.toLocaleString('en-US')} msg/s`,
    unit: 'µs p99',
    higherIsBetter: false,
    targets: [{ kind: 'hub-max', value: 2_000, label: 'p99 ≤ 2 ms' }],
  },
};

/**
 * Open-loop sender at a fixed rate. Latency is taken from each message's
 * INTENDED send time (carried in the payload), so a stalled sender or a slow
 * path cannot hide queueing delay (coordinated omission). Lost messages count
 * as infinitely late.
 */
export async function steady(
  n: number,
  send: (m: Msg) => Promise<unknown>,
  setSink: (fn: (m: Msg) => void) => void,
  destination: string,
  guarantee: DeliveryGuarantee,
  rate = STEADY_RATE,
): Promise<{
  p50: number;
  p99: number;
  max: number;
  lost: number;
  errors: number;
  loopDelayP99: number;
}> {
  // Event-loop delay shows when the box, not the code, is the bottleneck (a starved process stalls both sides).
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const lat = new Float64Array(n);
  let got = 0;
  const arrivals = new Arrivals();
  setSink((m) => {
    if (got < n) lat[got++] = (performance.now() - m.payload.t) * 1000;
    arrivals.inc();
  });
  const interval = 1000 / rate;
  const start = performance.now() + 2;
  const hardStop = start + n * interval + 5_000;
  const pad = payload300();
  let errors = 0;
  let sent = 0;
  const failed = () => {
    errors++;
  };
  // The pacer spins on setImmediate with one callback (no promise per turn): a spin that
  // allocates a promise per turn made its own garbage the largest source of GC pauses, which
  // landed on whichever side was measured. Each turn sends every message whose time has come.
  await new Promise<void>((done, fail) => {
    const turn = () => {
      try {
        const now = performance.now();
        if (now > hardStop) return done();
        while (sent < n && start + sent * interval <= now) {
          const due = start + sent * interval;
          const m = createMessage({
            source: 'bench',
            destination,
            payload: { ...pad, t: due },
            deliveryGuarantee: guarantee,
          });
          sent++;
          send(m).catch(failed);
        }
        if (sent >= n) return done();
        const left = start + sent * interval - now;
        if (left > 2) setTimeout(turn, left - 1.5);
        else setImmediate(turn);
      } catch (err) {
        // A send that throws instead of rejecting ends the round as a failure, not a hang.
        fail(err);
      }
    };
    turn();
  });
  await arrivals.until(sent, 3_000);
  loop.disable();
  setSink(() => {});
  const lost = n - got;
  const all = Float64Array.from({ length: n }, (_, i) =>
    i < got ? lat[i]! : Number.POSITIVE_INFINITY,
  );
  return {
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    max: percentile(all, 100),
    lost,
    errors,
    loopDelayP99: loop.percentile(99) / 1e3,
  };
}

async function runScenario(
  id: (typeof REDIS_IDS)[number],
  hubSide: HubSide | undefined,
  raw: RawSide,
  why: string,
): Promise<ScenarioResult> {
  const meta = META[id];
  const notes: string[] = [];
  const extra: Record<string, number | string> = {};

  if (id === 'redis.pubsub' || id === 'redis.streams') {
    const pubsub = id === 'redis.pubsub';
    const n = pubsub ? PUBSUB_N : STREAMS_N;
    const guarantee: DeliveryGuarantee = pubsub ? 'best-effort' : 'at-least-once';
    const hubEnvs = build(n, pubsub ? PS_ENDPOINT : ST_ENDPOINT, guarantee);
    const rawEnvs = build(n, 'raw', guarantee);
    let rawPending = 0;
    let hubPending = 0;
    const cpu = { hub: [] as number[], raw: [] as number[] };
    const partial: string[] = [];
    const runRaw = async (total: number) => {
      const a = raw.arrivals;
      if (pubsub) raw.onPubSub = () => a.inc();
      else raw.onStream = () => a.inc();
      const r = await flood({
        total,
        batch: BATCH,
        timeLimitMs: 8_000,
        arrivals: a,
        send: (i) => (pubsub ? raw.publish(rawEnvs[i]!) : raw.xadd(rawEnvs[i]!)),
        // Streams: the clock stops only once Redis holds no unacked entry (one more round trip, both sides).
        ...(pubsub
          ? {}
          : {
              settled: async () => {
                rawPending = await raw.pending();
                return rawPending === 0;
              },
            }),
      });
      if (r.partial) partial.push(`raw round: ${r.arrived}/${r.issued} of ${total} arrived`);
      cpu.raw.push(r.cpuUsPerMsg);
      return r.rate;
    };
    const runHub = async (total: number) => {
      const side = hubSide!;
      const a = side.arrivals;
      if (pubsub) side.onPubSub = () => a.inc();
      else side.onStream = () => a.inc();
      const r = await flood({
        total,
        batch: BATCH,
        timeLimitMs: 8_000,
        arrivals: a,
        send: (i) => side.hub.send(hubEnvs[i]!),
        ...(pubsub
          ? {}
          : {
              settled: async () => {
                hubPending = await side.pending();
                return hubPending === 0;
              },
            }),
      });
      if (r.partial) partial.push(`hub round: ${r.arrived}/${r.issued} of ${total} arrived`);
      cpu.hub.push(r.cpuUsPerMsg);
      return r.rate;
    };
    notes.push(
      `${n.toLocaleString('en-US')} pre-built envelopes (300 B payload) per round, both sides; batches of ${BATCH} sends issued together and awaited with Promise.all`,
      pubsub
        ? 'hub: hub.send(best-effort) to an endpoint → the adapter batches the PUBLISHes of a tick into one script call, written at once on the command connection → subscriber connection → handler counts'
        : 'hub: hub.send(at-least-once) → the adapter batches the XADDs of a tick into one script call per stream → the adapter’s XREADGROUP consumer (prefetch 100, the raw reader’s COUNT; every other consumer option default) → handler → XACK; clock stops at XPENDING = 0',
      pubsub
        ? 'raw (the baseline of the hub/raw column): ioredis PUBLISH of JSON.stringify(same envelope) with enableAutoPipelining → a second ioredis connection SUBSCRIBEd → JSON.parse → count. Also measured after the pairs (extra lines): raw with the same PUBLISH batching as the adapter, each tick’s sends sharing one EVAL'
        : 'raw (the baseline of the hub/raw column): ioredis XADD (MAXLEN ~, same v/id/env fields) with enableAutoPipelining → dedicated reader XREADGROUP COUNT 100 BLOCK 200 → JSON.parse each → one XACK per read, pipelined; clock stops at XPENDING = 0. Also measured after the pairs (extra lines): raw with the same XADD batching as the adapter, each tick’s sends sharing one EVAL',
    );
    if (!hubSide) {
      const rates: number[] = [];
      await runRaw(Math.min(n, 5_000));
      for (let r = 0; r < ROUNDS; r++) rates.push(await runRaw(n));
      return unavailable({
        ...meta,
        suite: 'redis',
        id,
        raw: stats(rates),
        rounds: ROUNDS,
        why,
        notes,
      });
    }
    const out = await alternate({
      rounds: ROUNDS,
      warmup: { hub: () => runHub(Math.min(n, 5_000)), raw: () => runRaw(Math.min(n, 5_000)) },
      hub: () => runHub(n),
      raw: () => runRaw(n),
    });
    {
      // Second baseline: raw doing the same write batching as the adapter (one script call per tick).
      const a = raw.arrivals;
      if (pubsub) raw.onPubSub = () => a.inc();
      else raw.onStream = () => a.inc();
      const rates: number[] = [];
      const cpus: number[] = [];
      for (let r = 0; r <= BATCHED_ROUNDS; r++) {
        const f = await flood({
          total: r === 0 ? Math.min(n, 5_000) : n,
          batch: BATCH,
          timeLimitMs: 8_000,
          arrivals: a,
          send: (i) => (pubsub ? raw.publishBatched(rawEnvs[i]!) : raw.xaddBatched(rawEnvs[i]!)),
          ...(pubsub ? {} : { settled: async () => (await raw.pending()) === 0 }),
        });
        if (r === 0) continue;
        if (f.partial)
          partial.push(`raw (batched) round: ${f.arrived}/${f.issued} of ${n} arrived`);
        rates.push(f.rate);
        cpus.push(f.cpuUsPerMsg);
      }
      const batched = stats(rates).median;
      const what = pubsub ? 'PUBLISH' : 'XADD';
      extra[`raw with the same ${what} batching (one script call per tick), msg/s (median)`] =
        Math.round(batched);
      extra['hub ÷ raw with the same batching'] = Number((out.hub!.median / batched).toFixed(3));
      extra['client CPU µs/msg, raw with the same batching (median)'] = Number(
        stats(cpus).median.toFixed(2),
      );
    }
    // Warm-up rounds are the first entry of each list.
    const hubCpu = stats(cpu.hub.slice(1)).median;
    const rawCpu = stats(cpu.raw.slice(1)).median;
    extra['client CPU µs/msg, hub (median)'] = Number(hubCpu.toFixed(2));
    extra['client CPU µs/msg, raw (median)'] = Number(rawCpu.toFixed(2));
    extra['client CPU per message, raw ÷ hub'] = Number((rawCpu / hubCpu).toFixed(3));
    if (!pubsub) {
      extra['hub XPENDING after last round'] = hubPending;
      extra['raw XPENDING after last round'] = rawPending;
    }
    notes.push(...partial);
    return result({ ...meta, suite: 'redis', id, ...out, rounds: ROUNDS, notes, extra });
  }

  // Steady-rate latency.
  const pubsub = id === 'redis.latency-pubsub';
  const guarantee: DeliveryGuarantee = pubsub ? 'best-effort' : 'at-least-once';
  const side = {
    hub: { p50: [] as number[], loop: [] as number[], lost: 0, errors: 0 },
    raw: { p50: [] as number[], loop: [] as number[], lost: 0, errors: 0 },
  };
  const runRaw = async (n: number) => {
    const r = await steady(
      n,
      (m) => (pubsub ? raw.publish(m) : raw.xadd(m)),
      (fn) => {
        if (pubsub) raw.onPubSub = fn;
        else raw.onStream = fn;
      },
      'raw',
      guarantee,
    );
    side.raw.p50.push(r.p50);
    side.raw.loop.push(r.loopDelayP99);
    side.raw.lost += r.lost;
    side.raw.errors += r.errors;
    return r.p99;
  };
  const runHub = async (n: number) => {
    const h = hubSide!;
    const r = await steady(
      n,
      (m) => h.hub.send(m),
      (fn) => {
        if (pubsub) h.onPubSub = fn;
        else h.onStream = fn;
      },
      pubsub ? PS_ENDPOINT : ST_ENDPOINT,
      guarantee,
    );
    side.hub.p50.push(r.p50);
    side.hub.loop.push(r.loopDelayP99);
    side.hub.lost += r.lost;
    side.hub.errors += r.errors;
    return r.p99;
  };
  notes.push(
    `open loop at ${STEADY_RATE.toLocaleString('en-US')} msg/s, ${STEADY_N.toLocaleString('en-US')} messages per round (+${WARM_N} warm-up); latency measured from each message’s intended send time (coordinated omission accounted for), lost messages count as infinitely late`,
    'each message built with createMessage at its send time on both sides (300 B payload carrying the intended time)',
    pubsub
      ? 'hub: best-effort hub.send → PUBLISH → subscriber → handler; raw: ioredis PUBLISH (auto-pipelining) → SUBSCRIBE connection → JSON.parse'
      : 'hub: at-least-once hub.send → XADD → XREADGROUP consumer → handler; raw: ioredis XADD → XREADGROUP COUNT 100 BLOCK 200 loop → JSON.parse',
  );
  if (!hubSide) {
    const p99s: number[] = [];
    await runRaw(WARM_N);
    for (let r = 0; r < LATENCY_ROUNDS; r++) p99s.push(await runRaw(STEADY_N));
    return unavailable({
      ...meta,
      suite: 'redis',
      id,
      raw: stats(p99s),
      rounds: LATENCY_ROUNDS,
      why,
      notes,
    });
  }
  const out = await alternate({
    rounds: LATENCY_ROUNDS,
    collect: false,
    warmup: { hub: () => runHub(WARM_N), raw: () => runRaw(WARM_N) },
    hub: () => runHub(STEADY_N),
    raw: () => runRaw(STEADY_N),
  });
  extra['hub p50 µs (median)'] = Math.round(stats(side.hub.p50.slice(1)).median);
  extra['raw p50 µs (median)'] = Math.round(stats(side.raw.p50.slice(1)).median);
  extra['event-loop delay p99 µs, hub runs (median)'] = Math.round(
    stats(side.hub.loop.slice(1)).median,
  );
  extra['event-loop delay p99 µs, raw runs (median)'] = Math.round(
    stats(side.raw.loop.slice(1)).median,
  );
  extra['hub lost / send errors'] = `${side.hub.lost} / ${side.hub.errors}`;
  extra['raw lost / send errors'] = `${side.raw.lost} / ${side.raw.errors}`;
  return result({ ...meta, suite: 'redis', id, ...out, rounds: LATENCY_ROUNDS, notes, extra });
}

export const redisSuite = {
  ids: [...REDIS_IDS] as string[],
  async run(ids: readonly string[]): Promise<ScenarioResult[]> {
    let server: RedisServer | undefined;
    let raw: RawSide | undefined;
    let hubSide: HubSide | undefined;
    try {
      server = await startRedisServer();
      const mod = await loadAdapter();
      raw = new RawSide(server.url);
      await raw.start();
      let why = '';
      if (typeof mod === 'string') why = mod;
      else {
        try {
          hubSide = await HubSide.create(mod, server.url);
        } catch (err) {
          why = `hub over redis() failed to start: ${(err as Error).message}`;
        }
      }
      const out: ScenarioResult[] = [];
      for (const id of REDIS_IDS) {
        if (!ids.includes(id)) continue;
        const t0 = performance.now();
        const pubsubOnly = id === 'redis.pubsub' || id === 'redis.latency-pubsub';
        if (pubsubOnly) await raw.pauseReader();
        const r = await runScenario(id, hubSide, raw, why).finally(() => raw!.resumeReader());
        r.notes.push(
          `scenario took ${((performance.now() - t0) / 1000).toFixed(1)} s; redis-server ${server.url}`,
        );
        out.push(r);
      }
      return out;
    } finally {
      await hubSide?.close().catch(() => {});
      await raw?.close().catch(() => {});
      await server?.stop();
    }
  },
};
