import { createHub, ErrorCode, type Hub, type HubError } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, msg, quiet, timerCount, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}

describe('request deadlines', () => {
  it('a thousand waiting requests hold one timer, not one each', async () => {
    const hub = hubWith({ enableHealthMonitoring: false });
    await hub.onMessage('silent', () => undefined);
    await hub.start();
    const before = timerCount();
    const all = Array.from({ length: 1_000 }, () =>
      hub.request(msg({ destination: 'silent' }), { timeoutMs: 60_000 }).catch((e: unknown) => e),
    );
    await waitFor(() => hub.metrics().totals.delivered >= 1_000, 'requests delivered');
    expect(timerCount() - before).toBeLessThanOrEqual(1);
    await hub.close({ drainTimeoutMs: 50 });
    const errors = (await Promise.all(all)) as HubError[];
    expect(errors.every((e) => e.code === ErrorCode.CLOSED)).toBe(true);
    expect(timerCount()).toBeLessThanOrEqual(before);
  });

  it('a short timeout made after a long one still fails at its own deadline', async () => {
    const hub = hubWith({});
    await hub.onMessage('silent', () => undefined);
    const long = hub.request(msg({ destination: 'silent' }), { timeoutMs: 60_000 });
    long.catch(() => {});
    const t0 = performance.now();
    const err = (await hub
      .request(msg({ destination: 'silent' }), { timeoutMs: 40 })
      .catch((e: unknown) => e)) as HubError;
    const took = performance.now() - t0;
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    expect(err.message).toContain('40ms');
    // Never before the deadline; well before the long request's.
    expect(took).toBeGreaterThanOrEqual(39);
    expect(took).toBeLessThan(5_000);
  });

  it('once every request is answered, no timer keeps the process alive', async () => {
    const hub = hubWith({ enableHealthMonitoring: false });
    await hub.onMessage('echo', (m) => m.payload);
    await hub.start();
    const before = timerCount();
    for (let i = 0; i < 20; i++) {
      const reply = await hub.request(msg({ destination: 'echo', payload: i }), {
        timeoutMs: 60_000,
      });
      expect(reply.payload).toBe(i);
    }
    expect(timerCount()).toBeLessThanOrEqual(before);
  });

  it('a reply that comes after the timeout is dropped and counted', async () => {
    const hub = hubWith({});
    const release = deferred();
    await hub.onMessage('slow', async (m) => {
      await release.promise;
      return m.payload;
    });
    await expect(
      hub.request(msg({ destination: 'slow', payload: 1 }), { timeoutMs: 30 }),
    ).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(hub.metrics().totals.lateReplies).toBe(0);
    release.resolve();
    await waitFor(() => hub.metrics().totals.lateReplies === 1, 'late reply counted');
    expect(hub.prometheus()).toContain('hub_late_replies_total 1');
  });
});

describe('replies built from a request', () => {
  it('are validated again when inbound middleware may have changed the request', async () => {
    const hub = hubWith({
      middleware: [
        {
          name: 'breaks-replyTo',
          inbound: (env) =>
            env.kind === 'message' && env.destination === 'svc'
              ? { ...env, replyTo: 'not a valid address!' }
              : env,
        },
      ],
    });
    await hub.onMessage('svc', () => 'answer');
    await expect(
      hub.request(msg({ destination: 'svc' }), { timeoutMs: 100 }),
    ).rejects.toMatchObject({ code: ErrorCode.TIMEOUT });
    // The reply was refused as invalid at send, not handed to a transport.
    expect(hub.metrics().totals.rejected).toBe(1);
  });
});
