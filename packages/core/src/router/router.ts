import {
  type DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  InvalidMessageError,
  jsonCodec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type { ProtocolAdapter, SendResult } from '../adapter/contract.js';
import { RoutingStrategy } from '../common/types.js';
import { TopicMatcher } from '../event-bus/pattern.js';
import {
  type AnomalyOptions,
  type AnomalyReport,
  LatencyBaseline,
} from '../observability/anomaly.js';
import type { RouteTracing } from '../observability/tracing.js';
import type { AdapterRegistry } from '../registry/registry.js';
import { CircuitBreaker, type CircuitBreakerOptions } from '../resilience/circuit-breaker.js';

/** One entry of the routing table. */
export interface RouteRule {
  /** Destination (messages) or topic (events): exact, or a pattern with `*` / `**`. */
  match: string;
  /** Adapters to use, in preference order. @default every registered adapter */
  adapters?: readonly string[];
  /** @default the hub's `defaultRoutingStrategy` */
  strategy?: RoutingStrategy;
  /** Apply to messages, events or both. @default both */
  kind?: 'message' | 'event';
}

/** The router's view of one adapter: the adapter, its breaker and its observed latency. */
export class RouteTarget {
  /** Exponentially weighted send latency in ms; 0 until observed. */
  latencyEwma = 0;
  /** Set by the health monitor and by the adapter's own state reports. */
  healthy = true;
  constructor(
    readonly name: string,
    readonly adapter: ProtocolAdapter,
    readonly breaker: CircuitBreaker,
    private readonly tracing: RouteTracing | undefined = undefined,
    private readonly anomaly: RouterOptions['anomaly'] = undefined,
  ) {
    if (anomaly !== undefined) this.baseline = new LatencyBaseline(name, anomaly.options);
  }

  /** Send-latency baseline (absent when anomaly detection is off). */
  private readonly baseline: LatencyBaseline | undefined;

  /** True while the send latency is far past its baseline. */
  get degraded(): boolean {
    return this.baseline?.degraded ?? false;
  }

  observe(latencyMs: number): void {
    this.latencyEwma =
      this.latencyEwma === 0 ? latencyMs : this.latencyEwma * 0.9 + latencyMs * 0.1;
    if (this.baseline !== undefined) {
      const report = this.baseline.observe(latencyMs);
      if (report !== undefined) this.anomaly!.report(this, report);
    }
  }

  /**
   * Hand `envelope` to the adapter, refusing it first when it is larger than
   * the adapter's `capabilities.maxPayloadBytes`. The limit is read on every
   * send, so an adapter that learns it at connect (a NATS server announces
   * its `max_payload`) only has to update its capabilities.
   */
  send(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const tracing = this.tracing;
    if (tracing?.traced(envelope)) {
      return tracing.hop(this.name, envelope, (env) => this.hand(env));
    }
    return this.hand(envelope);
  }

  private hand(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const limit = this.adapter.capabilities.maxPayloadBytes;
    if (limit !== undefined) {
      const err = oversize(envelope, limit, this.name);
      if (err !== undefined) return Promise.reject(err);
    }
    return this.adapter.send(envelope);
  }

  honours(guarantee: DeliveryGuarantee, kind: Envelope['kind']): boolean {
    const caps = this.adapter.capabilities;
    if (kind === 'event') {
      if (!caps.broadcast) return false;
      // A kept event needs topics that keep it: a transport that only fans
      // out (Pub/Sub) would deliver it best-effort, a silent downgrade.
      if (guarantee !== BEST_EFFORT && caps.durableTopics !== true) return false;
    }
    return caps.guarantees.includes(guarantee);
  }

  get available(): boolean {
    return this.healthy && this.breaker.state !== 'open';
  }
}

/**
 * The envelope's size as the JSON codec encodes it (what the wire adapters
 * send), when it is above `limit`: a typed, non-retryable refusal naming the
 * adapter and its limit. Only adapters that declare a limit pay for the encode.
 */
function oversize(
  envelope: UnifiedMessage | UnifiedEvent,
  limit: number,
  adapter: string,
): InvalidMessageError | undefined {
  const size = Buffer.byteLength(jsonCodec.encode(envelope));
  if (size <= limit) return undefined;
  const field = envelope.kind === 'message' ? 'payload' : 'data';
  return new InvalidMessageError(
    'too_large',
    field,
    `[hub] ${envelope.id} is ${size} bytes encoded, over the limit of ${limit} bytes of adapter "${adapter}" (capabilities.maxPayloadBytes)`,
  );
}

/** What a refused envelope needed, for the HUB_GUARANTEE_UNSUPPORTED message. */
function describeNeed(kind: Envelope['kind'], guarantee: DeliveryGuarantee): string {
  if (kind === 'message') return `deliveryGuarantee "${guarantee}"`;
  if (guarantee === BEST_EFFORT) return 'broadcast events';
  return `events with deliveryGuarantee "${guarantee}" (needs durable topics: capabilities.durableTopics)`;
}

/** What the router decided for one envelope. */
export interface RouteDecision {
  readonly strategy: RoutingStrategy;
  /** Candidates in the order to try (broadcast: all of them). */
  readonly targets: readonly RouteTarget[];
}

export interface RouterOptions {
  defaultStrategy: RoutingStrategy;
  rules: readonly RouteRule[];
  /** Per message type: adapters in preference order. */
  messageTypeRoutes: Readonly<Record<string, readonly string[]>>;
  breaker: CircuitBreakerOptions;
  /** Route and hop spans of traced sends. */
  tracing?: RouteTracing | undefined;
  /** Latency baselines per adapter, and where a departure or recovery is reported. */
  anomaly?:
    | { options: AnomalyOptions; report(target: RouteTarget, report: AnomalyReport): void }
    | undefined;
}

interface CompiledRule {
  readonly rule: RouteRule;
  readonly order: number;
}

const BEST_EFFORT: DeliveryGuarantee = 'best-effort';

/**
 * Picks adapters for an envelope by rule, capability, health and strategy.
 * Decisions are cached and rebuilt only when an adapter, a circuit or a
 * health flag changes (and once a second for latency order), so a send pays
 * a lookup. With no matching rule and no type preference (the common case)
 * the lookup is an array index: no key string is built.
 */
export class Router {
  private readonly targets = new Map<string, RouteTarget>();
  private readonly exact = new Map<string, CompiledRule>();
  private readonly patterns = new TopicMatcher<CompiledRule>();
  private readonly hasRules: boolean;
  /** Own map, not the config object: a type named `constructor` must not find Object.prototype. */
  private readonly typeRoutes: Map<string, readonly string[]>;
  private readonly cache = new Map<string, RouteDecision | HubError>();
  /** Decisions with no rule and no type preference, by guarantee (messages) and for events. */
  private readonly plain = new Map<DeliveryGuarantee, RouteDecision>();
  /**
   * The plain message decision last used, and its guarantee: a hub mostly
   * sends one guarantee after another, and a field compare is cheaper than
   * the map lookup on every send.
   */
  private lastGuarantee: DeliveryGuarantee | undefined;
  private lastPlain: RouteDecision | undefined;
  private plainEvent: RouteDecision | HubError | undefined;
  /** Plain decisions for events that ask more than best-effort, per guarantee. */
  private readonly plainDurable = new Map<DeliveryGuarantee, RouteDecision | HubError>();
  private readonly rr = new Map<string, number>();
  private readonly plainRr = new Map<string, number>();
  /** Clock time the cached decisions must be rebuilt by (latency refresh, or an open circuit's probe time). */
  private refreshAt = 0;
  private tick = 0;

  constructor(
    private readonly registry: AdapterRegistry,
    private readonly opts: RouterOptions,
  ) {
    opts.rules.forEach((rule, order) => {
      const compiled = { rule, order };
      if (rule.match.includes('*') || rule.match.includes('#')) {
        this.patterns.add(rule.match, compiled);
      } else if (!this.exact.has(rule.match)) {
        this.exact.set(rule.match, compiled);
      }
    });
    this.hasRules = opts.rules.length > 0;
    this.typeRoutes = new Map(Object.entries(opts.messageTypeRoutes));
    for (const { name, adapter } of registry.list()) this.addTarget(name, adapter);
    registry.on('added', (name, adapter) => this.addTarget(name, adapter));
    registry.on('removed', (name) => {
      this.targets.delete(name);
      this.invalidate();
    });
  }

  target(name: string): RouteTarget | undefined {
    return this.targets.get(name);
  }

  allTargets(): RouteTarget[] {
    return [...this.targets.values()];
  }

  /** Drop cached decisions (adapter set, health or circuit changed). */
  invalidate(): void {
    this.cache.clear();
    this.plain.clear();
    this.lastGuarantee = undefined;
    this.lastPlain = undefined;
    this.plainEvent = undefined;
    this.plainDurable.clear();
  }

  /** Decide where `envelope` goes; throws a typed HubError when nothing can honour it. */
  route(envelope: UnifiedMessage | UnifiedEvent): RouteDecision {
    const tracing = this.opts.tracing;
    if (tracing?.traced(envelope)) {
      return tracing.route(envelope, () => this.decideRoute(envelope));
    }
    return this.decideRoute(envelope);
  }

  private decideRoute(envelope: UnifiedMessage | UnifiedEvent): RouteDecision {
    // Latency order moves slowly, and an open circuit turns half-open only when
    // its clock is read: rebuild once a second, or at the earliest probe time.
    // The clock is read on one route in 16 (a read costs as much as the rest of routing).
    if ((++this.tick & 15) === 0) {
      const now = Date.now();
      if (now >= this.refreshAt) {
        this.refreshAt = now + 1000;
        this.invalidate();
      }
    }
    const isEvent = envelope.kind === 'event';
    const rule = this.hasRules
      ? this.findRule(isEvent ? envelope.topic : envelope.destination, envelope.kind)
      : undefined;
    const typePrefs =
      isEvent || rule !== undefined || this.typeRoutes.size === 0
        ? undefined
        : this.typeRoutes.get(envelope.type);
    if (rule === undefined && typePrefs === undefined) return this.routePlain(envelope);

    const address = isEvent ? envelope.topic : envelope.destination;
    const guarantee = envelope.deliveryGuarantee ?? BEST_EFFORT;
    const key = `${rule ? rule.order : -1}|${rule ? '' : envelope.type}|${guarantee}|${envelope.kind}`;
    let decision = this.cache.get(key);
    if (decision === undefined) {
      decision = this.decide(rule?.rule, typePrefs, guarantee, envelope.kind, address);
      if (!(decision instanceof HubError)) this.cache.set(key, decision);
    }
    if (decision instanceof HubError) throw decision;
    if (decision.strategy === RoutingStrategy.ROUND_ROBIN && decision.targets.length > 1) {
      return this.rotate(this.rr, key, decision);
    }
    return decision;
  }

  private routePlain(envelope: UnifiedMessage | UnifiedEvent): RouteDecision {
    let decision: RouteDecision | HubError | undefined;
    if (
      envelope.kind === 'event' &&
      envelope.deliveryGuarantee !== undefined &&
      envelope.deliveryGuarantee !== BEST_EFFORT
    ) {
      const g = envelope.deliveryGuarantee;
      decision = this.plainDurable.get(g);
      if (decision === undefined) {
        decision = this.decide(undefined, undefined, g, 'event', envelope.topic);
        if (!(decision instanceof HubError)) this.plainDurable.set(g, decision);
      }
    } else if (envelope.kind === 'event') {
      decision = this.plainEvent;
      if (decision === undefined) {
        decision = this.decide(undefined, undefined, BEST_EFFORT, 'event', envelope.topic);
        // An error names the address: not reusable for other addresses.
        if (!(decision instanceof HubError)) this.plainEvent = decision;
      }
    } else {
      const g = envelope.deliveryGuarantee;
      let plain = g === this.lastGuarantee ? this.lastPlain : this.plain.get(g);
      if (plain === undefined) {
        const fresh = this.decide(undefined, undefined, g, 'message', envelope.destination);
        // An error names the address: not reusable for other addresses.
        if (fresh instanceof HubError) throw fresh;
        this.plain.set(g, fresh);
        plain = fresh;
      }
      this.lastGuarantee = g;
      this.lastPlain = plain;
      decision = plain;
    }
    if (decision instanceof HubError) throw decision;
    if (decision.strategy === RoutingStrategy.ROUND_ROBIN && decision.targets.length > 1) {
      return this.rotate(
        this.plainRr,
        envelope.kind === 'event'
          ? `event|${envelope.deliveryGuarantee ?? ''}`
          : envelope.deliveryGuarantee,
        decision,
      );
    }
    return decision;
  }

  private addTarget(name: string, adapter: ProtocolAdapter): void {
    const breaker = new CircuitBreaker(name, this.opts.breaker);
    breaker.onStateChange(() => this.invalidate());
    this.targets.set(
      name,
      new RouteTarget(name, adapter, breaker, this.opts.tracing, this.opts.anomaly),
    );
    this.invalidate();
  }

  private findRule(address: string, kind: Envelope['kind']): CompiledRule | undefined {
    const exact = this.exact.get(address);
    if (exact && (exact.rule.kind === undefined || exact.rule.kind === kind)) return exact;
    let best: CompiledRule | undefined;
    this.patterns.forEachMatch(address, (compiled) => {
      if (compiled.rule.kind !== undefined && compiled.rule.kind !== kind) return;
      if (!best || compiled.order < best.order) best = compiled;
    });
    return best;
  }

  private decide(
    rule: RouteRule | undefined,
    typePrefs: readonly string[] | undefined,
    guarantee: DeliveryGuarantee,
    kind: Envelope['kind'],
    address: string,
  ): RouteDecision | HubError {
    const strategy = rule?.strategy ?? this.opts.defaultStrategy;
    const named = rule?.adapters ?? typePrefs;
    let pool: RouteTarget[];
    if (named) {
      pool = [];
      for (const n of named) {
        const t = this.targets.get(this.registry.resolveName(n));
        if (t) pool.push(t);
      }
      // Preferences widen to every adapter unless the strategy pins them.
      if (!rule?.adapters && strategy !== RoutingStrategy.PROTOCOL_SPECIFIC) {
        for (const t of this.targets.values()) if (!pool.includes(t)) pool.push(t);
      }
    } else {
      pool = [...this.targets.values()];
    }
    if (pool.length === 0) {
      return new HubError(
        ErrorCode.NO_ROUTE,
        `[hub:router] no adapter for ${kind} "${address}"${named ? ` (named: ${named.join(', ')})` : ''}`,
      );
    }
    const capable = pool.filter((t) => t.honours(guarantee, kind));
    if (capable.length === 0) {
      return new HubError(
        ErrorCode.GUARANTEE_UNSUPPORTED,
        `[hub:router] no adapter honours ${describeNeed(kind, guarantee)} for "${address}" (adapters: ${pool.map((t) => t.name).join(', ')})`,
      );
    }
    const available: RouteTarget[] = [];
    for (const t of capable) {
      if (t.available) available.push(t);
      else {
        const probeAt = t.breaker.snapshot().nextProbeAt;
        if (probeAt !== undefined && probeAt < this.refreshAt) this.refreshAt = probeAt;
      }
    }
    if (available.length === 0) {
      return new HubError(
        ErrorCode.CIRCUIT_OPEN,
        `[hub:router] every adapter able to carry "${address}" is unhealthy or has an open circuit (${capable.map((t) => `${t.name}: ${t.breaker.state}${t.healthy ? '' : ', unhealthy'}`).join('; ')})`,
      );
    }
    if (strategy === RoutingStrategy.AUTOMATIC) {
      // Stable sort: equal latency keeps registration / preference order.
      available.sort((a, b) => a.latencyEwma - b.latencyEwma);
    }
    return { strategy, targets: available };
  }

  private rotate<K>(counters: Map<K, number>, key: K, decision: RouteDecision): RouteDecision {
    const n = decision.targets.length;
    const i = ((counters.get(key) ?? -1) + 1) % n;
    counters.set(key, i);
    if (i === 0) return decision;
    return {
      strategy: decision.strategy,
      targets: [...decision.targets.slice(i), ...decision.targets.slice(0, i)],
    };
  }
}
