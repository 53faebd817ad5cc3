import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage, DeliveryGuarantee } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { wsServer } from '../src/index.js';
import { startClient, startServer } from './helpers.js';
import { rawSession } from './raw.js';

describe('gateway and client over real sockets', () => {
  it("a client's frame payload reaches an in-process handler as parsed (handed over, not copied), and is still checked", async () => {
    const { hub, gateway } = await startServer();
    const got: unknown[] = [];
    await hub.onMessage('worker', (m) => {
      got.push(m.payload);
    });
    await hub.subscribe('news.*', (e) => {
      got.push(e.data);
    });
    const raw = await rawSession(gateway.url);
    await waitFor(() => raw.frames.length >= 1);
    // The objects the gateway's frame parse made, seen as JSON.parse returns them.
    const parsed: Array<{ envelope: { payload?: unknown; data?: unknown } }> = [];
    const parse = JSON.parse;
    JSON.parse = function (this: unknown, ...args: Parameters<typeof JSON.parse>) {
      const value: unknown = parse.apply(this, args);
      const frame = value as { type?: unknown; envelope?: unknown };
      if ((frame.type === 'message' || frame.type === 'event') && frame.envelope !== undefined)
        parsed.push(value as (typeof parsed)[number]);
      return value;
    } as typeof JSON.parse;
    try {
      // Best-effort to its only handler: the memory transport's delivery hands its envelope out as it is.
      const m = createMessage({
        source: 'raw',
        destination: 'worker',
        payload: { n: [1, 2] },
        deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT,
      });
      raw.send({ type: 'message', id: m.id, envelope: m });
      const e = createEvent({ source: 'raw', topic: 'news.a', data: { t: 'x' } });
      raw.send({ type: 'event', id: e.id, envelope: e });
      await waitFor(() => got.length === 2);
    } finally {
      JSON.parse = parse;
    }
    expect(got).toEqual([{ n: [1, 2] }, { t: 'x' }]);
    expect(parsed).toHaveLength(2);
    expect(got[0]).toBe(parsed[0]!.envelope.payload);
    // An event's delivery is copied by the transport whatever the sender did.
    expect(got[1]).toEqual(parsed[1]!.envelope.data);
    // Deeper than the wire's limit (64): taken uncopied, still refused as the wire refuses it.
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = { a: deep };
    const tooDeep = createMessage({ source: 'raw', destination: 'worker', payload: 1 });
    raw.send({ type: 'message', id: tooDeep.id, envelope: { ...tooDeep, payload: deep } });
    await waitFor(() => raw.frames.some((f) => f.type === 'error' && f.id === tooDeep.id));
    expect(raw.frames.find((f) => f.type === 'error')).toMatchObject({
      code: 'HUB_INVALID_MESSAGE',
    });
    expect(got).toHaveLength(2);
    raw.ws.terminate();
  });

  it('a client sends to a handler on the server hub and gets the confirmation', async () => {
    const { hub, gateway } = await startServer();
    const got: unknown[] = [];
    await hub.onMessage('worker', (m) => {
      got.push(m.payload);
    });
    const client = await startClient(gateway.url);
    const result = await client.send(
      createMessage({
        source: 'c',
        destination: 'worker',
        payload: { n: 1 },
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      }),
    );
    expect(result.adapter).toBe('ws');
    await waitFor(() => got.length === 1);
    expect(got).toEqual([{ n: 1 }]);
  });

  it('a client serves an endpoint the server hub sends to, and answers requests', async () => {
    const { hub, gateway } = await startServer();
    const client = await startClient(gateway.url);
    await client.onMessage('remote_agent', (m) => ({ echo: m.payload }));
    const reply = await hub.request(
      createMessage({ source: 's', destination: 'remote_agent', payload: 'hi' }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toEqual({ echo: 'hi' });
  });

  it('a client requests an endpoint served on the server hub', async () => {
    const { hub, gateway } = await startServer();
    await hub.onMessage('math', (m) => (m.payload as number) * 2);
    const client = await startClient(gateway.url);
    const reply = await client.request(
      createMessage({ source: 'c', destination: 'math', payload: 21 }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toBe(42);
  });

  it('a client subscribes to a topic pattern on the server hub', async () => {
    const { hub, gateway } = await startServer();
    const client = await startClient(gateway.url);
    const got: string[] = [];
    await client.subscribe('orders.*', (e) => {
      got.push(e.topic);
    });
    await hub.publish(createEvent({ source: 's', topic: 'orders.created', data: 1 }));
    await hub.publish(createEvent({ source: 's', topic: 'users.created', data: 2 }));
    await hub.publish(createEvent({ source: 's', topic: 'orders.paid', data: 3 }));
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['orders.created', 'orders.paid']);
  });

  it('two clients serving one endpoint share its work', async () => {
    const { hub, gateway } = await startServer();
    const a = await startClient(gateway.url, {}, 'a');
    const b = await startClient(gateway.url, {}, 'b');
    const seen = { a: 0, b: 0 };
    await a.onMessage('shared', () => {
      seen.a++;
    });
    await b.onMessage('shared', () => {
      seen.b++;
    });
    for (let i = 0; i < 200; i++) {
      await hub.send(
        createMessage({
          source: 's',
          destination: 'shared',
          payload: i,
          deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
        }),
      );
    }
    await waitFor(() => seen.a + seen.b === 200, { message: () => JSON.stringify(seen) });
    expect(seen.a).toBeGreaterThan(0);
    expect(seen.b).toBeGreaterThan(0);
  });
});

describe('the gateway in the hub’s health and metrics', () => {
  it('reports connections and frames under its name; two gateways of one hub need two names', async () => {
    const { hub, gateway } = await startServer();
    await hub.onMessage('counted', () => {});
    const client = await startClient(gateway.url);
    await client.send(createMessage({ source: 'c', destination: 'counted', payload: 1 }));
    const health = hub.health();
    expect(health.components.ws?.healthy).toBe(true);
    expect(health.components.ws?.detail).toMatchObject({ connections: 1, sessions: 1 });
    const figures = hub.metrics().components.ws!;
    expect(figures.connections).toBe(1);
    expect(figures.framesIn).toBeGreaterThanOrEqual(2);
    expect(figures.refusedAuth).toBe(0);
    expect(hub.prometheus()).toMatch(/^hub_ws_connections 1$/m);
    await expect(wsServer({ hub, port: 0 })).rejects.toThrow(/already has a gateway named "ws"/);
    await gateway.close();
    expect(hub.health().components.ws).toBeUndefined();
  });
});
