import {
  type DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  InvalidMessageError,
  isRetryable,
  jsonCodec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { BaseAdapter } from '../adapter/base.js';
import type { ProtocolAdapter, SendResult } from '../adapter/contract.js';
import { RoutingStrategy } from '../common/types.js';
import { TopicMatcher } from '../event-bus/pattern.js';
import {
  type AnomalyOptions,
  type AnomalyReport,
  ErrorRateBaseline,
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

/** Destinations given baselines of their own, per adapter; more are judged only in the adapter's. */
export const MAX_TRACKED_DESTINATIONS = 256;

/** The baselines of one destination on one adapter. */
interface DestinationBaselines {
  readonly latency: LatencyBaseline;
  readonly errors: ErrorRateBaseline;
}

/** One departure from a baseline in effect now. */
export interface Departure {
  metric: AnomalyReport['metric'];
  /** Absent for the adapter's sends as a whole. */
  destination?: string;
}

/**
 * Latency a send is weighed with at least (ms). Below a few milliseconds the
 * measured send time is mostly the event loop's own jitter (a batch of sends
 * issued together, a GC pause), not the transport's: weighing it would let
 * noise outvote a real queue. Above it, a slower transport weighs more per
 * queued send. (The cached decision still orders candidates by latency,
 * finer than this, and equal costs keep that order.)
 */
const LATENCY_FLOOR_MS = 5;

const addressOf = (env: UnifiedMessage | UnifiedEvent): string =>
  env.kind === 'event' ? env.topic : env.destination;

/**
 * The router's view of one adapter: the adapter, its breaker, its observed
 * latency and load, and its baselines.
 */
/** The `send` every `BaseAdapter` has unless a subclass or a test replaced it. */
const BASE_SEND = BaseAdapter.prototype.send;

export class RouteTarget {
  /** Exponentially weighted send latency in ms; 0 until observed. */
  latencyEwma = 0;
  /** Set by the health monitor and by the adapter's own state reports. */
  healthy = true;
  /** Sends handed to the adapter that have not settled yet (accepted or failed). */
  outstanding = 0;
  /**
   * Work the adapter reports accepted and not yet handled (its `backlog()`:
   * queued deliveries, stream lag); refreshed by the router while it weighs
   * load, and at scrape time. 0 when the adapter reports none.
   */
  backlog = 0;
  /** Adapter-wide baselines (absent when anomaly detection is off). */
  private readonly latency: LatencyBaseline | undefined;
  private readonly errors: ErrorRateBaseline | undefined;
  /** Per-destination baselines, bounded by {@link MAX_TRACKED_DESTINATIONS}. */
  private readonly destinations: Map<string, DestinationBaselines> | undefined;
  /** Baselines departed now (adapter-wide and per destination). */
  private departed = 0;

  constructor(
    readonly name: string,
    readonly adapter: ProtocolAdapter,
    readonly breaker: CircuitBreaker,
    private readonly tracing: RouteTracing | undefined = undefined,
    private readonly anomaly: RouterOptions['anomaly'] = undefined,
  ) {
    if (anomaly !== undefined) {
      this.latency = new LatencyBaseline(name, anomaly.options);
      this.errors = new ErrorRateBaseline(name, anomaly.options);
      this.destinations = new Map();
    }
  }

  /** True while the send latency or error rate (of the adapter or one of its destinations) is far past its baseline. */
  get degraded(): boolean {
    return this.departed > 0;
  }

  /** Recent share of send attempts that failed on the way (0..1); 0 when anomaly detection is off. */
  get errorRate(): number {
    return this.errors?.recent ?? 0;
  }

  /** The departures in effect now. */
  departures(): Departure[] {
    const out: Departure[] = [];
    if (this.departed === 0) return out;
    if (this.latency?.degraded) out.push({ metric: 'send-latency' });
    if (this.errors?.degraded) out.push({ metric: 'error-rate' });
    for (const [destination, b] of this.destinations ?? []) {
      if (b.latency.degraded) out.push({ metric: 'send-latency', destination });
      if (b.errors.degraded) out.push({ metric: 'error-rate', destination });
    }
    return out;
  }

  /** Re-read the adapter's backlog (an adapter whose `backlog()` throws reports none). */
  refreshBacklog(): void {
    const read = this.adapter.backlog;
    if (read === undefined) return;
    try {
      const n = read.call(this.adapter);
      this.backlog = Number.isFinite(n) && n > 0 ? n : 0;
    } catch {
      this.backlog = 0;
    }
  }

  /**
   * A send's expected wait here, for least-outstanding-work routing: the work
   * ahead of it (sends not settled, backlog the adapter reports, and itself)
   * times the observed send latency (at least {@link LATENCY_FLOOR_MS}).
   * Equal costs keep the latency order of the cached decision.
   */
  cost(): number {
    return (1 + this.outstanding + this.backlog) * Math.max(this.latencyEwma, LATENCY_FLOOR_MS);
  }

  /** A send accepted without a transport round trip (the direct local path): latency only. */
  observe(latencyMs: number): void {
    this.latencyEwma =
      this.latencyEwma === 0 ? latencyMs : this.latencyEwma * 0.9 + latencyMs * 0.1;
    if (this.latency !== undefined) {
      this.judge(this.latency.observe(latencyMs));
      this.judge(this.errors!.observe(false));
    }
  }

  /** A send made through {@link send} was accepted after `latencyMs`. */
  succeeded(envelope: UnifiedMessage | UnifiedEvent, latencyMs: number): void {
    this.outstanding--;
    this.observe(latencyMs);
    const b = this.destinationBaselines(envelope);
    if (b === undefined) return;
    // While the adapter as a whole has departed, its destinations would all
    // follow: they hold, so one slowdown is one event, not one per destination.
    this.judge(b.latency.observe(latencyMs, this.latency!.degraded));
    this.judge(b.errors.observe(false, this.errors!.degraded));
  }

  /**
   * A send made through {@link send} failed. Only a failure on the way (a
   * retryable error, as the circuit breaker counts it) feeds the error rate:
   * a refused envelope means the transport answered.
   */
  failed(envelope: UnifiedMessage | UnifiedEvent, err: unknown): void {
    this.outstanding--;
    if (this.errors === undefined || !isRetryable(err)) return;
    this.judge(this.errors.observe(true));
    const b = this.destinationBaselines(envelope);
    if (b !== undefined) this.judge(b.errors.observe(true, this.errors.degraded));
  }

  private destinationBaselines(
    envelope: UnifiedMessage | UnifiedEvent,
  ): DestinationBaselines | undefined {
    const map = this.destinations;
    if (map === undefined) return undefined;
    const address = addressOf(envelope);
    let b = map.get(address);
    if (b === undefined) {
      if (map.size >= MAX_TRACKED_DESTINATIONS) return undefined;
      const options = this.anomaly!.options;
      b = {
        latency: new LatencyBaseline(this.name, options, address),
        errors: new ErrorRateBaseline(this.name, options, address),
      };
      map.set(address, b);
    }
    return b;
  }

  private judge(report: AnomalyReport | undefined): void {
    if (report === undefined) return;
    this.departed += report.state === 'degraded' ? 1 : -1;
    this.anomaly!.report(this, report);
  }

  /**
   * Hand `envelope` to the adapter, refusing it first when it is larger than
   * the adapter's `capabilities.maxPayloadBytes`. The limit is read on every
   * send, so an adapter that learns it at connect (a NATS server announces
   * its `max_payload`) only has to update its capabilities. The caller
   * settles it with {@link succeeded} or {@link failed}.
   */
  send(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    this.outstanding++;
    const tracing = this.tracing;
    if (tracing?.traced(envelope)) {
      return tracing.hop(this.name, envelope, (env) => this.hand(env));
    }
    return this.hand(envelope);
  }

  /**
   * {@link send}, with an acceptance the adapter made synchronously returned
   * as the bare result (see `BaseAdapter.sendEager`). An adapter that is not
   * a `BaseAdapter`, or whose `send` was replaced, and a traced hop take
   * `send`'s way.
   */
  sendEager(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> | SendResult {
    const adapter = this.adapter;
    if (
      !(adapter instanceof BaseAdapter) ||
      adapter.send !== BASE_SEND ||
      this.tracing?.traced(envelope) === true
    ) {
      return this.send(envelope);
    }
    this.outstanding++;
    const limit = adapter.capabilities.maxPayloadBytes;
    if (limit !== undefined) {
      const err = oversize(envelope, limit, this.name);
      if (err !== undefined) return Promise.reject(err);
    }
    return adapter.sendEager(envelope);
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
 * The automatic strategy orders candidates by observed latency and then puts
 * first the one with the least outstanding work (sends in flight and backlog,
 * weighed by latency), so a slow transport gets less. Decisions are cached and rebuilt only when an adapter, a circuit or a
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
  /** Load-weighed choices made (backlogs are re-read every 64). */
  private loadTick = 0;

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
    if (decision.targets.length > 1) {
      if (decision.strategy === RoutingStrategy.AUTOMATIC) return this.leastLoaded(decision);
      if (decision.strategy === RoutingStrategy.ROUND_ROBIN) {
        return this.rotate(this.rr, key, decision);
      }
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
    if (decision.targets.length === 1) return decision;
    if (decision.strategy === RoutingStrategy.AUTOMATIC) return this.leastLoaded(decision);
    if (decision.strategy === RoutingStrategy.ROUND_ROBIN) {
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

  /**
   * Least outstanding work: of the candidates (in latency order), the one
   * whose {@link RouteTarget.cost} is lowest goes first; the rest keep their
   * order for failover. Only a choice among several pays for it.
   */
  private leastLoaded(decision: RouteDecision): RouteDecision {
    const ts = decision.targets;
    // Backlogs are re-read on one choice in 64: a read walks the adapter's queues.
    if ((this.loadTick++ & 63) === 0) for (const t of ts) t.refreshBacklog();
    let best = 0;
    let bestCost = ts[0]!.cost();
    for (let i = 1; i < ts.length; i++) {
      const c = ts[i]!.cost();
      if (c < bestCost) {
        best = i;
        bestCost = c;
      }
    }
    if (best === 0) return decision;
    const targets = ts.slice();
    targets.splice(best, 1);
    targets.unshift(ts[best]!);
    return { strategy: decision.strategy, targets };
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
