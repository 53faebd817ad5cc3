import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import type { InboundDelivery } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

function make(prefix: string): RedisAdapter {
  const a = redis({
    url: server.url,
    keyPrefix: prefix,
    claimIdleMs: 1_000,
    partitionLeaseMs: 900,
  });
  adapters.push(a);
  return a;
}

/** Per key, every delivery is either the next expected seq or a redelivery of an earlier one. */
function checkOrder(log: Array<{ key: string; seq: number }>, perKey: number) {
  const expected = new Map<string, number>();
  let skips = 0;
  let redeliveries = 0;
  for (const { key, seq } of log) {
    const e = expected.get(key) ?? 0;
    if (seq === e) expected.set(key, e + 1);
    else if (seq < e) redeliveries++;
    else skips++;
  }
  const incomplete = [...expected.values()].filter((n) => n !== perKey).length;
  return { skips, redeliveries, incomplete, keys: expected.size };
}

it('R9: FIFO per key across 2 instances, through nacks and an instance leaving mid-stream', async () => {
  const KEYS = 16;
  const PER_KEY = 60;
  const prefix = uniquePrefix('ord');
  const sender = make(prefix);
  await connected(sender, 'sender');
  const log: Array<{ key: string; seq: number; who: string }> = [];
  const nacked = new Set<string>();
  const handler = (who: string) => async (d: InboundDelivery) => {
    if (d.envelope.kind !== 'message') return;
    const p = d.envelope.payload as { key: string; seq: number };
    log.push({ ...p, who });
    // A little async work so deliveries of different keys interleave.
    await new Promise((r) => setImmediate(r));
    if (p.seq % 17 === 5 && !nacked.has(d.envelope.id)) {
      nacked.add(d.envelope.id);
      return d.nack();
    }
    return d.ack();
  };
  const a = make(prefix);
  const b = make(prefix);
  await Promise.all([connected(a, 'a'), connected(b, 'b')]);
  await Promise.all([
    a.subscribe(recorder('ep', handler('a')).spec({ prefetch: 8 })),
    b.subscribe(recorder('ep', handler('b')).spec({ prefetch: 8 })),
  ]);
  const sendAll = async (from: number, to: number) => {
    for (let seq = from; seq < to; seq++) {
      await Promise.all(
        Array.from({ length: KEYS }, (_, k) =>
          sender.send(
            message('ep', { key: `k${k}`, seq }, { guarantee: 'ordered', partitionKey: `k${k}` }),
          ),
        ),
      );
    }
  };
  // Partition leases spread over the live consumers: 8 + 8.
  const leased = async (x: RedisAdapter) =>
    ((await x.inspect()).endpoints as Record<string, { leasedPartitions: number }>).ep
      ?.leasedPartitions ?? 0;
  await waitFor(
    async () => (await leased(a)) === KEYS / 2 && (await leased(b)) === KEYS / 2,
    async () => `leases a=${await leased(a)} b=${await leased(b)}`,
  );
  await sendAll(0, PER_KEY / 2);
  // Both instances work their partitions. Wait on it rather than check it at one
  // moment: on a loaded box one reader may still be in a blocking read when the
  // other has handled a quarter of the messages.
  const workers = () => new Set(log.map((l) => l.who)).size;
  await waitFor(
    () => log.length >= (KEYS * PER_KEY) / 4 && workers() === 2,
    () => `received ${log.length} from ${workers()} instance(s)`,
  );
  expect(workers()).toBe(2);
  // One instance leaves mid-stream: the other takes over its partitions (and their pending entries).
  await a.close();
  await sendAll(PER_KEY / 2, PER_KEY);
  const summary = () => JSON.stringify({ received: log.length, ...checkOrder(log, PER_KEY) });
  await waitFor(() => checkOrder(log, PER_KEY).incomplete === 0, summary, 60_000);
  const result = checkOrder(log, PER_KEY);
  expect(result.skips, summary()).toBe(0);
  expect(result.keys).toBe(KEYS);
  expect(await leased(b)).toBe(KEYS);
});

it('ordered: a backlog on one key is handed over one at a time (at most one unsettled per key)', async () => {
  const prefix = uniquePrefix('ord1');
  const a = make(prefix);
  await connected(a, 'a');
  for (let seq = 0; seq < 5; seq++) {
    await a.send(message('ep', { seq }, { guarantee: 'ordered', partitionKey: 'one' }));
  }
  const held: InboundDelivery[] = [];
  await a.subscribe(
    recorder('ep', (d) => {
      held.push(d);
    }).spec({ prefetch: 10 }),
  );
  for (let i = 0; i < 5; i++) {
    await waitFor(
      () => held.length === i + 1,
      () => `held ${held.length}, expected ${i + 1}`,
    );
    const until = Date.now() + 300;
    await waitFor(
      () => Date.now() > until || held.length > i + 1,
      () => '',
    );
    expect(held).toHaveLength(i + 1);
    const env = held[i]!.envelope;
    expect(env.kind === 'message' && (env.payload as { seq: number }).seq).toBe(i);
    await held[i]!.ack();
  }
});
