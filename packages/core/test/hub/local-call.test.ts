/**
 * The direct local path of request/reply (a best-effort request to a handler
 * of the same hub over memory(), no middleware) must behave as the normal,
 * queued path does. Each scenario runs twice: on a plain hub (the direct path
 * is taken: the adapter counts `deliveredDirect`) and on a hub with a
 * middleware that changes nothing (every request takes the normal path), and
 * both runs must observe the same.
 */
import {
  createHub,
  createMemoryBroker,
  ErrorCode,
  type Hub,
  type HubError,
  type MemoryAdapter,
  memory,
  type UnifiedMessage,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, timerCount, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

type Mode = 'direct' | 'normal';
const MODES: Mode[] = ['direct', 'normal'];

async function setup(
  mode: Mode,
  opts: { shareObjects?: boolean } = {},
): Promise<{ hub: Hub; adapter: MemoryAdapter }> {
  const adapter = memory(opts.shareObjects ? { shareObjects: true } : {});
  const hub = createHub({
    logger: quiet,
    adapters: [adapter],
    // A middleware with no steps: the envelopes are untouched, the direct path is off.
    ...(mode === 'normal' ? { middleware: [{ name: 'noop' }] } : {}),
  });
  hubs.push(hub);
  await hub.start();
  return { hub, adapter };
}

const direct = (adapter: MemoryAdapter): number =>
  adapter.health().detail?.deliveredDirect as number;

function req(destination: string, payload: unknown = 1): UnifiedMessage {
  return msg({ destination, payload, deliveryGuarantee: 'best-effort' });
}

/** Check which path a run took. */
function expectPath(mode: Mode, adapter: MemoryAdapter): void {
  if (mode === 'direct') expect(direct(adapter)).toBeGreaterThan(0);
  else expect(direct(adapter)).toBe(0);
}

describe('direct local path of request/reply', () => {
  it.each(MODES)('%s: same reply, same counters, own copies of payloads', async (mode) => {
    const { hub, adapter } = await setup(mode);
    const sent = { n: 1, nested: { list: [1, 2] } };
    const returned = { ok: true, inner: { v: 1 } };
    let seen: UnifiedMessage | undefined;
    await hub.onMessage(
      'svc',
      (m) => {
        seen = m;
        (m.payload as { n: number }).n = 99; // the caller's object must not change
        return returned;
      },
      { guarantees: ['best-effort'] },
    );
    const request = req('svc', sent);
    const reply = await hub.request(request, { timeoutMs: 5_000 });
    expectPath(mode, adapter);
    expect(sent.n).toBe(1);
    expect(seen?.payload).not.toBe(sent);
    expect(seen?.replyTo).toMatch(/^_inbox\./);
    expect(seen?.correlationId).toBe(request.id);
    expect(reply.payload).toEqual(returned);
    expect(reply.payload).not.toBe(returned);
    expect(reply).toMatchObject({
      kind: 'message',
      type: 'response',
      source: 'svc',
      correlationId: request.id,
      deliveryGuarantee: 'best-effort',
    });
    const t = hub.metrics().totals;
    expect(t).toMatchObject({ sent: 2, delivered: 2, acked: 2, failed: 0, lateReplies: 0 });
    const d = adapter.health().detail!;
    expect(d.delivered).toBe(2);
    expect(hub.metrics().adapters.memory?.sent).toBe(2);
    const perType = hub.metrics().messageTypes;
    expect(perType.request).toMatchObject({ sent: 1, delivered: 1, acked: 1 });
    expect(perType.response).toMatchObject({ sent: 1, delivered: 1, acked: 1 });
  });

  it.each(MODES)('%s: shareObjects hands the payload object itself', async (mode) => {
    const { hub, adapter } = await setup(mode, { shareObjects: true });
    const sent = { n: 1 };
    let seen: unknown;
    await hub.onMessage('svc', (m) => {
      seen = m.payload;
      return m.payload;
    });
    const reply = await hub.request(req('svc', sent), { timeoutMs: 5_000 });
    expectPath(mode, adapter);
    expect(seen).toBe(sent);
    expect(reply.payload).toBe(sent);
  });

  it.each(MODES)('%s: the handler runs after request() returns', async (mode) => {
    const { hub, adapter } = await setup(mode);
    const order: string[] = [];
    await hub.onMessage('svc', () => {
      order.push('handler');
      return 1;
    });
    await hub.start();
    await hub.request(req('svc'), { timeoutMs: 5_000 }); // the inbox exists from here on
    order.length = 0;
    const p = hub.request(req('svc'), { timeoutMs: 5_000 });
    order.push('returned');
    await p;
    expectPath(mode, adapter);
    expect(order).toEqual(['returned', 'handler']);
  });

  it.each(MODES)('%s: the handler concurrency limit holds', async (mode) => {
    const { hub, adapter } = await setup(mode);
    let running = 0;
    let peak = 0;
    await hub.onMessage(
      'slow',
      async (m) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 2));
        running--;
        return m.payload;
      },
      { concurrency: 3 },
    );
    await hub.request(req('slow', -1), { timeoutMs: 5_000 });
    const replies = await Promise.all(
      Array.from({ length: 30 }, (_, i) => hub.request(req('slow', i), { timeoutMs: 10_000 })),
    );
    expectPath(mode, adapter);
    expect(replies.map((r) => r.payload)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(peak).toBe(3);
    // Within the subscription's prefetch window every request went directly,
    // and waited in the consumer's queue for a slot as a queued one would.
    if (mode === 'direct') expect(direct(adapter)).toBe(62);
    expect(hub.metrics().totals).toMatchObject({ sent: 62, delivered: 62, acked: 62 });
  });

  it.each(MODES)(
    '%s: a failing handler is retried, then dead-lettered; the caller gets HUB_TIMEOUT',
    async (mode) => {
      const { hub, adapter } = await setup(mode);
      await hub.onMessage('ok', () => 1);
      let calls = 0;
      await hub.onMessage(
        'bad',
        () => {
          calls++;
          throw new Error('boom');
        },
        { maxDeliveries: 2 },
      );
      await hub.request(req('ok'), { timeoutMs: 5_000 });
      const before = timerCount();
      const err = (await hub
        .request(req('bad'), { timeoutMs: 300 })
        .catch((e: unknown) => e)) as HubError;
      expectPath(mode, adapter);
      expect(err.code).toBe(ErrorCode.TIMEOUT);
      await waitFor(async () => (await hub.readDeadLetters('bad')).length === 1, 'dead letter');
      const [dl] = await hub.readDeadLetters('bad');
      expect(dl).toMatchObject({ reason: 'boom', attempts: 2 });
      expect(calls).toBe(2);
      expect(hub.metrics().totals).toMatchObject({ failed: 2, redelivered: 1, deadLettered: 1 });
      await waitFor(() => timerCount() <= before, 'no timer left');
    },
  );

  it.each(MODES)('%s: handlerTimeoutMs fails a hung handler', async (mode) => {
    const { hub, adapter } = await setup(mode);
    await hub.onMessage('ok', () => 1);
    await hub.onMessage('hang', () => new Promise(() => {}), {
      handlerTimeoutMs: 20,
      maxDeliveries: 1,
    });
    await hub.request(req('ok'), { timeoutMs: 5_000 });
    const err = (await hub
      .request(req('hang'), { timeoutMs: 400 })
      .catch((e: unknown) => e)) as HubError;
    expectPath(mode, adapter);
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    await waitFor(async () => (await hub.readDeadLetters('hang')).length === 1, 'dead letter');
    expect((await hub.readDeadLetters('hang'))[0]?.reason).toContain('timed out after 20ms');
  });

  it.each(MODES)(
    '%s: once every request is answered, no timer keeps the process alive',
    async (mode) => {
      const { hub, adapter } = await setup(mode);
      await hub.onMessage('echo', (m) => m.payload, { guarantees: ['best-effort'] });
      const before = timerCount();
      for (let i = 0; i < 50; i++) {
        const reply = await hub.request(req('echo', i), { timeoutMs: 60_000 });
        expect(reply.payload).toBe(i);
        expect(timerCount()).toBeLessThanOrEqual(before);
      }
      expectPath(mode, adapter);
    },
  );

  it.each(MODES)(
    '%s: a reply whose correlationId the handler changed answers nothing: dropped and counted',
    async (mode) => {
      const { hub, adapter } = await setup(mode);
      await hub.onMessage('ok', () => 1);
      await hub.onMessage('rename', (m) => {
        m.correlationId = 'someone-else';
        return 'renamed';
      });
      await hub.request(req('ok'), { timeoutMs: 5_000 });
      const err = (await hub
        .request(req('rename'), { timeoutMs: 50 })
        .catch((e: unknown) => e)) as HubError;
      expect(err.code).toBe(ErrorCode.TIMEOUT);
      expect(hub.metrics().totals.lateReplies).toBe(1);
      expectPath(mode, adapter);
    },
  );

  it.each(MODES)('%s: a reply after the deadline is dropped and counted', async (mode) => {
    const { hub, adapter } = await setup(mode);
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    await hub.onMessage('ok', () => 1);
    await hub.onMessage('late', async () => {
      await gate;
      return 'too late';
    });
    await hub.request(req('ok'), { timeoutMs: 5_000 });
    const before = timerCount();
    const err = (await hub
      .request(req('late'), { timeoutMs: 30 })
      .catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    release();
    await waitFor(() => hub.metrics().totals.lateReplies === 1, 'late reply counted');
    expectPath(mode, adapter);
    expect(hub.metrics().totals.acked).toBe(4);
    await waitFor(() => timerCount() <= before, 'no timer left');
  });

  it.each(MODES)(
    '%s: a reply the wire refuses fails its send; the caller gets HUB_TIMEOUT',
    async (mode) => {
      const { hub, adapter } = await setup(mode);
      await hub.onMessage('ok', () => 1);
      await hub.onMessage('odd', () => new Map([[1, 2]]));
      await hub.request(req('ok'), { timeoutMs: 5_000 });
      const err = (await hub
        .request(req('odd'), { timeoutMs: 100 })
        .catch((e: unknown) => e)) as HubError;
      expectPath(mode, adapter);
      expect(err.code).toBe(ErrorCode.TIMEOUT);
      expect(hub.metrics().totals.sendFailed).toBe(1);
      expect(adapter.health().detail?.dropped).toBe(0);
    },
  );

  it.each(MODES)('%s: a request payload the wire refuses is rejected at once', async (mode) => {
    const { hub } = await setup(mode);
    await hub.onMessage('svc', () => 1);
    await expect(hub.request(req('svc', new Set([1])), { timeoutMs: 5_000 })).rejects.toMatchObject(
      { code: ErrorCode.INVALID_MESSAGE },
    );
    expect(hub.metrics().totals).toMatchObject({ sent: 0, sendFailed: 1, delivered: 0 });
  });

  it('takes the normal path when another hub shares the endpoint, or the guarantee is not best-effort', async () => {
    const broker = createMemoryBroker();
    const a = memory({ broker });
    const hubA = createHub({ name: 'a', logger: quiet, adapters: [a] });
    const hubB = createHub({ name: 'b', logger: quiet, adapters: [memory({ broker })] });
    hubs.push(hubA, hubB);
    await hubA.start();
    await hubB.start();
    const served: string[] = [];
    await hubA.onMessage('svc', () => {
      served.push('a');
      return 'a';
    });
    await hubA.request(req('svc'), { timeoutMs: 5_000 });
    expect(direct(a)).toBe(2);
    await hubA.request(msg({ destination: 'svc', deliveryGuarantee: 'at-least-once' }), {
      timeoutMs: 5_000,
    });
    expect(direct(a)).toBe(2);
    await hubB.onMessage('svc', () => {
      served.push('b');
      return 'b';
    });
    const replies = await Promise.all(
      Array.from({ length: 6 }, () => hubA.request(req('svc'), { timeoutMs: 5_000 })),
    );
    expect(direct(a)).toBe(2);
    expect(new Set(replies.map((r) => r.payload))).toEqual(new Set(['a', 'b']));
  });
});
