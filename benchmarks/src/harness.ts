/**
 * The measuring kit every scenario shares: alternating hub/raw rounds, medians
 * and spread, bounded waits, latency percentiles and the result record the
 * runner prints. Nothing here knows about Hub itself.
 */
import os from 'node:os';

export type Suite = 'core' | 'redis' | 'http' | 'ws' | 'peers' | 'scale' | 'security';

/**
 * How this run was asked for. `quick` (set by `pnpm bench --quick`, the CI smoke
 * test) caps every alternation at QUICK_ROUNDS pairs and lets scenarios pick
 * smaller sweeps: the figures are noisier, the run completes in about a minute.
 */
export const mode = {
  quick: process.argv.includes('--quick') || process.env.HUB_BENCH_QUICK === '1',
};
export const QUICK_ROUNDS = 1;
/** `full` in a normal run, `quick` under `--quick`. */
export const pick = <T>(full: T, quick: T): T => (mode.quick ? quick : full);
/** Rounds of an alternation: capped at QUICK_ROUNDS under `--quick`. */
export const roundsFor = (full: number): number =>
  mode.quick ? Math.min(full, QUICK_ROUNDS) : full;

/**
 * Progress reporting: the runner installs a listener; alternations report each
 * measured round (1-based) so a terminal shows which round is running.
 */
export const progress = {
  round: (_done: number, _total: number, _label?: string): void => {},
};

/** One point of a scaling curve: `series` (hub, raw, a peer) at `x`. */
export interface CurvePoint {
  x: number;
  series: string;
  y: number;
}

/** A scaling sweep, charted as one line per series. */
export interface Curve {
  xLabel: string;
  yLabel: string;
  /** Log scale on x (payload sizes, subscription counts, rates). */
  xLog?: boolean;
  yLog?: boolean;
  points: CurvePoint[];
}

/** Median, spread and every per-round value of one figure. */
export interface Stats {
  median: number;
  min: number;
  max: number;
  values: number[];
}

/**
 * A target a scenario is judged against.
 * - `hub-min` / `hub-max`: the hub's median must be at least / at most `value`.
 * - `ratio-min`: the median of the per-round hub/raw ratios must be at least `value`.
 * - `delta-max`: the median of the per-round hub − raw differences must be at most `value`.
 */
export interface Target {
  kind: 'hub-min' | 'hub-max' | 'ratio-min' | 'delta-max';
  value: number;
  /** How the target reads in the table, e.g. `≥ 1,000,000 msg/s`. */
  label: string;
}

export interface TargetResult extends Target {
  /** null when the figure could not be measured (e.g. the adapter is missing). */
  pass: boolean | null;
  /**
   * For a target on the hub's own figure (`hub-min`, `hub-max`): whether the
   * raw client, measured the same way, meets it too. A target the raw client
   * misses as well says more about the machine than about the hub. null when
   * not applicable or not measured.
   */
  rawPass: boolean | null;
}

export interface ScenarioResult {
  suite: Suite;
  /** Short stable id, e.g. `core.best-effort`. */
  id: string;
  title: string;
  /** Unit of `hub` and `raw`, e.g. `msg/s`, `µs p99`, `MB`. */
  unit: string;
  higherIsBetter: boolean;
  hub: Stats | null;
  raw: Stats | null;
  /** Per-round hub/raw, paired by round. */
  ratio: Stats | null;
  targets: TargetResult[];
  /** Every target met; null when not measured. */
  pass: boolean | null;
  rounds: number;
  /** What the figures mean, what was batched, caveats. */
  notes: string[];
  /** Secondary figures (p50, max, losses, …) keyed by name. */
  extra: Record<string, number | string>;
  /**
   * What the `raw` column is when it is not the raw client underneath: a peer
   * library (e.g. `BullMQ 6.7.6`). Absent: the raw client.
   */
  against?: string;
  /** Transport the scenario exercises, for the charts (memory, redis pub/sub, websocket, …). */
  transport?: string;
  /** A scaling sweep measured by this scenario, for the charts and the report. */
  curve?: Curve;
  /** Wall time the scenario took, seconds (set by the runner). */
  seconds?: number;
}

export interface Machine {
  cpu: string;
  cores: number;
  node: string;
  platform: string;
  totalMemMB: number;
  loadavg: number[];
}

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    totalMemMB: Math.round(os.totalmem() / 2 ** 20),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export function stats(values: readonly number[]): Stats {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, values: [] };
  const mid = Math.floor(n / 2);
  const median = n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[n - 1]!, values: [...values] };
}

/** Nearest-rank percentile of an unsorted sample (sorts a copy). */
export function percentile(sample: ArrayLike<number>, p: number): number {
  const sorted = Float64Array.from(sample).sort();
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Collect the young generation between runs so one side does not pay for the
 * other's garbage. A young collection, not a full one: a forced full
 * collection (`gc()`) also throws away optimised code and type feedback whose
 * objects it frees, so every function of the next round ran deoptimised and
 * was compiled again. Counted on the HTTP endpoint scenario with
 * `--trace-deopt`: 883 deoptimisations with a full collection between rounds
 * against 88 with a young one or none, and CPU per call 2.3 times as high on
 * both sides (more on the side with more code). Steady servers never see a
 * forced full collection twice a second, so that state measured neither side.
 */
export async function settle(collect = true): Promise<void> {
  const gc = (globalThis as { gc?: (o?: { type: 'minor' | 'major' }) => void }).gc;
  if (gc && collect) gc({ type: 'minor' });
  await sleep(20);
}

/**
 * Counts arrivals and resolves a waiter the moment the count reaches its
 * goal, so the clock stops on the last arrival and not on a polling tick.
 */
export class Arrivals {
  count = 0;
  private goal = Number.POSITIVE_INFINITY;
  private wake: (() => void) | undefined;

  inc(): void {
    if (++this.count >= this.goal && this.wake) {
      const w = this.wake;
      this.wake = undefined;
      w();
    }
  }

  reset(): void {
    this.count = 0;
    this.goal = Number.POSITIVE_INFINITY;
    this.wake = undefined;
  }

  /** Resolves true when `goal` arrivals are counted, false once `timeoutMs` passes first. */
  until(goal: number, timeoutMs: number): Promise<boolean> {
    if (this.count >= goal) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        this.goal = Number.POSITIVE_INFINITY;
        resolve(false);
      }, timeoutMs);
      this.goal = goal;
      this.wake = () => {
        clearTimeout(timer);
        this.goal = Number.POSITIVE_INFINITY;
        resolve(true);
      };
    });
  }
}

/** Poll `cond` until it holds or `timeoutMs` passes; for conditions nothing signals. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 1,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await cond()) return true;
    await sleep(everyMs);
  }
  return cond();
}

export interface FloodOptions {
  /** Messages to send. */
  total: number;
  /** Sends issued together, then awaited together (`Promise.all`) before the next batch. */
  batch: number;
  /** Stop issuing after this long; the figure then covers what arrived. */
  timeLimitMs: number;
  /** Issue send number `i`; a returned promise is awaited with its batch. */
  send: (i: number) => Promise<unknown> | undefined;
  arrivals: Arrivals;
  /** Extra condition after every arrival is counted (e.g. every ack recorded). */
  settled?: () => boolean | Promise<boolean>;
}

export interface FloodResult {
  /** Arrivals per second, over the whole run (first send to last arrival). */
  rate: number;
  issued: number;
  arrived: number;
  elapsedMs: number;
  /** True when the time limit cut the run short or not everything arrived. */
  partial: boolean;
  /**
   * CPU time this process spent per arrived message (user + system, µs). Steadier
   * than the rate on a shared box: a stolen core stretches the clock, not the work.
   */
  cpuUsPerMsg: number;
}

/**
 * Throughput run: batches of `batch` sends, each batch awaited, until `total`
 * are issued or the time limit passes; then wait for the last arrival.
 */
export async function flood(o: FloodOptions): Promise<FloodResult> {
  o.arrivals.reset();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + o.timeLimitMs;
  let issued = 0;
  const pending: Array<Promise<unknown>> = [];
  while (issued < o.total && performance.now() < stopAt) {
    const n = Math.min(o.batch, o.total - issued);
    pending.length = 0;
    for (let k = 0; k < n; k++) {
      const p = o.send(issued + k);
      if (p) pending.push(p);
    }
    if (pending.length > 0) await Promise.all(pending);
    issued += n;
  }
  const left = Math.max(1_000, stopAt + 2_000 - performance.now());
  let all = await o.arrivals.until(issued, left);
  if (all && o.settled) all = await waitFor(o.settled, left);
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const arrived = o.arrivals.count;
  return {
    cpuUsPerMsg: (cpu.user + cpu.system) / Math.max(1, arrived),
    rate: (arrived / elapsedMs) * 1000,
    issued,
    arrived,
    elapsedMs,
    partial: !all || issued < o.total,
  };
}

export interface AlternateOptions {
  rounds: number;
  /** Untimed runs of each side before the measured rounds (JIT, connections, caches). */
  warmup: { hub: () => Promise<unknown>; raw: () => Promise<unknown> };
  hub: () => Promise<number>;
  raw: () => Promise<number>;
  /**
   * Collect the young generation between rounds (default). Latency runs turn it off: a
   * forced full collection shrinks V8's heap limits to the live size, and the major
   * collections that then run during the next round (pauses of 1–3 ms) landed in
   * the p99 of both sides.
   */
  collect?: boolean;
}

/** Warm both sides, then measure hub, raw, hub, raw, … and pair the rounds into ratios. */
export async function alternate(
  o: AlternateOptions,
): Promise<{ hub: Stats; raw: Stats; ratio: Stats }> {
  const collect = o.collect !== false;
  const rounds = roundsFor(o.rounds);
  await o.warmup.hub();
  await settle(collect);
  await o.warmup.raw();
  await settle(collect);
  const hub: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < rounds; r++) {
    progress.round(r + 1, rounds);
    hub.push(await o.hub());
    await settle(collect);
    raw.push(await o.raw());
    await settle(collect);
  }
  return { hub: stats(hub), raw: stats(raw), ratio: stats(hub.map((h, i) => h / raw[i]!)) };
}

/**
 * Warm every side (`warmups` rounds each, one by default), then measure A, B, C,
 * A, B, C … for `rounds` rounds (capped under --quick): the alternation of
 * `alternate()` for more than two sides (the hub beside a raw client and a
 * peer). With `mirror`, every other round runs them in the opposite order
 * (A, B, C, C, B, A …), so no side always follows the same one (a side that
 * leaves work behind for the next, such as GC or a backlog on a shared
 * server, then weighs on each side alike). Returns each side's values.
 */
export async function rotate(
  sides: Array<() => Promise<number>>,
  fullRounds: number,
  collect = true,
  warmups = 1,
  mirror = false,
): Promise<number[][]> {
  const rounds = roundsFor(fullRounds);
  for (const s of sides) {
    for (let w = 0; w < warmups; w++) await s();
    await settle(collect);
  }
  const out: number[][] = sides.map(() => []);
  for (let r = 0; r < rounds; r++) {
    progress.round(r + 1, rounds);
    for (let k = 0; k < sides.length; k++) {
      const i = mirror && r % 2 === 1 ? sides.length - 1 - k : k;
      out[i]!.push(await sides[i]!());
      await settle(collect);
    }
  }
  return out;
}

/** Per-round a/b, paired by round. */
export const ratioOf = (a: number[], b: number[]): Stats => stats(a.map((x, i) => x / b[i]!));

/** The hub/raw/ratio figures of a result from each side's per-round values (the "raw" side may be a peer). */
export const paired = (
  hub: number[],
  them: number[],
): { hub: Stats; raw: Stats; ratio: Stats } => ({
  hub: stats(hub),
  raw: stats(them),
  ratio: ratioOf(hub, them),
});

/** Judge the targets and build the result record. */
export function result(
  r: Omit<ScenarioResult, 'targets' | 'pass' | 'extra' | 'notes'> & {
    targets: Target[];
    notes?: string[];
    extra?: Record<string, number | string>;
  },
): ScenarioResult {
  const targets: TargetResult[] = r.targets.map((t) => {
    const figure =
      t.kind === 'ratio-min'
        ? r.ratio?.median
        : t.kind === 'delta-max'
          ? r.hub && r.raw
            ? stats(r.hub.values.map((h, i) => h - r.raw!.values[i]!)).median
            : undefined
          : r.hub?.median;
    const meets = (x: number) =>
      t.kind === 'hub-max' || t.kind === 'delta-max' ? x <= t.value : x >= t.value;
    const raw = r.raw?.median;
    const rawPass =
      (t.kind === 'hub-min' || t.kind === 'hub-max') && raw !== undefined && !Number.isNaN(raw)
        ? meets(raw)
        : null;
    if (figure === undefined || Number.isNaN(figure)) return { ...t, pass: null, rawPass };
    return { ...t, pass: meets(figure), rawPass };
  });
  // No target (a figure reported for information, e.g. beside a peer): no verdict either.
  const pass =
    targets.length === 0 || targets.some((t) => t.pass === null)
      ? null
      : targets.every((t) => t.pass === true);
  // Under --quick an alternation runs fewer rounds than the scenario asked for: record what ran.
  const rounds = r.hub?.values.length || r.raw?.values.length || r.rounds;
  return { ...r, rounds, targets, pass, notes: r.notes ?? [], extra: r.extra ?? {} };
}

/** A scenario whose hub side cannot run: raw figures only, no verdict, no invented numbers. */
export function unavailable(
  r: Omit<ScenarioResult, 'targets' | 'pass' | 'extra' | 'notes' | 'hub' | 'ratio'> & {
    targets: Target[];
    why: string;
    notes?: string[];
  },
): ScenarioResult {
  return {
    suite: r.suite,
    id: r.id,
    title: r.title,
    unit: r.unit,
    higherIsBetter: r.higherIsBetter,
    hub: null,
    raw: r.raw,
    ratio: null,
    targets: r.targets.map((t) => ({ ...t, pass: null, rawPass: null })),
    pass: null,
    rounds: r.rounds,
    notes: [`hub side not measured: ${r.why}`, ...(r.notes ?? [])],
    extra: {},
  };
}

/** A 300-byte JSON payload, the size the throughput targets are set for. */
export function payload300(seq = 0): { seq: number; user: string; items: number[]; note: string } {
  const base = { seq, user: 'user-00042', items: [1, 2, 3, 4, 5, 6, 7, 8], note: '' };
  const size = JSON.stringify(base).length;
  base.note = 'x'.repeat(Math.max(0, 300 - size));
  return base;
}

export function fmtNumber(n: number, unit: string): string {
  if (Number.isNaN(n)) return 'n/a';
  if (/^(msg|calls|req)\/s/.test(unit)) {
    return Math.round(n).toLocaleString('en-US');
  }
  if (Math.abs(n) >= 100) return n.toFixed(0);
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** Quiet logger for benchmark hubs: warnings printed mid-table would garble the report; errors still show. */
export const logger = {
  debug() {},
  info() {},
  warn() {},
  error: (msg: string) => console.error(msg),
};
