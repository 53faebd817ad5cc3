import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, silentLogger } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type WebSocketConstructor, wsClient, wsServer } from '../src/index.js';
import { startClient, startServer, track } from './helpers.js';

describe('TLS', () => {
  it('a gateway mounted on an https.Server serves a wss:// client that trusts its certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-ws-tls-'));
    track({ close: async () => rmSync(dir, { recursive: true, force: true }) });
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
    const https = createServer({ key: readFileSync(join(dir, 'key.pem')), cert });
    track({ close: () => new Promise<void>((r) => https.close(() => r())) });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    const { hub } = await startServer({ port: 0 });
    track(await wsServer({ hub, server: https, path: '/secure', name: 'wss' }));
    await hub.onMessage('tls_echo', (m) => m.payload);

    class TrustingWebSocket extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { ca: cert });
      }
    }
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/secure`;
    const client = await startClient(url, {
      WebSocket: TrustingWebSocket as unknown as WebSocketConstructor,
    });
    const reply = await client.request(
      createMessage({ source: 'c', destination: 'tls_echo', payload: 'over tls' }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toBe('over tls');
  });

  it('the tls option trusts a private CA; without it the certificate is refused (validation is on); rejectUnauthorized cannot be set', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hub-ws-tls-'));
    track({ close: async () => rmSync(dir, { recursive: true, force: true }) });
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
    const https = createServer({ key: readFileSync(join(dir, 'key.pem')), cert });
    track({ close: () => new Promise<void>((r) => https.close(() => r())) });
    await new Promise<void>((r) => https.listen(0, '127.0.0.1', r));
    const { hub } = await startServer({ port: 0 });
    track(await wsServer({ hub, server: https, path: '/secure', name: 'wss2' }));
    await hub.onMessage('tls_echo2', (m) => m.payload);
    const url = `wss://127.0.0.1:${(https.address() as AddressInfo).port}/secure`;

    const trusted = track(
      createHub({
        name: 'trusting',
        logger: silentLogger,
        adapters: [wsClient({ url, tls: { ca: cert } })],
      }),
    );
    await trusted.start();
    const reply = await trusted.request(
      createMessage({ source: 'c', destination: 'tls_echo2', payload: 'private ca' }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toBe('private ca');

    const untrusting = track(
      createHub({
        name: 'untrusting',
        logger: silentLogger,
        adapters: [
          wsClient({
            url,
            connectTimeoutMs: 1_000,
            reconnect: { initialDelayMs: 50, maxDelayMs: 100 },
          }),
        ],
      }),
    );
    await expect(untrusting.start()).rejects.toThrow();

    expect(() => wsClient({ url, tls: { rejectUnauthorized: false } as never })).toThrow(
      /rejectUnauthorized: certificates are always checked/,
    );
  });
});
