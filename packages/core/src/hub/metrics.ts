import type { Envelope } from '@hub/protocol';
import type { ConsumerObserver } from '../delivery/consumer.js';
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
}

interface AdapterSeries {
  sent: Counter;
  failed: Counter;
  latency: LatencyHistogram;
}

interface TypeSeries {
  sent: Counter;
  delivered: Counter;
  acked: Counter;
  failed: Counter;
  deadLettered: Counter;
  handler: LatencyHistogram;
}

/** Distinct message types tracked one by one; more share the `other` series. */
const MAX_TYPES = 500;

const eventType = (env: Envelope) => (env.kind === 'event' ? `event:${env.type}` : env.type);

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
  };
  readonly sentRate = new RateMeter();
  readonly deliveredRate = new RateMeter();
  readonly routing = new LatencyHistogram();
  private readonly adapters = new Map<string, AdapterSeries>();
  private readonly types = new Map<string, TypeSeries>();

  constructor(readonly enabled: boolean) {
    this.registry
      .describe('messages_sent', 'Envelopes accepted by a transport')
      .describe('send_failures', 'Transport sends that failed')
      .describe('send_latency_ms', 'Time for a transport to accept an envelope')
      .describe('handler_latency_ms', 'Handler run time per message type');
  }

  adapter(name: string): AdapterSeries {
    let s = this.adapters.get(name);
    if (s === undefined) {
      s = {
        sent: this.registry.counter('adapter_sent', { adapter: name }),
        failed: this.registry.counter('adapter_send_failures', { adapter: name }),
        latency: this.registry.histogram('send_latency_ms', { adapter: name }),
      };
      this.adapters.set(name, s);
    }
    return s;
  }

  type(env: Envelope): TypeSeries {
    const key = eventType(env);
    let s = this.types.get(key);
    if (s === undefined) {
      const type = this.types.size >= MAX_TYPES ? 'other' : key;
      s = this.types.get(type) ?? {
        sent: this.registry.counter('messages_sent', { type }),
        delivered: this.registry.counter('messages_delivered', { type }),
        acked: this.registry.counter('messages_acked', { type }),
        failed: this.registry.counter('handler_failures', { type }),
        deadLettered: this.registry.counter('messages_dead_lettered', { type }),
        handler: this.registry.histogram('handler_latency_ms', { type }),
      };
      this.types.set(key, s);
    }
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
    t.handler.record(handlerMs);
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
    for (const [name, s] of this.types) {
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
