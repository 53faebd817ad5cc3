/**
 * Counters, gauges and latency histograms keyed by (name, labels), with a
 * JSON snapshot and Prometheus text exposition (format 0.0.4).
 *
 * Lookups build a key string, so hot paths look a metric up once and keep the
 * returned object: `const sent = registry.counter('sent', { adapter: 'redis' })`
 * then `sent.inc()` per message, which is a field increment.
 */
import { ErrorCode, HubError } from '@hub/protocol';
import { LatencyHistogram, type LatencySnapshot } from './histogram.js';

export type MetricLabels = Readonly<Record<string, string>>;

export interface Counter {
  /** Add `n` (default 1; should be >= 0 — counters only go up). */
  inc(n?: number): void;
  readonly value: number;
}

export interface Gauge {
  set(value: number): void;
  inc(n?: number): void;
  dec(n?: number): void;
  readonly value: number;
}

export interface CounterSnapshot {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export type GaugeSnapshot = CounterSnapshot;

export interface HistogramSnapshot extends LatencySnapshot {
  name: string;
  labels: Record<string, string>;
}

export interface MetricsSnapshot {
  counters: CounterSnapshot[];
  gauges: GaugeSnapshot[];
  /** Values in milliseconds, as recorded. */
  histograms: HistogramSnapshot[];
}

type Kind = 'counter' | 'gauge' | 'histogram';

class CounterImpl implements Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

class GaugeImpl implements Gauge {
  value = 0;
  set(value: number): void {
    this.value = value;
  }
  inc(n = 1): void {
    this.value += n;
  }
  dec(n = 1): void {
    this.value -= n;
  }
}

interface Series<M> {
  labels: Record<string, string>;
  metric: M;
}

interface Family {
  kind: Kind;
  /** Name of the exposed family, before the prefix (e.g. `sent_total`, `send_latency_seconds`). */
  exposed: string;
  series: Map<string, Series<CounterImpl | GaugeImpl | LatencyHistogram>>;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const QUANTILES = [
  ['0.5', 50],
  ['0.95', 95],
  ['0.99', 99],
] as const;

function invalid(message: string): HubError {
  return new HubError(ErrorCode.INVALID_CONFIG, `[hub:metrics] ${message}`);
}

/** Exposed family name: counters end in `_total`; histograms are summaries in seconds. */
function exposedName(kind: Kind, name: string): string {
  if (kind === 'counter') return name.endsWith('_total') ? name : `${name}_total`;
  if (kind === 'histogram') return `${name.replace(/_(ms|milliseconds|seconds)$/, '')}_seconds`;
  return name;
}

/** Every sample name a family writes, so two families can never emit the same series. */
function sampleNames(kind: Kind, exposed: string): string[] {
  return kind === 'histogram' ? [exposed, `${exposed}_sum`, `${exposed}_count`] : [exposed];
}

const escapeLabelValue = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
const escapeHelp = (v: string): string => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}

function formatLabels(labels: Record<string, string>, extra?: string): string {
  let out = '';
  for (const key in labels) {
    out += `${out ? ',' : ''}${key}="${escapeLabelValue(labels[key]!)}"`;
  }
  if (extra) out += `${out ? ',' : ''}${extra}`;
  return out ? `{${out}}` : '';
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();
  /** Sample name → metric name that owns it. */
  private readonly samples = new Map<string, string>();
  private readonly help = new Map<string, string>();

  /** A counter; the same object is returned for the same name and labels. */
  counter(name: string, labels?: MetricLabels): Counter {
    return this.get('counter', name, labels, () => new CounterImpl()) as CounterImpl;
  }

  /** A gauge (a value that goes up and down, e.g. circuit state, in-flight count). */
  gauge(name: string, labels?: MetricLabels): Gauge {
    return this.get('gauge', name, labels, () => new GaugeImpl()) as GaugeImpl;
  }

  /** A latency histogram recording milliseconds; exposed to Prometheus as a summary in seconds. */
  histogram(name: string, labels?: MetricLabels): LatencyHistogram {
    return this.get('histogram', name, labels, () => new LatencyHistogram()) as LatencyHistogram;
  }

  /** Set the HELP text of a metric (may be called before the metric exists). */
  describe(name: string, help: string): this {
    this.help.set(name, help);
    return this;
  }

  snapshot(): MetricsSnapshot {
    const snap: MetricsSnapshot = { counters: [], gauges: [], histograms: [] };
    for (const [name, family] of this.families) {
      for (const { labels, metric } of family.series.values()) {
        if (metric instanceof LatencyHistogram) {
          snap.histograms.push({ name, labels: { ...labels }, ...metric.snapshot() });
        } else {
          const target = family.kind === 'counter' ? snap.counters : snap.gauges;
          target.push({ name, labels: { ...labels }, value: metric.value });
        }
      }
    }
    return snap;
  }

  /**
   * Prometheus text exposition format 0.0.4. Counters are named `<prefix><name>_total`;
   * histograms become summaries `<prefix><name>_seconds` (a trailing `_ms` /
   * `_seconds` in the name is replaced) with quantiles 0.5, 0.95, 0.99 and
   * `_sum` / `_count`, in seconds as Prometheus conventions ask.
   */
  toPrometheus(prefix = 'hub_'): string {
    if (prefix !== '' && !METRIC_NAME.test(prefix)) {
      throw invalid(`metric prefix "${prefix}" is not a valid Prometheus name prefix`);
    }
    let out = '';
    for (const [name, family] of this.families) {
      const full = prefix + family.exposed;
      const type = family.kind === 'histogram' ? 'summary' : family.kind;
      out += `# HELP ${full} ${escapeHelp(this.help.get(name) ?? name)}\n`;
      out += `# TYPE ${full} ${type}\n`;
      for (const { labels, metric } of family.series.values()) {
        if (metric instanceof LatencyHistogram) {
          const empty = metric.count === 0;
          for (const [q, p] of QUANTILES) {
            const v = empty ? Number.NaN : metric.percentile(p) / 1000;
            out += `${full}${formatLabels(labels, `quantile="${q}"`)} ${formatValue(v)}\n`;
          }
          const l = formatLabels(labels);
          out += `${full}_sum${l} ${formatValue(metric.sum / 1000)}\n`;
          out += `${full}_count${l} ${metric.count}\n`;
        } else {
          out += `${full}${formatLabels(labels)} ${formatValue(metric.value)}\n`;
        }
      }
    }
    return out;
  }

  private get<M extends CounterImpl | GaugeImpl | LatencyHistogram>(
    kind: Kind,
    name: string,
    labels: MetricLabels | undefined,
    create: () => M,
  ): M {
    let family = this.families.get(name);
    if (family === undefined) family = this.addFamily(kind, name);
    else if (family.kind !== kind) {
      throw invalid(`metric "${name}" is a ${family.kind}, not a ${kind}`);
    }
    const key = labels === undefined ? '' : labelKey(labels);
    const found = family.series.get(key);
    if (found !== undefined) return found.metric as M;
    const metric = create();
    family.series.set(key, { labels: this.checkLabels(kind, name, labels), metric });
    return metric;
  }

  private addFamily(kind: Kind, name: string): Family {
    if (!METRIC_NAME.test(name)) throw invalid(`metric name "${name}" is invalid`);
    const exposed = exposedName(kind, name);
    const names = sampleNames(kind, exposed);
    for (const sample of names) {
      const owner = this.samples.get(sample);
      if (owner !== undefined) {
        throw invalid(
          `metric "${name}" would be exposed as "${sample}", already used by "${owner}"`,
        );
      }
    }
    for (const sample of names) this.samples.set(sample, name);
    const family: Family = { kind, exposed, series: new Map() };
    this.families.set(name, family);
    return family;
  }

  /** A sorted copy, so the exposition order is stable and callers cannot change it later. */
  private checkLabels(
    kind: Kind,
    name: string,
    labels: MetricLabels | undefined,
  ): Record<string, string> {
    const copy: Record<string, string> = {};
    if (labels === undefined) return copy;
    for (const key of Object.keys(labels).sort()) {
      if (!LABEL_NAME.test(key) || key.startsWith('__')) {
        throw invalid(`metric "${name}": label name "${key}" is invalid`);
      }
      if (kind === 'histogram' && key === 'quantile') {
        throw invalid(`metric "${name}": label "quantile" is reserved for summaries`);
      }
      copy[key] = String(labels[key]);
    }
    return copy;
  }
}

function labelKey(labels: MetricLabels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  keys.sort();
  // JSON keeps the key unambiguous whatever characters the values hold.
  return JSON.stringify(keys.map((k) => [k, labels[k]]));
}
