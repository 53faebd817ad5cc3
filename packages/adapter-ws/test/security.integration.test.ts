import { randomBytes } from 'node:crypto';
import {
  type AuditEvent,
  createEvent,
  createHub,
  createMessage,
  type Envelope,
  ErrorCode,
  type Hub,
  type HubError,
  type SecurityOptions,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { envelopeProtection } from '@hub/core/security';
import { describe, expect, it } from 'vitest';
import { wsClient } from '../src/index.js';
import { startClient, startServer, trackHub } from './helpers.js';
import { rawSession, upgrade } from './raw.js';

/** The gateway authenticates by token; the hub's own policy decides what each identity may do. */
describe('S8 over WebSocket: the core policy applies to gateway clients, with their identity', () => {
  it('a client identity is attached to what it sends; what the policy does not allow is refused with HUB_FORBIDDEN and audited', async () => {
    const audit: AuditEvent[] = [];
    const hub = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        security: {
          audit: (e) => audit.push(e),
          policy: {
            rules: [
              { name: 'server', identities: ['server'], serve: ['orders.*'] },
              {
                name: 'clients',
                identities: ['client.*'],
                send: ['orders.create'],
                subscribe: ['news.*'],
              },
              { name: 'workers', identities: ['worker.*'], serve: ['jobs.*'] },
            ],
          },
        },
      }),
    );
    const { gateway } = await startServer(
      {
        authenticate: (req) => {
          const token = new URL(req.url ?? '/', 'http://x').searchParams.get('access_token');
          return token === 'alice'
            ? { id: 'client.alice' }
            : token === 'w1'
              ? { id: 'worker.w1' }
              : null;
        },
      },
      hub,
    );
    const got: UnifiedMessage[] = [];
    await hub.onMessage('orders.create', (m) => {
      got.push(m);
    });
    const alice = await startClient(gateway.url, { token: 'alice' }, 'alice');
    // A header claiming another identity is dropped: the authenticated one is stamped.
    await alice.send(
      createMessage({
        source: 'a',
        destination: 'orders.create',
        payload: 1,
        headers: { 'hub-identity': 'server' },
      }),
    );
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('client.alice');

    const refused = await alice
      .send(createMessage({ source: 'a', destination: 'orders.cancel', payload: 1 }))
      .then(
        () => undefined,
        (e: HubError) => e.code,
      );
    expect(refused).toBe(ErrorCode.FORBIDDEN);
    await expect(alice.subscribe('admin.**', () => {})).rejects.toMatchObject({
      code: ErrorCode.FORBIDDEN,
    });
    await expect(alice.onMessage('jobs.build', () => {})).rejects.toMatchObject({
      code: ErrorCode.FORBIDDEN,
    });
    await alice.subscribe('news.*', () => {});

    const worker = await startClient(gateway.url, { token: 'w1' }, 'worker');
    await worker.onMessage('jobs.build', () => {});

    // A refused upgrade is audited and counted too.
    expect((await upgrade(`${gateway.url}?access_token=stolen`)).status).toBe(401);
    const auth = audit.filter((e) => e.kind === 'auth');
    expect(auth).toHaveLength(1);
    expect(auth[0]!.reason).toMatch(/authenticate hook/);
    expect(JSON.stringify(auth)).not.toContain('stolen');
    expect(hub.metrics().components.security!.authFailed).toBe(1);
    expect(
      audit.filter((e) => e.kind === 'refused').map((e) => [e.identity, e.verb, e.address]),
    ).toEqual([
      ['client.alice', 'send', 'orders.cancel'],
      ['client.alice', 'subscribe', 'admin.**'],
      ['client.alice', 'serve', 'jobs.build'],
    ]);
  });
});

describe('S8 over WebSocket: publishing', () => {
  it('an unauthorised publish from a client is refused with HUB_FORBIDDEN and audited, and reaches no subscriber; an allowed one arrives with the client identity', async () => {
    const audit: AuditEvent[] = [];
    const hub = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        security: {
          audit: (e) => audit.push(e),
          policy: {
            rules: [
              { name: 'server', identities: ['server'], subscribe: ['**'] },
              { name: 'clients', identities: ['client.*'], publish: ['news.*'] },
            ],
          },
        },
      }),
    );
    const { gateway } = await startServer({ authenticate: () => ({ id: 'client.alice' }) }, hub);
    const got: Array<[string, string | undefined]> = [];
    await hub.subscribe('**', (e) => {
      got.push([e.topic, e.headers['hub-identity']]);
    });
    const alice = await startClient(gateway.url, {}, 'alice');
    const denied = createEvent({ source: 'a', topic: 'admin.alerts', type: 't', data: 1 });
    const refused = await alice.publish(denied).then(
      () => undefined,
      (e: HubError) => e.code,
    );
    expect(refused).toBe(ErrorCode.FORBIDDEN);
    // Published after the refused one: once it has arrived, the refused one would have too.
    await alice.publish(createEvent({ source: 'a', topic: 'news.eu', type: 't', data: 2 }));
    await expect.poll(() => got.length).toBe(1);
    expect(got).toEqual([['news.eu', 'client.alice']]);
    expect(
      audit
        .filter((e) => e.kind === 'refused')
        .map((e) => [e.identity, e.verb, e.address, e.code, e.messageId]),
    ).toEqual([['client.alice', 'publish', 'admin.alerts', ErrorCode.FORBIDDEN, denied.id]]);
    expect(hub.metrics().components.security!.refused).toBe(1);
  });
});

const signingKeys: Record<string, Buffer> = { s1: randomBytes(32) };
const encryptionKeys: Record<string, Buffer> = { k1: randomBytes(32), k2: randomBytes(32) };

/** A hub whose only transport is a ws client of `url`, with security (not started). */
function clientHub(url: string, name: string, security: SecurityOptions): Hub {
  return trackHub(
    createHub({
      name,
      logger: silentLogger,
      security,
      adapters: [wsClient({ url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } })],
    }),
  );
}

/** 4 MiB of JSON that compresses to a few KB. */
const HUGE = 'a'.repeat(4 << 20);
const CAP = 64 * 1024;
const BOMB = /decompresses past maxDecompressedBytes \(65536\): refused as a compression bomb/;

describe('S9 over WebSocket: compression bombs', () => {
  it('a bomb a client hub sends, gzip or brotli, is refused at the gateway within the cap: HUB_INTEGRITY_FAILED, audited, never handled', async () => {
    const audit: AuditEvent[] = [];
    const server = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        security: {
          protection: envelopeProtection({ compression: { maxDecompressedBytes: CAP } }),
          audit: (e) => audit.push(e),
        },
      }),
    );
    const { gateway } = await startServer({}, server);
    const handled: unknown[] = [];
    await server.onMessage('orders', (m) => {
      handled.push(m.payload);
    });
    await server.subscribe('news.*', (e) => {
      handled.push(e.data);
    });
    // Client hubs whose own cap is larger: what they write inflates far past the gateway's.
    const sender = async (algorithm: 'gzip' | 'br') => {
      const h = clientHub(gateway.url, `client-${algorithm}`, {
        protection: envelopeProtection({
          compression: { algorithm, thresholdBytes: 1024, maxDecompressedBytes: 64 << 20 },
        }),
      });
      await h.start();
      return h;
    };
    const gzip = await sender('gzip');
    const br = await sender('br');
    const codeOf = (p: Promise<unknown>) =>
      p.then(
        () => 'sent',
        (e: HubError) => `${e.code} ${e.message}`,
      );
    const gzipBomb = createMessage({ source: 'c', destination: 'orders', payload: HUGE });
    const brBomb = createEvent({ source: 'c', topic: 'news.bomb', type: 't', data: HUGE });
    const outcomes = [await codeOf(gzip.send(gzipBomb)), await codeOf(br.publish(brBomb))];
    for (const outcome of outcomes) {
      expect(outcome).toMatch(new RegExp(`^${ErrorCode.INTEGRITY_FAILED} `));
      expect(outcome).toMatch(BOMB);
    }
    const fine = { text: 'b'.repeat(8_000) };
    await gzip.send(createMessage({ source: 'c', destination: 'orders', payload: fine }));
    await br.publish(createEvent({ source: 'c', topic: 'news.ok', type: 't', data: fine }));
    await expect.poll(() => handled.length).toBe(2);
    expect(handled).toEqual([fine, fine]);
    expect(audit.map((e) => [e.kind, e.code, e.messageId]).sort()).toEqual(
      [
        ['integrity', ErrorCode.INTEGRITY_FAILED, gzipBomb.id],
        ['integrity', ErrorCode.INTEGRITY_FAILED, brBomb.id],
      ].sort(),
    );
    expect(server.metrics().components.security!.integrityFailed).toBe(2);
  });

  it('a bomb the gateway delivers (brotli) is refused by the client hub within its cap: dead-lettered there and audited, never handled, and dead-lettered once on the server (final nack), not redelivered', async () => {
    const server = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        // The server's own cap is larger: it reads what it publishes itself.
        security: {
          protection: envelopeProtection({
            compression: { algorithm: 'br', thresholdBytes: 1024, maxDecompressedBytes: 64 << 20 },
          }),
        },
      }),
    );
    const { gateway } = await startServer({}, server);
    const serverDead: Array<[string, string, number]> = [];
    server.on('deadLetter', (env, reason, attempts) => serverDead.push([env.id, reason, attempts]));
    const audit: AuditEvent[] = [];
    const client = clientHub(gateway.url, 'client', {
      protection: envelopeProtection({ compression: { maxDecompressedBytes: CAP } }),
      audit: (e) => audit.push(e),
    });
    const handled: unknown[] = [];
    const dead: Array<[string, string]> = [];
    client.on('deadLetter', (env, reason) => dead.push([env.id, reason]));
    await client.subscribe('news.*', (e) => {
      handled.push(e.data);
    });
    await client.start();
    const bomb = createEvent({ source: 's', topic: 'news.bomb', type: 't', data: HUGE });
    await server.publish(bomb);
    const fine = { text: 'b'.repeat(8_000) };
    await server.publish(createEvent({ source: 's', topic: 'news.ok', type: 't', data: fine }));
    await expect.poll(() => handled.length).toBe(1);
    // The client's dead-lettering goes back to the gateway as a final nack: the server hub
    // dead-letters its delivery at once, with the client's reason, and sends no other copy
    // (once dead-lettered there, none can follow).
    await expect.poll(() => serverDead.length).toBeGreaterThanOrEqual(1);
    expect(handled).toEqual([fine]);
    expect(serverDead).toEqual([
      [bomb.id, expect.stringMatching(/^\[hub:ws\] client dead-lettered: .*compression bomb/), 1],
    ]);
    expect(dead).toEqual([[bomb.id, expect.stringMatching(BOMB)]]);
    // delivered to the client hub exactly once: one refusal audited
    expect(audit.map((e) => [e.kind, e.code, e.messageId])).toEqual([
      ['integrity', ErrorCode.INTEGRITY_FAILED, bomb.id],
    ]);
  });
});

describe('S9 over WebSocket: key rotation', () => {
  it('a rotated key still reads old messages and writes new ones with the new key id, client to gateway and gateway to client', async () => {
    let current = 'k1';
    const rotating = () =>
      envelopeProtection({
        signing: { keyId: 's1', keys: (id) => signingKeys[id] },
        encryption: { keyId: () => current, keys: (id) => encryptionKeys[id] },
      });
    const server = trackHub(
      createHub({ name: 'server', logger: silentLogger, security: { protection: rotating() } }),
    );
    const { gateway } = await startServer({}, server);
    const atServer: unknown[] = [];
    await server.onMessage('orders', (m) => {
      atServer.push(m.payload);
    });
    // What the client hub writes, as it leaves it.
    const written: Envelope[] = [];
    const inner = rotating();
    const client = clientHub(gateway.url, 'client', {
      protection: {
        ...inner,
        seal: async (env) => {
          const out = await inner.seal(env);
          written.push(out);
          return out;
        },
      },
    });
    const atClient: unknown[] = [];
    await client.subscribe('news.*', (e) => {
      atClient.push(e.data);
    });
    await client.start();
    // A client that asked for sealed deliveries: it sees what the gateway writes.
    const tap = await rawSession(gateway.url, { sealed: true });
    tap.send({ type: 'subscribe', id: 'sub', sub: 's1', pattern: 'news.*' });
    await expect.poll(() => tap.frames.some((f) => f.id === 'sub')).toBe(true);

    await client.send(createMessage({ source: 'c', destination: 'orders', payload: { n: 1 } }));
    await expect.poll(() => atServer.length).toBe(1);
    await server.publish(createEvent({ source: 's', topic: 'news.a', type: 't', data: { n: 1 } }));
    await expect.poll(() => atClient.length).toBe(1);
    // Sealed before the rotation, sent after it (a client not rotated yet, a frame held back).
    const old = await rotating().seal({
      ...createMessage({ source: 'c', destination: 'orders', payload: { n: 3 } }),
      headers: { 'hub-identity': 'late-client' },
    });
    current = 'k2';

    await client.send(createMessage({ source: 'c', destination: 'orders', payload: { n: 2 } }));
    await expect.poll(() => atServer.length).toBe(2);
    tap.send({ type: 'message', id: old.id, envelope: old });
    await expect.poll(() => atServer.length).toBe(3);
    await expect.poll(() => tap.frames.find((f) => f.id === old.id)).toMatchObject({ type: 'ack' });
    await server.publish(createEvent({ source: 's', topic: 'news.b', type: 't', data: { n: 2 } }));
    await expect.poll(() => atClient.length).toBe(2);

    expect(atServer).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(atClient).toEqual([{ n: 1 }, { n: 2 }]);
    expect(old.headers['hub-enc']).toBe('k1');
    expect(written.map((e) => e.headers['hub-enc'])).toEqual(['k1', 'k2']);
    await expect.poll(() => tap.frames.filter((f) => f.type === 'deliver').length).toBe(2);
    const delivered = tap.frames
      .filter((f) => f.type === 'deliver')
      .map((f) => f.envelope as Envelope);
    expect(delivered.map((e) => [(e as { topic: string }).topic, e.headers['hub-enc']])).toEqual([
      ['news.a', 'k1'],
      ['news.b', 'k2'],
    ]);
    tap.ws.terminate();
  });
});
