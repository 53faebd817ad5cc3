import { type RedisCluster, startRedisCluster } from '@hub/adapter-test-suite';
import { createEvent } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let cluster: RedisCluster;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3 });
}, 120_000);
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await cluster?.stop();
});

it('3-master cluster: streams (several endpoints over different slots), DLQ MULTI, ordered and pub/sub', async () => {
  const prefix = uniquePrefix('cl');
  const make = () => {
    const a = redis({
      cluster: { nodes: [...cluster.nodes] },
      keyPrefix: prefix,
      claimIdleMs: 1_000,
    });
    adapters.push(a);
    return a;
  };
  const sender = make();
  const receivers = [make(), make()];
  await connected(sender, 's');
  const endpoints = ['alpha', 'beta', 'gamma', 'delta', 'epsilon'];
  const got = new Map<string, number>();
  const topics = recorder('orders.*');
  for (const [i, r] of receivers.entries()) {
    await connected(r, `r${i}`);
    for (const ep of endpoints) {
      await r.subscribe(
        recorder(ep, (d) => {
          got.set(d.envelope.id, (got.get(d.envelope.id) ?? 0) + 1);
          if (d.envelope.kind === 'message' && d.envelope.payload === 'poison')
            return d.deadLetter('poison');
          return d.ack();
        }).spec(),
      );
    }
  }
  await receivers[0]!.subscribe(topics.spec({ kind: 'topic', address: 'orders.*' }));
  const ids: string[] = [];
  for (let i = 0; i < 500; i++) {
    const ep = endpoints[i % endpoints.length]!;
    const m = message(
      ep,
      { i },
      i % 3 === 0 ? { guarantee: 'ordered', partitionKey: `k${i % 7}` } : {},
    );
    ids.push(m.id);
    await sender.send(m);
  }
  await sender.send(message('alpha', 'poison'));
  await sender.send(createEvent({ source: 's', topic: 'orders.created', data: 1 }));
  await waitFor(
    () => ids.every((id) => got.has(id)),
    () => `received ${got.size}/${ids.length}`,
    60_000,
  );
  await waitFor(
    async () => (await sender.readDeadLetters('alpha')).length === 1,
    () => 'no DLQ entry',
  );
  await waitFor(
    () => topics.deliveries.length === 1,
    () => 'event not received',
  );
  const dup = [...got.values()].filter((n) => n > 1).length;
  expect(dup).toBe(0);
});

it('on a Cluster every send goes through the one dispatch and is counted once (best-effort, events, streams)', async () => {
  const prefix = uniquePrefix('clcount');
  const a = redis({ cluster: { nodes: [...cluster.nodes] }, keyPrefix: prefix });
  adapters.push(a);
  await connected(a, 'counting');
  const r = recorder('counted');
  await a.subscribe(r.spec());
  await a.send(message('counted', 1, { guarantee: 'best-effort' }));
  await a.send(message('counted', 2, { guarantee: 'best-effort' }));
  await a.send(createEvent({ source: 's', topic: 'orders.counted', data: 1 }));
  await a.send(message('counted', 3));
  await a.send(message('counted', 4, { guarantee: 'ordered', partitionKey: 'k' }));
  expect(a.health().detail).toMatchObject({ sent: 5, sendFailures: 0 });
  await waitFor(
    () => r.deliveries.length === 4,
    () => `received ${r.deliveries.length}/4`,
  );
});
