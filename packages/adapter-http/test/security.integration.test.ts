import type { AuditEvent, UnifiedEvent, UnifiedMessage } from '@hub/core';
import { createEvent, ErrorCode } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { httpEndpoint, httpServer, signatureHeaders } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const post = (url: string, body: unknown, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

describe('S8 over HTTP: the identity the verify hook resolved meets the hub policy', () => {
  it('an allowed POST carries its identity to the handler; a forbidden one is 403 HUB_FORBIDDEN, audited', async () => {
    const audit: AuditEvent[] = [];
    const hub = jobs.add(
      await startedHub({
        name: 'server',
        security: {
          audit: (e) => audit.push(e),
          policy: {
            rules: [
              { identities: ['server'], serve: ['orders', 'admin'] },
              { identities: ['partner.*'], send: ['orders'] },
            ],
          },
        },
      }),
    );
    const got: UnifiedMessage[] = [];
    await hub.onMessage('orders', (m) => {
      got.push(m);
    });
    await hub.onMessage('admin', (m) => {
      got.push(m);
    });
    const endpoint = jobs.add(
      await httpServer({
        hub,
        verify: (req) =>
          req.headers.authorization === 'Bearer acme'
            ? { id: 'partner.acme' }
            : req.headers.authorization !== 'Bearer stolen',
      }),
    );
    const ok = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 1, headers: { 'hub-identity': 'server' } },
      'acme',
    );
    expect(ok.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('partner.acme');

    const forbidden = await post(
      `${endpoint.url}/messages`,
      { destination: 'admin', payload: 1 },
      'acme',
    );
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ code: ErrorCode.FORBIDDEN });
    // A request the hook accepts without an identity is anonymous, and the policy has no rule for it.
    const anonymous = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 2 },
      'other',
    );
    expect(anonymous.status).toBe(403);
    expect(audit.filter((e) => e.kind === 'refused').map((e) => [e.identity, e.address])).toEqual([
      ['partner.acme', 'admin'],
      ['anonymous', 'orders'],
    ]);
    expect(got).toHaveLength(1);
    // A request the verify hook refuses is audited as an authentication failure.
    const stolen = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 3 },
      'stolen',
    );
    expect(stolen.status).toBe(401);
    const auth = audit.filter((e) => e.kind === 'auth');
    expect(auth.map((e) => [e.address, e.rule, e.code])).toEqual([
      ['/messages', 'verify', ErrorCode.AUTH_FAILED],
    ]);
    expect(JSON.stringify(auth)).not.toContain('stolen');
    expect(hub.metrics().components.security!.authFailed).toBe(1);
  });
});

/** A hub named `server` whose policy lets partners send and publish to, and stream, `orders` only. */
async function guardedHub() {
  const audit: AuditEvent[] = [];
  const hub = jobs.add(
    await startedHub({
      name: 'server',
      security: {
        audit: (e) => audit.push(e),
        policy: {
          rules: [
            // The hub itself may do anything: what a client may do must not borrow it.
            { identities: ['server'], serve: ['**'], subscribe: ['**'], publish: ['**'] },
            {
              identities: ['partner.*'],
              send: ['orders'],
              publish: ['orders.*'],
              subscribe: ['orders.*'],
            },
          ],
        },
      },
    }),
  );
  const got: UnifiedMessage[] = [];
  await hub.onMessage('orders', (m) => {
    got.push(m);
  });
  await hub.onMessage('admin', (m) => {
    got.push(m);
  });
  const events: UnifiedEvent[] = [];
  await hub.subscribe('**', (e) => {
    events.push(e);
  });
  const refused = () =>
    audit.filter((e) => e.kind === 'refused').map((e) => [e.identity, e.verb, e.address]);
  return { hub, audit, refused, got, events };
}

/** Open a Server-Sent Events stream; `next()` waits for the next data event. */
async function stream(url: string, token: string) {
  const controller = new AbortController();
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}` },
    signal: controller.signal,
  });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return {
    res,
    next: async (): Promise<string> => {
      for (;;) {
        const at = buffer.search(/^data: /m);
        const end = at < 0 ? -1 : buffer.indexOf('\n\n', at);
        if (end >= 0) {
          const data = buffer.slice(at + 6, end);
          buffer = buffer.slice(end + 2);
          return data;
        }
        const { done, value } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += decoder.decode(value, { stream: true });
      }
    },
    close: () => controller.abort(),
  };
}

describe('S8 over HTTP: publish and subscribe are decided for the client, not the hub', () => {
  it('an unauthorised publish via POST /events is 403 HUB_FORBIDDEN, audited, never delivered', async () => {
    const { hub, refused, events } = await guardedHub();
    const endpoint = jobs.add(
      await httpServer({ hub, bearerTokens: [{ token: 'acme', identity: 'partner.acme' }] }),
    );
    const ok = await post(
      `${endpoint.url}/events`,
      { topic: 'orders.created', data: { n: 1 } },
      'acme',
    );
    expect(ok.status).toBe(202);
    await expect.poll(() => events.map((e) => e.topic)).toEqual(['orders.created']);
    expect(events[0]!.headers['hub-identity']).toBe('partner.acme');

    const forbidden = await post(
      `${endpoint.url}/events`,
      { topic: 'admin.reset', data: { n: 2 } },
      'acme',
    );
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await forbidden.json()).toMatchObject({ code: ErrorCode.FORBIDDEN });
    expect(refused()).toEqual([['partner.acme', 'publish', 'admin.reset']]);
    expect(events).toHaveLength(1);
  });

  it('an unauthorised subscribe via GET /stream is 403 HUB_FORBIDDEN and audited, though the hub itself may subscribe there', async () => {
    const { hub, refused } = await guardedHub();
    const endpoint = jobs.add(
      await httpServer({
        hub,
        bearerTokens: [{ token: 'acme', identity: 'partner.acme' }, 'plain'],
      }),
    );
    const forbidden = await fetch(`${endpoint.url}/stream?topic=admin.*`, {
      headers: { authorization: 'Bearer acme' },
    });
    expect(forbidden.status).toBe(403);
    expect(forbidden.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(await forbidden.json()).toMatchObject({ code: ErrorCode.FORBIDDEN });
    // A token without an identity streams as `anonymous`, which no rule names.
    const anonymous = await fetch(`${endpoint.url}/stream?topic=orders.*`, {
      headers: { authorization: 'Bearer plain' },
    });
    expect(anonymous.status).toBe(403);
    expect(refused()).toEqual([
      ['partner.acme', 'subscribe', 'admin.*'],
      ['anonymous', 'subscribe', 'orders.*'],
    ]);
    expect(hub.metrics().components.security!.refused).toBe(2);

    // What the policy allows the client streams as before.
    const allowed = jobs.add(await stream(`${endpoint.url}/stream?topic=orders.*`, 'acme'));
    expect(allowed.res.status).toBe(200);
    const first = allowed.next();
    await hub.publish(createEvent({ source: 's', topic: 'orders.created', data: 1, id: 'ev-1' }));
    expect(JSON.parse(await first)).toMatchObject({ id: 'ev-1', topic: 'orders.created' });
  });
});

describe('identities from bearer tokens and webhook senders', () => {
  const SECRET = `whsec_${Buffer.from('a-webhook-sender-key-of-32-bytes').toString('base64')}`;
  const key = Buffer.from(SECRET.slice(6), 'base64');
  const signed = (url: string, body: unknown, id: string, extra: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    return fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signatureHeaders(key, id, text), ...extra },
      body: text,
    });
  };

  it('a token given as { token, identity } sends as that identity; a plain token as anonymous', async () => {
    const { hub, got, refused, audit } = await guardedHub();
    const endpoint = jobs.add(
      await httpServer({
        hub,
        bearerTokens: ['plain', { token: 'acme', identity: 'partner.acme' }],
      }),
    );
    const ok = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 1 },
      'acme',
    );
    expect(ok.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('partner.acme');
    const forbidden = await post(
      `${endpoint.url}/messages`,
      { destination: 'admin', payload: 2 },
      'acme',
    );
    expect(forbidden.status).toBe(403);
    const plain = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 3 },
      'plain',
    );
    expect(plain.status).toBe(403);
    const unknown = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 4 },
      'acm',
    );
    expect(unknown.status).toBe(401);
    expect(audit.filter((e) => e.kind === 'auth').map((e) => e.rule)).toEqual(['bearerTokens']);
    expect(refused()).toEqual([
      ['partner.acme', 'send', 'admin'],
      ['anonymous', 'send', 'orders'],
    ]);
    expect(got).toHaveLength(1);
  });

  it("webhook secrets keyed by sender: a request signed with a sender's secret is that sender; a plain list is anonymous", async () => {
    const { hub, got, refused } = await guardedHub();
    const other = `whsec_${Buffer.from('another-sender-key-of-32-bytes!!').toString('base64')}`;
    const bySender = jobs.add(
      await httpServer({
        hub,
        webhookSecrets: { 'partner.other': other, 'partner.hooks': [SECRET] },
      }),
    );
    const ok = await signed(
      `${bySender.url}/messages`,
      { destination: 'orders', payload: 1 },
      'w1',
    );
    expect(ok.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('partner.hooks');
    const forbidden = await signed(
      `${bySender.url}/messages`,
      { destination: 'admin', payload: 2 },
      'w2',
    );
    expect(forbidden.status).toBe(403);
    // The token's identity, when there is one, is the one that counts.
    const both = jobs.add(
      await httpServer({
        hub,
        bearerTokens: [{ token: 'acme', identity: 'partner.acme' }],
        webhookSecrets: { 'partner.hooks': SECRET },
      }),
    );
    const withToken = await signed(
      `${both.url}/messages`,
      { destination: 'orders', payload: 3 },
      'w3',
      { authorization: 'Bearer acme' },
    );
    expect(withToken.status).toBe(202);
    await expect.poll(() => got.length).toBe(2);
    expect(got[1]!.headers['hub-identity']).toBe('partner.acme');

    const plain = jobs.add(await httpServer({ hub, webhookSecrets: [SECRET] }));
    const anonymous = await signed(
      `${plain.url}/messages`,
      { destination: 'orders', payload: 4 },
      'w4',
    );
    expect(anonymous.status).toBe(403);
    expect(refused()).toEqual([
      ['partner.hooks', 'send', 'admin'],
      ['anonymous', 'send', 'orders'],
    ]);
  });

  it('checks the forms of bearerTokens and webhookSecrets without showing a secret', async () => {
    const { hub } = await guardedHub();
    const tries: unknown[] = [
      { bearerTokens: ['kept-secret-1', ''] },
      { bearerTokens: [{ token: 'kept-secret-2' }] },
      { bearerTokens: [{ token: 'kept-secret-3', identity: '' }] },
      { bearerTokens: 'kept-secret-4' },
      { webhookSecrets: { 'partner.x': [] } },
      { webhookSecrets: { 'partner.x': 'whsec_AA==' } },
    ];
    const messages = tries.map((t) => {
      try {
        httpEndpoint({ hub, ...(t as object) });
        return 'accepted';
      } catch (err) {
        return (err as Error).message;
      }
    });
    expect(messages[0]).toMatch(/"bearerTokens\[1\]"/);
    expect(messages[1]).toMatch(/"bearerTokens\[0\]"/);
    expect(messages[2]).toMatch(/"bearerTokens\[0\]"/);
    expect(messages[3]).toMatch(/"bearerTokens"/);
    expect(messages[4]).toMatch(/"webhookSecrets\.partner\.x"/);
    expect(messages[5]).toMatch(/"webhookSecrets\.partner\.x"/);
    expect(messages.join('\n')).not.toMatch(/kept-secret|AA==/);
  });
});

describe('audit of the HTTP rate limit', () => {
  it('a request over the limit is 429 and a rate-limit record in the audit sink, counted', async () => {
    const { hub, audit, got } = await guardedHub();
    const endpoint = jobs.add(
      await httpServer({
        hub,
        bearerTokens: [{ token: 'acme', identity: 'partner.acme' }],
        // One request, then one every 100 s: the second is over the limit however slow the box.
        rateLimit: { requestsPerSecond: 0.01, burst: 1 },
      }),
    );
    const first = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 1 },
      'acme',
    );
    expect(first.status).toBe(202);
    const limited = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 2 },
      'acme',
    );
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const records = audit.filter((e) => e.kind === 'rate-limit');
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      hub: 'server',
      address: '/messages',
      rule: 'rateLimit',
      code: ErrorCode.OVERLOADED,
    });
    expect(records[0]!.reason).toMatch(/^HTTP POST \/messages from \S*127\.0\.0\.1: rate limit/);
    expect(hub.metrics().components.security!.rateLimited).toBe(1);
    expect(got).toHaveLength(1);
  });
});
