import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, DeliveryGuarantee, type UnifiedEvent } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];
const hubs: Hub[] = [];

beforeAll(async () => {
  server = await startRedisServer({ aof: true });
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

function make(prefix: string): RedisAdapter {
  const a = redis({
    url: server.url,
    keyPrefix: prefix,
    claimIdleMs: 1_000,
    commandTimeoutMs: 2_000,
  });
  adapters.push(a);
  return a;
}

it('R10: redis-server SIGKILLed and restarted twice during 10,000 at-least-once messages: 0 acked lost', async () => {
  const TOTAL = 10_000;
  const prefix = uniquePrefix('r10');
  const sender = make(prefix);
  await connected(sender, 'sender');
  const received = new Map<string, number>();
  const receivers = [make(prefix), make(prefix)];
  for (const [i, r] of receivers.entries()) {
    await connected(r, `recv${i}`);
    const rec = recorder('ep', (d) => {
      received.set(d.envelope.id, (received.get(d.envelope.id) ?? 0) + 1);
      return d.ack();
    });
    await r.subscribe(rec.spec({ prefetch: 32 }));
  }

  const attempted = new Set<string>();
  const acked = new Set<string>();
  let sendFailures = 0;
  const deadline = Date.now() + 240_000;
  let next = 0;
  // 32 concurrent senders, each retrying its message with the same id until the
  // broker acknowledges it (what the hub's retry does for an uncertain send).
  const worker = async () => {
    while (next < TOTAL && Date.now() < deadline) {
      const m = message('ep', { n: next++ });
      attempted.add(m.id);
      for (;;) {
        try {
          await sender.send(m);
          acked.add(m.id);
          break;
        } catch {
          sendFailures++;
          if (Date.now() > deadline) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  };
  const sending = Promise.all(Array.from({ length: 32 }, worker));
  const counts = () => {
    const lost = [...acked].filter((id) => !received.has(id)).length;
    const dup = [...received.values()].filter((n) => n > 1).length;
    const unexpected = [...received.keys()].filter((id) => !attempted.has(id)).length;
    return `sent=${attempted.size} acked=${acked.size} received=${received.size} lost=${lost} duplicated=${dup} unexpected=${unexpected} sendFailures=${sendFailures}`;
  };

  for (const at of [2_500, 6_000]) {
    await waitFor(() => acked.size >= at, counts, 120_000);
    await server.kill();
    await server.restart();
  }
  await sending;
  expect(acked.size, counts()).toBe(TOTAL);
  await waitFor(() => [...acked].every((id) => received.has(id)), counts, 120_000);
  const lost = [...acked].filter((id) => !received.has(id)).length;
  const unexpected = [...received.keys()].filter((id) => !attempted.has(id)).length;
  expect({ lost, unexpected }, counts()).toEqual({ lost: 0, unexpected: 0 });
  console.log(`[R10] ${counts()}`);
}, 300_000);

it('R10 durable events: redis-server SIGKILLed and restarted twice during 10,000 at-least-once events, two groups: 0 acked lost in either', async () => {
  const TOTAL = 10_000;
  const prefix = uniquePrefix('r10ev');
  const topic = 'orders.created';
  const hubOf = async (name: string) => {
    const h = createHub({ name, adapters: [make(prefix)], logger: silentLogger });
    hubs.push(h);
    await h.start();
    return h;
  };
  const received = new Map<string, Map<string, number>>([
    ['billing', new Map()],
    ['shipping', new Map()],
  ]);
  for (const [group, got] of received) {
    for (let i = 0; i < 2; i++) {
      const h = await hubOf(`${group}${i}`);
      await h.subscribe(
        topic,
        (ev: UnifiedEvent) => {
          got.set(ev.id, (got.get(ev.id) ?? 0) + 1);
        },
        { group },
      );
    }
  }
  const publisher = await hubOf('shop');
  const attempted = new Set<string>();
  const acked = new Set<string>();
  let sendFailures = 0;
  const deadline = Date.now() + 240_000;
  let next = 0;
  // Each publish retried with the same id until the broker acknowledged it.
  const worker = async () => {
    while (next < TOTAL && Date.now() < deadline) {
      const ev = createEvent({
        source: 'shop',
        topic,
        type: 'order_created',
        data: { n: next++ },
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      });
      attempted.add(ev.id);
      for (;;) {
        try {
          await publisher.publish(ev);
          acked.add(ev.id);
          break;
        } catch {
          sendFailures++;
          if (Date.now() > deadline) return;
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    }
  };
  const sending = Promise.all(Array.from({ length: 32 }, worker));
  const counts = () =>
    `${[...received]
      .map(([group, got]) => {
        const lost = [...acked].filter((id) => !got.has(id)).length;
        const dup = [...got.values()].filter((n) => n > 1).length;
        const unexpected = [...got.keys()].filter((id) => !attempted.has(id)).length;
        return `${group}: received=${got.size} lost=${lost} duplicated=${dup} unexpected=${unexpected}`;
      })
      .join('; ')} (sent=${attempted.size} acked=${acked.size} sendFailures=${sendFailures})`;
  for (const at of [2_500, 6_000]) {
    await waitFor(() => acked.size >= at, counts, 120_000);
    await server.kill();
    await server.restart();
  }
  await sending;
  expect(acked.size, counts()).toBe(TOTAL);
  for (const got of received.values()) {
    await waitFor(() => [...acked].every((id) => got.has(id)), counts, 120_000);
    const unexpected = [...got.keys()].filter((id) => !attempted.has(id)).length;
    expect(unexpected, counts()).toBe(0);
  }
  console.log(`[R10 durable events] ${counts()}`);
}, 300_000);
