import { createEvent, createHub, type Hub, MessageType, type UnifiedEvent } from '@hub/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { quiet, TestAdapter, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}
const ev = (topic: string, data: unknown = null, over: Partial<UnifiedEvent> = {}) =>
  ({ ...createEvent({ source: 'test', topic, data }), ...over }) as UnifiedEvent;

describe('event bus through the hub', () => {
  it('matches * one segment and ** zero or more', async () => {
    const hub = hubWith({});
    const one: string[] = [];
    const many: string[] = [];
    const exact: string[] = [];
    await hub.subscribe('orders.*', (e) => {
      one.push(e.topic);
    });
    await hub.subscribe('orders.**', (e) => {
      many.push(e.topic);
    });
    await hub.subscribe('orders.eu', (e) => {
      exact.push(e.topic);
    });
    for (const t of ['orders.eu', 'orders.eu.created', 'users.eu', 'orders'])
      await hub.publish(ev(t));
    await waitFor(() => many.length >= 3 && one.length >= 1 && exact.length >= 1, 'deliveries');
    await new Promise((r) => setImmediate(r));
    expect(one).toEqual(['orders.eu']);
    expect([...many].sort()).toEqual(['orders', 'orders.eu', 'orders.eu.created']);
    expect(exact).toEqual(['orders.eu']);
  });

  it('isolates subscribers: one that throws never affects another', async () => {
    const hub = hubWith({ retry: { initialDelayMs: 1, maxDelayMs: 2 }, maxDeliveries: 2 });
    const good: unknown[] = [];
    let badCalls = 0;
    await hub.subscribe('iso.*', () => {
      badCalls++;
      throw new Error('subscriber bug');
    });
    await hub.subscribe('iso.*', (e) => {
      good.push(e.data);
    });
    for (let i = 0; i < 10; i++) await hub.publish(ev('iso.x', i));
    await waitFor(() => good.length === 10 && badCalls === 20, 'deliveries');
    expect(good).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('replays history on subscribe with replay: true, then goes live', async () => {
    const hub = hubWith({});
    await hub.start();
    for (let i = 0; i < 3; i++) await hub.publish(ev('hist.a', i));
    await hub.publish(ev('other.a', 'x'));
    const got: unknown[] = [];
    const adapters: string[] = [];
    await hub.subscribe(
      'hist.*',
      (e, ctx) => {
        got.push(e.data);
        adapters.push(ctx.adapter);
      },
      { replay: true },
    );
    expect(got).toEqual([0, 1, 2]);
    await hub.publish(ev('hist.a', 3));
    await waitFor(() => got.length === 4, 'live event');
    expect(got).toEqual([0, 1, 2, 3]);
    expect(adapters).toEqual(['history', 'history', 'history', 'memory']);

    // without replay: live only
    const live: unknown[] = [];
    await hub.subscribe('hist.*', (e) => {
      live.push(e.data);
    });
    await new Promise((r) => setImmediate(r));
    expect(live).toEqual([]);
  });

  it('an event published during the replay is delivered live once, after the replayed ones', async () => {
    const hub = hubWith({});
    await hub.start();
    for (let i = 0; i < 3; i++) await hub.publish(ev('race.a', `old-${i}`));
    const got: unknown[] = [];
    let published = false;
    await hub.subscribe(
      'race.*',
      async (e) => {
        got.push(e.data);
        if (!published) {
          published = true;
          // Published while the replay is still running.
          await hub.publish(ev('race.a', 'new'));
          await new Promise((r) => setImmediate(r));
        }
      },
      { replay: true },
    );
    await waitFor(() => got.includes('new'), 'event published mid-replay');
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['old-0', 'old-1', 'old-2', 'new']);
  });

  it('replay honours { sinceMs, limit }', async () => {
    const hub = hubWith({});
    const base = Date.now();
    for (let i = 0; i < 5; i++)
      await hub.publish(ev('lim.a', i, { timestamp: base - 5000 + i * 1000 }));
    const last2: unknown[] = [];
    await hub.subscribe(
      'lim.a',
      (e) => {
        last2.push(e.data);
      },
      { replay: { limit: 2 } },
    );
    expect(last2).toEqual([3, 4]);
    const since: unknown[] = [];
    await hub.subscribe(
      'lim.a',
      (e) => {
        since.push(e.data);
      },
      { replay: { sinceMs: base - 2500 } },
    );
    expect(since).toEqual([3, 4]);
    const none = createHub({ logger: quiet, history: false });
    hubs.push(none);
    await none.publish(ev('lim.a', 1));
    const got: unknown[] = [];
    await none.subscribe(
      'lim.a',
      (e) => {
        got.push(e.data);
      },
      { replay: true },
    );
    expect(got).toEqual([]);
  });

  it('a throwing replay handler does not break the subscription', async () => {
    const hub = hubWith({});
    await hub.publish(ev('rp.a', 1));
    const got: unknown[] = [];
    await hub.subscribe(
      'rp.a',
      (e) => {
        got.push(e.data);
        if (e.data === 1) throw new Error('bad replay');
      },
      { replay: true },
    );
    await hub.publish(ev('rp.a', 2));
    await waitFor(() => got.includes(2), 'live after failed replay');
  });

  it('broadcastNotification publishes a notification event to every subscriber', async () => {
    const hub = hubWith({});
    const a: UnifiedEvent[] = [];
    const b: UnifiedEvent[] = [];
    await hub.subscribe('hub.notifications', (e) => {
      a.push(e);
    });
    await hub.subscribe('hub.*', (e) => {
      b.push(e);
    });
    const r = await hub.broadcastNotification({
      fromSource: 'ops',
      notificationData: { msg: 'deploy' },
      priority: 4,
    });
    expect(r.success).toBe(true);
    await waitFor(() => a.length === 1 && b.length === 1, 'notification');
    expect(a[0]).toMatchObject({
      source: 'ops',
      type: MessageType.NOTIFICATION,
      data: { msg: 'deploy' },
      priority: 4,
    });
    await hub.broadcastNotification({
      fromSource: 'ops',
      notificationData: 1,
      topic: 'alerts.disk',
    });
    await new Promise((r) => setImmediate(r));
    expect(a).toHaveLength(1);
  });

  it('sendHeartbeat works with both call shapes', async () => {
    const hub = hubWith({});
    const beats: UnifiedEvent[] = [];
    await hub.subscribe('hub.heartbeat.*', (e) => {
      beats.push(e);
    });
    await hub.sendHeartbeat('agent-1', { load: 0.5 });
    await hub.sendHeartbeat({ agentId: 'agent-2', statusData: { load: 0.1 } });
    await hub.sendHeartbeat('agent-3');
    await waitFor(() => beats.length === 3, 'heartbeats');
    const byAgent = Object.fromEntries(beats.map((e) => [e.topic, e.data]));
    expect(byAgent['hub.heartbeat.agent-1']).toMatchObject({
      agentId: 'agent-1',
      status: { load: 0.5 },
    });
    expect(byAgent['hub.heartbeat.agent-2']).toMatchObject({
      agentId: 'agent-2',
      status: { load: 0.1 },
    });
    expect(byAgent['hub.heartbeat.agent-3']).toMatchObject({ agentId: 'agent-3', status: null });
    expect(beats.every((e) => e.type === MessageType.HEARTBEAT)).toBe(true);
  });

  it('subscribeToEvents and publishEvent are the same implementation as subscribe and publish', async () => {
    const hub = hubWith({});
    const sub = vi.spyOn(hub, 'subscribe');
    const pub = vi.spyOn(hub, 'publish');
    const got: unknown[] = [];
    const handler = (e: UnifiedEvent) => {
      got.push(e.data);
    };
    const off = await hub.subscribeToEvents('alias.*', handler, { concurrency: 2 });
    expect(sub).toHaveBeenCalledWith('alias.*', handler, { concurrency: 2 });
    const e = ev('alias.x', 'v');
    await hub.publishEvent(e);
    expect(pub).toHaveBeenCalledWith(e);
    await waitFor(() => got.length === 1, 'alias delivery');
    await off();
    await hub.publishEvent(ev('alias.x', 'after'));
    await new Promise((r) => setImmediate(r));
    expect(got).toEqual(['v']);
  });

  it('rejects bad patterns and events', async () => {
    const hub = hubWith({});
    await expect(hub.subscribe('a..b', () => {})).rejects.toThrow();
    await expect(hub.publish(ev('bad topic'))).rejects.toMatchObject({
      code: 'HUB_INVALID_MESSAGE',
    });
    expect(hub.metrics().totals.rejected).toBe(1);
  });

  it('events need a broadcast-capable adapter', async () => {
    const p2p = new TestAdapter({ name: 'p2p', broadcast: false });
    const hub = hubWith({ adapters: [p2p] });
    await expect(hub.publish(ev('x.y'))).rejects.toMatchObject({
      code: 'HUB_GUARANTEE_UNSUPPORTED',
    });
  });
});
