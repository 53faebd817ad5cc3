/**
 * Legacy → hub. One loop per route, each with one exit: the bridge closing.
 * Lists and streams are at-least-once: an item leaves the legacy side only
 * after the hub accepted it (or it was parked on the dead key); Pub/Sub is
 * best-effort, as it was for the legacy consumers.
 */
import type { Envelope } from '@hub/protocol';
import type { Redis } from 'ioredis';
import { type BridgeContext, InFlight, type Outcome } from './context.js';
import type { RouteStats } from './stats.js';
import { type WsEndpoint, WsLink } from './websocket.js';

interface InboundCommon {
  /**
   * Items converted and sent at once (lists and streams). Above 1, items may
   * reach the hub in a different order than they were queued. @default 16
   */
  concurrency?: number;
  /** Rewrite each converted envelope before it is sent (re-address it, add headers). @default none */
  map?: (envelope: Envelope) => Envelope;
}

/** Legacy Pub/Sub channel (or glob pattern with `pattern: true`). Best-effort, like Pub/Sub itself. */
export interface PubSubInbound extends InboundCommon {
  from: 'pubsub';
  channel: string;
  /** `channel` is a PSUBSCRIBE pattern. @default false */
  pattern?: boolean;
}

/**
 * Legacy list queue (producers LPUSH, consumers BRPOP). Each item is moved
 * (BLMOVE) to a processing list before it is converted and removed only after
 * the hub accepted it; items left there by a bridge that died are sent first
 * when a bridge with the same id starts.
 */
export interface ListInbound extends InboundCommon {
  from: 'list';
  key: string;
  /** @default `<key>:processing:<bridge id>` */
  processingKey?: string;
  /** Where items that cannot be converted (or that the hub refuses for good) are moved. @default `<key>:dead` */
  deadKey?: string;
}

/** Legacy stream, read through a consumer group; an entry is acknowledged after the hub accepted it. */
export interface StreamInbound extends InboundCommon {
  from: 'stream';
  key: string;
  /** @default 'hub-bridge' */
  group?: string;
  /** Where the group starts when the bridge creates it: `$` new entries only, `0` the whole stream. @default '$' */
  start?: string;
  /**
   * Field holding the legacy message as JSON. @default the first of `data`, `payload`,
   * `message`, `body`, `json` present; with none, the entry's fields as one object
   */
  field?: string;
  /** Stream that entries which cannot be converted are copied to before they are acknowledged. @default `<key>:dead` */
  deadKey?: string;
}

/** Legacy WebSocket endpoint: the bridge connects as a client; each text frame is a legacy message. Best-effort. */
export interface WebSocketInbound extends InboundCommon, WsEndpoint {
  from: 'websocket';
}

export type InboundRoute = PubSubInbound | ListInbound | StreamInbound | WebSocketInbound;

export const inboundName = (r: InboundRoute): string =>
  r.from === 'pubsub'
    ? `pubsub:${r.channel}`
    : r.from === 'websocket'
      ? `websocket:${r.url}`
      : `${r.from}:${r.key}`;

export interface Loop {
  /** Resolves when the loop has exited (after the bridge closed). */
  done: Promise<void>;
  /** Ready to receive: subscribed, group created, recovery started. */
  ready: Promise<void>;
  /** Tell a loop that waits for no command of its own that the bridge is closing. */
  stop?: () => void;
}

/** Pub/Sub: every message is delivered as it comes; close waits for those in flight. */
export function pubSubLoop(
  ctx: BridgeContext,
  route: PubSubInbound,
  stats: RouteStats,
  subscriber: Redis,
): Loop {
  const inFlight = new Set<Promise<Outcome>>();
  const onMessage = (channel: string, message: string) => {
    if (channel !== route.channel) return;
    stats.received++;
    const p = ctx.deliver(message, stats, route.map);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  };
  const onPattern = (pattern: string, _channel: string, message: string) =>
    onMessage(pattern, message);
  let closed!: () => void;
  const closing = new Promise<void>((resolve) => {
    closed = resolve;
  });
  const ready = (async () => {
    if (route.pattern) {
      subscriber.on('pmessage', onPattern);
      await subscriber.psubscribe(route.channel);
    } else {
      subscriber.on('message', onMessage);
      await subscriber.subscribe(route.channel);
    }
  })();
  const done = (async () => {
    await ready.catch(() => {});
    await closing;
    subscriber.off('message', onMessage);
    subscriber.off('pmessage', onPattern);
    await Promise.allSettled([...inFlight]);
  })();
  return { ready, done, stop: closed };
}

/** A list queue through a processing list (at-least-once). */
export function listLoop(
  ctx: BridgeContext,
  route: ListInbound,
  stats: RouteStats,
  reader: Redis,
  blockMs: number,
): Loop {
  const processing = route.processingKey ?? `${route.key}:processing:${ctx.id}`;
  const dead = route.deadKey ?? `${route.key}:dead`;
  const c = ctx.commands;

  const settle = async (raw: string): Promise<void> => {
    stats.received++;
    const outcome = await ctx.deliver(raw, stats, route.map);
    // Closed before the hub took it: it stays in the processing list for the next start.
    if (outcome === 'closed') return;
    await ctx.retry<unknown>(`${stats.route}: LREM`, stats, () =>
      outcome === 'dead'
        ? c.multi().lrem(processing, -1, raw).lpush(dead, raw).exec()
        : c.lrem(processing, -1, raw),
    );
  };

  let started!: () => void;
  const ready = new Promise<void>((resolve) => {
    started = resolve;
  });
  const pool = new InFlight(route.concurrency ?? 16, (err) => ctx.report(err, stats.route));
  /** Send what sits in the processing list, oldest (rightmost) first: left by a bridge that died, or by a lost reply. */
  const recover = async () => {
    const left =
      (await ctx.retry(`${stats.route}: LRANGE`, stats, () => c.lrange(processing, 0, -1))) ?? [];
    started();
    for (let i = left.length - 1; i >= 0 && !ctx.closed; i--) {
      stats.recovered++;
      await pool.add(settle(left[i]!));
    }
  };
  const done = (async () => {
    await recover();
    for (let attempt = 1; !ctx.closed; ) {
      let raw: string | null;
      try {
        raw = await reader.blmove(route.key, processing, 'RIGHT', 'LEFT', blockMs / 1000);
        attempt = 1;
      } catch (err) {
        if (!(await ctx.readFailed(err, stats, 'BLMOVE', attempt++))) break;
        // A BLMOVE whose reply was lost may have moved an item: once everything in
        // flight is settled, whatever the processing list still holds is such an item.
        await pool.drain();
        await recover();
        continue;
      }
      if (raw !== null) await pool.add(settle(raw));
    }
    await pool.drain();
  })();
  return { ready, done };
}

const BODY_FIELDS = ['data', 'payload', 'message', 'body', 'json'];

type StreamReply = Array<[string, Array<[string, string[] | null]>]> | null;

/** A stream through a consumer group (at-least-once): own pending entries first, then new ones. */
export function streamLoop(
  ctx: BridgeContext,
  route: StreamInbound,
  stats: RouteStats,
  reader: Redis,
  blockMs: number,
): Loop {
  const group = route.group ?? 'hub-bridge';
  const dead = route.deadKey ?? `${route.key}:dead`;
  const c = ctx.commands;

  const rawOf = (fields: string[]): string => {
    const wanted = route.field === undefined ? BODY_FIELDS : [route.field];
    for (const name of wanted) {
      for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1]!;
    }
    const obj: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) obj[fields[i]!] = fields[i + 1]!;
    return JSON.stringify(obj);
  };

  const settle = async (id: string, fields: string[]): Promise<void> => {
    stats.received++;
    const outcome = await ctx.deliver(rawOf(fields), stats, route.map);
    if (outcome === 'closed') return;
    await ctx.retry<unknown>(`${stats.route}: XACK`, stats, () =>
      outcome === 'dead'
        ? c
            .multi()
            .xadd(dead, '*', ...fields)
            .xack(route.key, group, id)
            .exec()
        : c.xack(route.key, group, id),
    );
  };

  const ready = (async () => {
    try {
      await c.xgroup('CREATE', route.key, group, route.start ?? '$', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).startsWith('BUSYGROUP')) throw err;
    }
  })();
  const done = (async () => {
    await ready;
    const pool = new InFlight(route.concurrency ?? 16, (err) => ctx.report(err, stats.route));
    let cursor = '0';
    for (let attempt = 1; !ctx.closed; ) {
      let reply: StreamReply;
      try {
        reply = (await reader.xreadgroup(
          'GROUP',
          group,
          ctx.id,
          'COUNT',
          100,
          'BLOCK',
          blockMs,
          'STREAMS',
          route.key,
          cursor,
        )) as StreamReply;
        attempt = 1;
      } catch (err) {
        if (!(await ctx.readFailed(err, stats, 'XREADGROUP', attempt++))) break;
        // Entries a read with a lost reply delivered are pending on this consumer: read them again.
        await pool.drain();
        cursor = '0';
        continue;
      }
      const entries = reply?.[0]?.[1] ?? [];
      if (cursor === '0') {
        // Entries delivered to this consumer before it stopped: sent again first.
        if (entries.length === 0) {
          cursor = '>';
          continue;
        }
        stats.recovered += entries.length;
      }
      for (const [id, fields] of entries) {
        if (ctx.closed) break;
        // A pending entry trimmed away meanwhile comes back without fields: nothing left to send.
        if (fields === null) {
          await ctx.retry(`${stats.route}: XACK`, stats, () => c.xack(route.key, group, id));
        } else await pool.add(settle(id, fields));
      }
      // Own pending entries are read again from 0: settle these before the next read.
      if (cursor === '0') await pool.drain();
    }
    await pool.drain();
  })();
  return { ready, done };
}

/** A WebSocket endpoint: every text frame is delivered as it comes; close waits for those in flight. */
export function webSocketLoop(
  ctx: BridgeContext,
  route: WebSocketInbound,
  stats: RouteStats,
): Loop {
  const inFlight = new Set<Promise<Outcome>>();
  const link = new WsLink(ctx, route, stats, (text) => {
    stats.received++;
    const p = ctx.deliver(text, stats, route.map);
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  });
  const done = (async () => {
    await link.done;
    await Promise.allSettled([...inFlight]);
  })();
  return { ready: link.ready, done, stop: () => link.close() };
}
