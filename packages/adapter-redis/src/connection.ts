import { backoffDelay, isLoopbackHost } from '@hub/core';
import { ErrorCode, HubError } from '@hub/protocol';
import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { RedisAdapterOptions, ResolvedOptions } from './options.js';

export type RedisClient = Redis | Cluster;

/**
 * Options of the connections we create. ioredis 6 types `replyMapping` in the
 * constructor without `undefined`, which `RedisOptions` (spread) carries.
 */
type Options = Omit<RedisOptions, 'replyMapping'> & { replyMapping?: 'legacy' };
export type Role = 'commands' | 'subscriber' | 'reader';

// The last two are ACL denials of a command run inside a script (our read sweep).
const AUTH_ERROR =
  /^(WRONGPASS|NOAUTH|NOPERM)|invalid username-password|ERR AUTH|can't run this command|has no permissions/i;
/** Errors a retry cannot fix: wrong credentials or missing ACL permissions. */
export const isAuthError = (err: unknown): boolean =>
  err instanceof Error && AUTH_ERROR.test(err.message);

/** A certificate the client refuses will be refused again on every retry. */
const isCertError = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | undefined)?.code;
  return (
    typeof code === 'string' &&
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS_CERT/.test(code)
  );
};

function roleOptions(role: Role, o: ResolvedOptions, cluster: boolean): Options {
  switch (role) {
    case 'commands':
      // Sends must not hang across a dead link. A socket silent while replies
      // are due is destroyed and reconnected (socketTimeout); a reply overdue
      // past commandTimeoutMs fails its command: on a standalone connection
      // through the adapter's StallWatch (one sweep, no timer per command),
      // on a Cluster through ioredis's per-command timer.
      return {
        // The adapter batches its own writes per tick (PUBLISH and XADD in
        // batch.ts, XACK in the stream consumer), so on a standalone server
        // each batch is written at once, in the order issued. ioredis's
        // auto-pipelining on top built a Pipeline and an Immediate for every
        // command (~6 KB and ~20 µs of client CPU per request/reply round
        // trip at one request in flight). A Cluster keeps it: it groups the
        // commands of a tick by node.
        enableAutoPipelining: cluster,
        // The StallWatch settles what was written before a disconnect through
        // ioredis's resend queue; with resend off ioredis drops that queue
        // without settling it, and the auto-pipeline behind it waits forever.
        ...(cluster
          ? { commandTimeout: o.commandTimeoutMs }
          : { autoResendUnfulfilledCommands: true }),
        socketTimeout: o.commandTimeoutMs,
      };
    case 'subscriber':
      return { autoResubscribe: true, socketTimeout: o.commandTimeoutMs };
    case 'reader':
      // The read loop owns retries: no offline queue, and no silent resend of a
      // read whose caller already gave up (its entries would sit unseen in our PEL).
      return {
        enableAutoPipelining: false,
        enableOfflineQueue: false,
        autoResendUnfulfilledCommands: false,
        maxRetriesPerRequest: 0,
        socketTimeout: o.blockMs + o.commandTimeoutMs,
      };
  }
}

/**
 * Reconnect delays of the connections we create: the hub's shared capped,
 * jittered backoff. The cap bounds how long a restarted server goes unnoticed:
 * until the next attempt the adapter reports unhealthy and the hub fails sends
 * at once, so it is short (an attempt on a closed port costs one refused SYN).
 */
export const RECONNECT_MAX_DELAY_MS = 500;
const reconnect = (times: number) =>
  backoffDelay(times, { initialDelayMs: 50, maxDelayMs: RECONNECT_MAX_DELAY_MS, jitter: 'equal' });

function legacyOptions(opts: RedisAdapterOptions): Options {
  // RESP2 on the wire (ioredis 6 defaults to RESP3): the reply shapes the
  // adapter parses (stream reads, script results) and the reply queue the
  // StallWatch reads are those of RESP2, and Redis before 6 speaks nothing
  // else. `redisOptions.protocol` overrides it.
  const out: Options = { retryStrategy: reconnect, protocol: 2 };
  if (opts.host !== undefined) out.host = opts.host;
  if (opts.port !== undefined) out.port = opts.port;
  const password = opts.password ?? opts.connectionParams?.password;
  if (password !== undefined) out.password = password;
  if (opts.username !== undefined) out.username = opts.username;
  if (opts.db !== undefined) out.db = opts.db;
  const tls = opts.tls ?? opts.connectionParams?.tls;
  if (tls !== undefined && tls !== false) out.tls = tls === true ? {} : tls;
  return out;
}

/** Creates every connection the adapter uses, from whichever source the user gave. */
export class ConnectionFactory {
  constructor(
    private readonly opts: RedisAdapterOptions,
    private readonly resolved: ResolvedOptions,
  ) {}

  get isCluster(): boolean {
    return this.opts.cluster !== undefined || this.opts.client instanceof Cluster;
  }

  /**
   * Best-effort messages go over sharded Pub/Sub (SPUBLISH, SSUBSCRIBE): asked
   * for (`shardedPubSub`) and on a Cluster, the only place where it saves work.
   */
  get shardedPubSub(): boolean {
    return this.resolved.shardedPubSub && this.isCluster;
  }

  /** A new connection for `role`; the commands role returns the user's own client when given. */
  create(role: Role): { client: RedisClient; owned: boolean } {
    const extra = { ...roleOptions(role, this.resolved, this.isCluster), lazyConnect: true };
    // ioredis routes each SSUBSCRIBE to a connection of its own to the master
    // owning the channel's slot, and moves it when the slot moves.
    const sharded = role === 'subscriber' && this.shardedPubSub;
    const { client, cluster, sentinels, url } = this.opts;
    const user = (this.opts.redisOptions ?? {}) as Options;
    if (client) {
      if (role === 'commands') return { client, owned: false };
      if (client instanceof Cluster)
        return { client: dupCluster(client, extra, sharded), owned: true };
      return { client: client.duplicate(extra), owned: true };
    }
    if (cluster) {
      const { enableOfflineQueue, ...perNode } = extra;
      const co = cluster.options ?? {};
      const c = new Cluster(cluster.nodes, {
        clusterRetryStrategy: reconnect,
        ...co,
        lazyConnect: true,
        enableAutoPipelining: perNode.enableAutoPipelining ?? co.enableAutoPipelining ?? false,
        ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
        ...(sharded ? { shardedSubscribers: true } : {}),
        redisOptions: { protocol: 2, ...(co.redisOptions as Options), ...user, ...perNode },
      });
      return { client: c, owned: true };
    }
    if (sentinels) {
      const so: Options = { sentinels: sentinels.sentinels, name: sentinels.name };
      if (sentinels.password !== undefined) so.password = sentinels.password;
      if (sentinels.sentinelPassword !== undefined)
        so.sentinelPassword = sentinels.sentinelPassword;
      return {
        client: new Redis({ ...legacyOptions(this.opts), ...user, ...so, ...extra }),
        owned: true,
      };
    }
    const base = { ...legacyOptions(this.opts), ...user, ...extra };
    if (url !== undefined) return { client: new Redis(url, base), owned: true };
    return { client: new Redis(base), owned: true };
  }
}

function dupCluster(c: Cluster, extra: Options, sharded: boolean): Cluster {
  const { enableOfflineQueue, lazyConnect, ...perNode } = extra;
  return c.duplicate([], {
    lazyConnect: lazyConnect ?? true,
    ...(enableOfflineQueue === undefined ? {} : { enableOfflineQueue }),
    ...(sharded ? { shardedSubscribers: true } : {}),
    enableAutoPipelining: perNode.enableAutoPipelining ?? false,
    redisOptions: { ...(c.options.redisOptions as Options), ...perNode },
  });
}

/**
 * The `host:port` of each server this client reaches without TLS on a
 * non-loopback address: its password and every message cross the network
 * in the clear there. A socket path is local. `clusterNodes`: the startup
 * nodes of a Cluster (ioredis keeps its own private).
 */
export function plaintextRemotes(client: RedisClient, clusterNodes?: readonly unknown[]): string[] {
  const remote = (host: string | undefined, port: number | undefined, dflt: number): string[] => {
    const h = host ?? '127.0.0.1';
    return isLoopbackHost(h) ? [] : [`${h}:${port ?? dflt}`];
  };
  if (client instanceof Cluster) {
    const tls = (client.options.redisOptions as { tls?: unknown } | undefined)?.tls;
    if (tls !== undefined && tls !== false) return [];
    return (clusterNodes ?? []).flatMap((n) => {
      if (typeof n === 'number') return [];
      if (typeof n === 'string') {
        if (/^rediss:/i.test(n)) return [];
        const u = new URL(/^[a-z]+:\/\//i.test(n) ? n : `redis://${n}`);
        return remote(u.hostname, Number(u.port) || undefined, 6379);
      }
      const o = n as { host?: string; port?: number };
      return remote(o.host, o.port, 6379);
    });
  }
  const o = client.options;
  if (o.path || (o.tls !== undefined && (o.tls as unknown) !== false)) return [];
  if (o.sentinels) return o.sentinels.flatMap((s) => remote(s.host, s.port, 26379));
  return remote(o.host, o.port, 6379);
}

/** Errors that mean nobody is there: nothing listens on the port, or the name does not resolve. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
]);
const isUnreachable = (err: unknown): boolean =>
  UNREACHABLE.has(String((err as { code?: unknown } | undefined)?.code));

/** Where a client connects, for messages: `host:port`, the socket path, or the kind of setup. */
function addressOf(client: RedisClient): string {
  if (client instanceof Cluster) return 'the cluster nodes';
  const o = client.options;
  if (o.sentinels) return `the sentinels of "${o.name ?? ''}"`;
  if (o.path) return o.path;
  return `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
}

export interface WhenReadyOptions {
  /**
   * Give up after this long (ms) when every attempt so far was refused or the
   * address did not resolve: nobody is there, and waiting the full timeout
   * would only delay the same answer.
   */
  refusedBudgetMs?: number;
}

/**
 * Connect (if lazy) and wait until the client is ready. Auth failures reject at
 * once and stop the client's reconnect loop: retrying a wrong password forever
 * helps nobody. Refused connections reject after `refusedBudgetMs`, with one
 * message that says what to check.
 */
export function whenReady(
  client: RedisClient,
  timeoutMs: number,
  what: string,
  options: WhenReadyOptions = {},
): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  const started = Date.now();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      reject(
        new HubError(
          ErrorCode.CONNECTION_FAILED,
          `[hub:redis] ${what} connection to ${addressOf(client)} not ready after ${timeoutMs} ms${last ? `: ${last.message}` : ''}`,
          { cause: last },
        ),
      );
    }, timeoutMs);
    let last: Error | undefined;
    let reachable = false;
    const onReady = () => {
      done();
      resolve();
    };
    const onError = (err: Error) => {
      last = err;
      const auth = isAuthError(err);
      if (auth || isCertError(err)) {
        done();
        client.disconnect();
        reject(
          new HubError(
            auth ? ErrorCode.AUTH_FAILED : ErrorCode.CONNECTION_FAILED,
            `[hub:redis] ${what} connection refused: ${err.message}${
              auth
                ? ' (check the username and password: in "url" or the password/username options)'
                : ''
            }`,
            { cause: err },
          ),
        );
        return;
      }
      if (!isUnreachable(err)) {
        reachable = true;
        return;
      }
      const budget = options.refusedBudgetMs;
      if (budget !== undefined && !reachable && Date.now() - started >= budget) {
        done();
        client.disconnect();
        reject(
          new HubError(
            ErrorCode.CONNECTION_FAILED,
            `[hub:redis] cannot reach Redis at ${addressOf(client)} (${err.message}; retried for ${Date.now() - started} ms): check that redis-server is running there and that the adapter's "url" (or host and port) points at it; connectBudgetMs sets how long to retry`,
            { cause: err },
          ),
        );
      }
    };
    const done = () => {
      clearTimeout(timer);
      client.off('ready', onReady);
      client.off('error', onError);
    };
    client.on('ready', onReady);
    client.on('error', onError);
    if (client.status === 'wait') client.connect().catch(() => {});
  });
}

const REDIRECT = /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN) /;

/** A Redis Cluster redirection: the command did not run. */
export const isRedirect = (err: unknown): boolean =>
  err instanceof Error && REDIRECT.test(err.message);

/**
 * Retry a command that Redis Cluster redirected. ioredis follows redirections
 * itself except for writes inside an auto-pipeline; MOVED/ASK/TRYAGAIN mean the
 * command did not run, so a retry cannot duplicate it. ioredis refreshes its
 * slot map on the first MOVED.
 */
export async function withRedirectRetry<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts || !(err instanceof Error) || !REDIRECT.test(err.message)) throw err;
      await new Promise((r) =>
        setTimeout(r, backoffDelay(i, { initialDelayMs: 20, maxDelayMs: 500 })),
      );
    }
  }
}
