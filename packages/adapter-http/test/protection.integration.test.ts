/**
 * Signed, encrypted, compressed envelopes from one hub's HTTP adapter to
 * another hub's HTTP endpoint: opened at the endpoint, tampering refused.
 */
import { randomBytes } from 'node:crypto';
import {
  type AuditEvent,
  createEvent,
  createMessage,
  ErrorCode,
  type UnifiedMessage,
} from '@hub/core';
import { envelopeProtection } from '@hub/core/security';
import { Agent, type Dispatcher } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpServer } from '../src/index.js';
import { cleanup, fastRetry, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const keys: Record<string, Buffer> = { s1: randomBytes(32), e1: randomBytes(32) };
const protection = () =>
  envelopeProtection({
    signing: { keyId: 's1', keys: (id) => keys[id] },
    encryption: { keyId: 'e1', keys: (id) => keys[id] },
    compression: { thresholdBytes: 256 },
  });

const flip = (b64: string): string => {
  const buf = Buffer.from(b64, 'base64');
  buf[buf.length - 1]! ^= 1;
  return buf.toString('base64');
};

async function receiver(audit: AuditEvent[]) {
  const hub = jobs.add(
    await startedHub({
      name: 'receiver',
      security: { protection: protection(), audit: (e) => audit.push(e) },
    }),
  );
  const got: unknown[] = [];
  await hub.onMessage('orders', (m) => {
    got.push(m.payload);
  });
  await hub.onMessage('refunds', (m) => {
    got.push(m.payload);
  });
  await hub.subscribe('news.*', (e) => {
    got.push(e.data);
  });
  const endpoint = jobs.add(await httpServer({ hub, bearerTokens: ['tok'] }));
  return { hub, got, url: endpoint.url };
}

describe('S9 and S7 over HTTP: a protected hub sending to a protected hub through its endpoint', () => {
  it('messages and events round trip sealed (ciphertext on the wire), opened at the endpoint', async () => {
    const audit: AuditEvent[] = [];
    const { got, url } = await receiver(audit);
    // Request bodies as they leave the sender, recorded by an undici interceptor.
    const wire: string[] = [];
    const agent = new Agent();
    jobs.add(agent);
    const recording = agent.compose((dispatch: Dispatcher['dispatch']) => (opts, handler) => {
      wire.push(Buffer.from(opts.body as string | Uint8Array).toString());
      return dispatch(opts, handler);
    });
    const sender = jobs.add(
      await startedHub({
        name: 'sender',
        sendRetry: fastRetry,
        security: { protection: protection() },
        adapters: [
          http({
            allowPrivateNetwork: true,
            bearerToken: 'tok',
            dispatcher: recording,
            routes: [
              { match: 'orders', url: `${url}/messages` },
              { match: 'news.*', url: `${url}/events` },
            ],
          }),
        ],
      }),
    );
    const big = { card: '4111 1111', note: 'n'.repeat(1_000) };
    const m = createMessage({ source: 'shop', destination: 'orders', payload: big });
    await sender.send(m);
    await sender.publish(
      createEvent({ source: 'shop', topic: 'news.eu', type: 't', data: { n: 2 } }),
    );
    await expect.poll(() => got.length).toBe(2);
    expect(got).toContainEqual(big);
    expect(got).toContainEqual({ n: 2 });
    expect(audit).toEqual([]);
    // What crossed the wire for the message: sealed, compressed, signed.
    const sent = wire.map((b) => JSON.parse(b) as UnifiedMessage).find((e) => e.id === m.id)!;
    expect(sent.headers).toMatchObject({
      'hub-zip': 'gzip',
      'hub-enc': 'e1',
      'hub-identity': 'sender',
    });
    expect(sent.headers['hub-sig']).toMatch(/^s1\./);
    expect(wire.join('\n')).not.toContain('4111');
  });

  it('tampering with ciphertext, IV, tag, bound metadata or the signed identity is refused (400 HUB_INTEGRITY_FAILED), audited, never handled', async () => {
    const audit: AuditEvent[] = [];
    const { hub, got, url } = await receiver(audit);
    const sealer = protection();
    const seal = async () =>
      (await sealer.seal({
        ...createMessage({ source: 'c', destination: 'orders', payload: { amount: 10 } }),
        headers: { 'hub-identity': 'sender' },
      })) as UnifiedMessage<string>;
    const tamper: Array<[string, (e: UnifiedMessage<string>) => UnifiedMessage<string>]> = [
      ['ciphertext', (e) => ({ ...e, payload: flip(e.payload) })],
      ['iv', (e) => ({ ...e, headers: { ...e.headers, 'hub-iv': flip(e.headers['hub-iv']!) } })],
      ['tag', (e) => ({ ...e, headers: { ...e.headers, 'hub-tag': flip(e.headers['hub-tag']!) } })],
      ['destination', (e) => ({ ...e, destination: 'refunds' })],
      ['identity', (e) => ({ ...e, headers: { ...e.headers, 'hub-identity': 'admin' } })],
    ];
    const post = (env: unknown) =>
      fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer tok' },
        body: JSON.stringify(env),
      });
    for (const [what, change] of tamper) {
      const res = await post(change(await seal()));
      expect({ what, status: res.status, body: await res.json() }).toMatchObject({
        what,
        status: 400,
        body: { code: ErrorCode.INTEGRITY_FAILED },
      });
    }
    expect((await post(await seal())).status).toBe(202);
    await expect.poll(() => got).toEqual([{ amount: 10 }]);
    expect(audit.map((e) => [e.kind, e.code])).toEqual(
      tamper.map(() => ['integrity', ErrorCode.INTEGRITY_FAILED]),
    );
    expect(hub.metrics().components.security!.integrityFailed).toBe(tamper.length);
  });

  it('refusals before the hub are audited too: a bad webhook signature, a body over the limit', async () => {
    const audit: AuditEvent[] = [];
    const hub = jobs.add(
      await startedHub({ name: 'receiver', security: { audit: (e) => audit.push(e) } }),
    );
    await hub.onMessage('orders', () => {});
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const endpoint = jobs.add(
      await httpServer({ hub, webhookSecrets: [secret], maxBodyBytes: 1_000 }),
    );
    const unsigned = await fetch(`${endpoint.url}/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': 'msg_1',
        'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
        'webhook-signature': 'v1,AAAA',
      },
      body: JSON.stringify({ destination: 'orders', payload: 1 }),
    });
    expect(unsigned.status).toBe(401);
    const big = await fetch(`${endpoint.url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ destination: 'orders', payload: 'x'.repeat(5_000) }),
    });
    expect(big.status).toBe(413);
    expect(audit.map((e) => [e.kind, e.rule, e.messageId, e.address, e.code])).toEqual([
      ['auth', 'webhook-signature', 'msg_1', '/messages', ErrorCode.AUTH_FAILED],
      ['refused', 'maxBodyBytes', undefined, '/messages', ErrorCode.INVALID_MESSAGE],
    ]);
    expect(JSON.stringify(audit)).not.toContain(secret.slice(6));
  });
});
