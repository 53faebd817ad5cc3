/**
 * The commands connection has no per-command timer (too costly at tens of
 * thousands of sends a second): a sweep
 * (StallWatch) bounds how long a send can wait for its reply. These tests
 * show the bound holds on a silent link and on a dead one, that the failure
 * is HUB_TIMEOUT, and that the link recovers afterwards.
 */
import {
  type RedisServer,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
} from '@hub/adapter-test-suite';
import { createEvent, ErrorCode, type UnifiedMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

const TIMEOUT_MS = 600;

let server: RedisServer;
let proxy: TcpProxy;
const adapters: RedisAdapter[] = [];
let raw: Redis;

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startTcpProxy({ targetPort: server.port });
  raw = new Redis(server.port, '127.0.0.1');
  raw.on('error', () => {});
});
afterAll(async () => {
  proxy?.resume();
  await Promise.allSettled(adapters.map((a) => a.close()));
  raw?.disconnect();
  await proxy?.close();
  await server?.stop();
});

/** Wait until a send of `m` succeeds again (the link recovered). */
async function sendsAgain(a: RedisAdapter, m: UnifiedMessage, why: () => string): Promise<void> {
  await waitFor(async () => {
    try {
      await a.send(m);
      return true;
    } catch {
      return false;
    }
  }, why);
}

/** Nobody serves the endpoint: HUB_NO_RECEIVER still means Redis replied. Anything else fails the test. */
function replied(err: unknown): void {
  if ((err as { code?: string }).code !== ErrorCode.NO_RECEIVER) throw err;
}

/** Settle `p`, recording how long it took and how it ended. */
async function timed(p: Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const t0 = Date.now();
  try {
    await p;
    return { ms: Date.now() - t0, error: undefined };
  } catch (error) {
    return { ms: Date.now() - t0, error };
  }
}

it('a send on a silent link fails with HUB_TIMEOUT within the command timeout, then the link recovers', async () => {
  const prefix = uniquePrefix('stall');
  const adapter = redis({
    url: `redis://127.0.0.1:${proxy.port}`,
    keyPrefix: prefix,
    commandTimeoutMs: TIMEOUT_MS,
  });
  adapters.push(adapter);
  const ctx = await connected(adapter, 'stall');
  // Nobody serves `ep`: the PUBLISH's reply (0 receivers) is the round trip we want.
  await adapter.send(message('ep', { warm: true }, { guarantee: 'best-effort' })).catch(replied);

  proxy.stall();
  const xadd = message('ep', { i: 2 }); // at-least-once: an XADD
  const sends = [
    adapter.send(message('ep', { i: 1 }, { guarantee: 'best-effort' })),
    adapter.send(xadd),
  ].map(timed);
  const results = await Promise.all(sends);
  for (const r of results) {
    expect((r.error as { code?: string } | undefined)?.code, String(r.error)).toBe(
      ErrorCode.TIMEOUT,
    );
    expect((r.error as { retryable?: boolean }).retryable).toBe(true);
    // Bound: the timeout plus one sweep, with slack for a loaded CI box.
    expect(r.ms).toBeLessThan(TIMEOUT_MS * 8);
  }
  expect(ctx.errors.some((e) => /Command timed out/.test(e.message))).toBe(true);

  proxy.resume();
  const id = message('ep', { after: true });
  await sendsAgain(adapter, id, () => `sends still failing: ${JSON.stringify(adapter.health())}`);
  const key = adapter.keys.priorityStream('ep', id.priority);
  const ids = (await raw.xrange(key, '-', '+')).map(([, f]) => f[f.indexOf('id') + 1]);
  expect(ids).toContain(id.id);
  // The timed-out XADD was flushed, not kept and resent by ioredis once the link
  // came back: at most the one copy the stalled proxy may still have passed on.
  expect(ids.filter((x) => x === xadd.id).length).toBeLessThanOrEqual(1);
});

it('a send while Redis is down fails with HUB_TIMEOUT within the bound, and works once Redis is back', async () => {
  const own = await startRedisServer();
  try {
    const adapter = redis({
      url: own.url,
      keyPrefix: uniquePrefix('down'),
      commandTimeoutMs: TIMEOUT_MS,
    });
    adapters.push(adapter);
    await connected(adapter, 'down');
    await adapter.send(message('ep', { warm: true }));
    await own.kill();
    const r = await timed(adapter.send(message('ep', { i: 1 })));
    expect((r.error as { code?: string } | undefined)?.code, String(r.error)).toBe(
      ErrorCode.TIMEOUT,
    );
    expect(r.ms).toBeLessThan(TIMEOUT_MS * 8);
    await own.restart();
    const after = message('ep', { after: true });
    await sendsAgain(
      adapter,
      after,
      () => `sends still failing after restart: ${JSON.stringify(adapter.health())}`,
    );
    await adapter.close();
  } finally {
    await own.stop();
  }
});

it('a busy link is not a stalled one: a long steady stream of sends never times out', async () => {
  const adapter = redis({
    url: server.url,
    keyPrefix: uniquePrefix('busy'),
    commandTimeoutMs: 200,
  });
  adapters.push(adapter);
  const ctx = await connected(adapter, 'busy');
  // ~1.5 s of back-to-back batches: the reply queue is never empty, but its head keeps moving.
  const until = Date.now() + 1_500;
  let sent = 0;
  while (Date.now() < until && sent < 200_000) {
    const batch = Array.from({ length: 200 }, (_, i) =>
      adapter.send(message('ep', { i }, { guarantee: 'best-effort' })).catch(replied),
    );
    await Promise.all(batch);
    sent += batch.length;
  }
  expect(sent).toBeGreaterThan(0);
  expect(ctx.errors.filter((e) => /timed out/i.test(e.message))).toEqual([]);
});

it('the bound holds when the user turned off ioredis resends (the watch keeps them on for its connection)', async () => {
  const adapter = redis({
    url: `redis://127.0.0.1:${proxy.port}`,
    keyPrefix: uniquePrefix('noresend'),
    commandTimeoutMs: TIMEOUT_MS,
    redisOptions: { autoResendUnfulfilledCommands: false },
  });
  adapters.push(adapter);
  await connected(adapter, 'noresend');
  await adapter.send(message('ep', { warm: true }));
  proxy.stall();
  const inFlight = timed(adapter.send(message('ep', { i: 1 })));
  // The link drops while the send waits: ioredis would drop its resend queue unsettled.
  proxy.cut();
  proxy.resume();
  const r = await inFlight;
  expect(r.ms).toBeLessThan(TIMEOUT_MS * 8);
  const after = message('ep', { after: true });
  await sendsAgain(
    adapter,
    after,
    () => `sends still failing: ${JSON.stringify(adapter.health())}`,
  );
});

it('a listener that unsubscribes while its link is down is gone once the link is back (no revived channel, no stale entry)', async () => {
  const prefix = uniquePrefix('downleave');
  const viaProxy = redis({
    url: `redis://127.0.0.1:${proxy.port}`,
    keyPrefix: prefix,
    commandTimeoutMs: TIMEOUT_MS,
    heartbeatMs: 300,
  });
  const direct = redis({ url: server.url, keyPrefix: prefix });
  adapters.push(viaProxy, direct);
  await connected(viaProxy, 'a');
  await connected(direct, 'b');
  const gotA = recorder('ep');
  const gotB = recorder('ep');
  const subA = await viaProxy.subscribe(gotA.spec({ guarantees: ['best-effort'] }));
  await direct.subscribe(gotB.spec({ guarantees: ['best-effort'] }));
  const ownA = (await raw.pubsub('CHANNELS', `${prefix}:chm:a:*`)) as string[];
  expect(ownA).toHaveLength(1);

  proxy.stall();
  proxy.cut();
  await subA.close();
  proxy.resume();
  const key = direct.keys.pubsubMembers('ep');
  await waitFor(
    async () =>
      ((await raw.pubsub('CHANNELS', `${prefix}:chm:a:*`)) as string[]).length === 0 &&
      (await raw.zrange(key, 0, -1)).length === 1,
    async () =>
      `a's channel ${JSON.stringify(await raw.pubsub('CHANNELS', `${prefix}:chm:a:*`))}, listeners ${JSON.stringify(await raw.zrange(key, 0, -1))}`,
  );
  const sender = redis({ url: server.url, keyPrefix: prefix });
  adapters.push(sender);
  await connected(sender, 's');
  const ids: string[] = [];
  for (let i = 0; i < 20; i++) {
    const m = message('ep', { i }, { guarantee: 'best-effort' });
    ids.push(m.id);
    await sender.send(m);
  }
  await waitFor(
    () => ids.every((id) => gotB.ids().includes(id)),
    () => `b got ${ids.filter((id) => gotB.ids().includes(id)).length}/20`,
  );
  expect(gotA.ids().filter((id) => ids.includes(id))).toEqual([]);
});

it('closed and subscribed again while Redis is down: the new subscription receives once Redis is back', async () => {
  const own = await startRedisServer();
  try {
    const prefix = uniquePrefix('resub');
    const a = redis({ url: own.url, keyPrefix: prefix, commandTimeoutMs: 2_000 });
    adapters.push(a);
    await connected(a, 'a');
    const topic = (r: ReturnType<typeof recorder>) => {
      const { group: _none, ...spec } = r.spec({ kind: 'topic' });
      return spec;
    };
    const first = await a.subscribe(topic(recorder('t.*')));
    await own.kill();
    await waitFor(
      () => (a as unknown as { subscriber: Redis }).subscriber.status !== 'ready',
      () => 'subscriber still ready',
    );
    await first.close();
    const again = recorder('t.*');
    const pending = a.subscribe(topic(again));
    await own.restart();
    await pending;
    const pub = new Redis(own.url);
    pub.on('error', () => {});
    try {
      const ids: string[] = [];
      await waitFor(
        async () => {
          const e = createEvent({ source: 'p', topic: 't.x', data: {} });
          ids.push(e.id);
          await pub.publish(a.keys.eventChannel('t.x'), JSON.stringify(e));
          return again.ids().some((id) => ids.includes(id));
        },
        () => `the new subscription got nothing of ${ids.length} events`,
      );
    } finally {
      pub.disconnect();
    }
    await a.close();
  } finally {
    await own.stop();
  }
});
