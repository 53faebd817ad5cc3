import { randomBytes } from 'node:crypto';
import {
  type AuditEvent,
  createEvent,
  createHub,
  createMessage,
  type Envelope,
  ErrorCode,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { envelopeProtection } from '@hub/core/security';
import { describe, expect, it } from 'vitest';
import { wsClient } from '../src/index.js';
import { startServer, trackHub } from './helpers.js';
import { rawSession } from './raw.js';

const keys: Record<string, Buffer> = { s1: randomBytes(32), e1: randomBytes(32) };
const protection = () =>
  envelopeProtection({
    signing: { keyId: 's1', keys: (id) => keys[id] },
    encryption: { keyId: 'e1', keys: (id) => keys[id] },
    compression: { thresholdBytes: 256 },
  });

/** Flip one bit of a base64 value, keeping it valid base64 of the same length. */
const flip = (b64: string): string => {
  const buf = Buffer.from(b64, 'base64');
  buf[buf.length - 1]! ^= 1;
  return buf.toString('base64');
};

async function serverHub(audit: AuditEvent[]) {
  const hub = trackHub(
    createHub({
      name: 'server',
      logger: silentLogger,
      security: { protection: protection(), audit: (e) => audit.push(e) },
    }),
  );
  return startServer({}, hub);
}

describe('S9 and S7 over WebSocket: signed, encrypted, compressed envelopes between a client hub and a gateway', () => {
  it('messages and events round trip both ways; deliveries are sealed for a client that opens them, plain for one that does not', async () => {
    const audit: AuditEvent[] = [];
    const { hub: server, gateway } = await serverHub(audit);
    const atServer: UnifiedMessage[] = [];
    await server.onMessage('orders', (m) => {
      atServer.push(m);
    });
    const client = trackHub(
      createHub({
        name: 'client',
        logger: silentLogger,
        security: { protection: protection() },
        adapters: [
          wsClient({ url: gateway.url, reconnect: { initialDelayMs: 20, maxDelayMs: 200 } }),
        ],
      }),
    );
    const atClient: unknown[] = [];
    await client.onMessage('jobs', (m) => {
      atClient.push(m.payload);
    });
    await client.subscribe('news.*', (e) => {
      atClient.push(e.data);
    });
    await client.start();
    const big = { text: 'x'.repeat(2_000) };
    await client.send(createMessage({ source: 'c', destination: 'orders', payload: big }));
    await expect.poll(() => atServer.length).toBe(1);
    expect(atServer[0]!.payload).toEqual(big);
    await server.send(createMessage({ source: 's', destination: 'jobs', payload: big }));
    await server.publish(createEvent({ source: 's', topic: 'news.eu', type: 't', data: { n: 1 } }));
    await expect.poll(() => atClient.length).toBe(2);
    expect(atClient).toContainEqual(big);
    expect(atClient).toContainEqual({ n: 1 });

    // On the wire: a client that asked for sealed deliveries gets ciphertext, signed; one that did not, plain.
    for (const sealed of [true, false]) {
      const raw = await rawSession(gateway.url, { sealed });
      raw.send({ type: 'subscribe', id: 'sub', sub: 's1', pattern: 'wire.*' });
      await expect.poll(() => raw.frames.some((f) => f.id === 'sub')).toBe(true);
      await server.publish(
        createEvent({ source: 's', topic: 'wire.x', type: 't', data: { secret: 'card 4111' } }),
      );
      await expect.poll(() => raw.frames.some((f) => f.type === 'deliver')).toBe(true);
      const delivered = raw.frames.find((f) => f.type === 'deliver')!.envelope as Envelope;
      if (sealed) {
        expect(JSON.stringify(delivered)).not.toContain('card 4111');
        expect(delivered.headers['hub-enc']).toBe('e1');
        expect(delivered.headers['hub-sig']).toMatch(/^s1\./);
      } else {
        expect(delivered).toMatchObject({ data: { secret: 'card 4111' } });
        expect(delivered.headers['hub-sig']).toBeUndefined();
      }
      raw.ws.terminate();
    }
    expect(audit).toEqual([]);
  });

  it('tampering with ciphertext, IV, tag, bound metadata or the signed identity is detected at the gateway: refused, audited, never handled', async () => {
    const audit: AuditEvent[] = [];
    const { hub: server, gateway } = await serverHub(audit);
    const handled: unknown[] = [];
    await server.onMessage('orders', (m) => {
      handled.push(m.payload);
    });
    await server.onMessage('refunds', (m) => {
      handled.push(m.payload);
    });
    const sealer = protection();
    const seal = async () =>
      (await sealer.seal({
        ...createMessage({ source: 'c', destination: 'orders', payload: { amount: 10 } }),
        headers: { 'hub-identity': 'client' },
      })) as UnifiedMessage<string>;
    const tamper: Array<[string, (e: UnifiedMessage<string>) => UnifiedMessage<string>]> = [
      ['ciphertext', (e) => ({ ...e, payload: flip(e.payload) })],
      ['iv', (e) => ({ ...e, headers: { ...e.headers, 'hub-iv': flip(e.headers['hub-iv']!) } })],
      ['tag', (e) => ({ ...e, headers: { ...e.headers, 'hub-tag': flip(e.headers['hub-tag']!) } })],
      ['destination', (e) => ({ ...e, destination: 'refunds' })],
      ['identity', (e) => ({ ...e, headers: { ...e.headers, 'hub-identity': 'admin' } })],
    ];
    const raw = await rawSession(gateway.url);
    for (const [what, change] of tamper) {
      const env = change(await seal());
      raw.send({ type: 'message', id: env.id, envelope: env });
      await expect.poll(() => raw.frames.find((f) => f.id === env.id)).toBeDefined();
      expect({ what, frame: raw.frames.find((f) => f.id === env.id) }).toMatchObject({
        what,
        frame: { type: 'error', code: ErrorCode.INTEGRITY_FAILED },
      });
    }
    // The untouched one goes through.
    const good = await seal();
    raw.send({ type: 'message', id: good.id, envelope: good });
    await expect.poll(() => handled).toEqual([{ amount: 10 }]);
    expect(audit.map((e) => [e.kind, e.code])).toEqual(
      tamper.map(() => ['integrity', ErrorCode.INTEGRITY_FAILED]),
    );
    expect(server.metrics().components.security!.integrityFailed).toBe(tamper.length);
    raw.ws.terminate();
  });
});
