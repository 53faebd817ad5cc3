import { randomBytes } from 'node:crypto';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import {
  type AuditEvent,
  createHub,
  DeliveryGuarantee,
  type Hub,
  type SecurityOptions,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { envelopeProtection } from '@hub/core/security';
import { createMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
let raw: Redis;
const hubs: Hub[] = [];

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.port, '127.0.0.1');
  raw.on('error', () => {});
});
afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close()));
  raw?.disconnect();
  await server?.stop();
});

const signingKeys: Record<string, Buffer> = { s1: randomBytes(32) };
const encryptionKeys: Record<string, Buffer> = { e1: randomBytes(32) };
const protection = () =>
  envelopeProtection({
    signing: { keyId: 's1', keys: (id) => signingKeys[id] },
    encryption: { keyId: 'e1', keys: (id) => encryptionKeys[id] },
    compression: { thresholdBytes: 256 },
  });

async function hub(name: string, prefix: string, security: SecurityOptions): Promise<Hub> {
  const h = createHub({
    name,
    logger: silentLogger,
    adapters: [redis({ url: server.url, keyPrefix: prefix, claimIdleMs: 2_000 })],
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
    maxDeliveries: 2,
    security,
  });
  hubs.push(h);
  return h;
}

it('signed identity and encryption across two hubs over Redis Streams: the receiver knows the sender; forged or unauthorised envelopes are dead-lettered, not handled', async () => {
  const prefix = uniquePrefix('sec');
  const audit: AuditEvent[] = [];
  const policy = {
    rules: [
      { name: 'orders-to-billing', identities: ['orders-service'], send: ['billing'] },
      { name: 'billing-serves', identities: ['billing-service'], serve: ['billing'] },
    ],
  };
  const billing = await hub('billing-service', prefix, {
    policy,
    protection: protection(),
    audit: (e) => audit.push(e),
  });
  const orders = await hub('orders-service', prefix, { protection: protection() });
  const intruder = await hub('intruder', prefix, { protection: protection() });
  const handled: UnifiedMessage[] = [];
  await billing.onMessage('billing', (m) => {
    handled.push(m);
  });
  await billing.start();
  await orders.start();
  await intruder.start();

  const card = '4111111111111111';
  const ok = createMessage({
    source: 'orders',
    destination: 'billing',
    payload: { card, note: 'n'.repeat(1_000) },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  await orders.send(ok);
  await waitFor(
    () => handled.length === 1,
    () => `handled=${handled.length}`,
  );
  expect(handled[0]!.payload).toEqual(ok.payload);
  expect(handled[0]!.headers['hub-identity']).toBe('orders-service');

  // On the wire: ciphertext only, signed, the identity in the clear.
  const keys = (await raw.keys(`${prefix}:{billing}:p*`)).filter((k) => !k.endsWith('dlq'));
  const entries = (await Promise.all(keys.map((k) => raw.xrange(k, '-', '+')))).flat();
  const onWire = entries.map(([, f]) => f[f.indexOf('env') + 1]!);
  expect(onWire).toHaveLength(1);
  expect(onWire[0]).not.toContain(card);
  const env = JSON.parse(onWire[0]!) as UnifiedMessage;
  expect(env.headers['hub-identity']).toBe('orders-service');
  expect(env.headers['hub-sig']).toMatch(/^s1\./);
  expect(env.headers['hub-enc']).toBe('e1');

  // Forged: the same envelope claiming another identity, written straight into the stream.
  const forged = { ...env, headers: { ...env.headers, 'hub-identity': 'billing-service' } };
  await raw.xadd(keys[0]!, '*', 'v', '1', 'id', forged.id, 'env', JSON.stringify(forged));
  // Validly signed, but from an identity the policy does not allow to send there.
  const denied = createMessage({
    source: 'intruder',
    destination: 'billing',
    payload: { card },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  await intruder.send(denied);

  await waitFor(
    async () => (await billing.readDeadLetters('billing')).length === 2,
    async () => `dead=${(await billing.readDeadLetters('billing')).length}`,
  );
  const dead = await billing.readDeadLetters('billing');
  const reasons = dead.map((d) => `${d.envelope.id}: ${d.reason}`).join('\n');
  expect(reasons).toContain(
    `${ok.id}: inbound middleware: [hub:security] the signature of ${ok.id}`,
  );
  expect(reasons).toContain(
    `${denied.id}: inbound middleware: [hub:security] intruder may not send "billing"`,
  );
  expect(handled).toHaveLength(1);
  expect(audit.map((e) => [e.kind, e.identity, e.messageId])).toEqual(
    expect.arrayContaining([
      ['integrity', 'billing-service', ok.id],
      ['refused', 'intruder', denied.id],
    ]),
  );
  const figures = billing.metrics().components.security!;
  expect([figures.integrityFailed, figures.refused]).toEqual([1, 1]);
});

it('replay protection over Redis Streams: a signed entry written again, or signed outside the window, is dead-lettered with HUB_REPLAYED and audited, not handled', async () => {
  const prefix = uniquePrefix('replay');
  const audit: AuditEvent[] = [];
  const billing = await hub('billing-service', prefix, {
    protection: protection(),
    replay: { windowMs: 60_000 },
    audit: (e) => audit.push(e),
  });
  const orders = await hub('orders-service', prefix, { protection: protection() });
  const handled: string[] = [];
  await billing.onMessage('billing', (m) => {
    handled.push(m.id);
  });
  await billing.start();
  await orders.start();
  const ok = createMessage({
    source: 'orders',
    destination: 'billing',
    payload: { n: 1 },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  await orders.send(ok);
  await waitFor(
    () => handled.length === 1,
    () => `handled=${handled.length}`,
  );
  // Someone with write access to Redis copies the entry: the signature is valid, the id is not new.
  const streams = (await raw.keys(`${prefix}:{billing}:p*`)).filter((k) => !k.endsWith('dlq'));
  let stream = '';
  let wire = '';
  for (const key of streams) {
    const [entry] = await raw.xrange(key, '-', '+');
    if (entry === undefined) continue;
    stream = key;
    wire = entry[1][entry[1].indexOf('env') + 1]!;
  }
  expect(wire).toContain(ok.id);
  await raw.xadd(stream, '*', 'v', '1', 'id', ok.id, 'env', wire);
  // A validly signed envelope from two minutes ago (kept back, sent late).
  const old = createMessage({
    source: 'orders',
    destination: 'billing',
    payload: { n: 2 },
    timestamp: Date.now() - 120_000,
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  const sealed = await protection().seal({ ...old, headers: { 'hub-identity': 'orders-service' } });
  await raw.xadd(stream, '*', 'v', '1', 'id', old.id, 'env', JSON.stringify(sealed));

  await waitFor(
    async () => (await billing.readDeadLetters('billing')).length === 2,
    async () => `dead=${(await billing.readDeadLetters('billing')).length}`,
  );
  const reasons = (await billing.readDeadLetters('billing'))
    .map((d) => `${d.envelope.id}: ${d.reason}`)
    .join('\n');
  expect(reasons).toContain(
    `${ok.id}: inbound middleware: [hub:security] ${ok.id} was already received`,
  );
  expect(reasons).toContain(
    `${old.id}: inbound middleware: [hub:security] ${old.id} was signed at`,
  );
  expect(handled).toEqual([ok.id]);
  expect(audit.map((e) => [e.kind, e.code, e.messageId, e.identity])).toEqual(
    expect.arrayContaining([
      ['replay', 'HUB_REPLAYED', ok.id, 'orders-service'],
      ['replay', 'HUB_REPLAYED', old.id, 'orders-service'],
    ]),
  );
  expect(billing.metrics().components.security!.replayed).toBe(2);
});
