/**
 * What a hub reports about itself: the metrics snapshot, the Prometheus text
 * and prom-client collectors, health (overall, per adapter, per health
 * source) and the adapters' health flags the router reads.
 */
import { ErrorCode, HubError } from '@hub/protocol';
import type { AdapterHealth } from '../adapter/contract.js';
import { rejectUnknownOptions } from '../config/unknown-options.js';
import type { Logger } from '../logger.js';
import type { LatencySnapshot } from '../metrics/histogram.js';
import {
  gaugesText,
  type PromCollectorOptions,
  type PromRegistry,
  type PromSource,
  registerCollectors,
} from '../observability/prometheus.js';
import type { CircuitState } from '../resilience/circuit-breaker.js';
import type { Departure, Router, RouteTarget } from '../router/router.js';
import type { HubConsumers } from './consumers.js';
import type { HubMetrics, MetricTotals } from './metrics.js';
import type { HubState } from './types.js';

export interface AdapterMetrics {
  sent: number;
  failed: number;
  latency: LatencySnapshot;
  circuit: CircuitState;
  healthy: boolean;
  /** Send latency or error rate far past its baseline (see `anomaly` events). */
  degraded: boolean;
  /** The baseline departures in effect now (adapter-wide, or of one destination). */
  anomalies: Departure[];
  /** Recent share of send attempts that failed on the way, exponentially weighted (0..1). */
  errorRate: number;
  /** Sends handed to the adapter and not settled yet. */
  inFlight: number;
  /** What the adapter reports accepted and not yet handled (see `ProtocolAdapter.backlog`); 0 when it reports none. */
  backlog: number;
}

export interface DetailedMetrics {
  hub: string;
  uptimeMs: number;
  /** Sends per second over the last 10 s. */
  messagesPerSecond: number;
  /** Deliveries per second over the last 10 s. */
  deliveriesPerSecond: number;
  averageRoutingLatencyMs: number;
  routingLatency: LatencySnapshot;
  /** Adapters connected and healthy. */
  activeConnections: number;
  /** Sends in flight now. */
  inFlight: number;
  consumers: number;
  /** Deliveries the hub's consumers hold now (queued or in a handler). */
  pendingDeliveries: number;
  totals: MetricTotals;
  adapters: Record<string, AdapterMetrics>;
  messageTypes: ReturnType<HubMetrics['perType']>;
  /** Figures of the health sources (a WebSocket gateway, …) by name. */
  components: Record<string, Record<string, number>>;
}

/**
 * Something beside the adapters that reports into the hub's health and
 * metrics: a WebSocket gateway attached to the hub, say. Register it with
 * `hub.addHealthSource(name, source)`.
 */
export interface HealthSource {
  health(): { healthy: boolean; detail?: Record<string, unknown> };
  /** Counters and gauges, flat (`connections`, `refusedAuth`, …). */
  metrics?(): Record<string, number>;
}

export interface HealthStatus {
  hub: string;
  hubStatus: 'healthy' | 'degraded' | 'unhealthy' | 'stopped';
  state: HubState;
  uptimeMs: number;
  checkedAt: number;
  /**
   * `degraded`: send latency or error rate (of the adapter, or of one of its
   * destinations) far past its baseline; `anomalies` says which (see `anomaly` events).
   */
  adapters: Record<
    string,
    AdapterHealth & { circuit: CircuitState; degraded: boolean; anomalies: Departure[] }
  >;
  /** Health sources (a WebSocket gateway, …) by name; an unhealthy one makes the hub degraded. */
  components: Record<string, { healthy: boolean; detail?: Record<string, unknown> }>;
  performance: {
    messagesPerSecond: number;
    averageRoutingLatencyMs: number;
    p99RoutingLatencyMs: number;
    inFlight: number;
    /** Failed sends / all sends since start. */
    errorRate: number;
  };
}

/** What the report reads of its hub. */
export interface ReportHost {
  readonly name: string;
  readonly startedAt: number;
  readonly logger: Logger;
  readonly router: Router;
  readonly metrics: HubMetrics;
  readonly consumers: HubConsumers;
  /** Adapters whose connect() succeeded. */
  readonly connected: ReadonlySet<string>;
  state(): HubState;
  /** Sends in flight now. */
  inFlight(): number;
  /** An adapter's health flag changed. */
  healthChanged(adapter: string, healthy: boolean): void;
}

export class HubReport {
  private readonly sources = new Map<string, HealthSource>();

  constructor(private readonly host: ReportHost) {}

  /**
   * Report `source` in `health()`, `metrics()` and `prometheus()` under `name`
   * until the returned function is called.
   */
  addSource(name: string, source: HealthSource): () => void {
    if (typeof name !== 'string' || name === '' || this.sources.has(name)) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub] addHealthSource name must be a new non-empty string, got ${JSON.stringify(name)}`,
      );
    }
    this.sources.set(name, source);
    return () => {
      if (this.sources.get(name) === source) this.sources.delete(name);
    };
  }

  private componentMetrics(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, source] of this.sources) {
      try {
        out[name] = source.metrics?.() ?? {};
      } catch {
        out[name] = {};
      }
    }
    return out;
  }

  metrics(): DetailedMetrics {
    const host = this.host;
    const m = host.metrics;
    const routing = m.routing.snapshot();
    const perAdapter = m.perAdapter();
    const adapters: Record<string, AdapterMetrics> = {};
    let active = 0;
    for (const t of host.router.allTargets()) {
      const healthy = host.connected.has(t.name) && t.healthy;
      if (healthy) active++;
      t.refreshBacklog();
      adapters[t.name] = {
        sent: perAdapter[t.name]?.sent ?? 0,
        failed: perAdapter[t.name]?.failed ?? 0,
        latency: perAdapter[t.name]?.latency ?? EMPTY_LATENCY,
        circuit: t.breaker.state,
        healthy,
        degraded: t.degraded,
        anomalies: t.departures(),
        errorRate: t.errorRate,
        inFlight: t.outstanding,
        backlog: t.backlog,
      };
    }
    return {
      hub: host.name,
      uptimeMs: Date.now() - host.startedAt,
      messagesPerSecond: m.sentRate.rate(),
      deliveriesPerSecond: m.deliveredRate.rate(),
      averageRoutingLatencyMs: routing.mean,
      routingLatency: routing,
      activeConnections: active,
      inFlight: host.inFlight(),
      consumers: host.consumers.size,
      pendingDeliveries: host.consumers.pending().reduce((n, p) => n + p.held, 0),
      totals: { ...m.totals },
      adapters,
      messageTypes: m.perType(),
      components: this.componentMetrics(),
    };
  }

  prometheus(prefix: string): string {
    const m = this.host.metrics;
    let out = m.registry.toPrometheus(prefix);
    for (const [key, value] of Object.entries(m.totals)) {
      const name = `${prefix}${key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}_total`;
      out += `# HELP ${name} Hub-wide ${key}\n# TYPE ${name} counter\n${name} ${value}\n`;
    }
    for (const [source, figures] of Object.entries(this.componentMetrics())) {
      for (const [key, value] of Object.entries(figures)) {
        const name = `${prefix}${source}_${key}`
          .replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
          .replace(/[^a-zA-Z0-9_]/g, '_');
        out += `# HELP ${name} ${source} ${key}\n# TYPE ${name} gauge\n${name} ${value}\n`;
      }
    }
    const targets = this.host.router.allTargets();
    if (targets.length > 0) {
      const name = `${prefix}circuit_open`;
      out += `# HELP ${name} 1 while the adapter's circuit is open\n# TYPE ${name} gauge\n`;
      for (const t of targets) {
        out += `${name}{adapter="${promLabel(t.name)}"} ${t.breaker.state === 'open' ? 1 : 0}\n`;
      }
    }
    return out + gaugesText(this.promSource(), prefix);
  }

  registerPrometheus(registry: PromRegistry, options: PromCollectorOptions): () => void {
    if (typeof (registry as { registerMetric?: unknown } | null)?.registerMetric !== 'function') {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub] registerPrometheus registry must be a prom-client Registry (registerMetric missing)',
      );
    }
    rejectUnknownOptions('registerPrometheus', options, ['prefix']);
    if (options.prefix !== undefined && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.prefix)) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub] registerPrometheus options.prefix must be a Prometheus name prefix, got ${JSON.stringify(options.prefix)}`,
      );
    }
    return registerCollectors(this.promSource(), registry, options);
  }

  /** What the Prometheus expositions read at scrape time. */
  private promSource(): PromSource {
    const host = this.host;
    const m = host.metrics;
    return {
      hub: host.name,
      totals: () => m.totals,
      adapters: () => {
        const series = new Map(m.adapterSeries());
        return host.router.allTargets().map((t) => {
          const s = series.get(t.name);
          const reports = typeof t.adapter.backlog === 'function';
          if (reports) t.refreshBacklog();
          return {
            name: t.name,
            sent: s?.sent.value ?? 0,
            failed: s?.failed.value ?? 0,
            latency: s?.latency,
            circuit: t.breaker.state,
            healthy: safeHealth(t).healthy,
            degraded: t.degraded,
            inFlight: t.outstanding,
            backlog: reports ? t.backlog : undefined,
            errorRate: t.errorRate,
            departures: t.departures(),
          };
        });
      },
      types: () =>
        [...m.typeSeries()].map(([type, s]) => ({
          type,
          sent: s.sent.value,
          delivered: s.delivered.value,
          acked: s.acked.value,
          failed: s.failed.value,
          deadLettered: s.deadLettered.value,
          handler: s.handler,
        })),
      routing: m.routing,
      inFlight: () => host.inFlight(),
      consumers: () => host.consumers.size,
      pending: () => host.consumers.pending(),
    };
  }

  health(): HealthStatus {
    const host = this.host;
    const adapters: HealthStatus['adapters'] = {};
    let healthy = 0;
    let slow = false;
    let total = 0;
    for (const t of host.router.allTargets()) {
      total++;
      const h = safeHealth(t);
      const ok = h.healthy && t.breaker.state !== 'open';
      if (ok) healthy++;
      // A slow adapter still carries messages: the hub is degraded, not unhealthy.
      if (t.degraded) slow = true;
      adapters[t.name] = {
        ...h,
        circuit: t.breaker.state,
        degraded: t.degraded,
        anomalies: t.departures(),
      };
    }
    const components: HealthStatus['components'] = {};
    let componentsOk = !slow;
    for (const [name, source] of this.sources) {
      let h: { healthy: boolean; detail?: Record<string, unknown> };
      try {
        h = source.health();
      } catch (err) {
        h = { healthy: false, detail: { error: String(err) } };
      }
      components[name] = h;
      if (!h.healthy) componentsOk = false;
    }
    const m = host.metrics;
    const routing = m.routing.snapshot();
    const attempts = m.totals.sent + m.totals.sendFailed;
    const state = host.state();
    const hubStatus: HealthStatus['hubStatus'] =
      state !== 'running'
        ? 'stopped'
        : healthy === total
          ? componentsOk
            ? 'healthy'
            : 'degraded'
          : healthy > 0
            ? 'degraded'
            : 'unhealthy';
    return {
      hub: host.name,
      hubStatus,
      state,
      uptimeMs: Date.now() - host.startedAt,
      checkedAt: Date.now(),
      adapters,
      components,
      performance: {
        messagesPerSecond: m.sentRate.rate(),
        averageRoutingLatencyMs: routing.mean,
        p99RoutingLatencyMs: routing.p99,
        inFlight: host.inFlight(),
        errorRate: attempts === 0 ? 0 : m.totals.sendFailed / attempts,
      },
    };
  }

  /** Refresh each adapter's health flag; the router skips unhealthy adapters. */
  checkHealth(): void {
    for (const t of this.host.router.allTargets()) this.refreshHealth(t);
  }

  refreshHealth(t: RouteTarget): void {
    const healthy = safeHealth(t).healthy;
    if (healthy === t.healthy) return;
    t.healthy = healthy;
    const host = this.host;
    host.router.invalidate();
    host.logger.warn(`[hub] adapter "${t.name}" is now ${healthy ? 'healthy' : 'unhealthy'}`);
    host.healthChanged(t.name, healthy);
  }
}

const EMPTY_LATENCY: LatencySnapshot = Object.freeze({
  count: 0,
  min: 0,
  max: 0,
  mean: 0,
  p50: 0,
  p95: 0,
  p99: 0,
});

const promLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function safeHealth(t: RouteTarget): AdapterHealth {
  try {
    return t.adapter.health();
  } catch (err) {
    return { state: 'failed', healthy: false, lastError: String(err) };
  }
}
