import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer({ aof: true });
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
