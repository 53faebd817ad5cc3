import { ErrorCode, HubError } from '@hub/protocol';
import type { ProtocolAdapter } from '../adapter/contract.js';
import { closestOption, optionNames, rejectUnknownOptions } from '../config/unknown-options.js';
import type { DedupStore } from '../delivery/dedup.js';
import type { EventHistoryOptions } from '../event-bus/history.js';
import { EventHistory } from '../event-bus/history.js';
import { validatePattern } from '../event-bus/pattern.js';
import type { Logger } from '../logger.js';
import type { AnomalyOptions } from '../observability/anomaly.js';
import type { AdapterFactory } from '../registry/registry.js';
import { type BackoffOptions, backoffDelay } from '../resilience/backoff.js';
import { CircuitBreaker, type CircuitBreakerOptions } from '../resilience/circuit-breaker.js';
import type { RetryOptions } from '../resilience/retry.js';
import type { RouteRule } from '../router/router.js';
import type { SecurityOptions } from '../security/security.js';
import type { Middleware } from './middleware.js';
import { type ConnectionConfig, RoutingStrategy } from './types.js';

/** Everything a hub is configured with. Every field is optional. */
export interface CommunicationConfig {
  /** Shown in logs, metrics and health. @default 'hub' */
  name?: string;
  /**
   * Adapters, or adapter factories that read their settings from this config
   * (`redisConfig`, `websocketConfig`, `httpConfig`, or `adapterConfig[name]`).
   * @default [memory()]
   */
  adapters?: ReadonlyArray<ProtocolAdapter | AdapterFactory>;
  /** Sends in flight at once before backpressure applies. @default 10_000 */
  maxConcurrentMessages?: number;
  /**
   * What `send` does past `maxConcurrentMessages`: wait for room (oldest
   * first), or reject with HUB_OVERLOADED. Waiting sends are bounded too (at
   * most `maxConcurrentMessages` of them; past that, HUB_OVERLOADED), so
   * memory never grows without end.
   * @default 'wait'
   */
  overload?: 'wait' | 'reject';
  /** A send must be accepted by its transport within this; also the default `request` timeout. @default 30_000 */
  messageTimeoutMs?: number;
  /** Attempts per message before it is dead-lettered. @default 5 */
  maxDeliveries?: number;
  /** Backoff between handler retries. @default { initialDelayMs: 50, maxDelayMs: 5_000, jitter: 'full' } */
  retry?: BackoffOptions;
  /** Retries of a failed transport send (same id, next adapter where the strategy allows). @default { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 1_000 } */
  sendRetry?: Pick<
    RetryOptions,
    'maxAttempts' | 'initialDelayMs' | 'maxDelayMs' | 'factor' | 'jitter'
  >;
  /** Per-adapter circuit breaker settings. */
  circuitBreaker?: CircuitBreakerOptions;
  /**
   * Exactly-once dedup: the store and the window. A store you pass in is not
   * closed by `hub.close()` (hubs may share it): close it yourself, or set
   * `closeWithHub: true` to hand it to this hub, which then closes it last in
   * `close()` (do that only for a store no other hub uses).
   * @default { store: MemoryDedupStore, windowMs: 600_000, leaseMs: 30_000, closeWithHub: false }
   */
  dedup?: { store?: DedupStore; windowMs?: number; leaseMs?: number; closeWithHub?: boolean };
  /** Per-topic event history used for replay; false turns it off. @default { maxPerTopic: 100, maxAgeMs: 300_000 } */
  history?: EventHistoryOptions | false;
  /** @default RoutingStrategy.AUTOMATIC */
  defaultRoutingStrategy?: RoutingStrategy;
  /** Routing table: exact and pattern entries. */
  routes?: readonly RouteRule[];
  /** Per message type: adapter names in preference order. */
  messageTypeRoutes?: Readonly<Record<string, readonly string[]>>;
  /** Outbound and inbound middleware, run in order. */
  middleware?: readonly Middleware[];
  /**
   * Authorization rules, the identity local sends carry, the audit sink and
   * envelope protection (signing, encryption, compression). See docs/security.md.
   */
  security?: SecurityOptions;
  /** @default true */
  enableMetrics?: boolean;
  /**
   * Spans through `@opentelemetry/api` when it is installed and a tracer
   * provider is registered; `false` turns them off. @default true
   */
  enableTracing?: boolean;
  /**
   * Per adapter and per destination, baselines of send latency and of the
   * error rate; a lasting departure emits `anomaly` with the figures and
   * marks the adapter degraded in health and metrics, until it recovers.
   * `false` turns it off.
   * @default { factor: 3, minDeltaMs: 10, warmup: 50, sustain: 10, minErrorRate: 0.2 }
   */
  anomalyDetection?: false | AnomalyOptions;
  /** @default true */
  enableHealthMonitoring?: boolean;
  /** Seconds between health checks. @default 30 */
  healthCheckInterval?: number;
  /** How long `close()` waits for running handlers. @default 10_000 */
  drainTimeoutMs?: number;
  /** @default consoleLogger (warn and error) */
  logger?: Logger;
  /** Redis settings for the redis adapter factory. */
  redisConfig?: ConnectionConfig;
  /**
   * WebSocket settings for the ws adapter factory (`wsAdapter` of
   * `@hub/adapter-ws` reads its client options here).
   */
  websocketConfig?: ConnectionConfig | object;
  /** HTTP settings for the http adapter factory. */
  httpConfig?: ConnectionConfig;
  /** Settings for any other adapter factory, by adapter name. */
  adapterConfig?: Readonly<Record<string, unknown>>;
}

/** Shorter name for the same thing. */
export type HubConfig = CommunicationConfig;

const invalid = (option: string, why: string, got: unknown) =>
  new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:config] ${option} ${why}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`,
  );

function positiveInt(cfg: Record<string, unknown>, key: string): void {
  const v = cfg[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw invalid(key, 'must be a positive integer', v);
  }
}

function positiveNumber(cfg: Record<string, unknown>, key: string): void {
  const v = cfg[key];
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw invalid(key, 'must be a positive number', v);
  }
}

function object(cfg: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = cfg[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw invalid(key, 'must be an object', v);
  }
  return v as Record<string, unknown>;
}

/** Run a part's own option check and rethrow its complaint naming the config option. */
function checkWith(option: string, check: () => void): void {
  try {
    check();
  } catch (err) {
    const why = err instanceof Error ? err.message.replace(/^\[[^\]]*\]\s*/, '') : String(err);
    throw new HubError(ErrorCode.INVALID_CONFIG, `[hub:config] ${option} is invalid: ${why}`, {
      cause: err,
    });
  }
}

const isFn = (v: unknown) => typeof v === 'function';

function bool(cfg: Record<string, unknown>, key: string): void {
  const v = cfg[key];
  if (v !== undefined && typeof v !== 'boolean') throw invalid(key, 'must be a boolean', v);
}

const CONFIG_OPTIONS = optionNames<CommunicationConfig>({
  name: true,
  adapters: true,
  maxConcurrentMessages: true,
  overload: true,
  messageTimeoutMs: true,
  maxDeliveries: true,
  retry: true,
  sendRetry: true,
  circuitBreaker: true,
  dedup: true,
  history: true,
  defaultRoutingStrategy: true,
  routes: true,
  messageTypeRoutes: true,
  middleware: true,
  security: true,
  enableMetrics: true,
  enableTracing: true,
  anomalyDetection: true,
  enableHealthMonitoring: true,
  healthCheckInterval: true,
  drainTimeoutMs: true,
  logger: true,
  redisConfig: true,
  websocketConfig: true,
  httpConfig: true,
  adapterConfig: true,
});
const BACKOFF_OPTIONS = optionNames<BackoffOptions>({
  initialDelayMs: true,
  maxDelayMs: true,
  factor: true,
  jitter: true,
});
const SEND_RETRY_OPTIONS = [...BACKOFF_OPTIONS, 'maxAttempts'] as const;
const BREAKER_OPTIONS = optionNames<CircuitBreakerOptions>({
  failureRateThreshold: true,
  minimumThroughput: true,
  consecutiveFailures: true,
  windowMs: true,
  buckets: true,
  cooldownMs: true,
  halfOpenProbes: true,
  successesToClose: true,
  now: true,
});
const HISTORY_OPTIONS = optionNames<EventHistoryOptions>({
  maxPerTopic: true,
  maxAgeMs: true,
  maxTopics: true,
  now: true,
});
const DEDUP_OPTIONS = optionNames<NonNullable<CommunicationConfig['dedup']>>({
  store: true,
  windowMs: true,
  leaseMs: true,
  closeWithHub: true,
});
const ROUTE_OPTIONS = optionNames<RouteRule>({
  match: true,
  adapters: true,
  strategy: true,
  kind: true,
});
const MIDDLEWARE_OPTIONS = optionNames<Middleware>({ name: true, outbound: true, inbound: true });

/** Reject misspelt options of the config and of its nested option objects (not of adapter settings). */
function rejectUnknownConfig(cfg: Record<string, unknown>): void {
  // A factory's configKey (e.g. `redisConfig`) names a config option of its own.
  const configKeys = Array.isArray(cfg.adapters)
    ? cfg.adapters
        .map((a: unknown) => (a as { configKey?: unknown } | null)?.configKey)
        .filter((k): k is string => typeof k === 'string')
    : [];
  rejectUnknownOptions('createHub', cfg, [...CONFIG_OPTIONS, ...configKeys]);
  const nested: Array<[string, readonly string[]]> = [
    ['retry', BACKOFF_OPTIONS],
    ['sendRetry', SEND_RETRY_OPTIONS],
    ['circuitBreaker', BREAKER_OPTIONS],
    ['history', HISTORY_OPTIONS],
    ['dedup', DEDUP_OPTIONS],
  ];
  for (const [key, known] of nested) {
    const v = cfg[key];
    if (typeof v === 'object' && v !== null) rejectUnknownOptions(`createHub.${key}`, v, known);
  }
  if (Array.isArray(cfg.routes)) {
    cfg.routes.forEach((rule: unknown, i) => {
      if (typeof rule === 'object' && rule !== null) {
        rejectUnknownOptions(`createHub.routes[${i}]`, rule, ROUTE_OPTIONS);
      }
    });
  }
  if (Array.isArray(cfg.middleware)) {
    // A middleware may keep its own state in extra fields: only a misspelt hook is refused.
    cfg.middleware.forEach((m: unknown, i) => {
      if (typeof m !== 'object' || m === null) return;
      const typos = Object.keys(m).filter(
        (k) =>
          !MIDDLEWARE_OPTIONS.includes(k) && closestOption(k, MIDDLEWARE_OPTIONS) !== undefined,
      );
      if (typos.length > 0) {
        rejectUnknownOptions(
          `createHub.middleware[${i}]`,
          { [typos[0]!]: true },
          MIDDLEWARE_OPTIONS,
        );
      }
    });
  }
}

/** Throw a HUB_INVALID_CONFIG error naming the first bad option. */
export function validateConfig(config: CommunicationConfig): void {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw invalid('config', 'must be an object', config);
  }
  const cfg = config as Record<string, unknown>;
  rejectUnknownConfig(cfg);
  if (cfg.name !== undefined && (typeof cfg.name !== 'string' || cfg.name.length === 0)) {
    throw invalid('name', 'must be a non-empty string', cfg.name);
  }
  if (cfg.adapters !== undefined) {
    if (!Array.isArray(cfg.adapters)) throw invalid('adapters', 'must be an array', cfg.adapters);
    cfg.adapters.forEach((a: unknown, i: number) => {
      const x = a as Record<string, unknown> | null;
      const ok =
        typeof x === 'object' &&
        x !== null &&
        (isFn(x.send) || (isFn(x.create) && typeof x.name === 'string' && x.name.length > 0));
      if (!ok) {
        throw invalid(`adapters[${i}]`, 'must be an adapter or a factory { name, create() }', a);
      }
    });
  }
  positiveInt(cfg, 'maxConcurrentMessages');
  positiveInt(cfg, 'maxDeliveries');
  positiveNumber(cfg, 'messageTimeoutMs');
  positiveNumber(cfg, 'healthCheckInterval');
  if (
    cfg.drainTimeoutMs !== undefined &&
    (typeof cfg.drainTimeoutMs !== 'number' ||
      !(cfg.drainTimeoutMs >= 0) ||
      !Number.isFinite(cfg.drainTimeoutMs))
  ) {
    throw invalid('drainTimeoutMs', 'must be a number >= 0', cfg.drainTimeoutMs);
  }
  bool(cfg, 'enableMetrics');
  bool(cfg, 'enableTracing');
  checkAnomaly(cfg.anomalyDetection);
  bool(cfg, 'enableHealthMonitoring');
  if (cfg.overload !== undefined && cfg.overload !== 'wait' && cfg.overload !== 'reject') {
    throw invalid('overload', 'must be "wait" or "reject"', cfg.overload);
  }
  const strategies = Object.values(RoutingStrategy) as string[];
  if (
    cfg.defaultRoutingStrategy !== undefined &&
    !strategies.includes(cfg.defaultRoutingStrategy as string)
  ) {
    throw invalid(
      'defaultRoutingStrategy',
      `must be one of ${strategies.join(', ')}`,
      cfg.defaultRoutingStrategy,
    );
  }
  if (cfg.routes !== undefined) {
    if (!Array.isArray(cfg.routes)) throw invalid('routes', 'must be an array', cfg.routes);
    cfg.routes.forEach((r: unknown, i: number) => {
      const rule = r as Record<string, unknown> | null;
      if (!rule || typeof rule.match !== 'string' || rule.match.length === 0) {
        throw invalid(`routes[${i}].match`, 'must be a non-empty string', rule?.match);
      }
      if (rule.strategy !== undefined && !strategies.includes(rule.strategy as string)) {
        throw invalid(
          `routes[${i}].strategy`,
          `must be one of ${strategies.join(', ')}`,
          rule.strategy,
        );
      }
      checkWith(`routes[${i}].match`, () => validatePattern(rule.match, 'match'));
      if (rule.kind !== undefined && rule.kind !== 'message' && rule.kind !== 'event') {
        throw invalid(`routes[${i}].kind`, 'must be "message" or "event"', rule.kind);
      }
      if (
        rule.adapters !== undefined &&
        (!Array.isArray(rule.adapters) || rule.adapters.some((a) => typeof a !== 'string'))
      ) {
        throw invalid(`routes[${i}].adapters`, 'must be an array of adapter names', rule.adapters);
      }
    });
  }
  if (cfg.middleware !== undefined) {
    if (!Array.isArray(cfg.middleware))
      throw invalid('middleware', 'must be an array', cfg.middleware);
    cfg.middleware.forEach((m: unknown, i: number) => {
      const x = m as Record<string, unknown> | null;
      if (typeof x !== 'object' || x === null || typeof x.name !== 'string' || x.name === '') {
        throw invalid(`middleware[${i}]`, 'must be an object with a non-empty name', m);
      }
      for (const k of ['outbound', 'inbound']) {
        if (x[k] !== undefined && !isFn(x[k])) {
          throw invalid(`middleware[${i}].${k}`, 'must be a function', x[k]);
        }
      }
    });
  }
  const typeRoutes = object(cfg, 'messageTypeRoutes');
  if (typeRoutes) {
    for (const [type, names] of Object.entries(typeRoutes)) {
      if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) {
        throw invalid(`messageTypeRoutes.${type}`, 'must be an array of adapter names', names);
      }
    }
  }
  const retry = object(cfg, 'retry');
  if (retry) checkWith('retry', () => backoffDelay(1, retry as BackoffOptions));
  const sendRetry = object(cfg, 'sendRetry');
  if (sendRetry) {
    positiveInt(sendRetry, 'maxAttempts');
    checkWith('sendRetry', () => backoffDelay(1, sendRetry as BackoffOptions));
  }
  const breaker = object(cfg, 'circuitBreaker');
  if (breaker) {
    checkWith(
      'circuitBreaker',
      () => new CircuitBreaker('config', breaker as CircuitBreakerOptions),
    );
  }
  if (cfg.history !== undefined && cfg.history !== false) {
    const history = object(cfg, 'history');
    checkWith('history', () => new EventHistory(history as EventHistoryOptions));
  }
  const logger = object(cfg, 'logger');
  if (logger) {
    for (const k of ['debug', 'info', 'warn', 'error']) {
      if (!isFn(logger[k])) throw invalid(`logger.${k}`, 'must be a function', logger[k]);
    }
  }
  for (const k of ['redisConfig', 'websocketConfig', 'httpConfig', 'adapterConfig', 'security'])
    object(cfg, k);
  const dedup = object(cfg, 'dedup');
  if (dedup !== undefined) {
    for (const k of ['windowMs', 'leaseMs']) {
      const v = dedup[k];
      if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)))
        throw invalid(`dedup.${k}`, 'must be a positive number', v);
    }
    const store = dedup.store as Record<string, unknown> | undefined;
    if (
      store !== undefined &&
      (typeof store !== 'object' ||
        store === null ||
        !isFn(store.begin) ||
        !isFn(store.commit) ||
        !isFn(store.abort))
    ) {
      throw invalid('dedup.store', 'must implement begin, commit and abort', store);
    }
    if (dedup.closeWithHub !== undefined && typeof dedup.closeWithHub !== 'boolean') {
      throw invalid('dedup.closeWithHub', 'must be a boolean', dedup.closeWithHub);
    }
  }
}

function checkAnomaly(value: unknown): void {
  if (value === undefined || value === false) return;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('anomalyDetection', 'must be false or an object', value);
  }
  rejectUnknownOptions('createHub.anomalyDetection', value, [
    'factor',
    'minDeltaMs',
    'warmup',
    'sustain',
    'minErrorRate',
  ]);
  const o = value as Record<string, unknown>;
  const rate = o.minErrorRate;
  if (
    rate !== undefined &&
    (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate >= 1)
  ) {
    throw invalid('anomalyDetection.minErrorRate', 'must be a number in (0, 1)', rate);
  }
  for (const [k, min] of [
    ['factor', 1],
    ['minDeltaMs', 0],
    ['warmup', 1],
    ['sustain', 1],
  ] as const) {
    const v = o[k];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v) || v < min)) {
      throw invalid(`anomalyDetection.${k}`, `must be a number >= ${min}`, v);
    }
  }
}
