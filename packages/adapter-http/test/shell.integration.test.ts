/**
 * The hard shell of the inbound endpoint: size limits (S4), slow and flood
 * clients (S6), signatures (S7), credentials, request smuggling.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpEndpointOptions } from '../src/index.js';
import { signatureHeaders } from '../src/index.js';
import { cleanup, endpointWithOrders } from './helpers.js';
import { rawClient } from './raw.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const setup = (extra: Partial<HttpEndpointOptions> = {}) => endpointWithOrders(jobs, extra);

const body = (n = 1) => JSON.stringify({ destination: 'orders', payload: { n } });

describe('S4 size limits', () => {
  it('a declared Content-Length one byte over → 413 before any body byte is sent', async () => {
    const { url, got } = await setup({ maxBodyBytes: 1024 });
    const c = await rawClient(url);
    c.socket.write(
      `POST /messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1025\r\n\r\n`,
    );
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 /);
    expect(c.text()).toContain('application/problem+json');
    expect(c.text()).toContain('"field":"body"');
    expect(got).toHaveLength(0);
  });

  it('a chunked body passing the limit → 413 and the connection closed while the client still sends', async () => {
    const { url, got } = await setup({ maxBodyBytes: 64 * 1024 });
    const c = await rawClient(url);
    c.socket.write(
      'POST /messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n',
    );
    const chunk = randomBytes(16 * 1024).toString('hex'); // 32 KiB per chunk
    let sent = 0;
    // The client would send 64 MiB; the server answers after ~64 KiB and closes.
    for (let i = 0; i < 2048 && !c.socket.destroyed && c.text() === ''; i++) {
      const ok = c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      sent += chunk.length;
      if (!ok) await new Promise((r) => setTimeout(r, 5));
    }
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect(got).toHaveLength(0);
  });

  it('a body at the limit is accepted', async () => {
    const { url, got } = await setup({ maxBodyBytes: 200 });
    const payload = body().padEnd(200, ' ');
    const res = await fetch(`${url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: payload,
    });
    expect(res.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
  });
});

describe('request smuggling', () => {
  it('conflicting Content-Length and Transfer-Encoding → 400, nothing handled', async () => {
    const { url, got } = await setup();
    const c = await rawClient(url);
    const b = body();
    c.socket.write(
      `POST /messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${b.length}\r\ntransfer-encoding: chunked\r\n\r\n${b.length.toString(16)}\r\n${b}\r\n0\r\n\r\n`,
    );
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 400 /);
    expect(got).toHaveLength(0);
  });
});

describe('S6 slow and flood clients', () => {
  it('slowloris: headers that never finish are cut off at headersTimeoutMs; others are served meanwhile', async () => {
    const { url, got } = await setup({ headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const slow = await rawClient(url);
    slow.socket.write('POST /messages HTTP/1.1\r\nhost: x\r\n');
    const drip = setInterval(() => slow.socket.write('x-drip: 1\r\n'), 100);
    try {
      const started = Date.now();
      let cutAt = 0;
      void slow.closed.then(() => {
        cutAt = Date.now();
      });
      const ok = await fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: body(),
      });
      const servedAt = Date.now();
      expect(ok.status).toBe(202);
      await slow.closed;
      // Others were served while the slow client was still hanging on.
      expect(cutAt === 0 || servedAt <= cutAt).toBe(true);
      const lasted = cutAt - started;
      expect(lasted).toBeGreaterThanOrEqual(400);
      expect(lasted).toBeLessThan(5_000);
      expect(slow.text()).toMatch(/^$|^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
    expect(got).toHaveLength(1);
  });

  it('a body that trickles in is cut off at requestTimeoutMs, though its headers came at once', async () => {
    const { url, got } = await setup({ headersTimeoutMs: 500, requestTimeoutMs: 1_500 });
    const slow = await rawClient(url);
    slow.socket.write(
      'POST /messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1000\r\n\r\n',
    );
    // One byte every 100 ms: each arrives well within any idle timeout.
    const drip = setInterval(() => {
      if (!slow.socket.destroyed) slow.socket.write(' ');
    }, 100);
    try {
      const started = Date.now();
      // Without the deadline the client would trickle for 100 s: give up waiting after 10.
      let giveUp: NodeJS.Timeout | undefined;
      await Promise.race([
        slow.closed,
        new Promise((resolve) => {
          giveUp = setTimeout(resolve, 10_000);
        }),
      ]);
      clearTimeout(giveUp);
      const lasted = Date.now() - started;
      expect(slow.socket.destroyed).toBe(true);
      expect(lasted).toBeGreaterThanOrEqual(1_200);
      expect(lasted).toBeLessThan(8_000);
      expect(slow.text()).toMatch(/^$|^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
    }
    expect(got).toHaveLength(0);
  });

  it('a flood past the rate limit gets 429 with Retry-After; another client is not limited', async () => {
    // One token every 2 s, bursts of 5: of 12 requests at once, 5 pass (6 on a very slow box).
    const { url } = await setup({
      rateLimit: {
        requestsPerSecond: 0.5,
        burst: 5,
        key: (req) => String(req.headers['x-client']),
      },
    });
    let retryAfter: string | null = null;
    const statuses = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        const res = await fetch(`${url}/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-client': 'flood' },
          body: body(i),
        });
        if (res.status === 429) {
          retryAfter = res.headers.get('retry-after');
          expect(await res.json()).toMatchObject({ code: ErrorCode.OVERLOADED, status: 429 });
        } else await res.arrayBuffer();
        return res.status;
      }),
    );
    expect(statuses.filter((s) => s === 202).length).toBeGreaterThanOrEqual(5);
    expect(statuses.filter((s) => s === 202).length).toBeLessThanOrEqual(6);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(6);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    const other = await fetch(`${url}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-client': 'calm' },
      body: body(),
    });
    expect(other.status).toBe(202);
  });
});

describe('credentials', () => {
  it('bearer tokens: missing or unknown → 401 problem; a known one passes', async () => {
    const { url, got } = await setup({ bearerTokens: ['s3cret', 'rotated'] });
    const send = (auth?: string) =>
      fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
        body: body(),
      });
    for (const auth of [undefined, 'Bearer nope', 'Basic czNjcmV0', 'Bearer s3cret2']) {
      const res = await send(auth);
      expect(res.status, String(auth)).toBe(401);
      expect(await res.json()).toMatchObject({ code: ErrorCode.AUTH_FAILED });
    }
    expect((await send('Bearer rotated')).status).toBe(202);
    expect((await fetch(`${url}/metrics`)).status).toBe(401);
    await expect.poll(() => got.length).toBe(1);
  });

  it('a verify hook refuses or lets through', async () => {
    const { url } = await setup({
      verify: (req) => req.headers['x-tenant'] === 'acme',
    });
    const send = (tenant: string) =>
      fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-tenant': tenant },
        body: body(),
      });
    expect((await send('evil')).status).toBe(401);
    expect((await send('acme')).status).toBe(202);
  });
});

describe('S7 signatures (Standard Webhooks)', () => {
  const secret = `whsec_${Buffer.from('a-test-key-of-32-bytes-exactly!!').toString('base64')}`;
  const key = Buffer.from('a-test-key-of-32-bytes-exactly!!');

  it('good → 202; changed byte, wrong key, stale timestamp, replayed id, missing headers → 401', async () => {
    const { url, got } = await setup({ webhookSecrets: [secret], webhookToleranceSec: 60 });
    const send = (headers: Record<string, string>, b: string) =>
      fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: b,
      });

    const b = body(1);
    const good = signatureHeaders(key, 'msg_1', b);
    expect((await send(good, b)).status).toBe(202);

    const tampered = signatureHeaders(key, 'msg_2', b);
    const changed = await send(tampered, b.replace('"n":1', '"n":2'));
    expect(changed.status).toBe(401);
    expect(await changed.json()).toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      field: 'webhook-signature',
    });

    const wrongKey = signatureHeaders(Buffer.from('another-key-of-32-bytes-exactly!'), 'msg_3', b);
    expect((await send(wrongKey, b)).status).toBe(401);

    const stale = signatureHeaders(key, 'msg_4', b, Date.now() - 120_000);
    const staleRes = await send(stale, b);
    expect(staleRes.status).toBe(401);
    expect(await staleRes.json()).toMatchObject({ field: 'webhook-timestamp' });

    const replay = await send(good, b);
    expect(replay.status).toBe(401);
    expect(await replay.json()).toMatchObject({ field: 'webhook-id' });

    expect((await send({}, b)).status).toBe(401);
    await expect.poll(() => got.length).toBe(1);
    await new Promise((r) => setTimeout(r, 20));
    expect(got).toHaveLength(1);
  });
});
