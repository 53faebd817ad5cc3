import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMessage } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { http } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

/** An https server on loopback with a certificate made for the test; it counts POSTs. */
async function httpsServer() {
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
  const cert = readFileSync(join(dir, 'cert.pem'));
  let posts = 0;
  const server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
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
