import {
  createHub,
  ErrorCode,
  type Hub,
  HubError,
  InvalidMessageError,
  memory,
  type UnifiedMessage,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, TestAdapter, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}

describe('send', () => {
  it('resolves with id, adapter, protocol and latency', async () => {
    const hub = hubWith({});
    const m = msg();
    const r = await hub.send(m);
    expect(r).toMatchObject({
      success: true,
      messageId: m.id,
      adapter: 'memory',
      protocol: 'memory',
    });
    expect(typeof r.latencyMs).toBe('number');
    expect(r.latencyMs).toBeGreaterThanOrEqual(0);
    expect(r.error).toBeUndefined();

    const custom = new TestAdapter({ name: 'custom' });
    const hub2 = hubWith({ adapters: [custom] });
    const r2 = await hub2.send(m);
    expect(r2).toMatchObject({ adapter: 'custom', protocol: 'custom-proto' });
    expect(custom.sent.map((e) => e.id)).toEqual([m.id]);
  });

  it('rejects invalid messages naming the field, and counts them as rejected', async () => {
    const hub = hubWith({});
    await hub.start();
    const noDest = { ...msg() } as Partial<UnifiedMessage>;
    delete noDest.destination;
    const e1 = (await hub
      .send(noDest as UnifiedMessage)
      .catch((e: unknown) => e)) as InvalidMessageError;
    expect(e1).toBeInstanceOf(InvalidMessageError);
    expect(e1.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(e1.field).toBe('destination');

    const badPriority = { ...msg(), priority: 9 } as unknown as UnifiedMessage;
    const e2 = (await hub.send(badPriority).catch((e: unknown) => e)) as InvalidMessageError;
    expect(e2.field).toBe('priority');

    const badGuarantee = { ...msg(), deliveryGuarantee: 'twice' } as unknown as UnifiedMessage;
    const e3 = (await hub.send(badGuarantee).catch((e: unknown) => e)) as InvalidMessageError;
    expect(e3.field).toBe('deliveryGuarantee');

    await expect(hub.send(null as unknown as UnifiedMessage)).rejects.toBeInstanceOf(HubError);
    await expect(hub.request(null as unknown as UnifiedMessage)).rejects.toBeInstanceOf(HubError);
    expect(hub.metrics().totals.rejected).toBe(5);
    expect(hub.metrics().totals.sent).toBe(0);
  });

  it('sendMessage resolves { success: false, error } for every failure send rejects on', async () => {
    const beOnly = new TestAdapter({ name: 'be', guarantees: ['best-effort'] });
    const hub = hubWith({
      adapters: [beOnly],
      circuitBreaker: { consecutiveFailures: 100, minimumThroughput: 100 },
      sendRetry: { maxAttempts: 2, initialDelayMs: 1 },
    });
    await hub.start();
    const failures: UnifiedMessage[] = [
      { ...msg(), destination: '' },
      msg({ deliveryGuarantee: 'exactly-once' }),
    ];
    for (const m of failures) {
      const thrown = (await hub.send(m).catch((e: unknown) => e)) as HubError;
      expect(thrown).toBeInstanceOf(HubError);
      const r = await hub.sendMessage(m);
      expect(r.success).toBe(false);
      expect(r.messageId).toBe(m.id);
      expect((r.error as HubError).code).toBe(thrown.code);
      expect(r.error?.constructor).toBe(thrown.constructor);
    }
    beOnly.failAll = true;
    const m = msg({ deliveryGuarantee: 'best-effort' });
    const thrown = (await hub.send(m).catch((e: unknown) => e)) as HubError;
    expect(thrown.code).toBe(ErrorCode.ADAPTER_FAILED);
    const r = await hub.sendMessage(m);
    expect(r).toMatchObject({ success: false, messageId: m.id });
    expect((r.error as HubError).code).toBe(ErrorCode.ADAPTER_FAILED);
    beOnly.failAll = false;
    expect(await hub.sendMessage(msg({ deliveryGuarantee: 'best-effort' }))).toMatchObject({
      success: true,
      adapter: 'be',
    });
  });

  it('retries transient failSend faults with the same id and succeeds', async () => {
    const seenIds: string[] = [];
    const attempts = new Map<string, number>();
    const adapter = memory({
      faults: {
        failSend: (env) => {
          seenIds.push(env.id);
          const n = (attempts.get(env.id) ?? 0) + 1;
          attempts.set(env.id, n);
          return n <= 2;
        },
      },
    });
    const hub = hubWith({
      adapters: [adapter],
      sendRetry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
    });
    const got: string[] = [];
    await hub.onMessage('ep', (m) => {
      got.push(m.id);
    });
    const m = msg();
    const r = await hub.send(m);
    expect(r).toMatchObject({ success: true, messageId: m.id, adapter: 'memory' });
    expect(seenIds).toEqual([m.id, m.id, m.id]);
    await waitFor(() => got.length === 1, 'delivery');
    expect(got).toEqual([m.id]);
    expect(hub.metrics().totals).toMatchObject({ sent: 1, sendFailed: 2 });
    expect(hub.metrics().adapters.memory).toMatchObject({ sent: 1, failed: 2 });
  });

  it('gives up after sendRetry.maxAttempts with the transport error', async () => {
    const adapter = memory({ faults: { failSend: 1 } });
    const hub = hubWith({ adapters: [adapter], sendRetry: { maxAttempts: 2, initialDelayMs: 1 } });
    const err = (await hub.send(msg()).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.ADAPTER_FAILED);
    expect(err.message).toContain('failSend');
    expect(hub.metrics().totals.sendFailed).toBe(2);
  });

  it('does not retry or trip the circuit on a non-retryable refusal', async () => {
    const adapter = memory({ maxQueueLength: 1 });
    const hub = hubWith({
      adapters: [adapter],
      circuitBreaker: { consecutiveFailures: 1 },
      sendRetry: { maxAttempts: 5, initialDelayMs: 1 },
    });
    await hub.send(msg({ destination: 'full' }));
    const err = (await hub.send(msg({ destination: 'full' })).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.OVERLOADED);
    expect(hub.metrics().totals.sendFailed).toBe(1);
    expect(hub.health().adapters.memory?.circuit).toBe('closed');
  });

  it('opens the circuit after consecutive failures: health shows it and a circuit event fires', async () => {
    const adapter = memory({ faults: { failSend: 1 } });
    const hub = hubWith({
      adapters: [adapter],
      circuitBreaker: { consecutiveFailures: 3, cooldownMs: 60_000 },
      sendRetry: { maxAttempts: 1 },
    });
    const events: Array<[string, string]> = [];
    hub.on('circuit', (name, state) => events.push([name, state]));
    for (let i = 0; i < 3; i++) await hub.send(msg()).catch(() => {});
    expect(events).toEqual([['memory', 'open']]);
    const health = hub.health();
    expect(health.adapters.memory?.circuit).toBe('open');
    expect(health.hubStatus).toBe('unhealthy');
    expect(hub.metrics().adapters.memory?.circuit).toBe('open');
    const err = (await hub.send(msg()).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.CIRCUIT_OPEN);
    expect(hub.metrics().totals.sendFailed).toBe(3);
    expect(hub.prometheus()).toContain('hub_circuit_open{adapter="memory"} 1');
  });

  it('rejects a guarantee no adapter honours at once, without trying any adapter', async () => {
    const be = new TestAdapter({ name: 'be', guarantees: ['best-effort'] });
    const hub = hubWith({ adapters: [be] });
    const err = (await hub
      .send(msg({ deliveryGuarantee: 'at-least-once' }))
      .catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.GUARANTEE_UNSUPPORTED);
    expect(err.message).toContain('at-least-once');
    expect(be.sent).toEqual([]);
    // No silent downgrade: best-effort still works.
    await expect(hub.send(msg({ deliveryGuarantee: 'best-effort' }))).resolves.toMatchObject({
      success: true,
    });
  });
});

describe('uncertain sends', () => {
  it('retries a timed-out at-least-once send (same id) but never a best-effort one', async () => {
    const { BaseAdapter, createHub, ErrorCode, HubError } = await import('@hub/core');
    class TimingOut extends BaseAdapter {
      readonly name = 'timing-out';
      readonly capabilities = {
        guarantees: ['best-effort', 'at-least-once'] as const,
        persistent: false,
        ordered: false,
        broadcast: true,
        patterns: true,
        consumerGroups: true,
      };
      calls = 0;
      protected async doConnect() {}
      protected async doSend(): Promise<never> {
        this.calls++;
        throw new HubError(ErrorCode.TIMEOUT, '[hub:timing-out] send timed out');
      }
      protected async doSubscribe() {
        return { close: async () => {} };
      }
      protected async doClose() {}
    }
    const adapter = new TimingOut();
    const hub = createHub({
      adapters: [adapter],
      logger: quiet,
      sendRetry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 2 },
      circuitBreaker: { consecutiveFailures: 100 },
    });
    try {
      await hub.start();
      await expect(hub.send(msg({ deliveryGuarantee: 'best-effort' }))).rejects.toMatchObject({
        code: ErrorCode.TIMEOUT,
      });
      expect(adapter.calls).toBe(1);
      await expect(hub.send(msg({ deliveryGuarantee: 'at-least-once' }))).rejects.toMatchObject({
        code: ErrorCode.TIMEOUT,
      });
      expect(adapter.calls).toBe(4);
    } finally {
      await hub.close();
    }
  });
});
