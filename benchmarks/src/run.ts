/**
 * Benchmark runner:
 *   pnpm bench [filter…] [--quick] [--list] [--compare old.json [--to new.json]] [--threshold 0.15]
 * A filter is any part of a scenario id (`core`, `redis.streams`, `peers`, `scale.payload`).
 * `--quick` runs fewer rounds and smaller sweeps (the CI smoke test): a missed
 * target then never changes the exit code, a scenario that crashes does.
 * Prints a table, writes the run, its markdown report and SVG charts to
 * results/runs/ (ignored by git: a run never dirties the tree; README.md says
 * how to publish one), and with `--compare` the change against an earlier run.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { machine, mode, progress, type ScenarioResult } from './harness.js';
import {
  compare,
  compareTable,
  HEAD,
  legend,
  markdown,
  type RunRecord,
  row,
  textTable,
} from './report.js';

interface Args {
  filters: string[];
  list: boolean;
  compareWith?: string;
  compareTo?: string;
  threshold: number;
  /** Seconds after which no further entry starts (0: no limit). */
  budget: number;
}

function value(argv: string[], i: number, option: string): string {
  const v = argv[i];
  if (v === undefined || v.startsWith('--')) throw new Error(`${option} wants a file`);
  return v;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { filters: [], list: false, threshold: 0.15, budget: -1 };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--quick')
      continue; // read by harness.ts at import
    else if (x === '--list') a.list = true;
    else if (x === '--compare') a.compareWith = value(argv, ++i, x);
    else if (x === '--to') a.compareTo = value(argv, ++i, x);
    else if (x === '--threshold') a.threshold = Number(argv[++i]);
    else if (x === '--budget') a.budget = Number(argv[++i]);
    else if (x.startsWith('-')) throw new Error(`unknown option ${x}`);
    else a.filters.push(x);
  }
  if (!(a.threshold > 0 && a.threshold < 10)) {
    throw new Error('--threshold wants a fraction, e.g. 0.15');
  }
  // The bound of a whole run: a full run takes about 5 minutes and --quick (the smoke
  // test) about 1.5 on a quiet 2-core box, each entry in a process of its own (a second
  // or so to start); the bounds leave room above those, and a run that names scenarios
  // has none.
  if (a.budget < 0) a.budget = a.filters.length > 0 ? 0 : mode.quick ? 180 : 360;
  if (!Number.isFinite(a.budget)) throw new Error('--budget wants seconds (0: no limit)');
  return a;
}

const args = parseArgs(process.argv.slice(2));
const wanted = (id: string) =>
  args.filters.length === 0 || args.filters.some((f) => id.includes(f));

/** One entry of the run: a scenario (or a group measured together) and how long it usually takes. */
interface Entry {
  id: string;
  /** Ids of the results it produces, for the filters. */
  ids: string[];
  /** The suite (module) it comes from, all its process imports. */
  suite: string;
  run: () => Promise<ScenarioResult[] | ScenarioResult>;
  /** Seconds it takes on a 2-core box, full and quick; the progress display counts down from these. */
  estimate: [number, number];
  /** Its process gets LATENCY_NODE_FLAGS (see inChild). */
  child?: boolean;
  /** Skipped under --quick unless a filter names it (too slow for a one-minute smoke test). */
  slow?: boolean;
}

const ESTIMATES: Record<string, [number, number]> = {
  'core.best-effort': [8, 3],
  'core.at-least-once': [9, 3],
  'core.routing': [10, 4],
  'core.pattern-publish': [3, 2],
  'core.idle-rss': [4, 3],
  'observability.cost': [30, 6],
  'redis.durable-events': [25, 6],
  'rpc.memory': [55, 8],
  'rpc.redis': [75, 12],
  'http.send': [5, 2],
  'http.endpoint': [5, 2],
  'http.send-p99': [15, 7],
  'http.endpoint-p99': [15, 7],
  'legacy.convert': [6, 2],
  'legacy.bridge-p99': [30, 5],
  'ws.one-way': [6, 2],
  'ws.round-trip': [5, 2],
  'ws.fanout-10k': [40, 40],
  'security.cost': [8, 3],
  'security.redis': [20, 8],
};

const SLOW = new Set(['ws.fanout-10k']);

/** The baseline of scenarios whose "raw" column is a peer or a variant, named for the table and charts. */
const AGAINST: Record<string, string> = {
  'rpc.memory-1': 'Moleculer (local)',
  'rpc.memory-100': 'Moleculer (local)',
  'rpc.memory-copies': 'hub memory({ shareObjects })',
  'rpc.redis-1.moleculer': 'Moleculer (Redis)',
  'rpc.redis-100.moleculer': 'Moleculer (Redis)',
  'redis.cluster-pubsub': 'the hub on one redis-server',
  'redis.cluster-streams': 'the hub on one redis-server',
  'rpc.redis-1.at-least-once': 'hub best-effort',
  'rpc.redis-100.at-least-once': 'hub best-effort',
};

const plain = (s: { id: string; run: Entry['run'] }, suite: string, ids = [s.id]): Entry => ({
  id: s.id,
  ids,
  suite,
  run: s.run,
  estimate: ESTIMATES[s.id] ?? [10, 3],
  slow: SLOW.has(s.id),
});

/**
 * The suites in run order, each a module imported only when a process needs it:
 * the process an entry runs in imports only its own suite (importing them all,
 * with Moleculer, BullMQ, Socket.IO and the chart renderer, took seconds per
 * entry). Order: what a run under its time bound should not leave out comes
 * first (the hub against raw and against the peers, per transport), the
 * longest suites later.
 */
const SUITES: Array<[string, (name: string) => Promise<Entry[]>]> = [
  ['core', async (n) => (await import('./core.js')).coreScenarios.map((s) => plain(s, n))],
  [
    'observability',
    async (n) =>
      (await import('./observability.js')).observabilityScenarios.map((s) => plain(s, n)),
  ],
  [
    'redis',
    async (n) => {
      const { redisSuite, isLatencyId } = await import('./redis.js');
      const floods = redisSuite.ids.filter((id) => !isLatencyId(id));
      const steady = redisSuite.ids.filter(isLatencyId);
      return [
        {
          id: 'redis',
          ids: floods,
          suite: n,
          run: () => redisSuite.run(floods.filter(wanted)),
          estimate: [12 * floods.length, 3 * floods.length],
        },
        ...steady.map(
          (id): Entry => ({
            id,
            ids: [id],
            suite: n,
            run: () => redisSuite.run([id]),
            estimate: [30, 8],
            child: true,
          }),
        ),
      ];
    },
  ],
  [
    'redis-durable',
    async (n) => (await import('./redis-durable.js')).redisDurableScenarios.map((s) => plain(s, n)),
  ],
  [
    'redis-cluster',
    async (n) => {
      const { redisClusterSuite } = await import('./redis-cluster.js');
      // Starts a 3-master Cluster (~5 s) and one node; --quick runs it with small rounds.
      return [
        {
          id: 'redis.cluster',
          ids: redisClusterSuite.ids,
          suite: n,
          run: () => redisClusterSuite.run(redisClusterSuite.ids.filter(wanted)),
          estimate: [60, 15],
        },
      ];
    },
  ],
  [
    'peers',
    async (n) =>
      (await import('./peers.js')).peerScenarios.map((s) => ({
        ...plain(s, n, s.ids ?? [s.id]),
        estimate: s.estimate,
      })),
  ],
  [
    'security',
    async (n) => (await import('./security.js')).securityScenarios.map((s) => plain(s, n, s.ids)),
  ],
  ['ws', async (n) => (await import('./ws.js')).wsScenarios.map((s) => plain(s, n))],
  ['http', async (n) => (await import('./http.js')).httpScenarios.map((s) => plain(s, n))],
  ['legacy', async (n) => (await import('./legacy.js')).legacyScenarios.map((s) => plain(s, n))],
  ['rpc', async (n) => (await import('./rpc.js')).rpcScenarios.map((s) => plain(s, n))],
  [
    'scale',
    async (n) =>
      (await import('./scale.js')).scaleScenarios.map((s) => ({
        ...plain(s, n),
        estimate: s.estimate,
        child: s.child === true,
        slow: s.slow === true,
      })),
  ],
];

/** The entries of every suite, or of the one named `only`. */
async function entries(only?: string): Promise<Entry[]> {
  const list: Entry[] = [];
  for (const [name, load] of SUITES)
    if (only === undefined || only === name) list.push(...(await load(name)));
  return list;
}

/** An entry runs when a filter matches one of its ids (or none is given); under --quick a slow one only when named by its full id. */
function selected(e: Entry): boolean {
  if (!e.ids.some(wanted)) return false;
  if (mode.quick && e.slow) return e.ids.some((id) => args.filters.includes(id));
  return true;
}

/**
 * Every entry runs in a process of its own, started for it and gone after it.
 * In one long process a scenario's figures depended on what had run before it:
 * the in-process request/reply figures of the hub and of Moleculer alike read a
 * quarter lower at the end of a full run than alone (the heap, the code cache
 * and the type feedback that earlier scenarios left behind), so a run's figures
 * were not the figures of its scenarios. The entries flagged `child` get
 * LATENCY_NODE_FLAGS as well (see redis.ts): the flags that keep GC pauses out
 * of a p99 at a fixed rate would slow the throughput scenarios down.
 */
const CHILD_DEADLINE_MS = 150_000;

async function inChild(e: Entry): Promise<ScenarioResult[]> {
  const { LATENCY_NODE_FLAGS } = await import('./redis.js');
  const dir = mkdtempSync(join(tmpdir(), 'hub-bench-'));
  const out = join(dir, 'results.json');
  try {
    const exit = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          ...process.execArgv,
          ...(e.child ? LATENCY_NODE_FLAGS : []),
          fileURLToPath(import.meta.url),
          // The same filters, so the entry measures the same ids as it would here.
          ...args.filters,
          ...(mode.quick ? ['--quick'] : []),
        ],
        {
          stdio: ['ignore', 'ignore', 'inherit'],
          env: { ...process.env, HUB_BENCH_CHILD: out, HUB_BENCH_ENTRY: `${e.suite}/${e.id}` },
        },
      );
      // Bounded like every load loop: a stuck child is killed, not waited for.
      const deadline = setTimeout(
        () => child.kill('SIGKILL'),
        Math.max(CHILD_DEADLINE_MS, e.estimate[0] * 3_000),
      );
      child.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(deadline);
        resolve(code === 0 ? '' : `code ${code}, signal ${signal}`);
      });
    });
    if (exit !== '') throw new Error(`the child process failed (${exit})`);
    // v8 serialization keeps Infinity (a p99 with more than 1 % lost) that JSON would make null.
    return deserialize(readFileSync(out)) as ScenarioResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(out: string): Promise<void> {
  const [suite, id] = (process.env.HUB_BENCH_ENTRY ?? '').split('/');
  const e = (await entries(suite)).find((x) => x.id === id);
  if (e === undefined) throw new Error(`no entry ${process.env.HUB_BENCH_ENTRY}`);
  const r = await e.run();
  writeFileSync(out, serialize(Array.isArray(r) ? r : [r]));
}

/**
 * What the user sees while a run goes on: on a terminal, one status line
 * rewritten in place (scenario, round, elapsed, time left by the estimates);
 * otherwise plain lines, one per finished scenario.
 */
class Progress {
  private readonly tty = process.stdout.isTTY === true;
  private current = '';
  private round = '';
  private startedAt = performance.now();
  private entryStart = 0;
  private entryEstimate = 0;
  private leftAfter = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private total: number) {
    progress.round = (done, of) => {
      this.round = `round ${done}/${of}`;
      this.draw();
    };
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), 500);
      this.timer.unref();
    }
  }

  begin(index: number, e: Entry, estimateS: number, leftAfterS: number): void {
    this.current = `[${index}/${this.total}] ${e.id}`;
    this.round = '';
    this.entryStart = performance.now();
    this.entryEstimate = estimateS;
    this.leftAfter = leftAfterS;
    if (!this.tty) process.stdout.write(`• ${e.id} … `);
    this.draw();
  }

  end(line: string): void {
    if (this.tty) {
      process.stdout.write(`\r\x1b[K• ${this.current.replace(/^\[\d+\/\d+\] /, '')} … ${line}\n`);
    } else process.stdout.write(`${line}\n`);
  }

  private draw(): void {
    if (!this.tty || this.current === '') return;
    const now = performance.now();
    const inEntry = (now - this.entryStart) / 1000;
    const left = Math.max(0, this.entryEstimate - inEntry) + this.leftAfter;
    const elapsed = (now - this.startedAt) / 1000;
    const mmss = (s: number) =>
      `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
    const text = `${this.current} ${this.round ? `· ${this.round} ` : ''}· ${mmss(elapsed)} elapsed · ~${mmss(left)} left`;
    process.stdout.write(`\r\x1b[K${text.slice(0, (process.stdout.columns ?? 100) - 1)}`);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.current = '';
  }
}

const resultsDir = fileURLToPath(new URL('../results/', import.meta.url));
const runsDir = join(resultsDir, 'runs');

/** Durations of the last run, to make the time-left estimate this machine's own. */
function lastDurations(): Map<string, number> {
  const out = new Map<string, number>();
  try {
    const last = JSON.parse(readFileSync(join(runsDir, 'latest.json'), 'utf8')) as RunRecord;
    if (last.quick !== mode.quick) return out;
    for (const r of last.results) if (r.seconds) out.set(r.id, r.seconds);
  } catch {}
  return out;
}

/** Version of an installed package, read from its package.json (walking up from its entry). */
function versionOf(name: string): string {
  const req = createRequire(import.meta.url);
  try {
    let dir = dirname(req.resolve(name));
    for (let i = 0; i < 8; i++) {
      const file = join(dir, 'package.json');
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      }
      dir = dirname(dir);
    }
  } catch {}
  return 'unknown';
}

function versions(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [
    '@hub/core',
    '@hub/adapter-redis',
    '@hub/adapter-ws',
    '@hub/adapter-http',
    'ioredis',
    'ws',
    'undici',
    'eventemitter3',
    'moleculer',
    'bullmq',
    'socket.io',
    'socket.io-client',
    'vega',
    'vega-lite',
  ]) {
    out[name] = versionOf(name);
  }
  // The workspace packages are not versioned apart from the repository: its commit says which code ran.
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    out['hub commit'] = `${head}${dirty ? ' (with uncommitted changes)' : ''}`;
  } catch {
    out['hub commit'] = 'unknown (not a git checkout)';
  }
  try {
    out['redis-server'] =
      /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ??
      'unknown';
  } catch {
    out['redis-server'] = 'not found';
  }
  return out;
}

/**
 * A run file named on the command line: relative to the directory `pnpm bench` was
 * typed in (pnpm runs the script in this package and passes that directory as INIT_CWD).
 */
function runPath(file: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), file);
}

function readRun(file: string): RunRecord {
  return JSON.parse(readFileSync(runPath(file), 'utf8')) as RunRecord;
}

/** Prints the comparison; returns the ids that regressed. */
function printComparison(before: RunRecord, after: RunRecord, from: string): string[] {
  const changes = compare(before, after, args.threshold);
  console.log(
    `\nchange against ${from} (${before.startedAt}${before.quick ? ', quick' : ''}; ratio regression threshold ${Math.round(args.threshold * 100)} %):`,
  );
  if (changes.length === 0) {
    console.log('no scenario in common');
    return [];
  }
  console.log(compareTable(changes, args.threshold));
  return changes.filter((c) => c.regressed).map((c) => c.id);
}

async function main(): Promise<void> {
  if (args.compareWith && args.compareTo) {
    // Two files, no run.
    const bad = printComparison(
      readRun(args.compareWith),
      readRun(args.compareTo),
      args.compareWith,
    );
    if (bad.length > 0) {
      console.log(`ratio regressions: ${bad.join(', ')}`);
      process.exitCode = 1;
    }
    return;
  }
  // A comparison file that cannot be read fails now, not after minutes of measuring.
  const before = args.compareWith ? readRun(args.compareWith) : undefined;
  const every = await entries();
  const all = every.filter(selected);
  if (args.list) {
    for (const e of every) {
      console.log(`${e.ids.join(', ')}${e.slow ? '  (skipped by --quick unless named)' : ''}`);
    }
    return;
  }
  const m = { ...machine(), name: hostname() };
  const startedAt = new Date().toISOString();
  const t0 = performance.now();
  console.log(
    `hub benchmarks${mode.quick ? ' (quick)' : ''} — ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.loadavg.join(' ')}`,
  );
  if (!(globalThis as { gc?: unknown }).gc) {
    console.log('(run with --expose-gc for a collection between rounds)');
  }
  const known = lastDurations();
  const estimate = (e: Entry) =>
    Math.max(
      known.get(e.id) ?? 0,
      e.ids.reduce((s, id) => s + (known.get(id) ?? 0), 0),
    ) || e.estimate[mode.quick ? 1 : 0];
  const shown = new Progress(all.length);
  const results: ScenarioResult[] = [];
  let crashed = false;
  const steps = all.map((e) => ({ e, run: () => inChild(e) }));
  const est = steps.map((s) => estimate(s.e));
  const skipped: string[] = [];
  for (let i = 0; i < steps.length; i++) {
    const { e, run } = steps[i]!;
    // The run's bound: past the budget, nothing more starts.
    const spent = (performance.now() - t0) / 1000;
    if (args.budget > 0 && spent + est[i]! / 2 > args.budget) {
      skipped.push(...e.ids.filter(wanted));
      continue;
    }
    shown.begin(
      i + 1,
      e,
      est[i]!,
      est.slice(i + 1).reduce((a, b) => a + b, 0),
    );
    const s0 = performance.now();
    const load = machine().loadavg[0]!;
    try {
      const r = await run();
      const list = Array.isArray(r) ? r : [r];
      const seconds = (performance.now() - s0) / 1000;
      for (const x of list) {
        // A shared box: the load when a scenario started says how far to trust its absolute figures.
        x.extra['load avg (1 min) at start'] = load;
        x.seconds ??= Math.round((seconds / list.length) * 10) / 10;
        const named = AGAINST[x.id];
        if (x.against === undefined && named !== undefined) x.against = named;
      }
      results.push(...list);
      const verdicts = list.map(
        (x) =>
          `${x.id}: ${x.targets.length === 0 ? 'reported' : x.pass === null ? 'n/a' : x.pass ? 'PASS' : 'FAIL'}`,
      );
      shown.end(`${seconds.toFixed(1)} s  ${verdicts.join(', ')}`);
    } catch (err) {
      shown.end(`failed: ${(err as Error).stack ?? String(err)}`);
      crashed = true;
    }
  }
  shown.stop();

  console.log('');
  console.log(textTable(HEAD, results.map(row)));
  console.log('');
  for (const l of legend(results)) console.log(l);
  console.log('');
  for (const r of results) {
    console.log(`${r.id}: ${r.notes.join(' | ')}`);
    for (const [k, v] of Object.entries(r.extra)) console.log(`    ${k}: ${v}`);
  }

  // Each run goes to results/runs/ (git-ignored) as <date>-<machine>.{json,md} with its
  // charts in a folder of the same name, and as latest.*; the published run in
  // results/ is only replaced by copying one deliberately (README.md).
  const run: RunRecord = {
    startedAt,
    machine: m,
    versions: versions(),
    quick: mode.quick,
    filters: args.filters,
    skipped,
    seconds: Math.round((performance.now() - t0) / 1000),
    results,
  };
  const slug = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '');
  const name = `${startedAt.replace(/:\d\d\.\d+Z$/, 'Z').replace(/:/g, '')}-${slug(m.name)}`;
  const chartDir = join(runsDir, `${name}-charts`);
  mkdirSync(chartDir, { recursive: true });
  let charts: string[] = [];
  try {
    const { writeCharts } = await import('./charts.js');
    charts = await writeCharts(run, chartDir);
  } catch (err) {
    console.log(`charts failed: ${(err as Error).stack ?? String(err)}`);
    crashed = true;
  }
  const json = `${JSON.stringify(run, null, 2)}\n`;
  const md = markdown(
    run,
    charts.map((c) => `${name}-charts/${c}`),
  );
  for (const base of [name, 'latest']) {
    writeFileSync(join(runsDir, `${base}.json`), json);
  }
  writeFileSync(join(runsDir, `${name}.md`), md);
  writeFileSync(join(runsDir, 'latest.md'), md);
  console.log(
    `\nwrote ${join(runsDir, name)}.{json,md} (and latest.{json,md}), ${charts.length} charts in ${chartDir}/; ${run.seconds} s in all`,
  );

  if (skipped.length > 0) {
    console.log(
      `left out to stay within the ${args.budget} s bound of this run (run them by id, or with --budget 0): ${skipped.join(', ')}`,
    );
  }
  const missed = results.filter((r) => r.pass === false).map((r) => r.id);
  if (missed.length > 0) console.log(`targets missed: ${missed.join(', ')}`);
  let regressed: string[] = [];
  if (args.compareWith) {
    regressed = printComparison(before!, run, args.compareWith);
    if (regressed.length > 0) console.log(`ratio regressions: ${regressed.join(', ')}`);
  }
  if (crashed) process.exitCode = 1;
  // A smoke test (--quick, CI) judges that every scenario ran, never a speed figure:
  // the machine is shared and noisy. A full run fails on a missed target or a regression.
  else if (!mode.quick && (missed.length > 0 || regressed.length > 0)) process.exitCode = 1;
  else if (mode.quick && (missed.length > 0 || regressed.length > 0)) {
    console.log('(quick run: speed figures do not change the exit code)');
  }
}

const childOut = process.env.HUB_BENCH_CHILD;
if (childOut) await child(childOut);
else await main();
