/**
 * Hub → legacy, so old consumers keep receiving what new producers send.
 * Each route is a hub subscription whose handler writes the legacy form; the
 * handler resolves only after the write, so the hub's own retries and
 * dead-lettering cover a failed write.
 */
import type { ConsumeOptions, Unsubscribe } from '@hub/core';
import type { Envelope } from '@hub/protocol';
import type { BridgeContext } from './context.js';
import { marked, TO_LEGACY, wasBridged } from './marker.js';
import type { RouteStats } from './stats.js';
import { type WsEndpoint, WsLink } from './websocket.js';

/** Hub side of an outbound route: events on a topic pattern, or messages to an endpoint. */
export type HubSource = { topic: string } | { endpoint: string };

interface OutboundCommon {
  from: HubSource;
  /** Legacy shape written (see toLegacy). @default 'plain-json' */
  shape?: string;
  /** Options of the hub subscription (concurrency, group, ...). @default {} */
  consume?: ConsumeOptions;
}

export type OutboundRoute =
  | (OutboundCommon & { to: 'pubsub'; channel: string })
  | (OutboundCommon & { to: 'list'; key: string })
  | (OutboundCommon & {
      to: 'stream';
      key: string;
      /** Field the legacy JSON goes in. @default 'data' */
      field?: string;
    })
  | (OutboundCommon & WsEndpoint & { to: 'websocket' });

export const outboundName = (r: OutboundRoute): string => {
  const from = 'topic' in r.from ? `topic:${r.from.topic}` : `endpoint:${r.from.endpoint}`;
  const to = r.to === 'pubsub' ? r.channel : r.to === 'websocket' ? r.url : r.key;
  return `${from} -> ${r.to}:${to}`;
};

/** Subscribe one outbound route; resolves with its unsubscribe. */
export async function startOutbound(
  ctx: BridgeContext,
  route: OutboundRoute,
  stats: RouteStats,
): Promise<Unsubscribe> {
  const shape = route.shape ?? 'plain-json';
  const c = ctx.commands;
  const link = route.to === 'websocket' ? new WsLink(ctx, route, stats) : undefined;
  if (link) await link.ready;
  const write = (text: string): Promise<unknown> => {
    switch (route.to) {
      case 'pubsub':
        return c.publish(route.channel, text);
      case 'list':
        return c.lpush(route.key, text);
      case 'stream':
        return c.xadd(route.key, '*', route.field ?? 'data', text);
      case 'websocket':
        return link!.send(text);
    }
  };
  const handler = async (env: Envelope): Promise<void> => {
    stats.received++;
    if (wasBridged(env)) {
      stats.loopsPrevented++;
      return;
    }
    let text: string;
    try {
      const legacy = ctx.converter.toLegacy(shape, marked(env, TO_LEGACY));
      text = typeof legacy === 'string' ? legacy : JSON.stringify(legacy);
    } catch (err) {
      stats.failed++;
      throw err;
    }
    // A failed write throws: the hub retries the delivery, then dead-letters it.
    await write(text);
    stats.forwarded++;
  };
  const opts = route.consume ?? {};
  const off =
    'topic' in route.from
      ? await ctx.hub.subscribe(route.from.topic, handler, opts)
      : await ctx.hub.onMessage(route.from.endpoint, handler, opts);
  if (link === undefined) return off;
  return async () => {
    await off();
    link.close();
    await link.done;
  };
}
