import type { Envelope } from '@hub/protocol';
import type { ConsumerObserver } from '../delivery/receive-pipeline.js';
import { LatencyHistogram, type LatencySnapshot, RateMeter } from '../metrics/histogram.js';
import { type Counter, MetricsRegistry } from '../metrics/registry.js';

/** Hub-wide counters. */
export interface MetricTotals {
  sent: number;
  sendFailed: number;
  delivered: number;
  acked: number;
  failed: number;
  redelivered: number;
  deadLettered: number;
  duplicates: number;
  expired: number;
  rejected: number;
  dropped: number;
  /** Replies that came for no waiting request (after its timeout, or unknown): dropped. */
  lateReplies: number;
}

export interface AdapterSeries {
  sent: Counter;
  failed: Counter;
  latency: LatencyHistogram;
}

export interface TypeSeries {
  sent: Counter;
  delivered: Counter;
  acked: Counter;
  failed: Counter;
  deadLettered: Counter;
  handler: LatencyHistogram;
}

/** Distinct message types tracked one by one; more share the `other` series. */
const MAX_TYPES = 500;

/**
 * A rate meter marked in batches: reading the clock on every send costs more
 * than the rest of the accounting. Pending marks are flushed when a batch
 * fills or the rate is read; marks older than the window are dropped.
 */
export class BatchedRate {
  readonly meter: RateMeter;
  private pending = 0;
  private since = 0;
  constructor(
    private readonly windowMs = 10_000,
    private readonly batch = 256,
  ) {
    this.meter = new RateMeter(windowMs);
  }

  mark(): void {
    if (this.pending === 0) this.since = Date.now();
    if (++this.pending >= this.batch) this.flush();
  }

  flush(): void {
    if (this.pending === 0) return;
    if (Date.now() - this.since < this.windowMs) this.meter.mark(this.pending);
    this.pending = 0;
  }

  /** Events per second over the window. */
  rate(): number {
    this.flush();
    return this.meter.rate();
  }
}

/**
 * Counters and latency histograms per adapter and per message type, plus
 * rates. Series objects are cached, so a hot path pays two map lookups.
 */
export class HubMetrics implements ConsumerObserver {
  readonly registry = new MetricsRegistry();
  readonly totals: MetricTotals = {
    sent: 0,
    sendFailed: 0,
    delivered: 0,
    acked: 0,
    failed: 0,
    redelivered: 0,
    deadLettered: 0,
    duplicates: 0,
    expired: 0,
    rejected: 0,
    dropped: 0,
    lateReplies: 0,
  };
  readonly sentRate = new BatchedRate();
  readonly deliveredRate = new BatchedRate();
  readonly routing = new LatencyHistogram();
  private readonly adapters = new Map<string, AdapterSeries>();
  /** Series by exposed type label (`other` included). */
  private readonly series = new Map<string, TypeSeries>();
  private readonly types = new Map<string, TypeSeries>();
  /** Event types apart from message types, so the lookup key needs no string building. */
  private readonly eventTypes = new Map<string, TypeSeries>();
  /** The two message types counted last and their series (see type()). */
  private typeA: string | undefined;
  private seriesA: TypeSeries | undefined;
  private typeB: string | undefined;
  private seriesB: TypeSeries | undefined;
  /** The adapter counted last and its series (see adapter()); series are never removed. */
  private lastAdapter: string | undefined;
  private lastSeries: AdapterSeries | undefined;

  constructor(readonly enabled: boolean) {
    this.registry
      .describe('messages_sent', 'Envelopes accepted by a transport')
      .describe('send_failures', 'Transport sends that failed')
      .describe('send_latency_ms', 'Time for a transport to accept an envelope')
      .describe('handler_latency_ms', 'Handler run time per message type');
  }

  adapter(name: string): AdapterSeries {
    // A hub sends through one adapter after another: the series counted last
    // spares the map lookup (a request and its reply count two sends).
    if (name === this.lastAdapter) return this.lastSeries as AdapterSeries;
    let s = this.adapters.get(name);
    if (s === undefined) {
      s = {
        sent: this.registry.counter('adapter_sent', { adapter: name }),
        failed: this.registry.counter('adapter_send_failures', { adapter: name }),
        latency: this.registry.histogram('send_latency_ms', { adapter: name }),
      };
      this.adapters.set(name, s);
    }
    this.lastAdapter = name;
    this.lastSeries = s;
    return s;
  }

  type(env: Envelope): TypeSeries {
    // A request and its reply take turns (two types): two remembered series
    // spare the map lookup on most of the several counts each message makes.
    if (env.kind !== 'event') {
      const t = env.type;
      if (t === this.typeA) return this.seriesA as TypeSeries;
      if (t === this.typeB) return this.seriesB as TypeSeries;
    }
    const map = env.kind === 'event' ? this.eventTypes : this.types;
    const s = map.get(env.type) ?? this.newType(map, env);
    if (env.kind !== 'event') {
      this.typeB = this.typeA;
      this.seriesB = this.seriesA;
      this.typeA = env.type;
      this.seriesA = s;
    }
    return s;
  }

  private newType(map: Map<string, TypeSeries>, env: Envelope): TypeSeries {
    const key = env.kind === 'event' ? `event:${env.type}` : env.type;
    // Bounded: a sender inventing types must not grow the registry without end.
    const type = this.types.size + this.eventTypes.size >= MAX_TYPES ? 'other' : key;
    const s = this.series.get(type) ?? {
      sent: this.registry.counter('messages_sent', { type }),
      delivered: this.registry.counter('messages_delivered', { type }),
      acked: this.registry.counter('messages_acked', { type }),
      failed: this.registry.counter('handler_failures', { type }),
      deadLettered: this.registry.counter('messages_dead_lettered', { type }),
      handler: this.registry.histogram('handler_latency_ms', { type }),
    };
    this.series.set(type, s);
    if (type !== 'other') map.set(env.type, s);
    return s;
  }

  sent(env: Envelope, adapter: string, latencyMs: number): void {
    this.totals.sent++;
    if (!this.enabled) return;
    this.sentRate.mark();
    const a = this.adapter(adapter);
    a.sent.inc();
    a.latency.record(latencyMs);
    this.type(env).sent.inc();
  }

  sendFailed(adapter: string): void {
    this.totals.sendFailed++;
    if (this.enabled) this.adapter(adapter).failed.inc();
  }

  delivered(env: Envelope): void {
    this.totals.delivered++;
    if (!this.enabled) return;
    this.deliveredRate.mark();
    this.type(env).delivered.inc();
  }

  acked(env: Envelope, _adapter: string, handlerMs: number): void {
    this.totals.acked++;
    if (!this.enabled) return;
    const t = this.type(env);
    t.acked.inc();
    // Negative: this job's handler time was not sampled.
    if (handlerMs >= 0) t.handler.record(handlerMs);
  }

  failed(env: Envelope): void {
    this.totals.failed++;
    if (this.enabled) this.type(env).failed.inc();
  }

  retried(): void {
    this.totals.redelivered++;
  }

  deadLettered(env: Envelope): void {
    this.totals.deadLettered++;
    if (this.enabled) this.type(env).deadLettered.inc();
  }

  duplicate(): void {
    this.totals.duplicates++;
  }

  expired(): void {
    this.totals.expired++;
  }

  /** The per-adapter series (read at scrape time by the Prometheus collectors). */
  adapterSeries(): IterableIterator<[string, AdapterSeries]> {
    return this.adapters.entries();
  }

  /** The per-type series by exposed label (`other` included). */
  typeSeries(): IterableIterator<[string, TypeSeries]> {
    return this.series.entries();
  }

  perAdapter(): Record<string, { sent: number; failed: number; latency: LatencySnapshot }> {
    const out: Record<string, { sent: number; failed: number; latency: LatencySnapshot }> = {};
    for (const [name, s] of this.adapters) {
      out[name] = { sent: s.sent.value, failed: s.failed.value, latency: s.latency.snapshot() };
    }
    return out;
  }

  perType(): Record<
    string,
    {
      sent: number;
      delivered: number;
      acked: number;
      failed: number;
      deadLettered: number;
      handler: LatencySnapshot;
    }
  > {
    const out: ReturnType<HubMetrics['perType']> = {};
    for (const [name, s] of this.series) {
      out[name] = {
        sent: s.sent.value,
        delivered: s.delivered.value,
        acked: s.acked.value,
        failed: s.failed.value,
        deadLettered: s.deadLettered.value,
        handler: s.handler.snapshot(),
      };
    }
    return out;
  }
}
