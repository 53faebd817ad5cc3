/**
 * The hub's consumers: one ReceivePipeline per `onMessage` / `subscribe`
 * call, subscribed on every adapter it listens on (all of them, or the one
 * its options name), activated when the hub runs, drained and closed when it
 * is unsubscribed or the hub closes, and kept in step with adapters that are
 * registered or removed later.
 */
import { DELIVERY_GUARANTEES, type Envelope, ErrorCode, HubError } from '@hub/protocol';
import type { DeliverFn, ProtocolAdapter, Subscription, TopicStart } from '../adapter/contract.js';
import type { HandlerContext } from '../common/types.js';
import { type ConsumerHost, ReceivePipeline } from '../delivery/receive-pipeline.js';
import type { Logger } from '../logger.js';
import type { AdapterRegistry } from '../registry/registry.js';
import type { ConsumeOptions, EventHandler, MessageHandler, SubscribeOptions } from './types.js';
import { WarnLimiter } from './warn-limiter.js';

/** A subscription's pause() gets at least this long, even with a zero drain. */
const PAUSE_FLOOR_MS = 1_000;

/** At most one "rejected an inbound entry" line per subscription this often (the next one counts the rest). */
const REJECT_WARN_INTERVAL_MS = 5_000;

type Handler = (env: Envelope, ctx: HandlerContext) => unknown;

export interface ConsumerRecord {
  readonly consumer: ReceivePipeline;
  readonly kind: 'endpoint' | 'topic';
  readonly address: string;
  readonly opts: ConsumeOptions;
  readonly subs: Map<string, Subscription>;
  /** The deliver function of each adapter's subscription (the direct local path matches on it). */
  readonly deliverers: Map<string, DeliverFn>;
  /** Adapters a subscribe call is under way on (activate and a late-added adapter may race). */
  readonly subscribing: Set<string>;
  active: boolean;
}

/** What the consumers need of their hub. */
export interface ConsumersHost {
  readonly name: string;
  readonly adapters: AdapterRegistry;
  readonly consumerHost: ConsumerHost;
  readonly logger: Logger;
  /** Whether the hub is running (subscribe now) and whether it is closing or closed (refuse). */
  running(): boolean;
  closed(): boolean;
  /** The handler as the consumer calls it (inside a span when tracing is on). */
  wrapHandler(handler: Handler): Handler;
  /** The hub's default attempts before dead-lettering. */
  readonly maxDeliveries: number;
  /** How long an unsubscribe waits for running handlers. */
  readonly drainTimeoutMs: number;
  /** An adapter refused an inbound entry (counted in the hub's metrics). */
  rejected(): void;
}

export class HubConsumers {
  private readonly all = new Set<ConsumerRecord>();
  /** Endpoint consumers by address (for the direct local path). */
  private readonly endpoints = new Map<string, ConsumerRecord[]>();

  constructor(private readonly host: ConsumersHost) {}

  get size(): number {
    return this.all.size;
  }

  /** The one active consumer of this hub serving `address`, if exactly one does. */
  endpoint(address: string): ConsumerRecord | undefined {
    const recs = this.endpoints.get(address);
    return recs?.length === 1 && recs[0]!.active ? recs[0] : undefined;
  }

  /** Start a consumer; subscribed at once when the hub runs, else at start. */
  async consume(
    kind: 'endpoint' | 'topic',
    address: string,
    handler: MessageHandler | EventHandler,
    options: ConsumeOptions,
  ): Promise<() => Promise<void>> {
    const host = this.host;
    if (host.closed()) {
      throw new HubError(ErrorCode.CLOSED, `[hub] ${host.name} is closed`);
    }
    checkConsumeOptions(options, host.adapters);
    const consumer = new ReceivePipeline(host.consumerHost, {
      kind,
      address,
      handler: host.wrapHandler(handler as unknown as Handler),
      concurrency: options.concurrency ?? 16,
      maxDeliveries: options.maxDeliveries ?? host.maxDeliveries,
      handlerTimeoutMs: options.handlerTimeoutMs,
      prefetch: prefetchOf(options),
    });
    const rec: ConsumerRecord = {
      consumer,
      kind,
      address,
      opts: options,
      subs: new Map(),
      deliverers: new Map(),
      subscribing: new Set(),
      active: false,
    };
    this.all.add(rec);
    this.addEndpoint(rec);
    if (host.running()) {
      try {
        await this.activate(rec);
      } catch (err) {
        await this.deactivate(rec, 0);
        this.all.delete(rec);
        this.removeEndpoint(rec);
        throw err;
      }
    }
    let off: Promise<void> | undefined;
    return () => {
      off ??= (async () => {
        this.all.delete(rec);
        this.removeEndpoint(rec);
        await this.deactivate(rec, host.drainTimeoutMs);
      })();
      return off;
    };
  }

  /** Subscribe every consumer on its adapters (idempotent: what is subscribed stays). */
  async activateAll(): Promise<void> {
    await Promise.all([...this.all].map((rec) => this.activate(rec)));
  }

  /** Drain and close every consumer within `drainMs`, then forget them. */
  async closeAll(drainMs: number): Promise<void> {
    await Promise.all([...this.all].map((rec) => this.deactivate(rec, drainMs)));
    this.all.clear();
    this.endpoints.clear();
  }

  /** An adapter registered after start (and connected): every consumer not bound to one adapter listens on it too. */
  async adapterAdded(name: string): Promise<void> {
    await Promise.all(
      [...this.all]
        .filter((rec) => rec.active && !rec.opts.adapter)
        .map((rec) => this.subscribeOn(rec, name)),
    );
  }

  /** An adapter removed from the registry: its subscriptions are closed. */
  adapterRemoved(name: string): void {
    for (const rec of this.all) {
      const sub = rec.subs.get(name);
      rec.subs.delete(name);
      rec.deliverers.delete(name);
      void sub?.close().catch(() => {});
    }
  }

  /** Deliveries held by the consumers, summed per kind and address. */
  pending(): Array<{ kind: 'endpoint' | 'topic'; address: string; held: number }> {
    const by = new Map<string, { kind: 'endpoint' | 'topic'; address: string; held: number }>();
    for (const rec of this.all) {
      const key = `${rec.kind}|${rec.address}`;
      const entry = by.get(key);
      if (entry === undefined) {
        by.set(key, { kind: rec.kind, address: rec.address, held: rec.consumer.inFlight });
      } else entry.held += rec.consumer.inFlight;
    }
    return [...by.values()];
  }

  private addEndpoint(rec: ConsumerRecord): void {
    if (rec.kind !== 'endpoint') return;
    const recs = this.endpoints.get(rec.address);
    if (recs === undefined) this.endpoints.set(rec.address, [rec]);
    else recs.push(rec);
  }

  private removeEndpoint(rec: ConsumerRecord): void {
    const recs = this.endpoints.get(rec.address);
    const i = recs === undefined ? -1 : recs.indexOf(rec);
    if (i < 0) return;
    recs!.splice(i, 1);
    if (recs!.length === 0) this.endpoints.delete(rec.address);
  }

  private async activate(rec: ConsumerRecord): Promise<void> {
    rec.active = true;
    const adapters = this.host.adapters;
    const names = rec.opts.adapter ? [adapters.resolveName(rec.opts.adapter)] : adapters.names();
    await Promise.all(names.map((name) => this.subscribeOn(rec, name)));
  }

  private async subscribeOn(rec: ConsumerRecord, name: string): Promise<void> {
    const adapter = this.host.adapters.get(name);
    if (!adapter || rec.subs.has(name) || rec.subscribing.has(name)) return;
    if (rec.kind === 'topic' && !adapter.capabilities.broadcast) return;
    rec.subscribing.add(name);
    try {
      await this.subscribeNow(rec, name, adapter);
    } finally {
      rec.subscribing.delete(name);
    }
  }

  private async subscribeNow(
    rec: ConsumerRecord,
    name: string,
    adapter: ProtocolAdapter,
  ): Promise<void> {
    const host = this.host;
    const group = rec.kind === 'endpoint' ? (rec.opts.group ?? rec.address) : rec.opts.group;
    // Junk floods one line per entry otherwise: rate-limited per subscription.
    const rejections = new WarnLimiter(REJECT_WARN_INTERVAL_MS);
    const deliver: DeliverFn = (delivery) => rec.consumer.accept(delivery, name);
    const sub = await adapter.subscribe({
      kind: rec.kind,
      address: rec.address,
      ...(group === undefined ? {} : { group }),
      ...(rec.opts.guarantees === undefined ? {} : { guarantees: rec.opts.guarantees }),
      ...startOf(rec.opts),
      prefetch: prefetchOf(rec.opts),
      maxDeliveries: rec.consumer.opts.maxDeliveries,
      deliver,
      reject: (error) => {
        host.rejected();
        const held = rejections.take();
        if (held === undefined) return;
        host.logger.warn(
          `[hub] ${name} rejected an inbound entry for ${rec.address}: ${error.message}${held > 0 ? ` (${held} more rejected since the last such line, not logged)` : ''}`,
          held > 0 ? { suppressed: held } : undefined,
        );
      },
    });
    // Deactivated, or the adapter removed, while subscribing: do not keep it.
    if (!rec.active || host.adapters.get(name) !== adapter) {
      await sub.close();
      return;
    }
    rec.subs.set(name, sub);
    rec.deliverers.set(name, deliver);
  }

  private async deactivate(rec: ConsumerRecord, drainMs: number): Promise<void> {
    rec.active = false;
    // One budget for pause and drain together: close({ drainTimeoutMs }) means it.
    const deadline = Date.now() + drainMs;
    // Transports that share work stop taking new work first (Subscription.pause);
    // what reaches this consumer meanwhile is still handled. A pause that throws
    // or never settles must not keep the subscription from closing.
    const pauses = [...rec.subs.values()].map((s) => Promise.resolve().then(() => s.pause?.()));
    if (pauses.length > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled(pauses),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, Math.max(drainMs, PAUSE_FLOOR_MS));
        }),
      ]);
      clearTimeout(timer);
    }
    await rec.consumer.drain(Math.max(0, deadline - Date.now()));
    const subs = [...rec.subs.values()];
    rec.subs.clear();
    rec.deliverers.clear();
    await Promise.allSettled(subs.map((s) => s.close()));
  }
}

/** The consume options no type check covers (numbers in range, a registered adapter, known guarantees). */
function checkConsumeOptions(options: ConsumeOptions, adapters: AdapterRegistry): void {
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] options.concurrency must be a positive integer, got ${concurrency}`,
    );
  }
  if (
    options.prefetch !== undefined &&
    (!Number.isInteger(options.prefetch) || options.prefetch < 1)
  ) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] options.prefetch must be a positive integer, got ${options.prefetch}`,
    );
  }
  if (options.adapter !== undefined && !adapters.has(options.adapter)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] options.adapter "${options.adapter}" is not registered`,
    );
  }
  if (
    options.guarantees !== undefined &&
    (!Array.isArray(options.guarantees) ||
      options.guarantees.length === 0 ||
      options.guarantees.some((g) => !DELIVERY_GUARANTEES.includes(g)))
  ) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] options.guarantees must be a non-empty array of ${DELIVERY_GUARANTEES.join(', ')}, got ${JSON.stringify(options.guarantees)}`,
    );
  }
}

/** Deliveries a subscription may hold unsettled: given, or eight per handler slot (at least 128). */
function prefetchOf(opts: ConsumeOptions): number {
  return opts.prefetch ?? Math.max((opts.concurrency ?? 16) * 8, 128);
}

/** The `startFrom` of a topic subscription, for its SubscriptionSpec (absent when not given). */
const startOf = (opts: ConsumeOptions): { startFrom?: TopicStart } => {
  const start: TopicStart | undefined = (opts as SubscribeOptions).startFrom;
  return start === undefined ? {} : { startFrom: start };
};
