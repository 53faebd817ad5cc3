/**
 * Best-effort messages travel over Pub/Sub, which has no consumer groups; the
 * adapter's member sets (members.ts) make instances of an endpoint share them
 * as they share stream messages: each message handled by one instance of each
 * group, never by all of them.
 */
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createEvent } from '@hub/protocol';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, type Recorder, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

async function instance(prefix: string, name: string): Promise<RedisAdapter> {
  const a = redis({ url: server.url, keyPrefix: prefix });
  adapters.push(a);
  await connected(a, name);
  return a;
}

/**
 * Send `n` best-effort messages to `destination` in concurrent batches of 50
 * (the first batch races the sender's first read of the listener set);
 * returns their ids.
 */
async function sendAll(from: RedisAdapter, destination: string, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += 50) {
    const batch = Array.from({ length: Math.min(50, n - i) }, (_, k) =>
      message(destination, { i: i + k }, { guarantee: 'best-effort' }),
    );
    for (const m of batch) ids.push(m.id);
    await Promise.all(batch.map((m) => from.send(m)));
  }
  return ids;
}

/** Every id handled exactly once across `recs`; the message names lost and duplicated counts. */
function expectOnceAcross(recs: Recorder[], ids: string[]): void {
  const seen = new Map<string, number>();
  for (const r of recs) for (const id of r.ids()) seen.set(id, (seen.get(id) ?? 0) + 1);
  const lost = ids.filter((id) => !seen.has(id)).length;
  const duplicated = [...seen.values()].filter((c) => c > 1).length;
  const unexpected = [...seen.keys()].filter((id) => !ids.includes(id)).length;
  expect(
    { lost, duplicated, unexpected },
    `sent=${ids.length} per instance=${recs.map((r) => r.ids().length).join('/')}`,
  ).toEqual({ lost: 0, duplicated: 0, unexpected: 0 });
}

const settled = (recs: Recorder[], n: number) =>
  waitFor(
    () => recs.reduce((s, r) => s + r.ids().length, 0) >= n,
    () => `received ${recs.map((r) => r.ids().length).join('/')} of ${n}`,
  );

/** A moment for strays (a second copy would arrive right behind the first). */
const quiet = async (ms = 300) => {
  const until = Date.now() + ms;
  await waitFor(
    () => Date.now() >= until,
    () => 'quiet period',
  );
};

it('three instances of one endpoint share its best-effort messages: each handled once, every instance gets work', async () => {
  const prefix = uniquePrefix('share');
  const recs = [recorder('ep'), recorder('ep'), recorder('ep')];
  for (const [i, r] of recs.entries()) {
    const a = await instance(prefix, `w${i}`);
    await a.subscribe(r.spec({ guarantees: ['best-effort'] }));
  }
  const sender = await instance(prefix, 'sender');
  const ids = await sendAll(sender, 'ep', 300);
  await settled(recs, ids.length);
  await quiet();
  expectOnceAcross(recs, ids);
  // Round robin over the member set: nobody idles.
  for (const r of recs) expect(r.ids().length).toBeGreaterThan(0);
});

it('two groups of one endpoint: each group gets every message once, split within the group', async () => {
  const prefix = uniquePrefix('groups');
  const g1 = recorder('ep');
  const g2 = [recorder('ep'), recorder('ep')];
  await (await instance(prefix, 'g1a')).subscribe(g1.spec({ group: 'g1' }));
  for (const [i, r] of g2.entries()) {
    await (await instance(prefix, `g2${i}`)).subscribe(r.spec({ group: 'g2' }));
  }
  const sender = await instance(prefix, 'sender');
  const ids = await sendAll(sender, 'ep', 200);
  await settled([g1], ids.length);
  await settled(g2, ids.length);
  await quiet();
  expectOnceAcross([g1], ids);
  expectOnceAcross(g2, ids);
  for (const r of g2) expect(r.ids().length).toBeGreaterThan(0);
});

it('a member whose Pub/Sub link died is skipped: its messages go to a live member, none lost', async () => {
  const prefix = uniquePrefix('dead');
  const live = recorder('ep');
  const dead = recorder('ep');
  await (await instance(prefix, 'live')).subscribe(live.spec({ guarantees: ['best-effort'] }));
  const d = await instance(prefix, 'dead');
  await d.subscribe(dead.spec({ guarantees: ['best-effort'] }));
  const sender = await instance(prefix, 'sender');
  await sendAll(sender, 'ep', 10); // the sender's view now holds both members
  await settled([live, dead], 10);

  // Cut the dead member's subscriber without leaving the set (as a crash would;
  // its command link keeps the entry fresh, the worst case for senders).
  const pubsubClients = async (): Promise<number> => {
    const list = (await sender.commands.call('CLIENT', 'LIST', 'TYPE', 'pubsub')) as string;
    return list.split('\n').filter((line) => line.trim() !== '').length;
  };
  const before = await pubsubClients();
  (d as unknown as { subscriber: Redis }).subscriber.disconnect();
  // Dead once Redis has dropped the link: until then a PUBLISH still counts the
  // closing socket as a receiver (whatever it read is lost, as in any crash).
  await waitFor(
    async () => (await pubsubClients()) < before,
    async () => `Pub/Sub clients still ${await pubsubClients()} (was ${before})`,
  );
  const ids = await sendAll(sender, 'ep', 100);
  await settled([live], 10 + ids.length - dead.ids().length);
  await quiet();
  const afterCut = live.ids().filter((id) => ids.includes(id));
  expect(dead.ids().filter((id) => ids.includes(id))).toEqual([]);
  expect(afterCut.length, `live got ${afterCut.length}/${ids.length}`).toBe(ids.length);
});

it('two subscriptions of one endpoint in one process take turns; each message handled once', async () => {
  const prefix = uniquePrefix('local');
  const a = await instance(prefix, 'a');
  const recs = [recorder('ep'), recorder('ep')];
  for (const r of recs) await a.subscribe(r.spec({ guarantees: ['best-effort'] }));
  const ids = await sendAll(a, 'ep', 100);
  await settled(recs, ids.length);
  await quiet();
  expectOnceAcross(recs, ids);
  for (const r of recs) expect(r.ids().length).toBeGreaterThan(0);
});

/** Let a sender's cached view of the listener set grow older than its 2 s bound. */
const ageViews = async () => {
  const until = Date.now() + 2_200; // the point of these tests is a view this old
  await waitFor(
    () => Date.now() >= until,
    () => 'ageing the view',
  );
};

it('a listener replaced while the sender was quiet: the next send reaches the new one (no stale view)', async () => {
  const prefix = uniquePrefix('replaced');
  const sender = await instance(prefix, 'sender');
  const old = recorder('ep');
  const w1 = await instance(prefix, 'w1');
  const sub1 = await w1.subscribe(old.spec({ guarantees: ['best-effort'] }));
  await sendAll(sender, 'ep', 1); // the sender's view: w1
  await settled([old], 1);
  await sub1.close();
  const fresh = recorder('ep');
  await (await instance(prefix, 'w2')).subscribe(fresh.spec({ guarantees: ['best-effort'] }));
  await ageViews();
  const ids = await sendAll(sender, 'ep', 1);
  await settled([fresh], 1);
  expectOnceAcross([fresh], ids);
});

it('listeners that joined after the sender saw none: each message handled once, not by all', async () => {
  const prefix = uniquePrefix('joined');
  const sender = await instance(prefix, 'sender');
  // Nobody listens: the sender's view is empty, and the send says nobody got it.
  await expect(
    sender.send(message('ep', { i: -1 }, { guarantee: 'best-effort' })),
  ).rejects.toMatchObject({ code: 'HUB_NO_RECEIVER' });
  const recs = [recorder('ep'), recorder('ep')];
  for (const [i, r] of recs.entries()) {
    await (await instance(prefix, `w${i}`)).subscribe(r.spec({ guarantees: ['best-effort'] }));
  }
  await ageViews();
  const ids = await sendAll(sender, 'ep', 20);
  await settled(recs, ids.length);
  await quiet();
  expectOnceAcross(recs, ids);
});

it('the listener set expires with its last live entry (a crashed sole listener leaves nothing behind)', async () => {
  const prefix = uniquePrefix('ttl');
  const a = redis({ url: server.url, keyPrefix: prefix, heartbeatMs: 200 });
  adapters.push(a);
  await connected(a, 'a');
  await a.subscribe(recorder('ep').spec({ guarantees: ['best-effort'] }));
  const raw = (a as unknown as { commands: Redis }).commands;
  const key = a.keys.pubsubMembers('ep');
  const ttl = await raw.pttl(key);
  expect(ttl).toBeGreaterThan(0);
  expect(ttl).toBeLessThanOrEqual(600);
});

it('a second subscribe riding on a SUBSCRIBE that times out either fails too or really receives', async () => {
  const prefix = uniquePrefix('piggy');
  const a = redis({ url: server.url, keyPrefix: prefix, commandTimeoutMs: 400 });
  adapters.push(a);
  await connected(a, 'a');
  const raw = (a as unknown as { commands: Redis }).commands.duplicate();
  raw.on('error', () => {});
  try {
    const recs = [recorder('x.*'), recorder('x.*')];
    // A fan-out topic subscription (no group), on a pattern.
    const topicSpec = (r: Recorder) => {
      const { group: _none, ...spec } = r.spec({ kind: 'topic' });
      return spec;
    };
    // The subscriber connection is up (an unrelated subscription) before Redis pauses.
    await a.subscribe(topicSpec(recorder('warm.*')));
    // Redis stops answering for a while: the first SUBSCRIBE times out.
    await raw.call('CLIENT', 'PAUSE', '1200', 'ALL');
    const first = a.subscribe(topicSpec(recs[0]!)).then(
      () => true,
      () => false,
    );
    const second = a.subscribe(topicSpec(recs[1]!)).then(
      () => true,
      () => false,
    );
    const ok = [await first, await second];
    const publisher = await instance(prefix, 'pub');
    const sent: string[] = [];
    for (let i = 0; i < 10; i++) {
      const e = createEvent({ source: 'p', topic: 'x.y', data: { i } });
      sent.push(e.id);
      await publisher.send(e);
    }
    for (const [i, r] of recs.entries()) {
      if (!ok[i]) continue;
      await waitFor(
        () => sent.every((id) => r.ids().includes(id)),
        () => `subscription ${i} (resolved) got ${r.ids().length}/10`,
      );
    }
  } finally {
    raw.disconnect();
  }
});

it('instances with different heartbeats: a short one leaving never expires the long one’s entry', async () => {
  const prefix = uniquePrefix('ttlmix');
  const slow = redis({ url: server.url, keyPrefix: prefix, heartbeatMs: 10_000 });
  const fast = redis({ url: server.url, keyPrefix: prefix, heartbeatMs: 200 });
  adapters.push(slow, fast);
  await connected(slow, 'slow');
  await connected(fast, 'fast');
  await slow.subscribe(recorder('ep').spec({ guarantees: ['best-effort'] }));
  const sub = await fast.subscribe(recorder('ep').spec({ guarantees: ['best-effort'] }));
  await sub.close();
  const raw = (slow as unknown as { commands: Redis }).commands;
  // The slow listener's entry lives 30 s; the key must not die before it.
  expect(await raw.pttl(slow.keys.pubsubMembers('ep'))).toBeGreaterThan(20_000);
});
