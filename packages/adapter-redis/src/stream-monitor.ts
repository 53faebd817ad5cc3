/**
 * What an operator sees of a stream subscription's group: lengths, pending,
 * lag, consumers and the DLQ size (inspect), a warning when the lag nears the
 * stream cap, and the pruning of consumers crashed instances left behind.
 */
import { PRUNE_IDLE_CONSUMERS } from './stream-scripts.js';
import type { StreamHost } from './stream-subscription.js';

/** Length, pending, lag and consumers of `group` over `streamKeys`, and the DLQ size of `destination`. */
export async function groupStats(
  host: StreamHost,
  streamKeys: readonly string[],
  group: string,
  destination: string,
): Promise<{ length: number; pending: number; lag: number; consumers: number; dlq: number }> {
  const c = host.commands;
  let length = 0;
  let pending = 0;
  let lag = 0;
  let consumers = 0;
  for (const key of streamKeys) {
    length += Number(await c.call('XLEN', [key]));
    const groups = (await c.call('XINFO', ['GROUPS', key])) as unknown[];
    for (const g of groups ?? []) {
      if (!Array.isArray(g)) continue;
      const info = new Map<string, unknown>();
      for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
      if (info.get('name') !== group) continue;
      pending += Number(info.get('pending') ?? 0);
      lag += Number(info.get('lag') ?? 0);
      consumers = Math.max(consumers, Number(info.get('consumers') ?? 0));
    }
  }
  const dlq = Number(await c.call('XLEN', [host.keys.dlq(destination)]));
  return { length, pending, lag, consumers, dlq };
}

/** Warn when a stream's group lag nears the MAXLEN cap (trimming would then drop unread entries). */
export async function warnOnLag(
  host: StreamHost,
  streamKeys: readonly string[],
  group: string,
): Promise<void> {
  const { opts, commands: c, ctx } = host;
  for (const key of streamKeys) {
    const groups = (await c.call('XINFO', ['GROUPS', key])) as unknown[];
    for (const g of groups ?? []) {
      if (!Array.isArray(g)) continue;
      const i = g.indexOf('name');
      if (i < 0 || g[i + 1] !== group) continue;
      const j = g.indexOf('lag');
      const lag = j < 0 ? 0 : Number(g[j + 1] ?? 0);
      if (lag >= opts.maxLen * opts.lagWarnRatio) {
        ctx.logger.warn(
          '[hub:redis] consumer group lag is near the stream cap; trimming may drop unread entries',
          {
            stream: key,
            group,
            lag,
            maxLen: opts.maxLen,
          },
        );
      }
    }
  }
}

/**
 * Crashed instances leave their consumer in every stream's group forever; drop
 * those that own nothing and stayed idle well past the claim window and any
 * blocking read (a live reader touches the streams it reads every `blockMs`).
 * Never `consumer` itself.
 */
export async function pruneIdleConsumers(
  host: StreamHost,
  streamKeys: readonly string[],
  group: string,
  consumer: string,
  closed: () => boolean,
): Promise<void> {
  const { opts, commands: c } = host;
  const minIdle = String(Math.max(2 * opts.claimIdleMs, 10 * opts.blockMs));
  for (const key of streamKeys) {
    if (closed()) return;
    await c.eval(PRUNE_IDLE_CONSUMERS, 1, key, group, consumer, minIdle);
  }
}
