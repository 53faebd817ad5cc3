import {
  composeInbound,
  createHub,
  type Envelope,
  type Hub,
  type MemoryAdapter,
  type Middleware,
  memory,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

describe('middleware', () => {
  it('outbound steps run in order and may transform the envelope', async () => {
    const order: string[] = [];
    const stamp: Middleware = {
      name: 'stamp',
      outbound(env) {
        order.push('stamp');
        return { ...env, headers: { ...env.headers, 'x-stamp': 'yes' } };
      },
    };
    const trace: Middleware = {
      name: 'trace',
      async outbound(env) {
        order.push('trace');
        return {
          ...env,
          headers: { ...env.headers, 'x-seen-stamp': env.headers['x-stamp'] ?? 'no' },
        };
      },
    };
    const hub = createHub({ middleware: [stamp, trace], logger: quiet });
    hubs.push(hub);
    const got: Envelope[] = [];
    await hub.onMessage('mw', (m) => {
      got.push(m);
    });
    await hub.send(msg({ destination: 'mw' }));
    await waitFor(() => got.length === 1, 'delivery');
    expect(got[0]?.headers).toMatchObject({ 'x-stamp': 'yes', 'x-seen-stamp': 'yes' });
    expect(order).toEqual(['stamp', 'trace']);
  });

  it('an outbound throw rejects the send', async () => {
    const hub = createHub({
      middleware: [
        {
          name: 'auth',
          outbound() {
            throw new Error('not allowed');
          },
        },
      ],
      logger: quiet,
    });
    hubs.push(hub);
    await expect(hub.send(msg())).rejects.toThrow('not allowed');
    const r = await hub.sendMessage(msg());
    expect(r.success).toBe(false);
    expect(hub.metrics().totals.sent).toBe(0);
  });

  it('inbound null drops the message and acks it (no redelivery)', async () => {
    const adapter = memory();
    const dropped: string[] = [];
    const hub = createHub({
      adapters: [adapter],
      middleware: [
        {
          name: 'filter',
          inbound(env) {
            if (env.kind === 'message' && env.payload === 'drop') {
              dropped.push(env.id);
              return null;
            }
            return env;
          },
        },
      ],
      logger: quiet,
    });
    hubs.push(hub);
    const got: unknown[] = [];
    await hub.onMessage('in', (m) => {
      got.push(m.payload);
    });
    await hub.send(msg({ destination: 'in', payload: 'drop' }));
    await hub.send(msg({ destination: 'in', payload: 'keep' }));
    await waitFor(() => got.length === 1 && dropped.length === 1, 'deliveries');
    await waitFor(() => (adapter as MemoryAdapter).health().detail?.inflight === 0, 'settled');
    expect(got).toEqual(['keep']);
    expect(dropped).toHaveLength(1);
    expect((adapter as MemoryAdapter).health().detail).toMatchObject({ queued: 0, inflight: 0 });
    expect(await hub.readDeadLetters('in')).toEqual([]);
  });

  it('an inbound throw dead-letters the message with the error as reason', async () => {
    const hub = createHub({
      middleware: [
        {
          name: 'verify',
          inbound() {
            throw new Error('bad signature');
          },
        },
      ],
      logger: quiet,
    });
    hubs.push(hub);
    const dead: string[] = [];
    hub.on('deadLetter', (_env, reason) => dead.push(reason));
    let calls = 0;
    await hub.onMessage('in2', () => {
      calls++;
    });
    const m = msg({ destination: 'in2' });
    await hub.send(m);
    await waitFor(async () => (await hub.readDeadLetters('in2')).length === 1, 'dead letter');
    const [entry] = await hub.readDeadLetters('in2');
    expect(entry?.envelope.id).toBe(m.id);
    expect(entry?.reason).toContain('bad signature');
    await waitFor(() => dead.length === 1, 'deadLetter event');
    expect(dead[0]).toContain('bad signature');
    expect(calls).toBe(0);
    expect(hub.metrics().totals.deadLettered).toBe(1);
  });

  it('composed inbound steps answer synchronously while every step does; an async one makes the rest wait', async () => {
    const ctx = { attempt: 1, consumer: 'c' };
    const order: string[] = [];
    const tag =
      (name: string) =>
      (env: Envelope): Envelope => {
        order.push(name);
        return { ...env, headers: { ...env.headers, [`x-${name}`]: '1' } };
      };
    const sync = composeInbound([
      { name: 'a', inbound: tag('a') },
      { name: 'out-only', outbound: (env) => env },
      { name: 'b', inbound: tag('b') },
    ])!;
    const out = sync(msg(), ctx);
    // A plain envelope, not a promise: the receive pipeline queues it at once.
    expect(out).not.toBeInstanceOf(Promise);
    expect((out as Envelope).headers).toMatchObject({ 'x-a': '1', 'x-b': '1' });
    expect(order).toEqual(['a', 'b']);

    order.length = 0;
    const mixed = composeInbound([
      { name: 'a', inbound: tag('a') },
      {
        name: 'slow',
        inbound: async (env) => {
          order.push('slow');
          return env;
        },
      },
      { name: 'b', inbound: tag('b') },
    ])!;
    const later = mixed(msg(), ctx);
    expect(later).toBeInstanceOf(Promise);
    expect(((await later) as Envelope).headers).toMatchObject({ 'x-a': '1', 'x-b': '1' });
    expect(order).toEqual(['a', 'slow', 'b']);

    const dropped = composeInbound([
      { name: 'drop', inbound: () => null },
      { name: 'never', inbound: tag('never') },
    ])!;
    expect(dropped(msg(), ctx)).toBeNull();
    const droppedLater = composeInbound([
      { name: 'drop', inbound: async () => null },
      { name: 'never', inbound: tag('never') },
    ])!;
    expect(await droppedLater(msg(), ctx)).toBeNull();
    expect(order).not.toContain('never');

    const throws = composeInbound([
      {
        name: 'verify',
        inbound: () => {
          throw new Error('bad signature');
        },
      },
    ])!;
    expect(() => throws(msg(), ctx)).toThrow('bad signature');
  });
});
