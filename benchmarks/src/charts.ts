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
  return `${run.startedAt.slice(0, 16).replace('T', ' ')} UTC · ${m.cpu}, ${m.cores} cores · Node ${m.node}${run.quick ? ' · quick run' : ''}`;
}

function throughputSpec(run: RunRecord): TopLevelSpec | undefined {
  const rows: Array<{ scenario: string; side: string; value: number }> = [];
  for (const r of run.results) {
    if (!THROUGHPUT_UNITS.test(r.unit) || !r.hub || !r.raw || r.curve) continue;
    rows.push({ scenario: r.id, side: 'hub', value: r.hub.median });
    rows.push({ scenario: r.id, side: sideName(r), value: r.raw.median });
  }
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: 'Throughput: hub beside the raw client or a peer (median)',
      subtitle: subtitle(run),
    },
    data: { values: rows },
    width: 520,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: null },
      yOffset: { field: 'side', type: 'nominal' },
      x: {
        field: 'value',
        type: 'quantitative',
        scale: { type: 'log' },
        title: 'per second (log scale; unit per scenario)',
      },
      color: { field: 'side', type: 'nominal', title: 'side' },
    },
  };
}

function ratioSpec(run: RunRecord): TopLevelSpec | undefined {
  const rows = run.results
    .filter((r) => r.ratio && Number.isFinite(r.ratio.median))
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
    width: 480,
    layer: [
      {
        data: { values: rows },
        mark: { type: 'bar' },
        encoding: {
          y: { field: 'scenario', type: 'nominal', title: null, sort: null },
          x: { field: 'ratio', type: 'quantitative', scale: { type: 'log' }, title: 'ratio (log)' },
          color: { field: 'kind', type: 'nominal', title: null },
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
  const rows: Array<{ scenario: string; side: string; value: number }> = [];
  for (const r of run.results) {
    if (!r.unit.startsWith('µs') || !r.hub || !r.raw || r.curve) continue;
    if (!Number.isFinite(r.hub.median) || !Number.isFinite(r.raw.median)) continue;
    rows.push({ scenario: r.id, side: 'hub', value: r.hub.median });
    rows.push({ scenario: r.id, side: sideName(r), value: r.raw.median });
  }
  if (rows.length === 0) return undefined;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Latency p99 (median over rounds; lower is better)', subtitle: subtitle(run) },
    data: { values: rows },
    width: 480,
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'scenario', type: 'nominal', title: null, sort: null },
      yOffset: { field: 'side', type: 'nominal' },
      x: { field: 'value', type: 'quantitative', scale: { type: 'log' }, title: 'µs (log scale)' },
      color: { field: 'side', type: 'nominal', title: 'side' },
    },
  };
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
      color: { field: 'series', type: 'nominal', title: null },
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
