/**
 * Core suite: one process, the memory adapter, each figure beside
 * eventemitter3 doing the same dispatch in the same run.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  AdapterRegistry,
  createEvent,
  createHub,
  createMessage,
  type DeliveryGuarantee,
  memory,
  Router,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/core';
import { EventEmitter } from 'eventemitter3';
import { Bench } from 'tinybench';
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
  settle,
  stats,
} from './harness.js';

const THROUGHPUT_N = pick(200_000, 50_000);
const BATCH = 1_000;
const ROUNDS = roundsFor(5);

function messages(n: number, destination: string, guarantee: DeliveryGuarantee) {
  const payload = payload300();
  const out: UnifiedMessage<typeof payload>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    out[i] = createMessage({
      source: 'bench',
      destination,
      payload,
      deliveryGuarantee: guarantee,
    });
  }
  return out;
}

async function memoryThroughput(
  id: string,
  title: string,
  guarantee: DeliveryGuarantee,
  target: number,
): Promise<ScenarioResult> {
  const hub = createHub({ name: 'bench', adapters: [memory()], logger });
  await hub.start();
  const hubArrivals = new Arrivals();
  const destination = `bench.${guarantee}`;
  await hub.onMessage(destination, () => {
    hubArrivals.inc();
  });
  const envs = messages(THROUGHPUT_N, destination, guarantee);
  const acked = () => hub.metrics().totals.acked;
  const needsAck = guarantee !== 'best-effort';

  const ee = new EventEmitter();
  const rawArrivals = new Arrivals();
  let rawAcked = 0;
  const rawAck = () => {
    rawAcked++;
  };
  ee.on('bench', (_msg: unknown, ack?: () => void) => {
    rawArrivals.inc();
    ack?.();
  });

  const runHub = async (total: number) => {
    const base = acked();
    const r = await flood({
      total,
      batch: BATCH,
      timeLimitMs: 5_000,
      arrivals: hubArrivals,
      send: (i) => hub.send(envs[i]!),
      ...(needsAck ? { settled: () => acked() - base >= total } : {}),
    });
    if (r.partial) partials.push(`hub round: ${r.arrived}/${r.issued} arrived of ${total}`);
    return r.rate;
  };
  const runRaw = async (total: number, clone = false) => {
    const base = rawAcked;
    const r = await flood({
      total,
      batch: BATCH,
      timeLimitMs: 5_000,
      arrivals: rawArrivals,
      ...(needsAck ? { settled: () => rawAcked - base >= total } : {}),
      send: (i) => {
        const m = clone ? JSON.parse(JSON.stringify(envs[i])) : envs[i];
        if (needsAck) ee.emit('bench', m, rawAck);
        else ee.emit('bench', m);
        return undefined;
      },
    });
    return r.rate;
  };
  const partials: string[] = [];
  const {
    hub: h,
    raw,
    ratio,
  } = await alternate({
    rounds: ROUNDS,
    warmup: { hub: () => runHub(50_000), raw: () => runRaw(50_000) },
    hub: () => runHub(THROUGHPUT_N),
    raw: () => runRaw(THROUGHPUT_N),
  });
  // Informative second baseline: the cost of one JSON round trip per message, as a wire would add.
  const cloned: number[] = [];
  for (let r = 0; r < roundsFor(3); r++) {
    cloned.push(await runRaw(THROUGHPUT_N, true));
    await settle();
  }
  const metrics = hub.metrics();
  await hub.close();
  return result({
    suite: 'core',
    id,
    title,
    unit: 'msg/s',
    higherIsBetter: true,
    hub: h,
    raw,
    ratio,
    rounds: ROUNDS,
    targets: [
      { kind: 'hub-min', value: target, label: `≥ ${target.toLocaleString('en-US')} msg/s` },
    ],
    notes: [
      `${THROUGHPUT_N.toLocaleString('en-US')} pre-built envelopes (createMessage outside the clock, one shared 300 B payload) per round`,
      `hub: batches of ${BATCH} hub.send() issued together and awaited with Promise.all; the clock stops when the handler has counted every message${needsAck ? ' and the hub has recorded every ack' : ''}`,
      `raw: eventemitter3 emit of the same envelope object to one listener that counts${needsAck ? ' and calls an ack callback' : ''}, same batches of ${BATCH}`,
      ...partials,
    ],
    extra: {
      'raw ee3 + JSON clone msg/s (median)': Math.round(stats(cloned).median),
      'hub dropped/lost (last run)': metrics.totals.sent - metrics.totals.delivered,
    },
  });
}

export function bestEffort(): Promise<ScenarioResult> {
  return memoryThroughput(
    'core.best-effort',
    'memory best-effort send → handler',
    'best-effort',
    1_000_000,
  );
}

export function atLeastOnce(): Promise<ScenarioResult> {
  return memoryThroughput(
    'core.at-least-once',
    'memory at-least-once send → handler → ack',
    'at-least-once',
    300_000,
  );
}

/** Router.route() alone, built directly over a registry of three adapters. */
export async function routing(): Promise<ScenarioResult> {
  const registry = new AdapterRegistry();
  for (const name of ['m1', 'm2', 'm3']) registry.register(memory({ name }));
  const rules = [
    { match: 'orders.**', adapters: ['m2', 'm1'], strategy: 'failover' as const },
    { match: 'billing.*', strategy: 'round-robin' as const },
    { match: 'audit', adapters: ['m3'], strategy: 'protocol-specific' as const },
    { match: 'fanout.#', strategy: 'broadcast' as const, kind: 'event' as const },
  ];
  // Filler rules so pattern lookup has something to search through.
  for (let i = 0; i < 50; i++)
    rules.push({ match: `svc${i}.*.jobs`, adapters: ['m1'], strategy: 'failover' });
  const router = new Router(registry, {
    defaultStrategy: 'automatic',
    rules,
    messageTypeRoutes: { notification: ['m3', 'm1'] },
    breaker: {},
  });
  const payload = payload300();
  const guarantees: DeliveryGuarantee[] = [
    'best-effort',
    'at-least-once',
    'exactly-once',
    'ordered',
  ];
  const destinations = [
    'orders.eu.created',
    'billing.invoice',
    'audit',
    'worker_agent',
    'svc7.a.jobs',
    'svc49.b.jobs',
  ];
  const envs: Array<UnifiedMessage | UnifiedEvent> = [];
  for (let i = 0; i < 64; i++) {
    if (i % 4 === 3) {
      envs.push(
        createEvent({
          source: 'bench',
          topic: i % 8 === 3 ? 'fanout.a.b' : 'orders.us.shipped',
          data: payload,
        }),
      );
    } else {
      envs.push(
        createMessage({
          source: 'bench',
          destination: destinations[i % destinations.length]!,
          payload,
          deliveryGuarantee: guarantees[i % guarantees.length]!,
          ...(i % 5 === 0 ? { messageType: 'notification' as const } : {}),
        }),
      );
    }
  }
  // Raw: the least a router can do, one Map lookup from address to adapter.
  const table = new Map<string, string>();
  for (const e of envs) table.set(e.kind === 'event' ? e.topic : e.destination, 'm1');
  let sink = 0;
  let hi = 0;
  let ri = 0;
  const hubFn = () => {
    sink += router.route(envs[hi++ & 63]!).targets.length;
  };
  const rawFn = () => {
    const e = envs[ri++ & 63]!;
    sink += table.get(e.kind === 'event' ? e.topic : e.destination)!.length;
  };
  const run = async () => {
    const bench = new Bench({
      name: 'routing',
      // `time` counts the measured calls only; timing each call costs ten times the
      // call itself, so 50 ms of calls is about half a second and 500,000 samples.
      time: 50,
      iterations: 50_000,
      warmupTime: 20,
      warmupIterations: 5_000,
      throws: true,
    });
    bench.add('hub', hubFn).add('raw', rawFn);
    await bench.run();
    const pick = (name: string) => {
      const r = bench.getTask(name)?.result as
        | { latency?: { p50: number; p99: number; samplesCount?: number } }
        | undefined;
      if (!r?.latency) throw new Error(`[bench:routing] tinybench produced no result for ${name}`);
      return { p50: r.latency.p50 * 1000, p99: r.latency.p99 * 1000 };
    };
    return { hub: pick('hub'), raw: pick('raw') };
  };
  await run(); // warm-up
  const hubP99: number[] = [];
  const rawP99: number[] = [];
  const hubP50: number[] = [];
  const rawP50: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const x = await run();
    hubP99.push(x.hub.p99);
    rawP99.push(x.raw.p99);
    hubP50.push(x.hub.p50);
    rawP50.push(x.raw.p50);
  }
  if (sink === -1) console.log(sink);
  return result({
    suite: 'core',
    id: 'core.routing',
    title: 'routing decision (Router.route)',
    unit: 'µs p99',
    higherIsBetter: false,
    hub: stats(hubP99),
    raw: stats(rawP99),
    ratio: stats(hubP99.map((h, i) => h / rawP99[i]!)),
    rounds: ROUNDS,
    targets: [{ kind: 'hub-max', value: 10, label: 'p99 ≤ 10 µs' }],
    notes: [
      'tinybench per-call samples (≥ 50,000 calls and ≥ 50 ms of measured call time per task per round; hub and raw tasks alternate within each round), timer cost included',
      'hub: new Router(registry of 3 memory adapters, 54 rules incl. 51 patterns, a message-type route), 64 varied messages/events in rotation; includes the once-a-second cache refresh',
      'raw: one Map.get(address) per call — the floor of any routing decision',
    ],
    extra: {
      'hub p50 µs (median)': round3(stats(hubP50).median),
      'raw p50 µs (median)': round3(stats(rawP50).median),
    },
  });
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** One publish fanned out over 10,000 pattern subscriptions, a few of which match. */
export async function patternPublish(): Promise<ScenarioResult> {
  const SUBS = 10_000;
  const TOPICS = 100;
  const EVENTS = pick(20_000, 3_000);
  const hub = createHub({ name: 'bench', adapters: [memory()], logger });
  await hub.start();

  // Per topic `orders.r<j>.created`, exactly MATCHES subscriptions match: three wildcards and one exact.
  const MATCHES = 4;
  let count = 0;
  let lastAt = 0;
  let waiter: (() => void) | undefined;
  const onMatch = () => {
    if (++count === MATCHES) {
      lastAt = performance.now();
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w();
      }
    }
  };
  const patterns: string[] = ['orders.*.created', 'orders.**', '**.created'];
  for (let j = 0; j < TOPICS; j++) patterns.push(`orders.r${j}.created`);
  for (let i = 0; patterns.length < SUBS; i++) {
    switch (i % 5) {
      case 0:
        patterns.push(`svc${i}.*.created`);
        break;
      case 1:
        patterns.push(`svc${i}.**`);
        break;
      case 2:
        patterns.push(`*.svc${i}.updated`);
        break;
      case 3:
        patterns.push(`tenant.t${i}.#`);
        break;
      default:
        patterns.push(`orders.r${i}.deleted`);
    }
  }
  const setupStart = performance.now();
  for (const p of patterns) await hub.subscribe(p, onMatch);
  const setupMs = performance.now() - setupStart;

  const payload = payload300();
  const events = Array.from({ length: EVENTS }, (_, i) =>
    createEvent({ source: 'bench', topic: `orders.r${i % TOPICS}.created`, data: payload }),
  );

  const ee = new EventEmitter();
  for (let j = 0; j < TOPICS; j++) {
    for (let k = 0; k < MATCHES; k++) ee.on(`orders.r${j}.created`, onMatch);
  }

  let lost = 0;
  const measure = async (
    n: number,
    publish: (ev: UnifiedEvent) => unknown,
  ): Promise<Float64Array> => {
    const lat = new Float64Array(n);
    const stopAt = performance.now() + 4_000;
    let done = 0;
    for (let i = 0; i < n && performance.now() < stopAt; i++) {
      count = 0;
      const ev = events[i % EVENTS]!;
      const t0 = performance.now();
      const p = publish(ev);
      if (p instanceof Promise) await p;
      if (count < MATCHES) {
        const arrived = await new Promise<boolean>((resolve) => {
          const t = setTimeout(() => {
            waiter = undefined;
            resolve(false);
          }, 2_000);
          waiter = () => {
            clearTimeout(t);
            resolve(true);
          };
        });
        if (!arrived) {
          lost++;
          continue;
        }
      }
      lat[done++] = (lastAt - t0) * 1000;
    }
    return lat.subarray(0, done);
  };
  const p50s = { hub: [] as number[], raw: [] as number[] };
  const p99 = async (side: 'hub' | 'raw', n: number) => {
    const lat =
      side === 'hub'
        ? await measure(n, (ev) => hub.publish(ev))
        : await measure(n, (ev) => ee.emit(ev.topic, ev));
    p50s[side].push(percentile(lat, 50));
    return percentile(lat, 99);
  };
  const out = await alternate({
    rounds: 3,
    warmup: { hub: () => p99('hub', 3_000), raw: () => p99('raw', 3_000) },
    hub: () => p99('hub', EVENTS),
    raw: () => p99('raw', EVENTS),
  });
  await hub.close({ drainTimeoutMs: 1_000 });
  return result({
    suite: 'core',
    id: 'core.pattern-publish',
    title: 'publish with 10,000 pattern subscriptions',
    unit: 'µs p99',
    higherIsBetter: false,
    ...out,
    rounds: 3,
    targets: [{ kind: 'hub-max', value: 20, label: 'p99 ≤ 20 µs' }],
    notes: [
      `${SUBS.toLocaleString('en-US')} hub.subscribe() patterns (*, **, #, exact); each event on one of ${TOPICS} topics matches exactly ${MATCHES}`,
      `latency = publish() call → the last of the ${MATCHES} matching handlers runs; events one at a time, up to ${EVENTS.toLocaleString('en-US')} per round (4 s cap)`,
      `raw: eventemitter3 emit on the exact topic to its ${MATCHES} listeners (no pattern matching at all)`,
      `subscribing the ${SUBS.toLocaleString('en-US')} patterns took ${Math.round(setupMs)} ms`,
      ...(lost > 0 ? [`${lost} publishes did not reach every matching handler within 2 s`] : []),
    ],
    extra: {
      'hub p50 µs (median)': round3(stats(p50s.hub).median),
      'raw p50 µs (median)': round3(stats(p50s.raw).median),
      'subscribe setup ms': Math.round(setupMs),
    },
  });
}

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * Bundle the RSS children with esbuild (tsx's own copy) so they run on plain
 * `node`: a TypeScript loader would add its own thread and caches to the RSS.
 */
async function bundleChildren(dir: string): Promise<{ hub: string; empty: string; how: string }> {
  try {
    const req = createRequire(createRequire(import.meta.url).resolve('tsx/package.json'));
    const esbuild = req('esbuild') as {
      build(o: Record<string, unknown>): Promise<unknown>;
    };
    const out = { hub: join(dir, 'rss-hub.mjs'), empty: join(dir, 'rss-empty.mjs') };
    for (const [name, file] of Object.entries(out)) {
      await esbuild.build({
        entryPoints: [join(here, `rss-${name}.ts`)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        conditions: ['@hub/source'],
        outfile: file,
        logLevel: 'silent',
      });
    }
    return { ...out, how: 'children bundled with esbuild, run on plain node --expose-gc' };
  } catch (err) {
    return {
      hub: join(here, 'rss-hub.ts'),
      empty: join(here, 'rss-empty.ts'),
      how: `esbuild unavailable (${(err as Error).message.split('\n')[0]}); children run through tsx, whose loader inflates both`,
    };
  }
}

interface ChildReport {
  rss: number;
  heapUsed: number;
}

function runChild(file: string): Promise<ChildReport> {
  const args = file.endsWith('.ts')
    ? ['--expose-gc', '--import', 'tsx', '--conditions=@hub/source', file]
    : ['--expose-gc', file];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new Error(`exit code ${code}`);
        resolve(JSON.parse(out.trim().split('\n').pop()!) as ChildReport);
      } catch (err) {
        reject(new Error(`[bench:rss] child ${file} failed: ${(err as Error).message}: ${out}`));
      }
    });
  });
}

export async function idleRss(): Promise<ScenarioResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-bench-rss-'));
  try {
    const files = await bundleChildren(dir);
    const mb = (x: number) => x / 2 ** 20;
    const heaps: number[] = [];
    const out = await alternate({
      rounds: 3,
      warmup: { hub: () => runChild(files.hub), raw: () => runChild(files.empty) },
      hub: async () => {
        const r = await runChild(files.hub);
        heaps.push(mb(r.heapUsed));
        return mb(r.rss);
      },
      raw: async () => mb((await runChild(files.empty)).rss),
    });
    const delta = stats(out.hub.values.map((h, i) => h - out.raw.values[i]!));
    return result({
      suite: 'core',
      id: 'core.idle-rss',
      title: 'hub idle RSS (memory adapter)',
      unit: 'MB RSS',
      higherIsBetter: false,
      ...out,
      rounds: 3,
      targets: [{ kind: 'delta-max', value: 40, label: 'increment ≤ 40 MB' }],
      notes: [
        'hub child: loads @hub/core, createHub({ adapters: [memory()] }), start(), 3 endpoints + 3 topic subscriptions, a few sends, gc() twice, then rss',
        'raw child: an empty node process, same flags, gc() twice, then rss',
        `the ≤ 40 MB target is judged on the increment over the empty process (${delta.median.toFixed(1)} MB, spread ${delta.min.toFixed(1)}–${delta.max.toFixed(1)}): a bare node process alone is ~${out.raw.median.toFixed(0)} MB here`,
        files.how,
      ],
      extra: {
        'increment MB (median)': Math.round(delta.median * 10) / 10,
        'hub heapUsed MB (median)': Math.round(stats(heaps).median * 10) / 10,
      },
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const coreScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'core.best-effort', run: bestEffort },
  { id: 'core.at-least-once', run: atLeastOnce },
  { id: 'core.routing', run: routing },
  { id: 'core.pattern-publish', run: patternPublish },
  { id: 'core.idle-rss', run: idleRss },
];
