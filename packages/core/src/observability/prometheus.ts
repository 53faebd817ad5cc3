/**
 * Collectors for a `prom-client` registry (an optional peer: the hub never
 * imports it, it only hands metric objects to the registry you pass). Every
 * figure is read from the hub's own counters when the registry is scraped,
 * so the send path does no extra work.
 *
 * Label cardinality is bounded: `adapter` by the adapters registered,
 * `type` by the hub's message-type limit (500 distinct types, the rest under
 * `other`; events as `event:<type>`), `state` by the three circuit states,
 * `address` by the consumers the application registers (never by what
 * senders send), `metric` by the two baselines, and `destination` by the
 * destinations given baselines of their own (at most 256 per adapter), of
 * which only those departed now are exposed.
 */

import type { MetricTotals } from '../hub/metrics.js';
import type { LatencyHistogram } from '../metrics/histogram.js';
import type { CircuitState } from '../resilience/circuit-breaker.js';

/** The part of a `prom-client` Registry the hub uses. */
export interface PromRegistry {
  registerMetric(metric: never): void;
  removeSingleMetric?(name: string): void;
}

export interface PromCollectorOptions {
  /** Prefix of every metric name. @default 'hub_' */
  prefix?: string;
}

/** What the collectors read from a hub at scrape time. */
export interface PromSource {
  readonly hub: string;
  totals(): MetricTotals;
  adapters(): Array<{
    name: string;
    sent: number;
    failed: number;
    latency: LatencyHistogram | undefined;
    circuit: CircuitState;
    healthy: boolean;
    degraded: boolean;
    /** Sends handed to the adapter, not settled yet. */
    inFlight: number;
    /** What the adapter reports accepted and not yet handled; undefined when it reports none. */
    backlog: number | undefined;
    /** Recent share of send attempts that failed on the way (0..1). */
    errorRate: number;
    /** Baseline departures in effect now. */
    departures: ReadonlyArray<{ metric: string; destination?: string }>;
  }>;
  types(): Array<{
    type: string;
    sent: number;
    delivered: number;
    acked: number;
    failed: number;
    deadLettered: number;
    handler: LatencyHistogram;
  }>;
  routing: LatencyHistogram;
  inFlight(): number;
  consumers(): number;
  /** Deliveries the hub's consumers hold (queued or in a handler), per consumer address. */
  pending(): Array<{ kind: 'endpoint' | 'topic'; address: string; held: number }>;
}

type Labels = Record<string, string | number>;
interface Value {
  value: number;
  labels: Labels;
  metricName?: string;
}
type Type = 'counter' | 'gauge' | 'histogram';

/** Histogram bounds in seconds: 100 µs to 60 s. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60,
] as const;
const BOUNDS_MS = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);

/** Hub-wide counters: metric name (after the prefix) → total, help. */
const TOTALS: ReadonlyArray<[string, keyof MetricTotals, string]> = [
  ['messages_sent_total', 'sent', 'Envelopes a transport accepted'],
  ['send_failures_total', 'sendFailed', 'Transport sends that failed'],
  ['messages_delivered_total', 'delivered', 'Deliveries handed to handlers'],
  ['messages_acked_total', 'acked', 'Deliveries acknowledged after their handler'],
  ['handler_failures_total', 'failed', 'Handler attempts that threw'],
  ['messages_redelivered_total', 'redelivered', 'Handler retries'],
  ['messages_dead_lettered_total', 'deadLettered', 'Messages moved to a dead-letter queue'],
  ['duplicates_dropped_total', 'duplicates', 'Deliveries dropped by exactly-once dedup'],
  ['messages_expired_total', 'expired', 'Messages dropped past their expiry'],
  [
    'messages_refused_total',
    'rejected',
    'Sends and inbound entries refused (invalid, overloaded, oversized)',
  ],
  ['messages_dropped_total', 'dropped', 'Messages dropped'],
  ['late_replies_total', 'lateReplies', 'Replies that came after their request timed out'],
];

const CIRCUIT_STATES: readonly CircuitState[] = ['closed', 'open', 'half-open'];

function histogramValues(name: string, h: LatencyHistogram, labels: Labels): Value[] {
  const cumulative = h.cumulative(BOUNDS_MS);
  const out: Value[] = [];
  for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
    out.push({
      metricName: `${name}_bucket`,
      labels: { ...labels, le: LATENCY_BUCKETS_SECONDS[i]! },
      value: cumulative[i]!,
    });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum / 1000 });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

const ANOMALY_METRICS = ['send-latency', 'error-rate'] as const;

/**
 * The gauges both expositions share (the prom-client collectors and the
 * hub's own `prometheus()` text): adapter state, load and queue depths.
 */
function gauges(source: PromSource): Array<[string, string, () => Value[]]> {
  const perAdapter = (pick: (a: ReturnType<PromSource['adapters']>[number]) => number) => () =>
    source.adapters().map((a) => ({ labels: { adapter: a.name }, value: pick(a) }));
  return [
    [
      'adapter_degraded',
      "1 while the adapter's send latency or error rate (or one of its destinations') is far past its baseline",
      perAdapter((a) => (a.degraded ? 1 : 0)),
    ],
    [
      'adapter_anomaly',
      '1 while the adapter, or one of its destinations, departs from its baseline of this metric',
      () =>
        source.adapters().flatMap((a) =>
          ANOMALY_METRICS.map((metric) => ({
            labels: { adapter: a.name, metric },
            value: a.departures.some((d) => d.metric === metric) ? 1 : 0,
          })),
        ),
    ],
    [
      'destination_degraded',
      '1 for each destination whose sends through the adapter depart from their baseline now (absent otherwise)',
      () =>
        source.adapters().flatMap((a) =>
          a.departures
            .filter((d) => d.destination !== undefined)
            .map((d) => ({
              labels: { adapter: a.name, destination: d.destination!, metric: d.metric },
              value: 1,
            })),
        ),
    ],
    [
      'adapter_error_rate',
      'Recent share of send attempts that failed on the way, exponentially weighted (0..1)',
      perAdapter((a) => a.errorRate),
    ],
    [
      'adapter_sends_in_flight',
      'Sends handed to the adapter and not settled yet',
      perAdapter((a) => a.inFlight),
    ],
    [
      'adapter_backlog',
      'Messages the adapter reports accepted and not yet handled (queued, unacknowledged, stream lag)',
      () =>
        source
          .adapters()
          .flatMap((a) =>
            a.backlog === undefined ? [] : [{ labels: { adapter: a.name }, value: a.backlog }],
          ),
    ],
    [
      'deliveries_pending',
      "Deliveries the hub's consumers hold (queued or in a handler), per consumer address",
      () =>
        source
          .pending()
          .map((p) => ({ labels: { kind: p.kind, address: p.address }, value: p.held })),
    ],
    [
      'sends_in_flight',
      'Sends holding a slot now',
      () => [{ labels: {}, value: source.inFlight() }],
    ],
    [
      'consumers',
      'Endpoint and topic consumers registered',
      () => [{ labels: {}, value: source.consumers() }],
    ],
  ];
}

const escapeLabel = (v: string): string =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * The shared gauges in the text exposition format (0.0.4), for the hub's own
 * `prometheus()` text: the same names, labels and values the collectors give.
 */
export function gaugesText(source: PromSource, prefix: string): string {
  let out = '';
  for (const [name, help, values] of gauges(source)) {
    const full = `${prefix}${name}`;
    out += `# HELP ${full} ${help}\n# TYPE ${full} gauge\n`;
    for (const v of values()) {
      let labels = '';
      for (const key in v.labels) {
        labels += `${labels ? ',' : ''}${key}="${escapeLabel(String(v.labels[key]))}"`;
      }
      out += `${full}${labels ? `{${labels}}` : ''} ${v.value}\n`;
    }
  }
  return out;
}

/**
 * Register the hub's collectors on `registry`; returns a function that
 * removes them. Throws when a metric of the same name is registered already
 * (two hubs on one registry need different prefixes).
 */
export function registerCollectors(
  source: PromSource,
  registry: PromRegistry,
  options: PromCollectorOptions = {},
): () => void {
  const prefix = options.prefix ?? 'hub_';
  const names: string[] = [];
  const add = (name: string, type: Type, help: string, values: () => Value[]): void => {
    const full = `${prefix}${name}`;
    const metric = {
      name: full,
      help,
      type,
      aggregator: 'sum',
      get: async () => ({ name: full, help, type, aggregator: 'sum', values: values() }),
      reset: () => {},
    };
    registry.registerMetric(metric as never);
    names.push(full);
  };

  for (const [name, key, help] of TOTALS) {
    add(name, 'counter', help, () => [{ labels: {}, value: source.totals()[key] }]);
  }
  add('adapter_sent_total', 'counter', 'Envelopes a transport accepted, per adapter', () =>
    source.adapters().map((a) => ({ labels: { adapter: a.name }, value: a.sent })),
  );
  add('adapter_send_failures_total', 'counter', 'Transport sends that failed, per adapter', () =>
    source.adapters().map((a) => ({ labels: { adapter: a.name }, value: a.failed })),
  );
  add(
    'send_duration_seconds',
    'histogram',
    'Time for a transport to accept an envelope, per adapter',
    () =>
      source
        .adapters()
        .flatMap((a) =>
          a.latency === undefined
            ? []
            : histogramValues(`${prefix}send_duration_seconds`, a.latency, { adapter: a.name }),
        ),
  );
  add(
    'circuit_state',
    'gauge',
    '1 for the circuit state each adapter is in, 0 for the others',
    () =>
      source.adapters().flatMap((a) =>
        CIRCUIT_STATES.map((state) => ({
          labels: { adapter: a.name, state },
          value: a.circuit === state ? 1 : 0,
        })),
      ),
  );
  add('adapter_healthy', 'gauge', '1 while the adapter reports healthy', () =>
    source.adapters().map((a) => ({ labels: { adapter: a.name }, value: a.healthy ? 1 : 0 })),
  );
  for (const [name, help, values] of gauges(source)) add(name, 'gauge', help, values);
  const perType = (
    name: string,
    help: string,
    pick: (t: ReturnType<PromSource['types']>[number]) => number,
  ) =>
    add(name, 'counter', help, () =>
      source.types().map((t) => ({ labels: { type: t.type }, value: pick(t) })),
    );
  perType('type_sent_total', 'Envelopes sent, per message type', (t) => t.sent);
  perType('type_delivered_total', 'Deliveries, per message type', (t) => t.delivered);
  perType('type_acked_total', 'Acknowledged deliveries, per message type', (t) => t.acked);
  perType(
    'type_handler_failures_total',
    'Handler attempts that threw, per message type',
    (t) => t.failed,
  );
  perType(
    'type_dead_lettered_total',
    'Dead-lettered messages, per message type',
    (t) => t.deadLettered,
  );
  add('handler_duration_seconds', 'histogram', 'Handler run time, per message type (sampled)', () =>
    source
      .types()
      .flatMap((t) =>
        histogramValues(`${prefix}handler_duration_seconds`, t.handler, { type: t.type }),
      ),
  );
  add('routing_duration_seconds', 'histogram', 'Time to pick adapters (sampled)', () =>
    histogramValues(`${prefix}routing_duration_seconds`, source.routing, {}),
  );
  return () => {
    for (const name of names) registry.removeSingleMetric?.(name);
  };
}
