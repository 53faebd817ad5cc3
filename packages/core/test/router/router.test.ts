import {
  AdapterRegistry,
  createEvent,
  createHub,
  ErrorCode,
  type Hub,
  HubError,
  memory,
  Router,
  type RouterOptions,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, TestAdapter, waitFor } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}
const adapters = (...names: string[]) => names.map((name) => new TestAdapter({ name }));

function router(names: string[], opts: Partial<RouterOptions> = {}) {
  const registry = new AdapterRegistry();
  for (const n of names) registry.register(new TestAdapter({ name: n }));
  return new Router(registry, {
    defaultStrategy: 'automatic',
    rules: [],
    messageTypeRoutes: {},
    breaker: {},
    ...opts,
  });
}

describe('Router (unit)', () => {
  it('reuses one cached decision for the common case, whatever the destination', () => {
    const r = router(['a', 'b']);
    const d1 = r.route(msg({ destination: 'one' }));
    const d2 = r.route(msg({ destination: 'two' }));
    expect(d2).toBe(d1);
    expect(d1.targets.map((t) => t.name)).toEqual(['a', 'b']);
    const e1 = r.route(createEvent({ source: 's', topic: 'x.y', data: 1 }));
    expect(r.route(createEvent({ source: 's', topic: 'z', data: 1 }))).toBe(e1);
    expect(r.route(msg({ deliveryGuarantee: 'best-effort' }))).not.toBe(d1);
  });

  it('message types that are Object.prototype keys are ordinary types', () => {
    const r = router(['a', 'b'], { messageTypeRoutes: { task: ['b'] } });
    for (const type of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(r.route(msg({ type })).targets[0]?.name).toBe('a');
    }
    expect(r.route(msg({ type: 'task' })).targets[0]?.name).toBe('b');
  });

  it('names the address of the failing send in a routing error', () => {
    const r = router(['a'], {
      rules: [{ match: 'pinned.*', adapters: ['missing'], strategy: 'protocol-specific' }],
    });
    expect(() => r.route(msg({ destination: 'pinned.one' }))).toThrow(/pinned\.one/);
    expect(() => r.route(msg({ destination: 'pinned.two' }))).toThrow(/pinned\.two/);
  });
});

describe('routing strategies through the hub', () => {
  it('automatic prefers the adapter with lower observed latency', async () => {
    const [slow, fast] = adapters('slow', 'fast') as [TestAdapter, TestAdapter];
    slow.delayMs = 25;
    const hub = hubWith({ adapters: [slow, fast] });
    // Unobserved adapters are tried first; once both are observed the faster one wins.
    await waitFor(
      async () => (await hub.send(msg())).adapter === 'fast',
      'automatic picks fast',
      20_000,
      5,
    );
    await waitFor(
      async () => {
        const picks = await Promise.all(Array.from({ length: 3 }, () => hub.send(msg())));
        return slow.sent.length > 0 && picks.every((p) => p.adapter === 'fast');
      },
      'steady on fast after observing slow',
      20_000,
      5,
    );
  });

  it('protocol-specific pins to the named adapters with no fallback', async () => {
    const [a, b] = adapters('a', 'b') as [TestAdapter, TestAdapter];
    const hub = hubWith({
      adapters: [a, b],
      routes: [{ match: 'pinned', adapters: ['b'], strategy: 'protocol-specific' }],
    });
    for (let i = 0; i < 3; i++) {
      expect((await hub.send(msg({ destination: 'pinned' }))).adapter).toBe('b');
    }
    expect((await hub.send(msg({ destination: 'free' }))).adapter).toBe('a');
    b.setUp(false);
    hub.checkHealth();
    const err = (await hub
      .send(msg({ destination: 'pinned' }))
      .catch((e: unknown) => e)) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(err.message).toContain('unhealthy');
    expect(a.sent.filter((e) => e.kind === 'message' && e.destination === 'pinned')).toEqual([]);
  });

  it('round-robin rotates among adapters', async () => {
    const hub = hubWith({
      adapters: adapters('a', 'b', 'c'),
      defaultRoutingStrategy: 'round-robin',
    });
    const picks: string[] = [];
    for (let i = 0; i < 6; i++) picks.push((await hub.send(msg())).adapter);
    expect(picks).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });

  it('failover uses the next adapter while the circuit is open and goes back when it closes', async () => {
    const primary = memory({ name: 'primary', faults: { failSend: 1 } });
    const backup = memory({ name: 'backup' });
    const hub = hubWith({
      adapters: [primary, backup],
      routes: [{ match: '**', strategy: 'failover', adapters: ['primary', 'backup'] }],
      circuitBreaker: { consecutiveFailures: 2, cooldownMs: 50 },
      sendRetry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
    });
    const circuit: string[] = [];
    hub.on('circuit', (name, state) => circuit.push(`${name}:${state}`));
    const got: string[] = [];
    await hub.onMessage('ep', (_m, ctx) => {
      got.push(ctx.adapter);
    });
    // First send: primary fails, the retry goes to backup.
    expect((await hub.send(msg())).adapter).toBe('backup');
    expect((await hub.send(msg())).adapter).toBe('backup');
    await waitFor(() => circuit.includes('primary:open'), 'primary circuit open');
    const failuresWhenOpen = hub.metrics().adapters.primary?.failed;
    // While open, primary is not even tried.
    for (let i = 0; i < 5; i++) expect((await hub.send(msg())).adapter).toBe('backup');
    expect(hub.metrics().adapters.primary?.failed).toBe(failuresWhenOpen);
    primary.clearFaults();
    await waitFor(
      async () => (await hub.send(msg())).adapter === 'primary',
      'back on primary',
      20_000,
      5,
    );
    expect(circuit).toContain('primary:closed');
    expect((await hub.send(msg())).adapter).toBe('primary');
    await waitFor(() => got.length === hub.metrics().totals.sent, 'all delivered');
  });

  it('broadcast sends via every adapter', async () => {
    const [a, b] = adapters('a', 'b') as [TestAdapter, TestAdapter];
    const hub = hubWith({ adapters: [a, b], defaultRoutingStrategy: 'broadcast' });
    const via: string[] = [];
    await hub.onMessage('ep', (_m, ctx) => {
      via.push(ctx.adapter);
    });
    const m = msg();
    const r = await hub.send(m);
    expect(r.success).toBe(true);
    expect(r.results?.map((x) => x.adapter)).toEqual(['a', 'b']);
    expect(a.sent.map((e) => e.id)).toEqual([m.id]);
    expect(b.sent.map((e) => e.id)).toEqual([m.id]);
    await waitFor(() => via.length === 2, 'both deliveries');
    expect(via.sort()).toEqual(['a', 'b']);
    b.failAll = true;
    const partial = await hub.send(msg());
    expect(partial.success).toBe(false);
    expect(partial.results?.find((x) => x.adapter === 'b')?.error).toBeInstanceOf(HubError);
    a.failAll = true;
    await expect(hub.send(msg())).rejects.toBeInstanceOf(HubError);
  });

  it('exact rules win over pattern rules; kind restricts a rule', async () => {
    const hub = hubWith({
      adapters: adapters('a', 'b', 'c', 'd'),
      // Unruled sends go to the first adapter (automatic would weigh latency and load).
      defaultRoutingStrategy: 'failover',
      routes: [
        { match: 'svc.*', adapters: ['c'], strategy: 'protocol-specific' },
        { match: 'svc.exact', adapters: ['b'], strategy: 'protocol-specific' },
        { match: 'svc.**', adapters: ['d'], strategy: 'protocol-specific' },
        { match: 'news.**', adapters: ['d'], strategy: 'protocol-specific', kind: 'event' },
      ],
    });
    expect((await hub.send(msg({ destination: 'svc.exact' }))).adapter).toBe('b');
    expect((await hub.send(msg({ destination: 'svc.other' }))).adapter).toBe('c');
    expect((await hub.send(msg({ destination: 'svc.deep.er' }))).adapter).toBe('d');
    expect((await hub.send(msg({ destination: 'plain' }))).adapter).toBe('a');
    expect(
      (await hub.publish(createEvent({ source: 's', topic: 'news.eu', data: 1 }))).adapter,
    ).toBe('d');
    expect((await hub.send(msg({ destination: 'news.eu' }))).adapter).toBe('a');
  });

  it('messageTypeRoutes prefer adapters per type and widen when they are down', async () => {
    const [a, b] = adapters('a', 'b') as [TestAdapter, TestAdapter];
    const hub = hubWith({
      adapters: [a, b],
      messageTypeRoutes: { task_assignment: ['b'] },
      // Preference order alone (automatic would also weigh latency and load).
      defaultRoutingStrategy: 'failover',
    });
    expect((await hub.send(msg({ type: 'task_assignment' }))).adapter).toBe('b');
    expect((await hub.send(msg({ type: 'query' }))).adapter).toBe('a');
    expect((await hub.send(msg({ type: 'constructor' }))).adapter).toBe('a');
    b.setUp(false);
    hub.checkHealth();
    expect((await hub.send(msg({ type: 'task_assignment' }))).adapter).toBe('a');
  });

  it('a guarantee no adapter honours rejects at once', async () => {
    const be = new TestAdapter({ name: 'be', guarantees: ['best-effort'] });
    const hub = hubWith({ adapters: [be] });
    const started = Date.now();
    await expect(hub.send(msg({ deliveryGuarantee: 'ordered' }))).rejects.toMatchObject({
      code: ErrorCode.GUARANTEE_UNSUPPORTED,
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(be.sent).toEqual([]);
  });

  it('all capable adapters unhealthy or open -> a typed error naming them', async () => {
    const a = memory({ name: 'a' });
    const b = memory({ name: 'b' });
    const hub = hubWith({ adapters: [a, b] });
    await hub.start();
    a.disconnect();
    b.disconnect();
    hub.checkHealth();
    const err = (await hub.send(msg()).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(err.message).toMatch(/a: closed, unhealthy/);
    expect(err.message).toMatch(/b: closed, unhealthy/);
    a.reconnect();
    hub.checkHealth();
    expect((await hub.send(msg())).adapter).toBe('a');
  });

  it('an adapter added after start is connected and existing subscriptions extend to it; removal stops routing to it', async () => {
    const hub = hubWith({
      adapters: [memory({ name: 'a' })],
      routes: [{ match: 'late', adapters: ['b'], strategy: 'protocol-specific' }],
    });
    const via: string[] = [];
    await hub.onMessage('late', (_m, ctx) => {
      via.push(ctx.adapter);
    });
    await hub.start();
    await expect(hub.send(msg({ destination: 'late' }))).rejects.toMatchObject({
      code: ErrorCode.NO_ROUTE,
    });
    const b = memory({ name: 'b' });
    hub.adapters.register(b);
    await waitFor(
      () => b.state === 'ready' && b.health().detail?.subscriptions === 1,
      'b connected and subscribed',
    );
    expect((await hub.send(msg({ destination: 'late' }))).adapter).toBe('b');
    await waitFor(() => via.length === 1, 'delivery via b');
    expect(via).toEqual(['b']);
    expect(hub.health().adapters.b?.healthy).toBe(true);

    expect(await hub.adapters.remove('b')).toBe(true);
    expect(b.state).toBe('closed');
    await expect(hub.send(msg({ destination: 'late' }))).rejects.toMatchObject({
      code: ErrorCode.NO_ROUTE,
    });
    expect(hub.health().adapters.b).toBeUndefined();
  });
});
