/**
 * Legacy Redis connection settings → the options of @hub/adapter-redis's
 * `redis()` / `redisAdapter`. The output holds only options the adapter
 * knows, so an adapter that refuses unknown options accepts it as is.
 */
import { REDIS_ADAPTER_OPTIONS, type RedisAdapterOptions } from '@hub/adapter-redis';
import type { RedisOptions } from 'ioredis';
import {
  badOption,
  bool,
  camel,
  type DroppedOption,
  hostPorts,
  isRecord,
  type MigrateOptions,
  type Migration,
  num,
  reportDropped,
} from './report.js';

const WHAT = 'migrateRedisConfig';

/** Every option `redis()` takes, from the adapter itself (re-exported for callers). */
export { REDIS_ADAPTER_OPTIONS };

/** Adapter tuning options a config may already carry; passed through unchanged. */
const TUNING = new Set([
  'maxLen',
  'lagWarnRatio',
  'lagCheckIntervalMs',
  'claimIdleMs',
  'groupClaimMs',
  'blockMs',
  'commandTimeoutMs',
  'partitions',
  'partitionLeaseMs',
  'heartbeatMs',
  'maxEntryBytes',
  'deadLetterRawMaxBytes',
]);

/** ioredis options that mean the same on the adapter's connections: carried in `redisOptions`. */
const PASS_TO_IOREDIS = new Set([
  'connectTimeout',
  'family',
  'keepAlive',
  'noDelay',
  'connectionName',
  'enableReadyCheck',
  'maxLoadingRetryTime',
  'disconnectTimeout',
  'natMap',
  'path',
]);

const PER_CONNECTION =
  'set per connection by the adapter, which needs its own values for its delivery guarantees';
const WHY: Record<string, string> = {
  poolSize:
    'the adapter uses one command connection with auto-pipelining (plus one subscriber and one per blocking reader) instead of a pool',
  maxConnections: 'the adapter uses one command connection with auto-pipelining instead of a pool',
  keyPrefix:
    "an ioredis keyPrefix prefixes every key; the hub's own keys use the adapter's keyPrefix (default 'hub'); set it yourself if hub keys should share yours",
  retryStrategy: "the adapter's connections reconnect with the hub's capped, jittered backoff",
  reconnectOnError: "the adapter's connections reconnect with the hub's capped, jittered backoff",
  clusterRetryStrategy:
    "the adapter's connections reconnect with the hub's capped, jittered backoff",
  retryOnTimeout: 'the hub retries a failed send itself (sendRetry)',
  decodeResponses: 'the hub encodes and decodes envelopes itself',
  enableOfflineQueue: PER_CONNECTION,
  enableAutoPipelining: PER_CONNECTION,
  autoResubscribe: PER_CONNECTION,
  autoResendUnfulfilledCommands: PER_CONNECTION,
  maxRetriesPerRequest: PER_CONNECTION,
  socketTimeout: `${PER_CONNECTION} (from commandTimeoutMs)`,
  lazyConnect: 'the hub connects its adapters in start() / initialize()',
  readOnly: 'the hub writes to Redis; a read-only connection cannot carry messages',
  showFriendlyErrorStack: 'debug output only',
  stringNumbers: 'the hub decodes replies itself',
  connectTimeoutSeconds: 'units differ between clients; set redisOptions.connectTimeout in ms',
  socketConnectTimeout: 'units differ between clients; set redisOptions.connectTimeout in ms',
  socketKeepalive: 'set redisOptions.keepAlive (ms) yourself; the units differ between clients',
};

interface Acc {
  out: RedisAdapterOptions;
  ioredis: RedisOptions;
  dropped: DroppedOption[];
}

function drop(acc: Acc, option: string, reason: string): void {
  acc.dropped.push({ option, reason });
}

function tlsOf(option: string, v: unknown): boolean | Record<string, unknown> {
  if (isRecord(v)) return v;
  const b = bool(v);
  if (b === undefined) throw badOption(WHAT, option, 'must be a boolean or TLS options', v);
  return b;
}

function setPort(acc: Acc, option: string, v: unknown): void {
  const port = num(v);
  if (port === undefined || !Number.isInteger(port) || port < 0 || port > 65_535) {
    throw badOption(WHAT, option, 'must be a port number 0..65535', v);
  }
  acc.out.port = port;
}

function setDb(acc: Acc, option: string, v: unknown): void {
  const db = num(v);
  if (db === undefined || !Number.isInteger(db) || db < 0) {
    throw badOption(WHAT, option, 'must be a database number >= 0', v);
  }
  acc.out.db = db;
}

function setString(acc: Acc, key: 'host' | 'password' | 'username', option: string, v: unknown) {
  if (typeof v !== 'string') throw badOption(WHAT, option, 'must be a string', v);
  acc.out[key] = v;
}

function setUrl(acc: Acc, option: string, v: unknown): void {
  if (typeof v !== 'string' || !/^rediss?:\/\//.test(v)) {
    throw badOption(WHAT, option, 'must be a redis:// or rediss:// URL', v);
  }
  acc.out.url = v;
}

/** One option of an object config (ConnectionConfig, ioredis options or adapter options). */
function objectOption(acc: Acc, prefix: string, rawKey: string, v: unknown): void {
  const option = `${prefix}${rawKey}`;
  const key = camel(rawKey);
  if (v === undefined) return;
  switch (key) {
    case 'url':
    case 'uri':
      setUrl(acc, option, v);
      return;
    case 'host':
    case 'hostname':
      setString(acc, 'host', option, v);
      return;
    case 'port':
      setPort(acc, option, v);
      return;
    case 'password':
    case 'pass':
      setString(acc, 'password', option, v);
      return;
    case 'username':
    case 'user':
      setString(acc, 'username', option, v);
      return;
    case 'db':
    case 'database':
      setDb(acc, option, v);
      return;
    case 'tls':
    case 'ssl': {
      const tls = tlsOf(option, v);
      if (tls !== false) acc.out.tls = tls as RedisAdapterOptions['tls'] & {};
      return;
    }
    case 'protocol':
      drop(
        acc,
        option,
        typeof v === 'string' && /redis/i.test(v)
          ? 'the redis adapter picks Pub/Sub or Streams per message from its delivery guarantee'
          : 'not a Redis protocol; this is the Redis connection',
      );
      return;
    case 'connectionParams':
    case 'options':
      if (!isRecord(v)) throw badOption(WHAT, option, 'must be an object', v);
      for (const k of Object.keys(v)) objectOption(acc, `${option}.`, k, v[k]);
      return;
    case 'healthCheckInterval': {
      const s = num(v);
      if (s === undefined || s <= 0) throw badOption(WHAT, option, 'must be seconds > 0', v);
      acc.out.heartbeatMs = s * 1000;
      return;
    }
    case 'commandTimeout':
      acc.out.commandTimeoutMs = num(v) ?? Number.NaN;
      return;
    case 'sentinels':
      acc.out.sentinels = {
        sentinels: hostPorts(WHAT, option, v),
        name: acc.out.sentinels?.name ?? '',
      };
      return;
    case 'name':
    case 'masterName':
    case 'sentinelName':
      if (typeof v !== 'string') throw badOption(WHAT, option, 'must be a string', v);
      acc.out.sentinels = { sentinels: acc.out.sentinels?.sentinels ?? [], name: v };
      return;
    case 'sentinelPassword':
      if (typeof v !== 'string') throw badOption(WHAT, option, 'must be a string', v);
      acc.ioredis.sentinelPassword = v;
      return;
    case 'role':
      drop(acc, option, 'the hub reads from and writes to the master');
      return;
    case 'client':
    case 'redisOptions':
      if (key === 'redisOptions' && isRecord(v)) Object.assign(acc.ioredis, v);
      else (acc.out as Record<string, unknown>)[key] = v;
      return;
  }
  if (TUNING.has(key)) {
    (acc.out as Record<string, unknown>)[key] = v;
    return;
  }
  if (PASS_TO_IOREDIS.has(key)) {
    (acc.ioredis as Record<string, unknown>)[key] = v;
    return;
  }
  drop(acc, option, WHY[key] ?? 'no Redis adapter option means this');
}

/** Redis Cluster: `{ cluster: true, nodes }`, `{ startupNodes, clusterOptions }`, or `{ nodes, options }`. */
function clusterOf(acc: Acc, input: Record<string, unknown>): boolean {
  const nodesKey = ['nodes', 'startupNodes', 'startup_nodes', 'clusterNodes', 'cluster_nodes'].find(
    (k) => input[k] !== undefined,
  );
  if (nodesKey === undefined) return false;
  const nodes = hostPorts(WHAT, nodesKey, input[nodesKey]);
  const optsKey = ['clusterOptions', 'cluster_options', 'options'].find((k) => isRecord(input[k]));
  const raw = optsKey === undefined ? {} : (input[optsKey] as Record<string, unknown>);
  const options: Record<string, unknown> = {};
  const inner: Acc = { out: {}, ioredis: {}, dropped: acc.dropped };
  const CLUSTER_PASS = new Set([
    'scaleReads',
    'maxRedirections',
    'retryDelayOnFailover',
    'retryDelayOnClusterDown',
    'retryDelayOnTryAgain',
    'slotsRefreshTimeout',
    'slotsRefreshInterval',
    'natMap',
    'enableReadyCheck',
  ]);
  for (const k of Object.keys(raw)) {
    const key = camel(k);
    if (CLUSTER_PASS.has(key)) options[key] = raw[k];
    else if (key === 'redisOptions' && isRecord(raw[k])) {
      const ro = raw[k] as Record<string, unknown>;
      for (const rk of Object.keys(ro)) objectOption(inner, `${optsKey}.${k}.`, rk, ro[rk]);
    } else drop(acc, `${optsKey}.${k}`, WHY[key] ?? 'no cluster option of the adapter means this');
  }
  for (const k of Object.keys(input)) {
    if (k === nodesKey || k === optsKey || k === 'cluster') continue;
    objectOption(inner, '', k, input[k]);
  }
  // Connection settings of a cluster apply to every node.
  const { host, port, url, sentinels, ...perNode } = inner.out;
  for (const [k, v] of Object.entries({ host, port, url, sentinels })) {
    if (v !== undefined) drop(acc, k, 'a cluster connects through its startup nodes');
  }
  const redisOptions: Record<string, unknown> = { ...inner.ioredis };
  for (const k of ['password', 'username', 'db', 'tls'] as const) {
    if (perNode[k] !== undefined) redisOptions[k] = perNode[k] === true ? {} : perNode[k];
    delete perNode[k];
  }
  if (Object.keys(redisOptions).length > 0) options.redisOptions = redisOptions;
  Object.assign(acc.out, perNode);
  acc.out.cluster = Object.keys(options).length > 0 ? { nodes, options } : { nodes };
  return true;
}

const ENV: Record<string, (acc: Acc, name: string, v: string) => void> = {
  REDIS_URL: (acc, n, v) => setUrl(acc, n, v),
  REDIS_URI: (acc, n, v) => setUrl(acc, n, v),
  REDIS_HOST: (acc, n, v) => setString(acc, 'host', n, v),
  REDIS_HOSTNAME: (acc, n, v) => setString(acc, 'host', n, v),
  REDIS_PORT: (acc, n, v) => setPort(acc, n, v),
  REDIS_PASSWORD: (acc, n, v) => setString(acc, 'password', n, v),
  REDIS_PASS: (acc, n, v) => setString(acc, 'password', n, v),
  REDIS_USERNAME: (acc, n, v) => setString(acc, 'username', n, v),
  REDIS_USER: (acc, n, v) => setString(acc, 'username', n, v),
  REDIS_DB: (acc, n, v) => setDb(acc, n, v),
  REDIS_DATABASE: (acc, n, v) => setDb(acc, n, v),
  REDIS_TLS: (acc, n, v) => {
    if (tlsOf(n, v) === true) acc.out.tls = true;
  },
  REDIS_SSL: (acc, n, v) => {
    if (tlsOf(n, v) === true) acc.out.tls = true;
  },
  REDIS_SENTINELS: (acc, n, v) => objectOption(acc, '', 'sentinels', hostPorts(WHAT, n, v)),
  REDIS_SENTINEL_NAME: (acc, n, v) => objectOption(acc, `${n}:`, 'name', v),
  REDIS_MASTER_NAME: (acc, n, v) => objectOption(acc, `${n}:`, 'name', v),
  REDIS_SENTINEL_PASSWORD: (acc, _n, v) => {
    acc.ioredis.sentinelPassword = v;
  },
  REDIS_CLUSTER_NODES: (acc, n, v) => void clusterOf(acc, { nodes: hostPorts(WHAT, n, v) }),
};

const isEnvSet = (input: Record<string, unknown>) =>
  Object.keys(input).some((k) => /^REDIS_[A-Z0-9_]+$/.test(k));

/** Fold the ioredis-only settings into the output and finish the Sentinel block. */
function finish(acc: Acc): RedisAdapterOptions {
  const s = acc.out.sentinels;
  if (s !== undefined) {
    if (s.sentinels.length === 0) {
      throw badOption(
        WHAT,
        'name',
        'is a Sentinel master name, but no sentinels are given',
        s.name,
      );
    }
    if (s.name === '') throw badOption(WHAT, 'sentinels', 'need the master name (name)', '');
    if (acc.out.password !== undefined) s.password = acc.out.password;
    if (acc.ioredis.sentinelPassword !== undefined) {
      s.sentinelPassword = acc.ioredis.sentinelPassword;
      delete acc.ioredis.sentinelPassword;
    }
  } else if (acc.ioredis.sentinelPassword !== undefined) {
    drop(acc, 'sentinelPassword', 'no sentinels are configured');
    delete acc.ioredis.sentinelPassword;
  }
  if (Object.keys(acc.ioredis).length > 0) {
    acc.out.redisOptions = { ...acc.out.redisOptions, ...acc.ioredis };
  }
  return acc.out;
}

/**
 * Legacy Redis settings → Redis adapter options, with every option left behind
 * and why. Accepts a `redis://` / `rediss://` URL, ioredis options (Sentinel
 * and Cluster included), a legacy `ConnectionConfig` (`host`, `port`,
 * `pool_size`, `connection_params`, snake_case or camelCase), an array of
 * cluster nodes, or an environment (`process.env`: `REDIS_URL`, `REDIS_HOST`,
 * `REDIS_PORT`, `REDIS_PASSWORD`, `REDIS_DB`, `REDIS_TLS`, `REDIS_SENTINELS` +
 * `REDIS_SENTINEL_NAME`, `REDIS_CLUSTER_NODES`; other variables are ignored).
 * @throws HubError `HUB_INVALID_CONFIG` naming an option whose value is unusable.
 */
export function planRedisMigration(input: unknown): Migration<RedisAdapterOptions> {
  const acc: Acc = { out: {}, ioredis: {}, dropped: [] };
  if (typeof input === 'string') {
    if (/^rediss?:\/\//.test(input)) acc.out.url = input;
    else if (input.startsWith('/')) acc.ioredis.path = input;
    else {
      const [host, port] = input.split(':');
      if (!host) throw badOption(WHAT, 'url', 'must be a redis:// URL or host:port', input);
      acc.out.host = host;
      if (port !== undefined) setPort(acc, 'port', port);
    }
  } else if (Array.isArray(input)) {
    clusterOf(acc, { nodes: input });
  } else if (isRecord(input)) {
    if (isEnvSet(input)) {
      for (const name of Object.keys(input)) {
        if (!name.startsWith('REDIS_')) continue;
        const v = input[name];
        if (typeof v !== 'string' || v === '') continue;
        const apply = ENV[name];
        if (apply) apply(acc, name, v);
        else drop(acc, name, 'not a Redis connection variable this migration knows');
      }
    } else if (!clusterOf(acc, input)) {
      for (const k of Object.keys(input)) objectOption(acc, '', k, input[k]);
    }
  } else {
    throw badOption(WHAT, 'config', 'must be a URL, an options object or an environment', input);
  }
  if (acc.out.commandTimeoutMs !== undefined && !(acc.out.commandTimeoutMs > 0)) {
    throw badOption(WHAT, 'commandTimeout', 'must be ms > 0', acc.out.commandTimeoutMs);
  }
  return { options: finish(acc), dropped: acc.dropped };
}

/**
 * Legacy Redis settings → options for `redis()` / `redisConfig`. Reports what
 * it left behind through `onDropped` (default: a warning). See planRedisMigration.
 */
export function migrateRedisConfig(input: unknown, options?: MigrateOptions): RedisAdapterOptions {
  const m = planRedisMigration(input);
  reportDropped(WHAT, m, options);
  return m.options;
}
