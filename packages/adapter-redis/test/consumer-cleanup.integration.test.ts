import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import type { InboundDelivery } from '@hub/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

// A closed subscription removes its consumer from the group when it holds nothing,
// so restarts and autoscaling do not pile up dead consumers in XINFO CONSUMERS;
// a consumer that still owns pending entries is kept, so nothing is lost.

let server: RedisServer;
let admin: Redis;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  admin = new Redis(server.url, { lazyConnect: true });
  admin.on('error', () => {});
  await admin.connect();
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await admin?.quit().catch(() => admin.disconnect());
  await server?.stop();
});

const make = (prefix: string) => {
  const a = redis({ url: server.url, keyPrefix: prefix, claimIdleMs: 1_000 });
  adapters.push(a);
  return a;
};

/** Consumer names of `group` over every stream of the endpoint, with their pending counts. */
async function consumers(prefix: string, ep: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const key of await admin.keys(`${prefix}:{${ep}}:[po]*`)) {
    const list = (await admin.call('XINFO', 'CONSUMERS', key, ep)) as unknown[][];
    for (const c of list) {
      const name = String(c[c.indexOf('name') + 1]);
      const pending = Number(c[c.indexOf('pending') + 1]);
      out.set(name, (out.get(name) ?? 0) + pending);
    }
  }
  return out;
}

it('a closed consumer holding nothing leaves the group; one still owning entries stays until they are reclaimed', async () => {
  const prefix = uniquePrefix('cleanup');
  const sender = make(prefix);
  await connected(sender, 'sender');

  // 1. A consumer that acked everything: gone from every stream's group after close.
  const a = make(prefix);
  await connected(a, 'a');
  const recA = recorder('ep');
  const subA = await a.subscribe(recA.spec());
  await sender.send(message('ep', 'one'));
  await waitFor(
    () => recA.deliveries.length === 1,
    () => 'a did not get its message',
  );
  const before = await consumers(prefix, 'ep');
  expect(before.size).toBe(1);
  const [nameA] = [...before.keys()];
  // the ack is flushed before close returns
  await subA.close();
  expect([...(await consumers(prefix, 'ep')).keys()]).not.toContain(nameA);

  // 2. A consumer closed while it holds an unsettled entry keeps it (released for
  //    reclaim), so the entry is not dropped from the PEL with the consumer.
  const b = make(prefix);
  await connected(b, 'b');
  const held: InboundDelivery[] = [];
  const subB = await b.subscribe(
    recorder('ep', (d) => {
      held.push(d);
    }).spec(),
  );
  const kept = message('ep', 'kept');
  await sender.send(kept);
  await waitFor(
    () => held.length === 1,
    () => 'b did not get its message',
  );
  await subB.close();
  const afterB = await consumers(prefix, 'ep');
  expect([...afterB.values()]).toContain(1);

  // Another consumer reclaims it: nothing lost.
  const c = make(prefix);
  await connected(c, 'c');
  const recC = recorder('ep');
  await c.subscribe(recC.spec());
  await waitFor(
    () => recC.ids().includes(kept.id),
    () => `c got ${recC.ids().length} entries, not the released one`,
    20_000,
  );
});

it('a crashed consumer (connections cut, nothing released) is pruned once its entries were reclaimed', async () => {
  const prefix = uniquePrefix('prune');
  const mk = () => {
    const a = redis({
      url: server.url,
      keyPrefix: prefix,
      claimIdleMs: 300,
      blockMs: 50,
      lagCheckIntervalMs: 100,
    });
    adapters.push(a);
    return a;
  };
  const sender = mk();
  await connected(sender, 'sender');
  const victim = mk();
  await connected(victim, 'victim');
  const held: InboundDelivery[] = [];
  await victim.subscribe(
    recorder('ep', (d) => {
      held.push(d);
    }).spec(),
  );
  const msg = message('ep', 'held');
  await sender.send(msg);
  await waitFor(
    () => held.length === 1,
    () => 'victim did not get its message',
  );
  const [dead] = [...(await consumers(prefix, 'ep')).keys()];
  // The crash: every socket drops, nothing is released or acked.
  const conns = [victim.commands, ...Object.values(victim as unknown as Record<string, unknown>)]
    .flatMap((v) => (v instanceof Set ? [...v] : [v]))
    .filter((v): v is Redis => v instanceof Redis);
  for (const c of new Set(conns)) c.disconnect();

  const rescuer = mk();
  await connected(rescuer, 'rescuer');
  const rec = recorder('ep');
  await rescuer.subscribe(rec.spec());
  await waitFor(
    () => rec.ids().includes(msg.id),
    () => 'the crashed consumer entry was not reclaimed',
    20_000,
  );
  // Once it owns nothing and stayed idle, the dead consumer leaves every stream's group.
  await waitFor(
    async () => !(await consumers(prefix, 'ep')).has(dead!),
    async () =>
      `dead consumer ${dead} still listed: ${JSON.stringify([...(await consumers(prefix, 'ep'))])}`,
    20_000,
  );
  expect(rec.ids().filter((id) => id === msg.id)).toHaveLength(1);
});
