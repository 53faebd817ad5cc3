import { createHub, createMemoryBroker, ErrorCode, type Hub, HubError, memory } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet, timerCount, waitFor } from './helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(...args: Parameters<typeof createHub>): Hub {
  const hub = createHub({ logger: quiet, ...args[0] });
  hubs.push(hub);
  return hub;
}

describe('request/reply', () => {
  it('resolves with the value the handler returns', async () => {
    const hub = hubWith({});
    await hub.onMessage('math', (m) => (m.payload as number) * 2);
    const req = msg({ destination: 'math', payload: 21 });
    const reply = await hub.request<number, number>(req, { timeoutMs: 10_000 });
    expect(reply.payload).toBe(42);
    expect(reply.correlationId).toBe(req.id);
    expect(reply.type).toBe('response');
    expect(reply.source).toBe('math');
  });

  it('resolves with what ctx.reply sends', async () => {
    const hub = hubWith({});
    await hub.onMessage('echo', async (m, ctx) => {
      await ctx.reply({ echoed: m.payload });
    });
    const reply = await hub.request(msg({ destination: 'echo', payload: 'x' }), {
      timeoutMs: 10_000,
    });
    expect(reply.payload).toEqual({ echoed: 'x' });
  });

  it('keeps a given correlationId', async () => {
    const hub = hubWith({});
    await hub.onMessage('corr', () => 'ok');
    const reply = await hub.request(msg({ destination: 'corr', correlationId: 'conv-1' }), {
      timeoutMs: 10_000,
    });
    expect(reply.correlationId).toBe('conv-1');
    await expect(
      Promise.all([
        hub.request(msg({ destination: 'nobody', correlationId: 'dup' }), { timeoutMs: 200 }),
        hub.request(msg({ destination: 'nobody', correlationId: 'dup' }), { timeoutMs: 200 }),
      ]),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
  });

  it('rejects with HUB_TIMEOUT when no reply comes, and leaves no timer', async () => {
    const hub = hubWith({});
    await hub.start();
    await hub.onMessage('silent', () => undefined);
    const before = timerCount();
    const err = (await hub
      .request(msg({ destination: 'silent' }), { timeoutMs: 30 })
      .catch((e: unknown) => e)) as HubError;
    expect(err).toBeInstanceOf(HubError);
    expect(err.code).toBe(ErrorCode.TIMEOUT);
    expect(err.message).toContain('silent');
    expect(timerCount()).toBeLessThanOrEqual(before);
    await expect(
      hub.request(msg({ destination: 'silent' }), { timeoutMs: 0 }),
    ).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
  });

  it('the handler sees every field of the request, optional and unknown ones too', async () => {
    const hub = hubWith({});
    let seen: Record<string, unknown> | undefined;
    await hub.onMessage('fields', (m) => {
      seen = { ...m };
      return 'ok';
    });
    const req = {
      ...msg({
        destination: 'fields',
        payload: { n: 1 },
        partitionKey: 'k1',
        ttlMs: 60_000,
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        headers: { h: 'v' },
      }),
      extension: 'kept',
    };
    await hub.request(req, { timeoutMs: 10_000 });
    expect(seen).toMatchObject({
      id: req.id,
      source: req.source,
      destination: 'fields',
      payload: { n: 1 },
      partitionKey: 'k1',
      ttlMs: 60_000,
      expiresAt: req.expiresAt,
      traceparent: req.traceparent,
      headers: { h: 'v' },
      correlationId: req.id,
      extension: 'kept',
    });
    expect(String(seen?.replyTo)).toMatch(/^_inbox\./);
  });

  it('correlates 200 parallel requests', async () => {
    const hub = hubWith({});
    await hub.onMessage(
      'square',
      async (m) => {
        const n = m.payload as number;
        if (n % 3 === 0) await new Promise((r) => setTimeout(r, 1));
        return n * n;
      },
      { concurrency: 32 },
    );
    const ns = Array.from({ length: 200 }, (_, i) => i);
    const replies = await Promise.all(
      ns.map((n) =>
        hub.request<number, number>(msg({ destination: 'square', payload: n }), {
          timeoutMs: 30_000,
        }),
      ),
    );
    expect(replies.map((r) => r.payload)).toEqual(ns.map((n) => n * n));
  });

  it('works across two hubs sharing a broker', async () => {
    const broker = createMemoryBroker();
    const server = hubWith({ name: 'server', adapters: [memory({ broker })] });
    const client = hubWith({ name: 'client', adapters: [memory({ broker })] });
    await server.onMessage('svc', (m) => `hello ${String(m.payload)}`);
    await server.start();
    const reply = await client.request(msg({ destination: 'svc', payload: 'client' }), {
      timeoutMs: 10_000,
    });
    expect(reply.payload).toBe('hello client');
  });

  it('a failed send clears the pending request', async () => {
    const hub = hubWith({
      adapters: [memory({ faults: { failSend: 1 } })],
      sendRetry: { maxAttempts: 1 },
    });
    const before = timerCount();
    await expect(
      hub.request(msg({ destination: 'x' }), { timeoutMs: 60_000 }),
    ).rejects.toMatchObject({
      code: ErrorCode.ADAPTER_FAILED,
    });
    await waitFor(() => timerCount() <= before, 'request timer cleared');
  });
});
