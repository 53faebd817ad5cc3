/**
 * A whole legacy hub configuration → a `CommunicationConfig` that
 * `createCommunicationHub` starts as is.
 */
import { redisAdapter } from '@hub/adapter-redis';
import { type WsClientOptions, wsAdapter } from '@hub/adapter-ws';
import { type CommunicationConfig, type ConnectionConfig, RoutingStrategy } from '@hub/core';
import { planRedisMigration } from './redis.js';
import {
  badOption,
  bool,
  camel,
  type DroppedOption,
  isRecord,
  type MigrateOptions,
  type Migration,
  num,
  reportDropped,
} from './report.js';
import { planWsMigration } from './ws.js';

const WHAT = 'migrateConfig';

/**
 * A CommunicationConfig whose `websocketConfig` holds the `wsClient()` options
 * the ws adapter factory (`wsAdapter`, whose config key it is) reads.
 */
export interface MigratedConfig extends CommunicationConfig {
  websocketConfig?: WsClientOptions;
}

export interface MigrateConfigOptions extends MigrateOptions {
  /**
   * Adapters of the new config. @default [redisAdapter] when the legacy config
   * has Redis settings, plus [wsAdapter] when its WebSocket settings connect
   * to a server; else none (the hub's in-memory adapter). Adapters you pass
   * must include `wsAdapter` when the result has `websocketConfig`: the hub refuses
   * a config option no adapter reads.
   */
  adapters?: CommunicationConfig['adapters'];
}

const WHY: Record<string, string> = {
  protocols: 'adapters are chosen with `adapters`, not by protocol name',
  enabledProtocols: 'adapters are chosen with `adapters`, not by protocol name',
  logLevel: 'pass a `logger` with the levels you want',
  httpConfig: 'no HTTP adapter is installed by the migration; configure @hub/adapter-http itself',
  enableCompression:
    'the hub does not compress; the WebSocket adapter never negotiates permessage-deflate',
};

const STRATEGIES = Object.values(RoutingStrategy) as string[];

function positiveInt(option: string, v: unknown): number {
  const n = num(v);
  if (n === undefined || !Number.isInteger(n) || n <= 0) {
    throw badOption(WHAT, option, 'must be a positive integer', v);
  }
  return n;
}

function positiveNumber(option: string, v: unknown, scale = 1): number {
  const n = num(v);
  if (n === undefined || n <= 0) throw badOption(WHAT, option, 'must be a positive number', v);
  return n * scale;
}

function flag(option: string, v: unknown): boolean {
  const b = bool(v);
  if (b === undefined) throw badOption(WHAT, option, 'must be a boolean', v);
  return b;
}

/**
 * A legacy hub configuration (`name`, `max_concurrent_messages`,
 * `message_timeout_ms`, `redis_config`, `websocket_config`, `enable_metrics`,
 * `enable_health_monitoring`, `health_check_interval`, ...; snake_case or
 * camelCase) → a CommunicationConfig, with every option left behind and why.
 */
export function planConfigMigration(
  input: unknown,
  options: Pick<MigrateConfigOptions, 'adapters'> = {},
): Migration<MigratedConfig> {
  if (!isRecord(input)) throw badOption(WHAT, 'config', 'must be an object', input);
  const out: MigratedConfig = {};
  const dropped: DroppedOption[] = [];
  const nested = (prefix: string, list: DroppedOption[]) => {
    for (const d of list) dropped.push({ option: `${prefix}.${d.option}`, reason: d.reason });
  };
  for (const raw of Object.keys(input)) {
    const v = input[raw];
    if (v === undefined || v === null) continue;
    const key = camel(raw);
    switch (key) {
      case 'name':
        if (typeof v !== 'string' || v === '')
          throw badOption(WHAT, raw, 'must be a non-empty string', v);
        out.name = v;
        break;
      case 'maxConcurrentMessages':
        out.maxConcurrentMessages = positiveInt(raw, v);
        break;
      case 'messageTimeoutMs':
        out.messageTimeoutMs = positiveNumber(raw, v);
        break;
      case 'messageTimeout':
        out.messageTimeoutMs = positiveNumber(raw, v, 1000);
        break;
      case 'maxDeliveries':
      case 'maxRetries':
        out.maxDeliveries = positiveInt(raw, v) + (key === 'maxRetries' ? 1 : 0);
        break;
      case 'enableMetrics':
        out.enableMetrics = flag(raw, v);
        break;
      case 'enableHealthMonitoring':
        out.enableHealthMonitoring = flag(raw, v);
        break;
      case 'healthCheckInterval':
        out.healthCheckInterval = positiveNumber(raw, v);
        break;
      case 'defaultRoutingStrategy':
      case 'routingStrategy': {
        const s = String(v).toLowerCase().replace(/_/g, '-');
        if (!STRATEGIES.includes(s)) {
          throw badOption(WHAT, raw, `must be one of ${STRATEGIES.join(', ')}`, v);
        }
        out.defaultRoutingStrategy = s as RoutingStrategy;
        break;
      }
      case 'redisConfig': {
        const m = planRedisMigration(v);
        out.redisConfig = m.options as ConnectionConfig;
        nested(raw, m.dropped);
        break;
      }
      case 'websocketConfig':
      case 'wsConfig': {
        const m = planWsMigration(v);
        if (m.role === 'server') {
          // A gateway is attached to a started hub, not configured in it.
          dropped.push({
            option: raw,
            reason: `WebSocket server settings: start the gateway on the started hub with wsServer({ hub, ...migrateWsConfig(${raw}) }), which reports what it leaves behind`,
          });
          break;
        }
        out.websocketConfig = m.options;
        nested(raw, m.dropped);
        break;
      }
      default:
        dropped.push({ option: raw, reason: WHY[key] ?? 'not a hub option' });
    }
  }
  const defaults = [
    ...(out.redisConfig !== undefined ? [redisAdapter] : []),
    ...(out.websocketConfig !== undefined ? [wsAdapter] : []),
  ];
  const adapters = options.adapters ?? (defaults.length > 0 ? defaults : undefined);
  if (adapters !== undefined) out.adapters = adapters;
  return { options: out, dropped };
}

/**
 * A legacy hub configuration → a CommunicationConfig:
 * `createCommunicationHub(migrateConfig(old))` starts a hub on the same Redis,
 * connected to the same WebSocket server when the legacy hub was a client of one.
 * Reports what it left behind through `onDropped` (default: a warning).
 * @throws HubError `HUB_INVALID_CONFIG` naming an option whose value is unusable.
 */
export function migrateConfig(input: unknown, options: MigrateConfigOptions = {}): MigratedConfig {
  const m = planConfigMigration(input, options);
  reportDropped(WHAT, m, options);
  return m.options;
}
