/**
 * Replies as reply frames (the compact form, `@hub/protocol`): sent only to a
 * member channel whose listener announced it reads them, decoded back into the
 * envelope the full form gives, refused like any bad input when malformed.
 */
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createMessage, isReplyFrame, jsonCodec, type UnifiedMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
let raw: Redis;
let listener: Redis;
const hubs: Hub[] = [];
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.port, '127.0.0.1');
  raw.on('error', () => {});
  listener = new Redis(server.port, '127.0.0.1');
  listener.on('error', () => {});
});
afterEach(async () => {
  listener.removeAllListeners('pmessage');
  listener.removeAllListeners('message');
  await listener.punsubscribe();
  await listener.unsubscribe();
  await Promise.allSettled(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 100 })));
  await Promise.allSettled(adapters.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  raw?.disconnect();
  listener?.disconnect();
  await server?.stop();
});

/** Every text published on a member channel of `prefix`, with its channel. */
async function tap(prefix: string): Promise<Array<{ channel: string; text: string }>> {
  const seen: Array<{ channel: string; text: string }> = [];
  listener.on('pmessage', (_p: string, channel: string, text: string) => {
    seen.push({ channel, text });
  });
  await listener.psubscribe(`${prefix}:chm:*`);
  return seen;
}

describe('reply frames over Pub/Sub', () => {
  it("a hub's reply goes to the requester as a reply frame, and the caller gets the same reply the full form gives", async () => {
    const prefix = uniquePrefix('frames');
    const make = (name: string) => {
      const hub = createHub({
        name,
        logger: silentLogger,
        adapters: [redis({ url: server.url, keyPrefix: prefix })],
      });
      hubs.push(hub);
      return hub;
    };
    const svc = make('svc');
    const client = make('client');
    const when = new Date(1_700_000_000_000);
    await svc.onMessage('echo', (m) => ({ got: m.payload, when }), {
      guarantees: ['best-effort'],
    });
    await Promise.all([svc.start(), client.start()]);
    const seen = await tap(prefix);

    const request = createMessage({
      source: 'client',
      destination: 'echo',
      payload: { x: 1 },
      deliveryGuarantee: 'best-effort',
    });
    const reply = await client.request(request, { timeoutMs: 15_000 });
    expect(reply.payload).toEqual({ got: { x: 1 }, when });
    expect(reply).toMatchObject({
      kind: 'message',
      source: 'echo',
      type: 'response',
      correlationId: request.id,
      deliveryGuarantee: 'best-effort',
      attempt: 1,
      headers: {},
    });

    await waitFor(
      () => seen.length === 2,
      () => `texts seen on member channels: ${seen.length}`,
    );
    const [toService, toInbox] = seen;
    // The request is a full envelope; the reply, to the requester's inbox, a frame.
    expect(isReplyFrame(toService!.text)).toBe(false);
    expect(toInbox!.channel).toContain('_inbox.');
    expect(isReplyFrame(toInbox!.text)).toBe(true);
    // The frame is shorter than the full envelope of the same reply.
    expect(toInbox!.text.length).toBeLessThan(jsonCodec.encode(reply).length);
  });

  it('a listener whose entry does not announce reply frames (an older instance) gets full envelopes', async () => {
    const prefix = uniquePrefix('oldlistener');
    const sender = redis({ url: server.url, keyPrefix: prefix });
    adapters.push(sender);
    await connected(sender, 'sender');
    const received = new Map<string, string>();
    listener.on('message', (channel: string, text: string) => received.set(channel, text));
    // Two listeners registered by hand: one as an older version writes its
    // entry ([group, channel]), one as this version does ([group, channel, 1]).
    const oldChannel = sender.keys.memberChannel('old.ep', 'old.ep', 'old-instance');
    const newChannel = sender.keys.memberChannel('new.ep', 'new.ep', 'new-instance');
    await listener.subscribe(oldChannel, newChannel);
    const expiry = Date.now() + 60_000;
    await raw.zadd(
      sender.keys.pubsubMembers('old.ep'),
      expiry,
      JSON.stringify(['old.ep', oldChannel]),
    );
    await raw.zadd(
      sender.keys.pubsubMembers('new.ep'),
      expiry,
      JSON.stringify(['new.ep', newChannel, 1]),
    );

    const replyShaped = (destination: string): UnifiedMessage =>
      createMessage({
        source: 'svc',
        destination,
        payload: { n: 1 },
        deliveryGuarantee: 'best-effort',
        correlationId: 'req-1',
      });
    const toOld = replyShaped('old.ep');
    const toNew = replyShaped('new.ep');
    await sender.send(toOld);
    await sender.send(toNew);
    await waitFor(
      () => received.size === 2,
      () => `received on ${[...received.keys()].join(', ')}`,
    );
    const oldText = received.get(oldChannel)!;
    expect(isReplyFrame(oldText)).toBe(false);
    expect(jsonCodec.decode(oldText)).toEqual(jsonCodec.decode(jsonCodec.encode(toOld)));
    expect(isReplyFrame(received.get(newChannel)!)).toBe(true);
  });

  it('a malformed reply frame is refused with a typed error naming the field, never handled', async () => {
    const prefix = uniquePrefix('badframe');
    const a = redis({ url: server.url, keyPrefix: prefix });
    adapters.push(a);
    await connected(a, 'i1');
    const r = recorder('ep', () => {});
    await a.subscribe(r.spec({ guarantees: ['best-effort'] }));
    const channel = a.keys.memberChannel('ep', 'ep', 'i1');
    const frame = (patch: Record<string, unknown>) =>
      JSON.stringify({
        f: 'reply',
        v: 1,
        i: 'id-1',
        t: Date.now(),
        s: 'svc',
        d: 'ep',
        c: 'req-1',
        p: { ok: true },
        ...patch,
      });
    await raw.publish(channel, frame({ v: 2 }));
    await raw.publish(channel, frame({ s: 'not an address!' }));
    await raw.publish(channel, frame({ i: 'id-2' }));
    await waitFor(
      () => r.deliveries.length === 1 && r.rejected.length === 2,
      () => `delivered ${r.deliveries.length}, rejected ${r.rejected.length}`,
    );
    expect(r.ids()).toEqual(['id-2']);
    expect(r.deliveries[0]!.envelope).toMatchObject({
      correlationId: 'req-1',
      payload: { ok: true },
    });
    const fields = r.rejected.map((x) => (x.error as { field?: string }).field);
    expect(r.rejected.map((x) => (x.error as { code?: string }).code)).toEqual([
      'HUB_INVALID_MESSAGE',
      'HUB_INVALID_MESSAGE',
    ]);
    expect(fields).toEqual(['v', 'source']);
  });
});
