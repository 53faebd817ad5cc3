/**
 * What a run turns into: the text table, the markdown report, and the
 * comparison of a run against an earlier one (`pnpm bench --compare old.json`).
 */
import { fmtNumber, type Machine, type ScenarioResult } from './harness.js';

/** A run as written to results/runs/*.json. */
export interface RunRecord {
  startedAt: string;
  machine: Machine & { name?: string };
  /** Package and server versions the run used (hub packages, raw clients, peers, redis-server). */
  versions?: Record<string, string>;
  quick?: boolean;
  filters: string[];
  /** Scenario ids not run because the run's time bound was reached. */
  skipped?: string[];
  seconds?: number;
  results: ScenarioResult[];
}

const against = (r: ScenarioResult) => r.against ?? 'raw';

function verdict(r: ScenarioResult): string {
  if (r.targets.length === 0) return '— (reported)';
  const rawMisses = r.targets.some((t) => t.pass === false && t.rawPass === false);
  return r.pass === null
    ? 'n/a'
    : r.pass
      ? 'PASS'
      : rawMisses
        ? 'FAIL (raw misses it too)'
        : 'FAIL';
}

export function row(r: ScenarioResult): string[] {
  const spread = (s: ScenarioResult['hub']) =>
    s
      ? `${fmtNumber(s.median, r.unit)} (${fmtNumber(s.min, r.unit)}–${fmtNumber(s.max, r.unit)})`
      : 'n/a';
  const ratio = r.ratio
    ? `${r.ratio.median.toFixed(3)} (${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)})`
    : 'n/a';
  return [
    r.id,
    r.unit,
    spread(r.hub),
    against(r),
    spread(r.raw),
    ratio,
    r.targets.map((t) => t.label).join(' and ') || '—',
    verdict(r),
  ];
}

export const HEAD = [
  'scenario',
  'unit',
  'hub median (min–max)',
  'against',
  'their median (min–max)',
  'hub/them',
  'target',
  'verdict',
];

export function textTable(head: string[], rows: string[][]): string {
  const all = [head, ...rows];
  const widths = head.map((_, c) => Math.max(...all.map((r) => (r[c] ?? '').length)));
  const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Which way is better for each unit in the table, and how to read the verdicts. */
export function legend(results: ScenarioResult[]): string[] {
  const units = new Map<string, boolean>();
  for (const r of results) units.set(r.unit, r.higherIsBetter);
  return [
    ...[...units].map(
      ([unit, higher]) =>
        `${unit}: ${higher ? 'higher is better' : 'lower is better'}; hub/them ${
          higher ? 'above 1 means the hub is faster' : 'below 1 means the hub is better'
        }.`,
    ),
    '"against" names the baseline: "raw" is the client library underneath doing the same work by hand; a library name (Moleculer, BullMQ, Socket.IO) is a peer doing the same job its own way.',
    'FAIL (raw misses it too): the raw client, measured the same way in the same run, misses the target as well: the machine (or its load) cannot reach it.',
  ];
}

const mdTable = (head: string[], rows: string[][]) => [
  `| ${head.join(' | ')} |`,
  `|${head.map(() => '---').join('|')}|`,
  ...rows.map((r) => `| ${r.join(' | ')} |`),
];

export function markdown(run: RunRecord, charts: string[]): string {
  const m = run.machine;
  const out: string[] = [
    '# Hub benchmarks — run report',
    '',
    `Run ${run.startedAt}${run.quick ? ' (quick: fewer rounds, smaller sweeps; a smoke test, not figures to quote)' : ''} on ${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform} (load ${m.loadavg.join(' ')})${run.seconds ? `, ${Math.round(run.seconds)} s` : ''}.`,
    'Every hub figure is beside the raw client or a peer library doing the same work in the same run (alternating rounds);',
    'the ratio is the median of per-round hub/them ratios. See README.md for the method.',
    '',
    ...mdTable(HEAD, run.results.map(row)),
    '',
    'Legend:',
    '',
    ...legend(run.results).map((l) => `- ${l}`),
    '',
  ];
  if (run.skipped && run.skipped.length > 0) {
    out.push(`Left out to stay within the run's time bound: ${run.skipped.join(', ')}.`, '');
  }
  if (run.versions) {
    out.push('Versions:', '');
    for (const [k, v] of Object.entries(run.versions)) out.push(`- ${k} ${v}`);
    out.push('');
  }
  if (charts.length > 0) {
    out.push('## Charts', '');
    for (const c of charts) out.push(`![${c}](${c})`, '');
  }
  for (const r of run.results) {
    out.push(`## ${r.id} — ${r.title}`, '');
    for (const n of r.notes) out.push(`- ${n}`);
    for (const [k, v] of Object.entries(r.extra)) out.push(`- ${k}: ${v}`);
    if (r.curve) {
      out.push('', `${r.curve.yLabel} by ${r.curve.xLabel}:`, '');
      const xs = [...new Set(r.curve.points.map((p) => p.x))];
      const series = [...new Set(r.curve.points.map((p) => p.series))];
      const cell = (s: string, x: number) => {
        const p = r.curve!.points.find((q) => q.series === s && q.x === x);
        return p ? fmtNumber(p.y, r.unit) : '—';
      };
      out.push(
        ...mdTable(
          [r.curve.xLabel, ...series],
          xs.map((x) => [x.toLocaleString('en-US'), ...series.map((s) => cell(s, x))]),
        ),
      );
    }
    out.push('');
  }
  return out.join('\n');
}

/** One scenario's change between two runs. */
export interface Change {
  id: string;
  unit: string;
  /** hub/them ratio before and after; null when either run has none. */
  ratioBefore: number | null;
  ratioAfter: number | null;
  /** Hub median before and after. */
  hubBefore: number | null;
  hubAfter: number | null;
  /** True when the ratio moved the wrong way by more than the threshold. */
  regressed: boolean;
}

/**
 * Compare two runs scenario by scenario. The ratio (hub against a baseline
 * measured in the same run) is what is judged: absolute figures move with the
 * machine's load, the ratio much less. A ratio regresses when it worsens by
 * more than `threshold` (a fraction: 0.15 = 15 %), taking the unit's direction
 * into account (for latency a higher hub/raw is worse).
 */
export function compare(before: RunRecord, after: RunRecord, threshold: number): Change[] {
  const old = new Map(before.results.map((r) => [r.id, r]));
  const out: Change[] = [];
  for (const r of after.results) {
    const o = old.get(r.id);
    if (!o) continue;
    const rb = o.ratio?.median ?? null;
    const ra = r.ratio?.median ?? null;
    let regressed = false;
    if (rb !== null && ra !== null && rb > 0 && Number.isFinite(rb) && Number.isFinite(ra)) {
      const change = ra / rb;
      regressed = r.higherIsBetter ? change < 1 - threshold : change > 1 + threshold;
    }
    out.push({
      id: r.id,
      unit: r.unit,
      ratioBefore: rb,
      ratioAfter: ra,
      hubBefore: o.hub?.median ?? null,
      hubAfter: r.hub?.median ?? null,
      regressed,
    });
  }
  return out;
}

export function compareTable(changes: Change[], threshold: number): string {
  const pct = (a: number | null, b: number | null) =>
    a !== null && b !== null && a !== 0 && Number.isFinite(a) && Number.isFinite(b)
      ? `${b >= a ? '+' : ''}${(((b - a) / a) * 100).toFixed(1)} %`
      : 'n/a';
  const num = (x: number | null, unit: string) => (x === null ? 'n/a' : fmtNumber(x, unit));
  const ratio = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
  const head = [
    'scenario',
    'unit',
    'hub before',
    'hub now',
    'change',
    'ratio before',
    'ratio now',
    'change',
    'flag',
  ];
  const rows = changes.map((c) => [
    c.id,
    c.unit,
    num(c.hubBefore, c.unit),
    num(c.hubAfter, c.unit),
    pct(c.hubBefore, c.hubAfter),
    ratio(c.ratioBefore),
    ratio(c.ratioAfter),
    pct(c.ratioBefore, c.ratioAfter),
    c.regressed ? `REGRESSED (ratio worse by more than ${Math.round(threshold * 100)} %)` : '',
  ]);
  return textTable(head, rows);
}
