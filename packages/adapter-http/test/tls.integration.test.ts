import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Logger, type UnifiedMessage } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpEndpoint } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

/** A key and a self-signed certificate for 127.0.0.1, made for the test by the openssl CLI. */
function selfSigned(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'hub-http-tls-'));
  jobs.add({ close: () => rmSync(dir, { recursive: true, force: true }) });
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
}

/** An https server on loopback with a certificate made for the test; it counts POSTs. */
async function httpsServer() {
  const { key, cert } = selfSigned();
  let posts = 0;
  const server = createServer({ key, cert }, (req, res) => {
    req.resume();
    req.on('end', () => {
      posts++;
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end('{"accepted":true}');
    });
  });
  jobs.add({
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/in`;
  return { cert, url, posts: () => posts };
}

describe('TLS of the outbound adapter', () => {
  it('tls.ca trusts a private CA; without it the certificate is refused (validation is on); rejectUnauthorized cannot be set', async () => {
    const { cert, url, posts } = await httpsServer();
    const route = { match: 'orders', url };
    const trusting = jobs.add(
      await startedHub({
        name: 'trusting',
        adapters: [http({ allowPrivateNetwork: true, routes: [route], tls: { ca: cert } })],
      }),
    );
    await trusting.send(createMessage({ source: 's', destination: 'orders', payload: 1 }));
    expect(posts()).toBe(1);

    const untrusting = jobs.add(
      await startedHub({
        name: 'untrusting',
        sendRetry: { maxAttempts: 1 },
        adapters: [http({ allowPrivateNetwork: true, routes: [route] })],
      }),
    );
    const err = await untrusting
      .send(createMessage({ source: 's', destination: 'orders', payload: 2 }))
      .then(
        () => undefined,
        (e: unknown) => e as Error & { cause?: { code?: string } },
      );
    expect(err).toBeDefined();
    expect(JSON.stringify({ m: err!.message, c: String(err!.cause) })).toMatch(/certificate|CERT/i);
    expect(posts()).toBe(1);

    expect(() => http({ routes: [route], tls: { rejectUnauthorized: false } as never })).toThrow(
      /rejectUnauthorized: certificates are always checked/,
    );
  });
});

/** An https.Server on loopback with a certificate made for the test, not yet listening. */
function tlsServer() {
  const { key, cert } = selfSigned();
  const server = createServer({ key, cert });
  jobs.add({
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
  return { server, cert };
}

describe('TLS of the inbound endpoint', () => {
  it('mounted on an https.Server: a client trusting its CA is served; one without it is refused before anything is sent', async () => {
    const hub = jobs.add(await startedHub({ name: 'h' }));
    const got: UnifiedMessage[] = [];
    await hub.onMessage('orders', (m) => {
      got.push(m);
    });
    const { server, cert } = tlsServer();
    const endpoint = jobs.add(httpEndpoint({ hub, server, bearerTokens: ['tok'] }));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    expect(endpoint.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const body = JSON.stringify({ destination: 'orders', payload: 1 });
    const headers = { 'content-type': 'application/json', authorization: 'Bearer tok' };

    const trusting = new Agent({ connect: { ca: cert } });
    jobs.add(trusting);
    const ok = await request(`${endpoint.url}/messages`, {
      method: 'POST',
      headers,
      body,
      dispatcher: trusting,
    });
    expect(ok.statusCode).toBe(202);
    expect(await ok.body.json()).toMatchObject({ accepted: true });
    expect(got).toHaveLength(1);

    // Certificate validation is on by default in the client: a self-signed
    // certificate it was not told to trust fails the handshake.
    const err = await fetch(`${endpoint.url}/messages`, { method: 'POST', headers, body }).then(
      () => undefined,
      (e: unknown) => e as Error & { cause?: { code?: string; message?: string } },
    );
    expect(err).toBeDefined();
    expect(`${err!.cause?.code} ${err!.cause?.message}`).toMatch(/CERT|certificate/i);
    expect(got).toHaveLength(1);
  });

  it('an https.Server on an address other than loopback is not warned about as plain HTTP, only for a missing authentication', async () => {
    const lines: string[] = [];
    const warn = (message: string) => void lines.push(message);
    const logger: Logger = { debug: () => {}, info: () => {}, warn, error: () => {} };
    const hub = jobs.add(createHub({ name: 'h', logger }));
    // Listens on loopback, reports the address a wildcard bind would: the
    // endpoint decides from the address its server says it is bound to.
    const { server } = tlsServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const real = server.address() as AddressInfo;
    server.address = () => ({ ...real, address: '0.0.0.0' });
    jobs.add(httpEndpoint({ hub, server, bearerTokens: ['tok'] }));
    expect(lines).toEqual([]);
    // Without authentication it is still warned about, for that reason only.
    jobs.add(httpEndpoint({ hub, server }));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/listens on 0\.0\.0\.0.*without authentication/);
    expect(lines.join('\n')).not.toMatch(/plain HTTP/);
  });
});
