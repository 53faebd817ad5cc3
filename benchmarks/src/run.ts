/**
 * Benchmark runner: `pnpm bench [filter…]`. A filter is a suite (`core`,
 * `redis`, `legacy`) or any part of a scenario id (`routing`, `redis.streams`). Prints a
 * table and writes the run to results/runs/ (ignored by git: a run never
 * dirties the tree; README.md says how to publish one as results/latest.*).
 * Exits non-zero when a scenario fails to run or misses a target.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize, serialize } from 'node:v8';
import { coreScenarios } from './core.js';
import { fmtNumber, machine, type ScenarioResult } from './harness.js';
import { httpScenarios } from './http.js';
import { legacyScenarios } from './legacy.js';
import { isLatencyId, LATENCY_NODE_FLAGS, redisSuite } from './redis.js';
import { redisDurableScenarios } from './redis-durable.js';
import { rpcScenarios } from './rpc.js';
import { wsScenarios } from './ws.js';

const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const wanted = (id: string) => filters.length === 0 || filters.some((f) => id.includes(f));

function row(r: ScenarioResult): string[] {
  const spread = (s: ScenarioResult['hub']) =>
    s
      ? `${fmtNumber(s.median, r.unit)} (${fmtNumber(s.min, r.unit)}–${fmtNumber(s.max, r.unit)})`
      : 'n/a';
  const ratio = r.ratio
    ? `${r.ratio.median.toFixed(3)} (${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)})`
    : 'n/a';
  const rawMisses = r.targets.some((t) => t.pass === false && t.rawPass === false);
  const verdict =
    r.pass === null ? 'n/a' : r.pass ? 'PASS' : rawMisses ? 'FAIL (raw misses it too)' : 'FAIL';
  return [
    r.id,
    r.unit,
    spread(r.hub),
    spread(r.raw),
    ratio,
    r.targets.map((t) => t.label).join(' and ') || '—',
    verdict,
  ];
}

const HEAD = [
  'scenario',
  'unit',
  'hub median (min–max)',
  'raw median (min–max)',
  'hub/raw',
  'target',
  'verdict',
];

function textTable(rows: string[][]): string {
  const all = [HEAD, ...rows];
  const widths = HEAD.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return [line(HEAD), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Which way is better for each unit in the table, and how to read the verdicts. */
function legend(results: ScenarioResult[]): string[] {
  const units = new Map<string, boolean>();
  for (const r of results) units.set(r.unit, r.higherIsBetter);
  return [
    ...[...units].map(
      ([unit, higher]) =>
        `${unit}: ${higher ? 'higher is better' : 'lower is better'}; hub/raw ${
          higher ? 'above 1 means the hub is faster' : 'below 1 means the hub is better'
        }.`,
    ),
    'FAIL (raw misses it too): the raw client, measured the same way in the same run, misses the target as well: the machine (or its load) cannot reach it.',
  ];
}

function markdown(
  results: ScenarioResult[],
  m: ReturnType<typeof machine>,
  startedAt: string,
): string {
  const out: string[] = [
    '# Hub benchmarks — latest run',
    '',
    `Run ${startedAt} on ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform} (load ${m.loadavg.join(' ')}).`,
    'Every hub figure is beside the raw client doing the same work in the same run (alternating hub/raw rounds);',
    'the ratio is the median of per-round hub/raw ratios. See README.md for the method.',
    '',
    `| ${HEAD.join(' | ')} |`,
    `|${HEAD.map(() => '---').join('|')}|`,
    ...results.map((r) => `| ${row(r).join(' | ')} |`),
    '',
    'Legend:',
    '',
    ...legend(results).map((l) => `- ${l}`),
    '',
  ];
  for (const r of results) {
    out.push(`## ${r.id} — ${r.title}`, '');
    for (const n of r.notes) out.push(`- ${n}`);
    for (const [k, v] of Object.entries(r.extra)) out.push(`- ${k}: ${v}`);
    out.push('');
  }
  return out.join('\n');
}

/**
 * The steady-rate latency scenarios run in a child process with their own V8
 * flags (LATENCY_NODE_FLAGS, see redis.ts): the flags that keep GC pauses out
 * of a p99 at 1,000 msg/s would slow the throughput scenarios down.
 */
/** Per latency scenario: 2 × (warm-up + 5 rounds) of ~3 s each, plus start-up, with room to spare. */
const CHILD_DEADLINE_MS = 120_000;

async function inChild(ids: string[]): Promise<ScenarioResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-bench-'));
  const out = join(dir, 'results.json');
  try {
    const exit = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [...process.execArgv, ...LATENCY_NODE_FLAGS, fileURLToPath(import.meta.url), ...ids],
        { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, HUB_BENCH_CHILD: out } },
      );
      // Bounded like every load loop: a stuck child is killed, not waited for.
      const deadline = setTimeout(() => child.kill('SIGKILL'), CHILD_DEADLINE_MS * ids.length);
      child.on('error', (err) => {
        clearTimeout(deadline);
        reject(err);
      });
      child.on('exit', (code, signal) => {
        clearTimeout(deadline);
        resolve(code === 0 ? '' : `code ${code}, signal ${signal}`);
      });
    });
    if (exit !== '') throw new Error(`the latency child process failed (${exit})`);
    // v8 serialization keeps Infinity (a p99 with more than 1 % lost) that JSON would make null.
    return deserialize(readFileSync(out)) as ScenarioResult[];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(out: string): Promise<void> {
  const results = await redisSuite.run(redisSuite.ids.filter(wanted));
  writeFileSync(out, serialize(results));
}

async function main(): Promise<void> {
  const m = machine();
  const startedAt = new Date().toISOString();
  console.log(
    `hub benchmarks — ${m.cpu}, ${m.cores} cores, node ${m.node}, load ${m.loadavg.join(' ')}`,
  );
  if (!(globalThis as { gc?: unknown }).gc) {
    console.log('(run with --expose-gc for a collection between rounds)');
  }
  const results: ScenarioResult[] = [];
  const run = async (id: string, fn: () => Promise<ScenarioResult[] | ScenarioResult>) => {
    const t0 = performance.now();
    process.stdout.write(`• ${id} … `);
    const load = machine().loadavg[0]!;
    try {
      const r = await fn();
      const list = Array.isArray(r) ? r : [r];
      // A shared box: the load when a scenario started says how far to trust its absolute figures.
      for (const x of list) x.extra['load avg (1 min) at start'] = load;
      results.push(...list);
      const verdicts = list.map(
        (x) => `${x.id}: ${x.pass === null ? 'n/a' : x.pass ? 'PASS' : 'FAIL'}`,
      );
      console.log(`${((performance.now() - t0) / 1000).toFixed(1)} s  ${verdicts.join(', ')}`);
    } catch (err) {
      console.log(`failed: ${(err as Error).stack ?? String(err)}`);
      process.exitCode = 1;
    }
  };
  for (const s of coreScenarios) if (wanted(s.id)) await run(s.id, s.run);
  for (const s of rpcScenarios) if (wanted(s.id)) await run(s.id, s.run);
  for (const s of httpScenarios) if (wanted(s.id)) await run(s.id, s.run);
  for (const s of legacyScenarios) if (wanted(s.id)) await run(s.id, s.run);
  for (const s of wsScenarios) if (wanted(s.id)) await run(s.id, s.run);
  for (const s of redisDurableScenarios) if (wanted(s.id)) await run(s.id, s.run);
  const redisIds = redisSuite.ids.filter(wanted);
  const floods = redisIds.filter((id) => !isLatencyId(id));
  const steady = redisIds.filter(isLatencyId);
  if (floods.length > 0) await run(`redis (${floods.join(', ')})`, () => redisSuite.run(floods));
  if (steady.length > 0)
    await run(`redis (${steady.join(', ')}) in a child process`, () => inChild(steady));

  console.log('');
  console.log(textTable(results.map(row)));
  console.log('');
  for (const l of legend(results)) console.log(l);
  console.log('');
  for (const r of results) {
    console.log(`${r.id}: ${r.notes.join(' | ')}`);
    for (const [k, v] of Object.entries(r.extra)) console.log(`    ${k}: ${v}`);
  }

  // Each run goes to results/runs/ (git-ignored), under its start time and as
  // latest.*; results/latest.* hold the run chosen for the repository and are
  // only replaced by copying one deliberately (README.md).
  const dir = fileURLToPath(new URL('../results/runs/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  const json = `${JSON.stringify({ startedAt, machine: m, filters, results }, null, 2)}\n`;
  const md = markdown(results, m, startedAt);
  for (const name of [stamp, 'latest']) {
    writeFileSync(`${dir}${name}.json`, json);
    writeFileSync(`${dir}${name}.md`, md);
  }
  console.log(`\nwrote ${dir}${stamp}.{json,md} (and latest.{json,md} there)`);
  const missed = results.filter((r) => r.pass === false).map((r) => r.id);
  if (missed.length > 0) {
    console.log(`targets missed: ${missed.join(', ')}`);
    process.exitCode = 1;
  }
}

const childOut = process.env.HUB_BENCH_CHILD;
if (childOut) await child(childOut);
else await main();
