import {
  createEvent,
  DEFAULT_LIMITS,
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  MessageType,
  type Priority,
  type UnifiedEvent,
  type UnifiedMessage,
  type ValidateOptions,
  validateEvent,
  validateMessage,
} from '@hub/protocol';
import { EventEmitter } from 'eventemitter3';
import {
  type AdapterContext,
  type DeadLetterEntry,
  deadLetterReader,
  type ProtocolAdapter,
} from '../adapter/contract.js';
import { memory } from '../adapters/memory.js';
import { perf } from '../common/clock.js';
import type { DedupStore } from '../delivery/dedup.js';
import { MemoryDedupStore } from '../delivery/memory-dedup.js';
import type { ConsumerHost } from '../delivery/receive-pipeline.js';
import { EventHistory } from '../event-bus/history.js';
import { validatePattern } from '../event-bus/pattern.js';
import { consoleLogger, type Logger } from '../logger.js';
import type { AnomalyReport } from '../observability/anomaly.js';
import { messageMeta } from '../observability/log-meta.js';
import type { PromCollectorOptions, PromRegistry } from '../observability/prometheus.js';
import { HubTracing } from '../observability/tracing.js';
import { AdapterRegistry, isAdapterFactory } from '../registry/registry.js';
import type { CircuitState } from '../resilience/circuit-breaker.js';
import { sleep } from '../resilience/retry.js';
import { Router, type RouteTarget } from '../router/router.js';
import { HubSecurity } from '../security/security.js';
import { checkConsumeCall, checkRequestOptions, optionsError } from './call-options.js';
import { type CommunicationConfig, validateConfig } from './config.js';
import { HubConsumers } from './consumers.js';
import { LocalCall, LocalCalls } from './local-call.js';
import { HubMetrics } from './metrics.js';
import { composeInbound, composeOutbound } from './middleware.js';
import { type DetailedMetrics, type HealthSource, type HealthStatus, HubReport } from './report.js';
import { RequestReply } from './request-reply.js';
import { SendPipeline } from './send-pipeline.js';
import {
  type ConsumeOptions,
  type EventHandler,
  type HandlerContext,
  type HubState,
  type MessageHandler,
  type MessageResult,
  RoutingStrategy,
  type SubscribeOptions,
  type Unsubscribe,
} from './types.js';

/**
 * The send path checks every envelope field but not the payload: an in-process
 * transport carries the object as is, and a wire transport's codec walks the
 * payload once as it encodes, enforcing the same limits there.
 */
const SKIP_PAYLOAD: ValidateOptions = { payload: false };
/** Topic of `broadcastNotification` events. */
export const NOTIFICATION_TOPIC = 'hub.notifications';
/** Topic prefix of `sendHeartbeat` events: `hub.heartbeat.<agentId>`. */
export const HEARTBEAT_TOPIC_PREFIX = 'hub.heartbeat';

export interface HubEvents {
  /** An adapter or background task failed; the hub goes on. */
  error: (error: Error) => void;
  /** A message was moved to a dead-letter queue. */
  deadLetter: (envelope: Envelope, reason: string, attempts: number) => void;
  /** A circuit changed state. */
  circuit: (adapter: string, state: CircuitState) => void;
  /** An adapter's health flag changed. */
  health: (adapter: string, healthy: boolean) => void;
  /**
   * An adapter's (or one of its destinations') send latency or error rate
   * departed from its baseline (`degraded`) or came back (`recovered`).
   */
  anomaly: (report: AnomalyReport) => void;
}

export interface BroadcastNotificationInput<T = unknown> {
  fromSource: string;
  notificationData: T;
  priority?: Priority;
  /** @default NOTIFICATION_TOPIC */
  topic?: string;
}

export interface HeartbeatInput<T = unknown> {
  agentId: string;
  statusData?: T;
}

export interface RequestOptions {
  /** @default config.messageTimeoutMs */
  timeoutMs?: number;
}

export interface CloseOptions {
  /** How long to wait for running handlers and sends. @default config.drainTimeoutMs (10_000) */
  drainTimeoutMs?: number;
}

/** The delivery of a handler run is a request of the direct local path (its context is the consumer's job). */
const takenDirect = (ctx: HandlerContext): boolean =>
  (ctx as { readonly delivery?: unknown }).delivery instanceof LocalCall;

/**
 * The hub: one API over every registered transport. Routing, guarantees,
 * retries, circuit breakers, dedup, ordering, priorities, metrics and health
 * live here; adapters only move envelopes.
 */
export class Hub extends EventEmitter<HubEvents> implements AsyncDisposable {
  readonly name: string;
  /** Unique per hub instance; adapters use it as the consumer name. */
  readonly instanceId: string;
  /** The adapter registry. */
  readonly adapters = new AdapterRegistry();
  readonly logger: Logger;

  private _state: HubState = 'idle';
  private startPromise: Promise<void> | undefined;
  private closePromise: Promise<void> | undefined;
  private readonly config: CommunicationConfig;
  private readonly router: Router;
  private readonly metricsImpl: HubMetrics;
  private readonly history: EventHistory | undefined;
  /** Id of the event last written to the history. */
  private lastRecorded: string | undefined;
  private readonly consumers: HubConsumers;
  private readonly report: HubReport;
  /** The direct local path of request/reply; undefined when middleware is configured. */
  private readonly local: LocalCalls | undefined;
  private readonly pipeline: SendPipeline;
  private readonly requests: RequestReply;
  private healthTimer: ReturnType<typeof setInterval> | undefined;
  private readonly connected = new Set<string>();
  private readonly messageTimeoutMs: number;
  private readonly consumerHost: ConsumerHost;
  private readonly dedup: DedupStore;
  /** Authorization, identity and envelope protection; undefined without `security` in the config. */
  readonly security: HubSecurity | undefined;
  private readonly tracing: HubTracing;

  constructor(config: CommunicationConfig = {}) {
    super();
    validateConfig(config);
    this.config = config;
    this.name = config.name ?? 'hub';
    // the Web Crypto global (Node 20 and browsers): the core has no Node-only import
    this.instanceId = `${this.name}-${globalThis.crypto.randomUUID().slice(0, 8)}`;
    this.logger = config.logger ?? consoleLogger;
    this.messageTimeoutMs = config.messageTimeoutMs ?? 30_000;
    this.metricsImpl = new HubMetrics(config.enableMetrics !== false);
    this.history = config.history === false ? undefined : new EventHistory(config.history ?? {});
    this.dedup = config.dedup?.store ?? new MemoryDedupStore();
    const security =
      config.security === undefined
        ? undefined
        : new HubSecurity(config.security, this.name, this.logger);
    this.security = security;
    const middleware = security?.wrap(config.middleware ?? []) ?? config.middleware ?? [];
    const inbound = composeInbound(middleware);
    // Security with nothing to check on arrival (no policy, protection or
    // replay window yet) stays out of the receive path.
    const idleInbound =
      security === undefined
        ? inbound
        : composeInbound(security.wrap(config.middleware ?? [], false));

    (config.adapters ?? [memory()]).forEach((entry, i) => {
      try {
        if (isAdapterFactory(entry)) {
          this.adapters.registerFactory(entry);
          const key = entry.configKey;
          const settings =
            (key ? (config as Record<string, unknown>)[key] : undefined) ??
            config.adapterConfig?.[entry.name];
          this.adapters.register(entry.create(settings), entry.name);
        } else {
          this.adapters.register(entry as ProtocolAdapter);
        }
      } catch (err) {
        const why = err instanceof Error ? err.message.replace(/^\[[^\]]*\]\s*/, '') : String(err);
        throw new HubError(
          ErrorCode.INVALID_CONFIG,
          `[hub:config] adapters[${i}] is invalid: ${why}`,
          {
            cause: err,
          },
        );
      }
    });

    this.tracing = new HubTracing(config.enableTracing !== false, this.name);
    this.router = new Router(this.adapters, {
      tracing: config.enableTracing === false ? undefined : this.tracing,
      anomaly:
        config.anomalyDetection === false
          ? undefined
          : {
              options: config.anomalyDetection ?? {},
              report: (_target, report) => this.onAnomaly(report),
            },
      defaultStrategy: config.defaultRoutingStrategy ?? RoutingStrategy.AUTOMATIC,
      rules: config.routes ?? [],
      messageTypeRoutes: config.messageTypeRoutes ?? {},
      breaker: config.circuitBreaker ?? {},
    });
    this.pipeline = new SendPipeline({
      name: this.name,
      router: this.router,
      metrics: this.metricsImpl,
      maxConcurrent: config.maxConcurrentMessages ?? 10_000,
      overload: config.overload ?? 'wait',
      sendAttempts: config.sendRetry?.maxAttempts ?? 3,
      sendBackoff: { initialDelayMs: 20, maxDelayMs: 1_000, ...config.sendRetry },
      outbound: composeOutbound(middleware),
    });
    this.requests = new RequestReply({
      instanceId: this.instanceId,
      logger: this.logger,
      timeoutMs: this.messageTimeoutMs,
      serve: (address, handler, options) => this.onMessage(address, handler, options),
      sendRequest: (message, at, waiting) =>
        this.local !== undefined &&
        message.deliveryGuarantee === DeliveryGuarantee.BEST_EFFORT &&
        this._state === 'running' &&
        this.local.trySend(message, at, waiting)
          ? undefined
          : this.sendBuilt(message),
      // Inbound middleware may have changed the request the reply is built from.
      sendReply: (reply) =>
        this.consumerHost.inbound === undefined ? this.sendBuilt(reply) : this.send(reply),
      lateReply: () => {
        this.metricsImpl.totals.lateReplies++;
      },
    });
    for (const t of this.router.allTargets()) this.watchTarget(t);
    this.adapters.on('added', (name, adapter) => this.onAdapterAdded(name, adapter));
    this.adapters.on('removed', (name) => this.onAdapterRemoved(name));

    const self = this;
    const consumerHost: Omit<ConsumerHost, 'inbound'> = {
      logger: this.logger,
      dedup: this.dedup,
      dedupWindowMs: config.dedup?.windowMs ?? 600_000,
      dedupLeaseMs: config.dedup?.leaseMs ?? 30_000,
      retryBackoff: { initialDelayMs: 50, maxDelayMs: 5_000, ...config.retry },
      // A reply is a child of the span that handled its request.
      reply: (request, payload, delivery) => {
        if (delivery instanceof LocalCall) {
          const direct = this.local?.reply(delivery, payload);
          // Handed back at once: no promise for the consumer to catch.
          if (direct !== undefined) return direct === true ? undefined : direct;
        }
        return this.tracing.replyUnder(request, () => this.requests.reply(request, payload));
      },
      observer: {
        delivered(env) {
          self.metricsImpl.delivered(env);
          // One publish fans out to many subscriptions in a row: record it once.
          if (env.kind === 'event' && env.id !== self.lastRecorded) self.recordEvent(env);
        },
        acked: (env, adapter, ms) => this.metricsImpl.acked(env, adapter, ms),
        failed: (env, _adapter, err, attempt) => {
          this.metricsImpl.failed(env);
          this.logger.debug(
            `[hub] handler failed for ${env.id} (attempt ${attempt})`,
            messageMeta(env, { attempt, error: String(err) }),
          );
        },
        retried: () => this.metricsImpl.retried(),
        deadLettered: (env, _adapter, reason, attempts) => {
          this.metricsImpl.deadLettered(env);
          this.logger.warn(
            `[hub] ${env.id} dead-lettered after ${attempts} attempts: ${reason}`,
            messageMeta(env, { attempts, reason }),
          );
          this.safeEmit('deadLetter', env, reason, attempts);
        },
        duplicate: () => this.metricsImpl.duplicate(),
        expired: () => this.metricsImpl.expired(),
      },
    };
    // Added after the literal, not written in it as `get inbound()`: V8 makes
    // an object literal with an accessor a dictionary, and every read of the
    // host by a consumer (its observer and reply, on each delivery) was then a
    // generic property lookup (~90 instructions each, about 2% of an
    // in-process request). Defined on the object it stays a fast one.
    Object.defineProperty(consumerHost, 'inbound', {
      get: () => (security?.checksArrivals === false ? idleInbound : inbound),
      enumerable: true,
      configurable: true,
    });
    this.consumerHost = consumerHost as ConsumerHost;
    this.consumers = new HubConsumers({
      name: this.name,
      adapters: this.adapters,
      consumerHost: this.consumerHost,
      logger: this.logger,
      running: () => this._state === 'running',
      closed: () => this._state === 'closing' || this._state === 'closed',
      // A request on the direct local path was taken while tracing was off and
      // makes no spans (see LocalCalls): its handler run makes none either.
      wrapHandler: (handler) => this.tracing.wrapHandler(handler, takenDirect),
      maxDeliveries: config.maxDeliveries ?? 5,
      drainTimeoutMs: config.drainTimeoutMs ?? 10_000,
      rejected: () => {
        this.metricsImpl.totals.rejected++;
      },
    });
    this.report = new HubReport({
      name: this.name,
      startedAt: Date.now(),
      logger: this.logger,
      router: this.router,
      metrics: this.metricsImpl,
      consumers: this.consumers,
      connected: this.connected,
      state: () => this._state,
      inFlight: () => this.pipeline.inFlight,
      healthChanged: (adapter, healthy) => this.safeEmit('health', adapter, healthy),
    });
    if (security !== undefined) {
      this.report.addSource('security', {
        health: () => ({ healthy: true }),
        metrics: () => security.metrics(),
      });
    }
    // Middleware sees every envelope on its way: with any, requests take the normal path.
    if (middleware.length === 0) {
      this.local = new LocalCalls({
        pipeline: this.pipeline,
        observer: this.consumerHost.observer,
        endpoint: (address) => this.consumers.endpoint(address),
        answer: (reply, waiting) => this.requests.answerWaiting(waiting, reply),
        buildReply: (request, payload) => this.requests.buildReply(request, payload),
        traced: () => this.tracing.on(),
      });
    }
  }

  /** The adapter registry (the established name). */
  get adapterRegistry(): AdapterRegistry {
    return this.adapters;
  }

  get state(): HubState {
    return this._state;
  }

  // ─── lifecycle ───────────────────────────────────────────────────────────

  /**
   * Connect every adapter and activate registered handlers. Rejects with a
   * HUB_CONNECTION_FAILED error naming each adapter that failed and why.
   */
  start(): Promise<void> {
    if (this._state === 'running' && this.startPromise === undefined) {
      // Running already: subscribe what a failed activation left out (idempotent).
      return this.consumers.activateAll();
    }
    if (this._state === 'closing' || this._state === 'closed') {
      return Promise.reject(new HubError(ErrorCode.CLOSED, `[hub] ${this.name} is closed`));
    }
    this.startPromise ??= this.doStart().then(
      () => {
        this.startPromise = undefined;
      },
      (err: unknown) => {
        this.startPromise = undefined;
        if (this._state === 'starting') this._state = 'idle';
        throw err;
      },
    );
    return this.startPromise;
  }

  /** Same as `start()`, but resolves to a boolean and logs why it failed instead of throwing. */
  async initialize(): Promise<boolean> {
    try {
      await this.start();
      return true;
    } catch (err) {
      this.logger.error(`[hub] ${this.name} failed to initialize: ${(err as Error).message}`);
      return false;
    }
  }

  private async doStart(): Promise<void> {
    this._state = 'starting';
    await this.tracing.init();
    // Adapters registered while we connect are connected in the next round.
    let list = this.adapters.list();
    let results = await Promise.allSettled(
      list.map(({ name, adapter }) => this.connectAdapter(name, adapter)),
    );
    for (;;) {
      const late = this.adapters.list().filter(({ name }) => !list.some((x) => x.name === name));
      if (late.length === 0) break;
      list = [...list, ...late];
      results = [
        ...results,
        ...(await Promise.allSettled(
          late.map(({ name, adapter }) => this.connectAdapter(name, adapter)),
        )),
      ];
    }
    const failures = results
      .map((r, i) =>
        r.status === 'rejected'
          ? `${list[i]!.name}: ${(r.reason as Error).message ?? r.reason}`
          : undefined,
      )
      .filter((x): x is string => x !== undefined);
    if (failures.length > 0) {
      // A cause that retrying cannot fix keeps its code when every failure has
      // it (HUB_AUTH_FAILED for a wrong password): callers match on err.code,
      // not on the cause chain. Anything else is HUB_CONNECTION_FAILED.
      const codes = new Set(
        results.map((r) => (r.status === 'rejected' ? (r.reason as { code?: unknown })?.code : '')),
      );
      codes.delete('');
      const [only] = codes;
      throw new HubError(
        codes.size === 1 && (only === ErrorCode.AUTH_FAILED || only === ErrorCode.INVALID_CONFIG)
          ? only
          : ErrorCode.CONNECTION_FAILED,
        `[hub] ${this.name} could not connect ${failures.length} adapter(s): ${failures.join('; ')}`,
        { cause: results.find((r) => r.status === 'rejected')?.reason },
      );
    }
    if (this.config.enableHealthMonitoring !== false) {
      const everyMs = (this.config.healthCheckInterval ?? 30) * 1000;
      this.healthTimer = setInterval(() => this.checkHealth(), everyMs);
      this.healthTimer.unref?.();
    }
    this._state = 'running';
    await this.consumers.activateAll();
    this.checkHealth();
  }

  private async connectAdapter(name: string, adapter: ProtocolAdapter): Promise<void> {
    if (this.connected.has(name)) return;
    const ctx: AdapterContext = {
      hubName: this.name,
      instanceId: this.instanceId,
      logger: this.logger,
      opensProtection: this.security?.opensProtection === true,
      sendTimeoutMs: this.messageTimeoutMs,
      reportError: (error) => {
        this.logger.error(error.message);
        this.safeEmit('error', error);
      },
      // A state change (a link lost or back) reroutes at once instead of
      // routing into a dead link until the next interval check.
      reportState: () => {
        const target = this.router.target(name);
        if (this._state === 'running' && target?.adapter === adapter)
          this.report.refreshHealth(target);
      },
    };
    await adapter.connect(ctx);
    this.connected.add(name);
  }

  /**
   * Stop intake, let running handlers and sends finish (up to the drain
   * timeout), release what is left for redelivery, close every adapter.
   * Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const invalid = optionsError('close', options);
    if (invalid) return Promise.reject(invalid);
    this.closePromise ??= this.doClose(
      options.drainTimeoutMs ?? this.config.drainTimeoutMs ?? 10_000,
    );
    return this.closePromise;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private async doClose(drainMs: number): Promise<void> {
    if (this.startPromise) await this.startPromise.catch(() => {});
    this._state = 'closing';
    if (this.healthTimer) clearInterval(this.healthTimer);
    const closed = new HubError(ErrorCode.CLOSED, `[hub] ${this.name} is closing`);
    this.pipeline.rejectWaiting(closed);
    const deadline = Date.now() + drainMs;
    await this.consumers.closeAll(drainMs);
    while (this.pipeline.inFlight > 0 && Date.now() < deadline) await sleep(5);
    this.requests.rejectAll(closed);
    await Promise.allSettled(this.adapters.list().map(({ adapter }) => adapter.close()));
    // A store the user passed in may be shared with other hubs: it is theirs to
    // close, unless they handed it to this hub (closeWithHub).
    if (this.config.dedup?.store === undefined || this.config.dedup.closeWithHub === true) {
      await Promise.resolve(this.dedup.close?.()).catch(() => {});
    }
    this._state = 'closed';
  }

  private async ensureRunning(): Promise<void> {
    if (this._state === 'running') return;
    if (this._state === 'closing' || this._state === 'closed') {
      throw new HubError(ErrorCode.CLOSED, `[hub] ${this.name} is closed`);
    }
    await this.start();
  }

  // ─── sending ─────────────────────────────────────────────────────────────

  /**
   * Send a message to its destination endpoint. Resolves once a transport has
   * accepted it (persisted, for persistent transports). Rejects with a typed
   * HubError: invalid input (naming the field), no route, a guarantee no
   * healthy adapter honours, overload, or the last transport failure.
   */
  send<T>(message: UnifiedMessage<T>): Promise<MessageResult> {
    // Not async: the hot path allocates one promise (dispatch's), not one per layer.
    if (this._state !== 'running') return this.ensureRunning().then(() => this.send(message));
    const refused = this.refuse(message);
    if (refused !== undefined) return refused;
    return this.dispatch(message);
  }

  /**
   * @internal `send` for the hub's gateways, which answer their client once
   * the hub has accepted a message (the HTTP endpoint's 202): the same
   * validation, routing, accounting and outcome, but an acceptance the
   * transport made synchronously (the in-process one) is returned as the
   * result itself rather than a promise settled a microtask later. Anything
   * else (a transport that accepts asynchronously, a failure, tracing,
   * outbound middleware, a wait for a slot) returns the promise of `send`,
   * and so does a hub whose `send` was replaced (a wrapper or a spy, on the
   * instance or in a subclass): what wraps `send` sees every message a
   * gateway sends, as it did when the gateways called `send` itself.
   */
  sendEager<T>(message: UnifiedMessage<T>): MessageResult | Promise<MessageResult> {
    if (this._state !== 'running' || this.tracing.on() || this.send !== HUB_SEND) {
      return this.send(message);
    }
    const refused = this.refuse(message);
    if (refused !== undefined) return refused;
    return this.pipeline.dispatchEager(message);
  }

  /**
   * Check a message the caller built before it enters the pipeline: a
   * refusal is counted and comes back as the rejected promise the call
   * answers with; undefined when the message is valid.
   */
  private refuse(message: UnifiedMessage): Promise<never> | undefined {
    try {
      validateMessage(message, DEFAULT_LIMITS, SKIP_PAYLOAD);
      return undefined;
    } catch (err) {
      this.metricsImpl.totals.rejected++;
      return Promise.reject(err);
    }
  }

  /** `send` for a message the hub built itself from validated parts (requests, replies). */
  private sendBuilt(message: UnifiedMessage): Promise<MessageResult> {
    if (this._state !== 'running') return this.ensureRunning().then(() => this.sendBuilt(message));
    return this.dispatch(message);
  }

  /** Into the send pipeline, inside a send span when a tracer provider is registered. */
  private dispatch(envelope: UnifiedMessage | UnifiedEvent): Promise<MessageResult> {
    return this.tracing.on()
      ? this.tracing.send(envelope, this.dispatchTraced)
      : this.pipeline.dispatch(envelope);
  }

  private readonly dispatchTraced = (envelope: UnifiedMessage | UnifiedEvent) =>
    this.pipeline.dispatch(envelope);

  /** `send`, resolving to `{ success: false, error }` instead of rejecting. */
  async sendMessage<T>(message: UnifiedMessage<T>): Promise<MessageResult> {
    const started = perf.now();
    try {
      return await this.send(message);
    } catch (err) {
      const error = err instanceof Error ? err : new Error(String(err));
      const id = (message as { id?: unknown } | null)?.id;
      this.logger.warn(
        `[hub] sendMessage ${String(id)} failed: ${error.message}`,
        typeof id === 'string'
          ? messageMeta(message, { error: error.message })
          : { error: error.message },
      );
      return {
        success: false,
        messageId: typeof message?.id === 'string' ? message.id : '',
        protocol: '',
        adapter: '',
        latencyMs: perf.now() - started,
        error,
      };
    }
  }

  /** Publish an event to every subscriber whose pattern matches its topic. */
  publish<T>(event: UnifiedEvent<T>): Promise<MessageResult> {
    if (this._state !== 'running') return this.ensureRunning().then(() => this.publish(event));
    try {
      validateEvent(event, DEFAULT_LIMITS, SKIP_PAYLOAD);
    } catch (err) {
      this.metricsImpl.totals.rejected++;
      return Promise.reject(err);
    }
    this.recordEvent(event);
    return this.dispatch(event);
  }

  /** The established name of `publish`. */
  publishEvent<T>(event: UnifiedEvent<T>): Promise<MessageResult> {
    return this.publish(event);
  }

  /** Publish a notification event (topic `hub.notifications`) to every subscriber. */
  broadcastNotification<T>(input: BroadcastNotificationInput<T>): Promise<MessageResult> {
    const invalid = optionsError('broadcastNotification', input);
    if (invalid) return Promise.reject(invalid);
    const event = createEvent({
      source: input.fromSource,
      topic: input.topic ?? NOTIFICATION_TOPIC,
      type: MessageType.NOTIFICATION,
      data: input.notificationData,
      ...(input.priority === undefined ? {} : { priority: input.priority }),
    });
    return this.publish(event);
  }

  /** Publish an agent heartbeat on `hub.heartbeat.<agentId>`. */
  sendHeartbeat<T>(input: HeartbeatInput<T>): Promise<MessageResult>;
  sendHeartbeat<T>(agentId: string, statusData?: T): Promise<MessageResult>;
  sendHeartbeat<T>(a: string | HeartbeatInput<T>, b?: T): Promise<MessageResult> {
    const invalid = optionsError('sendHeartbeat', a);
    if (invalid) return Promise.reject(invalid);
    const { agentId, statusData } = typeof a === 'string' ? { agentId: a, statusData: b } : a;
    return this.publish(
      createEvent({
        source: agentId,
        topic: `${HEARTBEAT_TOPIC_PREFIX}.${agentId}`,
        type: MessageType.HEARTBEAT,
        data: { agentId, status: statusData ?? null, at: Date.now() },
      }),
    );
  }

  /**
   * Send `message` and resolve with the reply (a message whose
   * `correlationId` is the request's). Rejects with HUB_TIMEOUT after `timeoutMs`.
   */
  request<Req, Res = unknown>(
    message: UnifiedMessage<Req>,
    options: RequestOptions = {},
  ): Promise<UnifiedMessage<Res>> {
    try {
      checkRequestOptions(options);
    } catch (err) {
      return Promise.reject(err);
    }
    const refused = this.refuse(message);
    if (refused !== undefined) return refused;
    return this.requests.request<Res>(message as UnifiedMessage, options.timeoutMs);
  }

  private recordEvent(event: UnifiedEvent): void {
    if (this.history === undefined) return;
    this.lastRecorded = event.id;
    this.history.record(event);
  }

  /** Emit to user listeners; a listener that throws is logged, never crashes a delivery path. */
  private safeEmit<K extends keyof HubEvents>(event: K, ...args: Parameters<HubEvents[K]>): void {
    if (this.listenerCount(event) === 0) return;
    try {
      (this.emit as (e: K, ...a: Parameters<HubEvents[K]>) => boolean)(event, ...args);
    } catch (err) {
      this.logger.error(`[hub] a "${event}" listener threw: ${String(err)}`);
    }
  }

  // ─── receiving ───────────────────────────────────────────────────────────

  /**
   * Serve an endpoint: `handler` gets each message sent to `endpoint`. Every
   * instance of one endpoint shares the work. A handler that throws is retried
   * with backoff, then dead-lettered after `maxDeliveries` attempts. Returning
   * a value (or calling `ctx.reply`) answers a request.
   */
  async onMessage<T = unknown>(
    endpoint: string,
    handler: MessageHandler<T>,
    options: ConsumeOptions = {},
  ): Promise<Unsubscribe> {
    validateAddress(endpoint, 'endpoint');
    checkConsumeCall('onMessage', handler, options);
    this.security?.checkConsume('serve', endpoint);
    return this.consumers.consume('endpoint', endpoint, handler as MessageHandler, options);
  }

  /**
   * Subscribe to events whose topic matches `pattern` (`*` one segment, `**`
   * or `#` any number). Each subscriber is isolated: one that throws never
   * affects another.
   */
  async subscribe<T = unknown>(
    pattern: string,
    handler: EventHandler<T>,
    options: SubscribeOptions = {},
  ): Promise<Unsubscribe> {
    validatePattern(pattern, 'pattern');
    checkConsumeCall('subscribe', handler, options);
    this.security?.checkConsume('subscribe', pattern);
    const history = options.replay ? this.history : undefined;
    if (history === undefined)
      return this.consumers.consume('topic', pattern, handler as EventHandler, options);
    // Go live first (held at a gate), then snapshot the history: an event
    // published during the replay is neither lost nor seen twice, and every
    // replayed event comes before every live one.
    const replayed = new Set<string>();
    let open!: () => void;
    let gate: Promise<void> | undefined = new Promise<void>((resolve) => {
      open = resolve;
    });
    const live: EventHandler = async (event, ctx) => {
      if (gate !== undefined) await gate;
      if (replayed.has(event.id)) return undefined;
      return handler(event as UnifiedEvent<T>, ctx);
    };
    const off = await this.consumers.consume('topic', pattern, live, options);
    try {
      const query =
        options.replay === true
          ? {}
          : (options.replay as Exclude<SubscribeOptions['replay'], boolean | undefined>);
      const snapshot = history.query(pattern, query);
      for (const event of snapshot) replayed.add(event.id);
      for (const event of snapshot) {
        try {
          await handler(event as UnifiedEvent<T>, REPLAY_CONTEXT);
        } catch (err) {
          this.logger.warn(
            `[hub] replay handler failed for ${event.id}`,
            messageMeta(event, { error: String(err) }),
          );
        }
      }
    } catch (err) {
      await off();
      throw err;
    } finally {
      gate = undefined;
      open();
    }
    return off;
  }

  /** The established name of `subscribe`. */
  subscribeToEvents<T = unknown>(
    pattern: string,
    handler: EventHandler<T>,
    options?: SubscribeOptions,
  ): Promise<Unsubscribe> {
    return this.subscribe(pattern, handler, options);
  }

  private onAdapterAdded(name: string, adapter: ProtocolAdapter): void {
    const t = this.router.target(name);
    if (t) this.watchTarget(t);
    if (this._state !== 'running') return;
    this.connectAdapter(name, adapter)
      .then(() => this.consumers.adapterAdded(name))
      .catch((err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        this.logger.error(
          `[hub] adapter "${name}" registered after start failed to connect: ${e.message}`,
        );
        this.safeEmit('error', e);
      });
  }

  private onAdapterRemoved(name: string): void {
    this.connected.delete(name);
    this.consumers.adapterRemoved(name);
  }

  private watchTarget(target: RouteTarget): void {
    target.breaker.onStateChange((state) => {
      this.logger.warn(`[hub] circuit of adapter "${target.name}" is now ${state}`);
      this.safeEmit('circuit', target.name, state);
    });
  }

  // ─── dead letters, metrics, health ───────────────────────────────────────

  /** Read the dead-letter queue of an endpoint from every adapter that keeps one. */
  async readDeadLetters(address: string, limit = 100): Promise<DeadLetterEntry[]> {
    const out: DeadLetterEntry[] = [];
    for (const { adapter } of this.adapters.list()) {
      const reader = deadLetterReader(adapter);
      if (reader) out.push(...(await reader.readDeadLetters(address, limit)));
    }
    return out;
  }

  /**
   * Report `source` in `health()`, `metrics()` and `prometheus()` under `name`
   * until the returned function is called.
   */
  addHealthSource(name: string, source: HealthSource): () => void {
    return this.report.addSource(name, source);
  }

  /** A snapshot of counters, rates and latencies. */
  metrics(): DetailedMetrics {
    return this.report.metrics();
  }

  /** The established name of `metrics()`. */
  async getDetailedMetrics(): Promise<DetailedMetrics> {
    return this.metrics();
  }

  /** Metrics in the Prometheus text exposition format. */
  prometheus(prefix = 'hub_'): string {
    return this.report.prometheus(prefix);
  }

  /**
   * Register this hub's collectors on a `prom-client` registry (`register`, or
   * a `new Registry()`): counters, gauges and histograms read from the hub's
   * own figures at scrape time. Returns a function that removes them. Two hubs
   * on one registry need different `prefix`es.
   */
  registerPrometheus(registry: PromRegistry, options: PromCollectorOptions = {}): () => void {
    return this.report.registerPrometheus(registry, options);
  }

  private onAnomaly(report: AnomalyReport): void {
    const what =
      report.destination === undefined
        ? `adapter "${report.adapter}"`
        : `sends to "${report.destination}" through adapter "${report.adapter}"`;
    const pct = (r: number) => `${(r * 100).toFixed(1)} %`;
    const [figures, bad, good] =
      report.metric === 'send-latency'
        ? [
            `recent ${report.currentMs.toFixed(2)} ms, baseline ${report.baselineMs.toFixed(2)} ± ${report.deviationMs.toFixed(2)} ms, threshold ${report.thresholdMs.toFixed(2)} ms`,
            'slow',
            'back to their usual speed',
          ]
        : [
            `recent error rate ${pct(report.currentRate)}, baseline ${pct(report.baselineRate)}, threshold ${pct(report.thresholdRate)}`,
            'failing more than usual',
            'back to their usual error rate',
          ];
    this.logger.warn(`[hub] ${what}: ${report.state === 'degraded' ? bad : good}: ${figures}`, {
      ...report,
    });
    this.safeEmit('anomaly', report);
  }

  /** Overall and per-adapter health. */
  health(): HealthStatus {
    return this.report.health();
  }

  /** The established name of `health()`. */
  async getHealthStatus(): Promise<HealthStatus> {
    this.checkHealth();
    return this.health();
  }

  /** Refresh each adapter's health flag; the router skips unhealthy adapters. */
  checkHealth(): void {
    this.report.checkHealth();
  }
}

const REPLAY_CONTEXT: HandlerContext = Object.freeze({
  attempt: 1,
  adapter: 'history',
  reply: () => Promise.resolve(),
});

const ADDRESS = /^[A-Za-z0-9_.:/@-]{1,256}$/;

function validateAddress(address: unknown, field: string): void {
  if (typeof address !== 'string' || !ADDRESS.test(address)) {
    throw new HubError(
      ErrorCode.INVALID_MESSAGE,
      `[hub] ${field} must be 1-256 characters of [A-Za-z0-9_.:/@-], got ${JSON.stringify(address)}`,
    );
  }
}

/** The `send` every hub has unless a subclass or a caller replaced it (see `sendEager`). */
const HUB_SEND = Hub.prototype.send;

/** Create a hub. Nothing connects until `start()` (or the first send). */
export function createHub(config: CommunicationConfig = {}): Hub {
  return new Hub(config);
}

/** The established name of `createHub`. */
export const createCommunicationHub = createHub;
