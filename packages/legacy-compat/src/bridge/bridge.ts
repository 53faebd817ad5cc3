import { rejectUnknownOptions, type Unsubscribe } from '@hub/core';
import { ErrorCode, HubError } from '@hub/protocol';
import type { Redis, RedisOptions } from 'ioredis';
import { createLegacyConverter, type LegacyConverter } from '../convert/converter.js';
import { connect, type LegacyRedis } from './connection.js';
import { BridgeContext, type BridgeHub } from './context.js';
import {
  type InboundRoute,
  inboundName,
  type Loop,
  listLoop,
  pubSubLoop,
  streamLoop,
  webSocketLoop,
} from './inbound.js';
import { type OutboundRoute, outboundName, startOutbound } from './outbound.js';
import { type RouteStats, routeStats } from './stats.js';

export interface LegacyBridgeOptions {
  /** The hub the bridge sends into and subscribes on (started by you). */
  hub: BridgeHub;
  /** The legacy Redis: a `redis://` URL or ioredis options. */
  redis: LegacyRedis;
  /**
   * Names this bridge's processing lists and stream consumer. A bridge started
   * again with the same id finishes what the previous one left half-done.
   * @default 'bridge'
   */
  id?: string;
  /** Legacy → hub routes. @default [] */
  inbound?: readonly InboundRoute[];
  /** Hub → legacy routes. @default [] */
  outbound?: readonly OutboundRoute[];
  /** Converter (your own shapes, defaults). @default createLegacyConverter() */
  converter?: LegacyConverter;
  /** Longest a blocking read (BLMOVE, XREADGROUP) waits before it is issued again. @default 1_000 */
  blockMs?: number;
  /** Told about every conversion failure, refusal and retried error. @default a console.warn line */
  onError?: (error: unknown, where: string) => void;
}

export interface LegacyBridge {
  /** Connect, subscribe every route and start the readers. Resolves when every route is receiving. */
  start(): Promise<void>;
  /** Stop reading, let what is in flight finish, close the connections. Idempotent. */
  close(): Promise<void>;
  /** Counters per route. */
  stats(): RouteStats[];
  [Symbol.asyncDispose](): Promise<void>;
}

const OPTIONS = ['hub', 'redis', 'id', 'inbound', 'outbound', 'converter', 'blockMs', 'onError'];
const INBOUND_OPTIONS: Record<InboundRoute['from'], readonly string[]> = {
  pubsub: ['from', 'channel', 'pattern', 'map'],
  list: ['from', 'key', 'processingKey', 'deadKey', 'concurrency', 'map'],
  websocket: ['from', 'url', 'protocols', 'headers', 'map'],
  stream: ['from', 'key', 'group', 'start', 'field', 'deadKey', 'concurrency', 'map'],
};
const OUTBOUND_OPTIONS: Record<OutboundRoute['to'], readonly string[]> = {
  pubsub: ['to', 'channel', 'from', 'shape', 'consume'],
  list: ['to', 'key', 'from', 'shape', 'consume'],
  stream: ['to', 'key', 'field', 'from', 'shape', 'consume'],
  websocket: ['to', 'url', 'protocols', 'headers', 'from', 'shape', 'consume'],
};

/**
 * Blocking readers own their retries: a read is never queued while the link
 * is down nor silently sent again after a reconnect (a resent BLMOVE would
 * leave the item the first one moved behind in the processing list).
 */
const READER: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  autoResendUnfulfilledCommands: false,
};

const bad = (msg: string) => new HubError(ErrorCode.INVALID_CONFIG, `[hub:legacy] bridge ${msg}`);

function check(o: LegacyBridgeOptions): void {
  if (typeof o !== 'object' || o === null) throw bad('options must be an object');
  rejectUnknownOptions('createLegacyBridge', o, OPTIONS);
  if (typeof o.hub?.send !== 'function') throw bad('option `hub` must be a hub');
  if (typeof o.redis !== 'string' && (typeof o.redis !== 'object' || o.redis === null)) {
    throw bad('option `redis` must be a redis:// URL or ioredis options');
  }
  if (o.blockMs !== undefined && !(o.blockMs > 0)) throw bad('option `blockMs` must be > 0');
  (o.inbound ?? []).forEach((r, i) => {
    const known = INBOUND_OPTIONS[r?.from];
    if (known === undefined) {
      throw bad(`inbound[${i}].from must be pubsub, list, stream or websocket`);
    }
    rejectUnknownOptions(`createLegacyBridge.inbound[${i}]`, r, known);
    const field = r.from === 'pubsub' ? 'channel' : r.from === 'websocket' ? 'url' : 'key';
    const name = (r as unknown as Record<string, unknown>)[field];
    if (typeof name !== 'string' || name === '') {
      throw bad(`inbound[${i}].${field} must be a non-empty string`);
    }
  });
  (o.outbound ?? []).forEach((r, i) => {
    const known = OUTBOUND_OPTIONS[r?.to];
    if (known === undefined) {
      throw bad(`outbound[${i}].to must be pubsub, list, stream or websocket`);
    }
    rejectUnknownOptions(`createLegacyBridge.outbound[${i}]`, r, known);
    const from = r.from as Record<string, unknown> | undefined;
    if (typeof from?.topic !== 'string' && typeof from?.endpoint !== 'string') {
      throw bad(`outbound[${i}].from must be { topic } or { endpoint }`);
    }
  });
}

/**
 * A bridge between a legacy Redis (Pub/Sub channels, list queues, streams)
 * and a hub, in both directions, for running old and new side by side.
 * Loop-safe: what a bridge carried is marked and never carried back.
 */
export function createLegacyBridge(options: LegacyBridgeOptions): LegacyBridge {
  check(options);
  const id = options.id ?? 'bridge';
  const blockMs = options.blockMs ?? 1_000;
  const converter = options.converter ?? createLegacyConverter();
  const report =
    options.onError ??
    ((err: unknown, where: string) =>
      console.warn(
        `[hub:legacy] bridge ${id}: ${where}: ${err instanceof Error ? err.message : String(err)}`,
      ));
  const inbound = options.inbound ?? [];
  const outbound = options.outbound ?? [];
  const stats = [
    ...inbound.map((r) => routeStats(inboundName(r))),
    ...outbound.map((r) => routeStats(outboundName(r))),
  ];

  const connections: Redis[] = [];
  const loops: Loop[] = [];
  const unsubscribes: Unsubscribe[] = [];
  let ctx: BridgeContext | undefined;
  let starting: Promise<void> | undefined;
  let closing: Promise<void> | undefined;

  const open = (role: string, extra?: RedisOptions): Redis => {
    const client = connect(options.redis, role, (err, where) => report(err, where), extra);
    connections.push(client);
    return client;
  };

  async function start(): Promise<void> {
    const commands = open('commands');
    ctx = new BridgeContext(id, options.hub, converter, commands, report);
    await commands.ping();
    let subscriber: Redis | undefined;
    inbound.forEach((route, i) => {
      const s = stats[i]!;
      if (route.from === 'pubsub') {
        subscriber ??= open('subscriber');
        loops.push(pubSubLoop(ctx!, route, s, subscriber));
      } else if (route.from === 'websocket') {
        loops.push(webSocketLoop(ctx!, route, s));
      } else if (route.from === 'list') {
        loops.push(listLoop(ctx!, route, s, open(`reader ${s.route}`, READER), blockMs));
      } else loops.push(streamLoop(ctx!, route, s, open(`reader ${s.route}`, READER), blockMs));
    });
    for (const [i, route] of outbound.entries()) {
      unsubscribes.push(await startOutbound(ctx, route, stats[inbound.length + i]!));
    }
    await Promise.all(loops.map((l) => l.ready));
  }

  async function stop(): Promise<void> {
    await starting?.catch(() => {});
    ctx?.close();
    await Promise.allSettled(unsubscribes.map((u) => u()));
    for (const l of loops) l.stop?.();
    // Blocking reads end when their connection does; the item a BLMOVE took stays in the processing list.
    for (const c of connections.slice(1)) c.disconnect();
    await Promise.allSettled(loops.map((l) => l.done));
    const commands = connections[0];
    if (commands) await commands.quit().catch(() => commands.disconnect());
  }

  const bridge: LegacyBridge = {
    start() {
      if (closing) return Promise.reject(bad('is closed'));
      starting ??= start();
      return starting;
    },
    close() {
      closing ??= stop();
      return closing;
    },
    stats: () => stats.map((s) => ({ ...s })),
    [Symbol.asyncDispose]: () => bridge.close(),
  };
  return bridge;
}
