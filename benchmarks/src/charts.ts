/**
 * SVG charts of a run, drawn by Vega-Lite (compiled to a Vega spec and rendered
 * headless by Vega's own SVG renderer in Node: no browser, no canvas):
 * - throughput.svg: every throughput scenario, hub beside its baseline (raw or peer);
 * - ratios.svg: hub ÷ baseline per scenario, with the line at 1;
 * - latency.svg: p99 of the latency scenarios, hub beside its baseline;
 * - scale-<id>.svg: one line chart per scaling sweep.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { ScenarioResult } from './harness.js';
import type { RunRecord } from './report.js';

const THROUGHPUT_UNITS = /^(msg\/s|req\/s|calls\/s|jobs\/s|events\/s)/;

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

const sideName = (r: ScenarioResult) => r.against ?? 'raw';

function subtitle(run: RunRecord): string {
  const m = run.machine;
  return `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${m.cpu}, ${m.cores} cores · Node ${m.node} · load ${m.loadavg[0]} at start${run.quick ? ' · quick run' : ''}`;
}

/** Bars on a log scale grow from this power of ten below the smallest value (a log scale has no zero). */
const floorOf = (values: number[]) =>
  10 ** Math.floor(Math.log10(Math.max(1e-9, Math.min(...values))));

/** One bar per (scenario, side), hub and its baseline next to each other, on a log scale. */
function pairedBars(
  run: RunRecord,
  keep: (r: ScenarioResult) => boolean,
  title: string,
  xTitle: string,
): TopLevelSpec | undefined {
  const rows: Array<{ label: string; side: string; value: number }> = [];
  for (const r of run.results) {
    if (!keep(r) || !r.hub || !r.raw || r.curve) continue;
    if (!(r.hub.median > 0) || !(r.raw.median > 0)) continue;
    if (!Number.isFinite(r.hub.median) || !Number.isFinite(r.raw.median)) continue;
    rows.push({ label: `${r.id} · hub`, side: 'hub', value: r.hub.median });
    rows.push({ label: `${r.id} · ${sideName(r)}`, side: sideName(r), value: r.raw.median });
  }
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle: subtitle(run) },
    data: { values: rows },
    width: 440,
    height: { step: 14 },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelLimit: 320 } },
      x: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: xTitle },
      x2: { datum: floorOf(rows.map((r) => r.value)) },
      color: { field: 'side', type: 'nominal', title: 'side', legend: { labelLimit: 300 } },
    },
  };
}

function throughputSpec(run: RunRecord): TopLevelSpec | undefined {
  return pairedBars(
    run,
    (r) => THROUGHPUT_UNITS.test(r.unit),
    'Throughput: hub beside the raw client or a peer (median of rounds)',
    'per second (log scale; unit per scenario)',
  );
}

function ratioSpec(run: RunRecord): TopLevelSpec | undefined {
  const rows = run.results
    // A log scale takes no zero (a knee of 0 msg/s) and no infinity (a p99 with losses).
    .filter((r) => r.ratio && Number.isFinite(r.ratio.median) && r.ratio.median > 0)
    .map((r) => ({
      scenario: `${r.id} (vs ${sideName(r)})`,
      // Oriented so that right of 1 always means the hub is better.
      ratio: r.higherIsBetter ? r.ratio!.median : 1 / r.ratio!.median,
      kind: r.higherIsBetter ? 'throughput: hub ÷ them' : 'latency/size: them ÷ hub',
    }));
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'How the hub compares (right of 1: hub better)',
      subtitle: subtitle(run),
    },
    width: 440,
    height: { step: 16 },
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar', tooltip: true },
        encoding: {
          y: {
            field: 'scenario',
            type: 'nominal',
            title: null,
            sort: null,
            axis: { labelLimit: 320 },
          },
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, title: 'ratio (log)' },
          // Bars grow from 1: right of the line the hub is better, left of it worse.
          x2: { datum: 1 },
          color: { field: 'kind', type: 'nominal', title: null, legend: { labelLimit: 300 } },
        },
      },
      {
        data: { values: [{ one: 1 }] },
        mark: { type: 'rule', strokeDash: [4, 3] },
        encoding: { x: { field: 'one', type: 'quantitative' } },
      },
    ],
  };
}

function latencySpec(run: RunRecord): TopLevelSpec | undefined {
  return pairedBars(
    run,
    (r) => r.unit.startsWith('µs'),
    'Latency p99: hub beside its baseline (median of rounds; lower is better)',
    'µs (log scale)',
  );
}

function curveSpec(run: RunRecord, r: ScenarioResult): TopLevelSpec | undefined {
  const c = r.curve;
  if (!c || c.points.length === 0) return undefined;
  const points = c.points.filter((p) => Number.isFinite(p.y) && p.y > 0);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${r.id}: ${r.title}`, subtitle: subtitle(run) },
    data: { values: points },
    width: 420,
    height: 260,
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: c.xLabel,
        scale: c.xLog ? { type: 'log' } : {},
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: c.yLabel,
        scale: c.yLog ? { type: 'log' } : {},
      },
      color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 300 } },
    },
  };
}

/** Render every chart of `run` into `dir`; returns the file names written. */
export async function writeCharts(run: RunRecord, dir: string): Promise<string[]> {
  const specs: Array<[string, TopLevelSpec | undefined]> = [
    ['throughput.svg', throughputSpec(run)],
    ['ratios.svg', ratioSpec(run)],
    ['latency.svg', latencySpec(run)],
    ...run.results.map((r): [string, TopLevelSpec | undefined] => [
      `scale-${r.id.replace(/[^a-z0-9-]+/gi, '-')}.svg`,
      curveSpec(run, r),
    ]),
  ];
  const written: string[] = [];
  for (const [name, spec] of specs) {
    if (!spec) continue;
    writeFileSync(join(dir, name), await render(spec));
    written.push(name);
  }
  return written;
}
