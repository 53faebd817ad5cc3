import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { optionNames, rejectUnknownOptions } from '@hub/core';
import { DEFAULT_LIMITS, ErrorCode, HubError } from '@hub/protocol';
import type { Cluster, ClusterNode, ClusterOptions, Redis, RedisOptions } from 'ioredis';

/** The connection config shape of the legacy systems Hub replaces; still accepted. */
export interface LegacyRedisConnectionConfig {
  host?: string;
  port?: number;
  password?: string;
  username?: string;
  db?: number;
  tls?: boolean | TlsConnectionOptions;
  /** Ignored: Hub uses one command connection with auto-pipelining. */
  poolSize?: number;
  connectionParams?: { password?: string; tls?: boolean | TlsConnectionOptions };
}

export interface RedisSentinelOptions {
  /** Sentinel addresses. */
  sentinels: Array<{ host: string; port: number }>;
  /** Master group name. */
  name: string;
  /** Password of the Redis master/replicas. @default undefined */
  password?: string;
  /** Password of the sentinels. @default undefined */
  sentinelPassword?: string;
}

export interface RedisAdapterOptions extends LegacyRedisConnectionConfig {
  /** `redis://[user:pass@]host:port[/db]` or `rediss://…` for TLS. @default 'redis://127.0.0.1:6379' when nothing else is given */
  url?: string;
  /**
   * Your own ioredis client. The adapter `duplicate()`s it for the subscriber and
   * each blocking reader, runs commands on it, and never quits it.
   * @default undefined
   */
  client?: Redis | Cluster;
  /** Redis Cluster startup nodes and options. @default undefined */
  cluster?: { nodes: ClusterNode[]; options?: ClusterOptions };
  /** Redis Sentinel. @default undefined */
  sentinels?: RedisSentinelOptions;
  /** Extra ioredis options for the connections the adapter creates. @default {} */
  redisOptions?: RedisOptions;
  /** Prefix of every key and channel. @default 'hub' */
  keyPrefix?: string;
  /** Approximate cap (`XADD MAXLEN ~`) of each stream. @default 1_000_000 */
  maxLen?: number;
  /** Warn (once per check) when a group's lag passes this share of `maxLen`. @default 0.8 */
  lagWarnRatio?: number;
  /** How often the lag check runs, in ms; also how often topic streams are trimmed by age. @default 10_000 */
  lagCheckIntervalMs?: number;
  /**
   * Retention of durable topics (events published with a guarantee above
   * best-effort), per topic pattern; the first pattern (in key order) that
   * matches the topic wins. `maxLen`: entries kept (`MAXLEN`, exact, applied
   * by publishers every `lagCheckIntervalMs` on top of the `maxLen` cap at
   * write); `maxAgeMs`: entries older than this are trimmed (`MINID`).
   * Trimming drops entries whether or not every group has read them.
   * @default {} (only the `maxLen` cap)
   */
  topicRetention?: Readonly<Record<string, TopicRetention>>;
  /**
   * How often a pattern subscription over durable topics re-reads the topic
   * registry, in case an announcement of a new topic was missed (a Pub/Sub
   * reconnect). @default 5_000
   */
  topicRescanMs?: number;
  /**
   * An entry pending this long (ms) without its consumer refreshing it is
   * considered abandoned and reclaimed by another consumer. Live consumers
   * refresh held entries every `claimIdleMs / 3`.
   * @default 30_000
   */
  claimIdleMs?: number;
  /**
   * Topic groups: every instance of a group receives each event over Pub/Sub
   * and the first to `SET NX` the event's claim key handles it. A claim lives
   * this long (ms); a copy of the event reaching a lagging instance later than
   * that would be handled again, so keep it well above subscriber lag.
   * @default 30_000
   */
  groupClaimMs?: number;
  /** Server-side BLOCK of each XREADGROUP, in ms; bounds how long a read can hang. @default 1_000 */
  blockMs?: number;
  /** A reply overdue by this many ms marks the connection dead; it is dropped and reconnected. @default 5_000 */
  commandTimeoutMs?: number;
  /** Ordered partitions (streams) per endpoint. Fixed for the life of the data. @default 16 */
  partitions?: number;
  /** Lease time (ms) of an ordered partition; renewed every third of it. @default 10_000 */
  partitionLeaseMs?: number;
  /** Ping interval (ms) of the Pub/Sub connection, to notice a dead link. @default 5_000 */
  heartbeatMs?: number;
  /**
   * Largest stream entry body (field names and values, in bytes) a consumer
   * takes. A bigger entry is refused by its length, never parsed, and
   * dead-lettered (see `deadLetterRawMaxBytes`); the size-checked read does
   * not even transfer it. Entries the hub writes stay well under the default.
   * @default 1_118_208 (the protocol's largest envelope, 1 MiB + 64 KiB, plus 4 KiB)
   */
  maxEntryBytes?: number;
  /**
   * Entries that are not hub messages (undecodable, oversized) are kept in the
   * DLQ byte for byte up to this many bytes; a longer body is cut there, with
   * its original size recorded (`size`, `truncated`), so a flood of junk
   * cannot fill Redis with copies.
   * @default 65_536
   */
  deadLetterRawMaxBytes?: number;
  /**
   * How long (ms) `connect()` (the hub's `start()`) keeps retrying while the
   * server refuses the connection or its address does not resolve, before it
   * fails with HUB_CONNECTION_FAILED saying what to check. A server that
   * accepts but answers slowly gets `max(10_000, 2 × commandTimeoutMs)`.
   * @default 2_000
   */
  connectBudgetMs?: number;
  /**
   * Redis Cluster (Redis 7 or later): best-effort messages go over sharded
   * Pub/Sub, `SPUBLISH` / `SSUBSCRIBE`, so each message is handled by the
   * node owning its channel's slot only. Classic Pub/Sub on a Cluster
   * forwards every `PUBLISH` to every master over the cluster bus, which
   * makes the whole Cluster do the work of every message. Sharded are the
   * endpoint channels (`<prefix>:ch:<endpoint>`) and the per-instance member
   * channels (`<prefix>:chm:…`). Events keep classic Pub/Sub: topic
   * subscriptions are patterns (`PSUBSCRIBE`), which have no sharded form,
   * as does the announcement channel of new durable topics.
   *
   * Off by default because a plain client that subscribes with `SUBSCRIBE`
   * (redis-cli, a legacy bridge serving an endpoint) no longer sees the
   * hub's messages once they are sent with `SPUBLISH`: every process on
   * those channels must use `SSUBSCRIBE`. Every hub instance sharing a
   * `keyPrefix` must use the same setting. On a standalone server (or
   * Sentinel) the option is ignored, with a warning at connect: sharded
   * Pub/Sub brings nothing on one node, and classic keeps plain clients working.
   * @default false
   */
  shardedPubSub?: boolean;
}

/** Where to connect: the options `redis()` and `redisDedupStore()` share. */
export const CONNECTION_OPTIONS = [
  'url',
  'client',
  'cluster',
  'sentinels',
  'redisOptions',
] as const;

/**
 * Every option `redis()` accepts, as names (the compiler fails when
 * RedisAdapterOptions gains an option this list lacks); `@hub/legacy-compat`
 * uses it to emit only options the adapter knows.
 */
export const REDIS_ADAPTER_OPTIONS = optionNames<RedisAdapterOptions>({
  url: true,
  client: true,
  cluster: true,
  sentinels: true,
  redisOptions: true,
  keyPrefix: true,
  maxLen: true,
  lagWarnRatio: true,
  lagCheckIntervalMs: true,
  claimIdleMs: true,
  groupClaimMs: true,
  blockMs: true,
  commandTimeoutMs: true,
  partitions: true,
  partitionLeaseMs: true,
  heartbeatMs: true,
  maxEntryBytes: true,
  deadLetterRawMaxBytes: true,
  connectBudgetMs: true,
  shardedPubSub: true,
  topicRetention: true,
  topicRescanMs: true,
  host: true,
  port: true,
  password: true,
  username: true,
  db: true,
  tls: true,
  poolSize: true,
  connectionParams: true,
});

/** What `redis()` checks against: its options, and the legacy config's `protocol` tag. */
const ADAPTER_OPTIONS: readonly string[] = [...REDIS_ADAPTER_OPTIONS, 'protocol'];

/**
 * Check what no type checker saw (plain JavaScript, a config file): unknown
 * option names (a typo such as `urll` would otherwise fall back to
 * 127.0.0.1:6379 in silence) and the scheme of `url`.
 */
export function checkAdapterOptions(opts: unknown): void {
  if (opts !== undefined && (typeof opts !== 'object' || opts === null || Array.isArray(opts))) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] options must be an object (got ${Array.isArray(opts) ? 'an array' : String(opts)})`,
    );
  }
  rejectUnknownOptions('redis', opts, ADAPTER_OPTIONS);
  checkUrl((opts as RedisAdapterOptions | undefined)?.url);
}

/**
 * `url` must be a Redis URL: `redis://…`, `rediss://…` (TLS), or the path of
 * a Unix socket. Anything else (an `http://` URL pasted by mistake) is refused
 * at once instead of failing later as a connection error.
 */
export function checkUrl(url: unknown): void {
  if (url === undefined) return;
  if (typeof url !== 'string' || !(/^rediss?:\/\//i.test(url) || url.startsWith('/'))) {
    const scheme = typeof url === 'string' ? /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1] : undefined;
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "url" must start with redis:// or rediss:// (TLS)${
        scheme ? `; "${scheme}:" is the wrong scheme` : ''
      } (got ${JSON.stringify(url)})`,
    );
  }
}

/** Retention of one durable topic (see `topicRetention`). */
export interface TopicRetention {
  readonly maxLen?: number;
  readonly maxAgeMs?: number;
}

export interface ResolvedOptions {
  topicRetention: ReadonlyArray<readonly [string, TopicRetention]>;
  topicRescanMs: number;
  keyPrefix: string;
  maxLen: number;
  lagWarnRatio: number;
  lagCheckIntervalMs: number;
  claimIdleMs: number;
  groupClaimMs: number;
  blockMs: number;
  commandTimeoutMs: number;
  partitions: number;
  partitionLeaseMs: number;
  heartbeatMs: number;
  maxEntryBytes: number;
  deadLetterRawMaxBytes: number;
  connectBudgetMs: number;
  /** As given (see `shardedPubSub`); the adapter applies it on a Cluster only. */
  shardedPubSub: boolean;
}

function positive(opts: RedisAdapterOptions, field: keyof ResolvedOptions, def: number): number {
  const v = opts[field as keyof RedisAdapterOptions] ?? def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "${field}" must be a positive number (got ${String(v)})`,
    );
  }
  return v;
}

export function resolveOptions(opts: RedisAdapterOptions): ResolvedOptions {
  const keyPrefix = opts.keyPrefix ?? 'hub';
  if (typeof keyPrefix !== 'string' || keyPrefix === '' || /[{}\s]/.test(keyPrefix)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "keyPrefix" must be a non-empty string without braces or spaces`,
    );
  }
  const ratio = opts.lagWarnRatio ?? 0.8;
  if (!(ratio > 0 && ratio <= 1)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "lagWarnRatio" must be in (0, 1]`,
    );
  }
  const partitions = positive(opts, 'partitions', 16);
  if (!Number.isInteger(partitions)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "partitions" must be an integer`,
    );
  }
  const sharded = opts.shardedPubSub ?? false;
  if (typeof sharded !== 'boolean') {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:redis] option "shardedPubSub" must be true or false (got ${String(sharded)})`,
    );
  }
  return {
    topicRetention: retentionOf(opts.topicRetention),
    topicRescanMs: positive(opts, 'topicRescanMs', 5_000),
    keyPrefix,
    maxLen: positive(opts, 'maxLen', 1_000_000),
    lagWarnRatio: ratio,
    lagCheckIntervalMs: positive(opts, 'lagCheckIntervalMs', 10_000),
    claimIdleMs: positive(opts, 'claimIdleMs', 30_000),
    groupClaimMs: positive(opts, 'groupClaimMs', 30_000),
    blockMs: positive(opts, 'blockMs', 1_000),
    commandTimeoutMs: positive(opts, 'commandTimeoutMs', 5_000),
    partitions,
    partitionLeaseMs: positive(opts, 'partitionLeaseMs', 10_000),
    heartbeatMs: positive(opts, 'heartbeatMs', 5_000),
    maxEntryBytes: positive(opts, 'maxEntryBytes', DEFAULT_LIMITS.maxEnvelopeBytes + 4_096),
    deadLetterRawMaxBytes: positive(opts, 'deadLetterRawMaxBytes', 65_536),
    connectBudgetMs: positive(opts, 'connectBudgetMs', 2_000),
    shardedPubSub: sharded,
  };
}

/** `topicRetention`: an object of topic pattern → `{ maxLen?, maxAgeMs? }`, each a positive number. */
function retentionOf(value: unknown): ReadonlyArray<readonly [string, TopicRetention]> {
  if (value === undefined) return [];
  const bad = (what: string) =>
    new HubError(ErrorCode.INVALID_CONFIG, `[hub:redis] option "topicRetention${what}`);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('" must be an object of topic pattern → { maxLen?, maxAgeMs? }');
  }
  const out: [string, TopicRetention][] = [];
  for (const [pattern, r] of Object.entries(value)) {
    if (typeof r !== 'object' || r === null) throw bad(`.${pattern}" must be an object`);
    for (const [k, v] of Object.entries(r)) {
      if (k !== 'maxLen' && k !== 'maxAgeMs') {
        throw bad(`.${pattern}.${k}" is not an option (maxLen, maxAgeMs)`);
      }
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
        throw bad(`.${pattern}.${k}" must be a positive number (got ${String(v)})`);
      }
    }
    out.push([pattern, r as TopicRetention]);
  }
  return out;
}
