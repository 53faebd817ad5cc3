/**
 * Observability suite: what tracing and the Prometheus collectors cost the
 * in-memory send path. Three hubs on the memory adapter in one process, the
 * same flood of best-effort sends to each, in alternating rounds:
 * - off: `enableTracing: false`, no collectors registered;
 * - on: tracing on with no tracer provider registered (the API's no-op, what
 *   a user without an SDK has) and the prom-client collectors registered;
 * - sdk: the same hub as "on" while an OpenTelemetry SDK tracer provider with
 *   a batching span processor is registered (every send traced).
 * The ratio is on/off per round (same run, so the machine's load cancels out),
 * on throughput per CPU-second: the process's CPU time per message, which a
 * stolen core does not stretch (on a shared box the wall-clock rate of a
 * half-second round swings by ±50 % with the neighbours; both are reported).
 * The SDK rounds come after, alternating with "off" on their own: registering
 * and removing a provider leaves the API's global state and the JIT's
 * feedback changed, which would tilt the on/off comparison that follows.
 */
import { createHub, createMessage, type Hub, memory, type UnifiedMessage } from '@hub/core';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type ReadableSpan,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { Registry } from 'prom-client';
import {
  Arrivals,
  flood,
  logger,
  payload300,
  pick,
  result,
  rotate,
  type ScenarioResult,
  settle,
  stats,
} from './harness.js';

const N = pick(20_000, 10_000);
/** Traced sends are an order of magnitude slower: fewer per round keep a round short. */
const SDK_N = pick(2_000, 1_000);
const SDK_WARMUP = pick(8_000, 1_000);
const BATCH = 1_000;
/** Many short rounds: the median of per-round ratios holds steady on a loaded box. */
const ROUNDS = 25;
const SDK_ROUNDS = 5;
const TARGET_RATIO = 0.97;

/** Counts what the batch processor hands over, then drops it (the export is not what is measured). */
class DiscardingExporter implements SpanExporter {
  spans = 0;
  export(spans: ReadableSpan[], done: (result: { code: number }) => void): void {
    this.spans += spans.length;
    done({ code: 0 });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}

interface Side {
  hub: Hub;
  arrivals: Arrivals;
  envs: UnifiedMessage[];
}

async function side(name: string, tracing: boolean): Promise<Side> {
  const hub = createHub({ name, adapters: [memory()], logger, enableTracing: tracing });
  const arrivals = new Arrivals();
  await hub.onMessage('bench.obs', () => {
    arrivals.inc();
  });
  await hub.start();
  const payload = payload300();
  const envs: UnifiedMessage[] = new Array(N);
  for (let i = 0; i < N; i++) {
    envs[i] = createMessage({ source: 'bench', destination: 'bench.obs', payload });
  }
  return { hub, arrivals, envs };
}

export async function observabilityCost(): Promise<ScenarioResult> {
  const off = await side('off', false);
  const on = await side('on', true);
  const registry = new Registry();
  on.hub.registerPrometheus(registry);

  const exporter = new DiscardingExporter();
  const processor = new BatchSpanProcessor(exporter);
  const provider = new BasicTracerProvider({ spanProcessors: [processor] });
  const contextManager = new AsyncLocalStorageContextManager();

  const cpu: Record<'off' | 'on' | 'sdk' | 'sdkOff', number[]> = {
    off: [],
    on: [],
    sdk: [],
    sdkOff: [],
  };
  const partials: string[] = [];
  const wall: Record<keyof typeof cpu, number[]> = { off: [], on: [], sdk: [], sdkOff: [] };
  /** One round; returns messages per CPU-second. */
  const run = async (s: Side, label: keyof typeof cpu, total = N) => {
    const r = await flood({
      total,
      batch: BATCH,
      timeLimitMs: 10_000,
      arrivals: s.arrivals,
      send: (i) => s.hub.send(s.envs[i]!),
    });
    if (r.partial) partials.push(`${label} round: ${r.arrived}/${r.issued} arrived of ${total}`);
    cpu[label].push(r.cpuUsPerMsg);
    wall[label].push(r.rate);
    return 1e6 / r.cpuUsPerMsg;
  };
  let scrapeBytes = 0;
  const [offRates, onRates] = await rotate(
    [
      () => run(off, 'off'),
      async () => {
        const rate = await run(on, 'on');
        // A scrape per round, outside the clock: the collectors read the hub then, not per send.
        scrapeBytes = (await registry.metrics()).length;
        return rate;
      },
    ],
    ROUNDS,
  );
  const traced = async (total: number) => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
    try {
      return await run(on, 'sdk', total);
    } finally {
      await provider.forceFlush();
      trace.disable();
      context.disable();
    }
  };
  // The traced path and the SDK's own code need a longer warm-up than one short round:
  // the first few thousand traced sends cost several times the steady figure.
  await traced(SDK_WARMUP);
  await settle();
  const [sdkOffRates, sdkRates] = await rotate(
    [() => run(off, 'sdkOff', SDK_N), () => traced(SDK_N)],
    SDK_ROUNDS,
  );
  // The warm-up rounds are not among the measured ones: keep the figures paired by round.
  for (const k of ['off', 'on'] as const) {
    cpu[k] = cpu[k].slice(-offRates!.length);
    wall[k] = wall[k].slice(-offRates!.length);
  }
  for (const k of ['sdk', 'sdkOff'] as const) {
    cpu[k] = cpu[k].slice(-sdkRates!.length);
    wall[k] = wall[k].slice(-sdkRates!.length);
  }
  await provider.shutdown();
  await Promise.all([off.hub.close(), on.hub.close()]);

  const ratio = (a: number[], b: number[]) => stats(a.map((x, i) => x / b[i]!)).median;
  const onStats = stats(onRates!);
  const offStats = stats(offRates!);
  return result({
    suite: 'core',
    id: 'observability.cost',
    title: 'memory send → handler: tracing (no-op) + prom-client collectors on vs both off',
    unit: 'msg/CPU-s',
    higherIsBetter: true,
    transport: 'memory',
    hub: onStats,
    raw: offStats,
    ratio: stats(onRates!.map((x, i) => x / offRates![i]!)),
    rounds: ROUNDS,
    against: 'same hub, tracing and collectors off',
    targets: [
      {
        kind: 'ratio-min',
        value: TARGET_RATIO,
        label: `on/off ≥ ${TARGET_RATIO} (≤ 3 % off)`,
      },
    ],
    notes: [
      'figures: messages per CPU-second of the process (1 / CPU time per message, user + system), the throughput a core of its own gives; the wall-clock msg/s are in the extra lines',
      `${N.toLocaleString('en-US')} pre-built best-effort envelopes per round, batches of ${BATCH} hub.send() awaited together; the clock stops at the handler's last arrival`,
      'hub column: tracing enabled with no tracer provider registered (the @opentelemetry/api no-op) and the prom-client collectors registered on a Registry, scraped once after each round outside the clock; raw column: the same hub set-up with enableTracing: false and no collectors',
      `sdk: the "on" hub while a BasicTracerProvider with a BatchSpanProcessor (default queue and batch sizes) over a discarding exporter and the AsyncLocalStorage context manager is registered: every send makes send, route, hop and process spans`,
      `off and on alternate ${ROUNDS} times after one warm-up each; then, after ${SDK_WARMUP.toLocaleString('en-US')} traced sends to warm up, sdk and off alternate ${SDK_ROUNDS} times with ${SDK_N.toLocaleString('en-US')} sends per round; ratios are medians of per-round ratios`,
      ...partials,
    ],
    extra: {
      'on/off wall-clock msg/s ratio (median)': Number(ratio(wall.on, wall.off).toFixed(3)),
      'off wall-clock msg/s (median)': Math.round(stats(wall.off).median),
      'on wall-clock msg/s (median)': Math.round(stats(wall.on).median),
      'off CPU µs per msg (median)': Number(stats(cpu.off).median.toFixed(2)),
      'on CPU µs per msg (median)': Number(stats(cpu.on).median.toFixed(2)),
      'sdk CPU µs per msg (median)': Number(stats(cpu.sdk).median.toFixed(2)),
      'sdk/off msg/CPU-s ratio (median)': Number(ratio(sdkRates!, sdkOffRates!).toFixed(3)),
      'sdk/off wall-clock msg/s ratio (median)': Number(ratio(wall.sdk, wall.sdkOff).toFixed(3)),
      'sdk wall-clock msg/s (median)': Math.round(stats(wall.sdk).median),
      'spans exported (all sdk rounds)': exporter.spans,
      'prometheus scrape bytes': scrapeBytes,
    },
  });
}

export const observabilityScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'observability.cost', run: observabilityCost },
];
