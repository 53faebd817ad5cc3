import { redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { createHub, silentLogger } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee } from '@hub/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { startClient, startServer, trackHub, trackLast } from './helpers.js';

// Two gateways, each on its own hub, the hubs joined by one real redis-server:
// to their clients they are one hub.

let redisServer: RedisServer | undefined;
beforeAll(async () => {
  const server = await startRedisServer();
  redisServer = server;
  // stopped after the hubs using it have closed (helpers' afterAll)
  trackLast({ close: () => server.stop() });
});

const redisHub = (name: string, prefix: string) =>
  trackHub(
    createHub({
      name,
      logger: silentLogger,
      adapters: [redis({ url: redisServer!.url, keyPrefix: prefix })],
    }),
  );

describe('two servers over Redis', () => {
  it('a client on A gets what a client on B publishes, and serves an endpoint a client on B calls', async () => {
    const prefix = `so${process.pid}`;
    const a = await startServer({}, redisHub('server-a', prefix));
    const b = await startServer({}, redisHub('server-b', prefix));
    const onA = await startClient(a.gateway.url, {}, 'client-a');
    const onB = await startClient(b.gateway.url, {}, 'client-b');

    const events: number[] = [];
    await onA.subscribe('fleet.*', (e) => {
      events.push(e.data as number);
    });
    await onA.onMessage('agent_a', (m) => ({ servedBy: 'a', got: m.payload }));

    await waitFor(async () => {
      await onB.publish(createEvent({ source: 'b', topic: 'fleet.update', data: events.length }));
      return events.length > 0;
    });
    const reply = await onB.request(
      createMessage({ source: 'b', destination: 'agent_a', payload: 42 }),
      { timeoutMs: 10_000 },
    );
    expect(reply.payload).toEqual({ servedBy: 'a', got: 42 });

    // at-least-once work from B's client reaches A's client through a Redis stream
    const done: number[] = [];
    await onA.onMessage('jobs_a', (m) => {
      done.push(m.payload as number);
    });
    for (let i = 0; i < 100; i++) {
      await onB.send(
        createMessage({
          source: 'b',
          destination: 'jobs_a',
          payload: i,
          deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
        }),
      );
    }
    await waitFor(() => done.length >= 100, { message: () => `${done.length}/100` });
    expect(new Set(done).size).toBe(100);
  });
});
