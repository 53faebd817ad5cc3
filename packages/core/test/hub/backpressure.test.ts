import { createHub, ErrorCode, type Hub, HubError } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, msg, quiet, TestAdapter, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

describe('backpressure', () => {
  it("overload 'reject': past maxConcurrentMessages send rejects with HUB_OVERLOADED", async () => {
    const slow = new TestAdapter({ name: 'slow' });
    const gate = deferred();
    slow.gate = gate.promise;
    const hub = createHub({
      adapters: [slow],
      maxConcurrentMessages: 2,
      overload: 'reject',
      logger: quiet,
    });
    hubs.push(hub);
    await hub.start();
    const results = Array.from({ length: 5 }, () =>
      hub.send(msg()).then(
        (r) => r,
        (e: unknown) => e as HubError,
      ),
    );
    await waitFor(() => slow.sending === 2, 'two sends in the adapter');
    expect(hub.metrics().inFlight).toBe(2);
    gate.resolve();
    const settled = await Promise.all(results);
    const rejected = settled.filter((r) => r instanceof HubError) as HubError[];
    expect(rejected).toHaveLength(3);
    for (const e of rejected) {
      expect(e.code).toBe(ErrorCode.OVERLOADED);
      expect(e.message).toContain('maxConcurrentMessages 2');
    }
    expect(hub.metrics().totals.rejected).toBe(3);
    expect(slow.maxSending).toBe(2);
    expect(hub.metrics().inFlight).toBe(0);
    // room again
    await expect(hub.send(msg())).resolves.toMatchObject({ success: true });
  });

  it("overload 'wait': sends wait for room and complete; in-flight and waiters stay bounded", async () => {
    const slow = new TestAdapter({ name: 'slow' });
    slow.delayMs = 2;
    const hub = createHub({
      adapters: [slow],
      maxConcurrentMessages: 4,
      overload: 'wait',
      logger: quiet,
    });
    hubs.push(hub);
    await hub.start();
    const sends = Array.from({ length: 8 }, (_, i) => hub.send(msg({ payload: i })));
    // The queue of waiters is bounded by maxConcurrentMessages too: memory never grows without end.
    const ninth = await hub.send(msg()).catch((e: unknown) => e);
    expect(ninth).toMatchObject({ code: ErrorCode.OVERLOADED });
    const results = await Promise.all(sends);
    expect(results.every((r) => r.success)).toBe(true);
    expect(slow.maxSending).toBeLessThanOrEqual(4);
    expect(slow.sent).toHaveLength(8);
    expect(hub.metrics().inFlight).toBe(0);

    // A steady stream of waves never exceeds the limit.
    slow.maxSending = 0;
    for (let wave = 0; wave < 20; wave++) {
      await Promise.all(Array.from({ length: 8 }, () => hub.send(msg())));
    }
    expect(slow.maxSending).toBeLessThanOrEqual(4);
    expect(slow.sent).toHaveLength(8 + 160);
  });

  it('a freed slot goes to the oldest waiter, not to a newcomer', async () => {
    const slow = new TestAdapter({ name: 'slow' });
    const gate = deferred();
    slow.gate = gate.promise;
    const hub = createHub({ adapters: [slow], maxConcurrentMessages: 1, logger: quiet });
    hubs.push(hub);
    await hub.start();
    const first = hub.send(msg({ payload: 'first' }));
    const second = hub.send(msg({ payload: 'second' }));
    await waitFor(() => slow.sending === 1, 'first in adapter');
    gate.resolve();
    await first;
    // The finishing send handed its slot to `second`; a newcomer must wait its turn.
    const third = hub.send(msg({ payload: 'third' }));
    await Promise.all([second, third]);
    expect(slow.sent.map((e) => (e as { payload: unknown }).payload)).toEqual([
      'first',
      'second',
      'third',
    ]);
    expect(slow.maxSending).toBe(1);
  });
});
