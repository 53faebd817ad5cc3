/**
 * Least-outstanding-work routing: the automatic strategy weighs the sends in
 * flight on each adapter and the backlog the adapter reports, so a transport
 * that falls behind (here a memory adapter whose deliveries the fault
 * injection holds back) gets less, and gets its share again once it has
 * caught up.
 */
import { createHub, type Hub, memory } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, waitFor } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

/** Send `rounds` batches of `batch` concurrent sends; each adapter's share of the sends. */
async function shares(hub: Hub, rounds: number, batch = 20): Promise<Record<string, number>> {
  const count: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) {
    const results = await Promise.all(
      Array.from({ length: batch }, () => hub.send(msg({ destination: 'work' }))),
    );
    for (const { adapter } of results) count[adapter] = (count[adapter] ?? 0) + 1;
  }
  const total = rounds * batch;
  return Object.fromEntries(Object.entries(count).map(([k, n]) => [k, n / total]));
}

describe('load-aware routing (automatic)', () => {
  it('traffic shifts away from an adapter that falls behind, and comes back after it catches up', async () => {
    // The slowed adapter is registered first: routing by latency alone would keep it first.
    const slowed = memory({ name: 'slowed' });
    const other = memory({ name: 'other' });
    const hub = createHub({ logger: quiet, adapters: [slowed, other] });
    hubs.push(hub);
    let handled = 0;
    await hub.onMessage('work', () => {
      handled++;
    });
    await hub.start();

    // Both keep up: concurrent sends spread over both (least outstanding work).
    const before = await shares(hub, 10);
    expect(before.slowed ?? 0).toBeGreaterThan(0.3);
    expect(before.other ?? 0).toBeGreaterThan(0.3);

    // The slowed adapter's deliveries now wait 1.5 s each: its backlog grows.
    slowed.setFaults({ delayMs: 1_500 });
    await shares(hub, 5); // the router notices on its next backlog reads
    const during = await shares(hub, 20);
    expect(during.slowed ?? 0).toBeLessThan(0.2);
    expect(during.other ?? 0).toBeGreaterThan(0.8);
    expect(hub.metrics().adapters.slowed!.backlog).toBeGreaterThan(0);

    // Fast again: once its backlog has drained, it gets its share back.
    slowed.clearFaults();
    await waitFor(() => hub.metrics().adapters.slowed!.backlog === 0, 'slowed drained');
    const after = await shares(hub, 20);
    expect(after.slowed ?? 0).toBeGreaterThan(0.2);
    expect(after.other ?? 0).toBeGreaterThan(0.2);
    await waitFor(() => handled === hub.metrics().totals.sent, 'every message handled');
  });

  it('a single adapter is chosen without weighing load; other strategies are untouched', async () => {
    const only = memory({ name: 'only' });
    const hub = createHub({ logger: quiet, adapters: [only] });
    hubs.push(hub);
    await hub.onMessage('work', () => {});
    await hub.start();
    only.setFaults({ delayMs: 20 });
    expect((await shares(hub, 2)).only).toBe(1);

    const a = memory({ name: 'a' });
    const b = memory({ name: 'b' });
    const failover = createHub({
      logger: quiet,
      adapters: [a, b],
      defaultRoutingStrategy: 'failover',
    });
    hubs.push(failover);
    await failover.onMessage('work', () => {});
    await failover.start();
    a.setFaults({ delayMs: 50 });
    expect((await shares(failover, 5)).a).toBe(1);
  });
});
