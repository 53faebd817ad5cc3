import { randomBytes } from 'node:crypto';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import {
  type AuditEvent,
  createEvent,
  createHub,
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  type Hub,
  type SecurityOptions,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { envelopeProtection } from '@hub/core/security';
import { createMessage, type UnifiedEvent } from '@hub/protocol';
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

/** The envelopes in the streams of `destination`, oldest first (not its dead letters). */
async function onWire(prefix: string, destination: string): Promise<Envelope[]> {
  const keys = (await raw.keys(`${prefix}:{${destination}}:p*`)).sort();
  const entries = (await Promise.all(keys.map((k) => raw.xrange(k, '-', '+')))).flat();
  return entries
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([, f]) => JSON.parse(f[f.indexOf('env') + 1]!) as Envelope);
}

/** The stream key an envelope of `destination` with id `id` was written to. */
async function streamOf(prefix: string, destination: string, id: string): Promise<string> {
  for (const key of await raw.keys(`${prefix}:{${destination}}:p*`)) {
    const entries = await raw.xrange(key, '-', '+');
    if (entries.some(([, f]) => f[f.indexOf('id') + 1] === id)) return key;
  }
  throw new Error(`${id} is not in a stream of ${destination}`);
}

/** A raw Redis connection subscribed to event channels, recording what is published there. */
async function tapEvents(prefix: string): Promise<{ seen: Array<[string, string]>; stop(): void }> {
  const sub = new Redis(server.port, '127.0.0.1');
  sub.on('error', () => {});
  const seen: Array<[string, string]> = [];
  sub.on('pmessage', (_p: string, channel: string, text: string) => seen.push([channel, text]));
  await sub.psubscribe(`${prefix}:ev:*`);
  return { seen, stop: () => sub.disconnect() };
}

const dlqReasons = async (h: Hub, destination: string) =>
  (await h.readDeadLetters(destination)).map((d) => [d.envelope.id, d.reason] as const);

it('S9 over Redis: a compression bomb from another hub, gzip on a stream or brotli on Pub/Sub, is refused within the receiver’s cap: dead-lettered and audited, never handled', async () => {
  const prefix = uniquePrefix('bomb');
  const audit: AuditEvent[] = [];
  const cap = 64 * 1024;
  const billing = await hub('billing-service', prefix, {
    protection: envelopeProtection({ compression: { maxDecompressedBytes: cap } }),
    audit: (e) => audit.push(e),
  });
  // Senders whose own cap is larger: what they write inflates far past the receiver's.
  const sender = (algorithm: 'gzip' | 'br') =>
    hub(`sender-${algorithm}`, prefix, {
      protection: envelopeProtection({
        compression: { algorithm, thresholdBytes: 1024, maxDecompressedBytes: 64 << 20 },
      }),
    });
  const gzip = await sender('gzip');
  const br = await sender('br');
  const handled: unknown[] = [];
  const deadEvents: Array<[string, string]> = [];
  billing.on('deadLetter', (env, reason) => {
    if (env.kind === 'event') deadEvents.push([env.id, reason]);
  });
  await billing.onMessage('billing', (m) => {
    handled.push(m.payload);
  });
  await billing.subscribe('billing.*', (e) => {
    handled.push(e.data);
  });
  await billing.start();
  await gzip.start();
  await br.start();

  // 4 MiB of JSON that compresses to a few KB.
  const huge = 'a'.repeat(4 << 20);
  const fine = { text: 'b'.repeat(8_000) };
  // The Pub/Sub subscription is live once an event has come through.
  await br.publish(createEvent({ source: 's', topic: 'billing.ok', type: 't', data: fine }));
  await waitFor(
    () => handled.length === 1,
    () => `handled=${handled.length}`,
  );
  const gzipBomb = createMessage({
    source: 's',
    destination: 'billing',
    payload: huge,
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  await gzip.send(gzipBomb);
  const brBomb = createEvent({ source: 's', topic: 'billing.bomb', type: 't', data: huge });
  await br.publish(brBomb);
  await gzip.send(
    createMessage({
      source: 's',
      destination: 'billing',
      payload: fine,
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    }),
  );

  await waitFor(
    async () => (await billing.readDeadLetters('billing')).length === 1 && deadEvents.length === 1,
    async () =>
      `dead=${(await billing.readDeadLetters('billing')).length} events=${deadEvents.length}`,
  );
  await waitFor(
    () => handled.length === 2,
    () => `handled=${handled.length}`,
  );
  expect(handled).toEqual([fine, fine]);
  // On the wire the bomb is a few KB; inflated it would be 4 MiB.
  const wire = await onWire(prefix, 'billing');
  expect(wire.map((e) => e.headers['hub-zip'])).toEqual(['gzip', 'gzip']);
  expect(JSON.stringify(wire[0]).length).toBeLessThan(cap);
  const bomb = /decompresses past maxDecompressedBytes \(65536\): refused as a compression bomb/;
  const [dlq] = await dlqReasons(billing, 'billing');
  expect(dlq![0]).toBe(gzipBomb.id);
  expect(dlq![1]).toMatch(bomb);
  expect(deadEvents[0]![0]).toBe(brBomb.id);
  expect(deadEvents[0]![1]).toMatch(bomb);
  expect(audit.map((e) => [e.kind, e.code, e.messageId]).sort()).toEqual(
    [
      ['integrity', ErrorCode.INTEGRITY_FAILED, gzipBomb.id],
      ['integrity', ErrorCode.INTEGRITY_FAILED, brBomb.id],
    ].sort(),
  );
  expect(billing.metrics().components.security!.integrityFailed).toBe(2);
});

it('S9 over Redis: a rotated key still reads old messages (a backlog written before the rotation, a hub not rotated yet) and writes new ones with the new key id', async () => {
  const prefix = uniquePrefix('rotate');
  let current = 'e1';
  const keys: Record<string, Buffer> = { e1: encryptionKeys.e1!, e2: randomBytes(32) };
  const rotating = () =>
    envelopeProtection({
      signing: { keyId: 's1', keys: (id) => signingKeys[id] },
      encryption: { keyId: () => current, keys: (id) => keys[id] },
    });
  const billing = await hub('billing-service', prefix, { protection: rotating() });
  const orders = await hub('orders-service', prefix, { protection: rotating() });
  // A hub of the fleet not rotated yet: it still writes with e1.
  const late = await hub('late-service', prefix, { protection: protection() });
  const handled: unknown[] = [];
  const dead: string[] = [];
  billing.on('deadLetter', (_e, reason) => dead.push(reason));
  // Each message handled is written on to the ledger, by the rotated hub.
  await billing.onMessage('billing', async (m) => {
    handled.push(m.payload);
    await billing.send(
      createMessage({
        source: 'billing',
        destination: 'ledger',
        payload: m.payload,
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      }),
    );
  });
  await orders.start();
  await late.start();
  const send = (from: Hub, n: number) =>
    from.send(
      createMessage({
        source: 'orders',
        destination: 'billing',
        payload: { n },
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      }),
    );
  // Written while billing is not yet reading: still in the stream at the rotation.
  await send(orders, 1);
  current = 'e2';
  await send(orders, 2);
  await send(late, 3);
  await billing.start();

  await waitFor(
    () => handled.length === 3,
    () => `handled=${handled.length} dead=${dead.join('; ')}`,
  );
  expect(handled).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
  expect(dead).toEqual([]);
  const toBilling = await onWire(prefix, 'billing');
  expect(toBilling.map((e) => e.headers['hub-enc'])).toEqual(['e1', 'e2', 'e1']);
  await waitFor(
    async () => (await onWire(prefix, 'ledger')).length === 3,
    async () => `ledger=${(await onWire(prefix, 'ledger')).length}`,
  );
  const toLedger = await onWire(prefix, 'ledger');
  expect(toLedger.map((e) => e.headers['hub-enc'])).toEqual(['e2', 'e2', 'e2']);
  expect(JSON.stringify(toLedger)).not.toContain('"n":');
});

/** Flip the lowest bit of byte `at` of a base64 value (the last byte by default). */
const flip = (b64: string, at = -1): string => {
  const buf = Buffer.from(b64, 'base64');
  buf[at < 0 ? buf.length + at : at]! ^= 1;
  return buf.toString('base64');
};

for (const signed of [false, true]) {
  it(`S9 over Redis (${signed ? 'signed and encrypted' : 'encryption alone'}): tampering with ciphertext, IV, tag, the destination or an event's topic is detected: dead-lettered and audited, never handled`, async () => {
    const prefix = uniquePrefix(signed ? 'tamper-sig' : 'tamper');
    const audit: AuditEvent[] = [];
    // No compression, so a flipped bit of the ciphertext is a flipped bit of the JSON.
    const sealing = () =>
      envelopeProtection({
        ...(signed ? { signing: { keyId: 's1', keys: (id: string) => signingKeys[id] } } : {}),
        encryption: { keyId: 'e1', keys: (id) => encryptionKeys[id] },
      });
    const billing = await hub('billing-service', prefix, {
      protection: sealing(),
      audit: (e) => audit.push(e),
    });
    const orders = await hub('orders-service', prefix, { protection: sealing() });
    const handled: Array<[string, unknown]> = [];
    const deadEvents: Array<[string, string]> = [];
    billing.on('deadLetter', (env, reason) => {
      if (env.kind === 'event') deadEvents.push([env.id, reason]);
    });
    for (const endpoint of ['billing', 'refunds']) {
      await billing.onMessage(endpoint, (m) => {
        handled.push([m.destination, m.payload]);
      });
    }
    await billing.subscribe('orders.refunded', (e) => {
      handled.push([e.topic, e.data]);
    });
    await billing.start();
    await orders.start();
    const tap = await tapEvents(prefix);

    const payload = { note: 'a'.repeat(40) };
    const cases = ['ciphertext', 'iv', 'tag', 'destination'] as const;
    const sent = new Map<string, string>();
    for (const what of cases) {
      const m = createMessage({
        source: 'orders',
        destination: 'billing',
        payload,
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      });
      sent.set(what, m.id);
      await orders.send(m);
    }
    await orders.publish(
      createEvent({ source: 'orders', topic: 'orders.refunded', type: 't', data: payload }),
    );
    const paid = createEvent({ source: 'orders', topic: 'orders.paid', type: 't', data: payload });
    await orders.publish(paid);
    await waitFor(
      () => handled.length === 5 && tap.seen.length === 2,
      () => `handled=${handled.length} tapped=${tap.seen.length}`,
    );

    // Each envelope as it is on the wire, changed, and written back (with its own id: the id is bound too).
    const wire = new Map((await onWire(prefix, 'billing')).map((e) => [e.id, e]));
    const change: Record<(typeof cases)[number], (e: Envelope & { payload: string }) => Envelope> =
      {
        // Byte 12 of `{"note":"aaa…`: an `a` becomes a backquote, still valid JSON.
        ciphertext: (e) => ({ ...e, payload: flip(e.payload, 12) }),
        iv: (e) => ({ ...e, headers: { ...e.headers, 'hub-iv': flip(e.headers['hub-iv']!) } }),
        tag: (e) => ({ ...e, headers: { ...e.headers, 'hub-tag': flip(e.headers['hub-tag']!) } }),
        // Moved to another endpoint, written into that endpoint's stream.
        destination: (e) => ({ ...e, destination: 'refunds' }),
      };
    for (const what of cases) {
      const id = sent.get(what)!;
      const tampered = change[what](wire.get(id) as Envelope & { payload: string });
      const into = what === 'destination' ? 'refunds' : 'billing';
      const stream = (await streamOf(prefix, 'billing', id)).replace('{billing}', `{${into}}`);
      await raw.xadd(stream, '*', 'v', '1', 'id', id, 'env', JSON.stringify(tampered));
    }
    // The event of orders.paid, republished as one of orders.refunded.
    const [, paidText] = tap.seen.find(([ch]) => ch.endsWith(':ev:orders.paid'))!;
    const moved = { ...(JSON.parse(paidText) as UnifiedEvent), topic: 'orders.refunded' };
    await raw.publish(`${prefix}:ev:orders.refunded`, JSON.stringify(moved));
    tap.stop();

    await waitFor(
      async () =>
        (await billing.readDeadLetters('billing')).length === 3 &&
        (await billing.readDeadLetters('refunds')).length === 1 &&
        deadEvents.length === 1,
      async () =>
        `billing=${(await billing.readDeadLetters('billing')).length} refunds=${(await billing.readDeadLetters('refunds')).length} events=${deadEvents.length}`,
    );
    const detected = signed ? /does not verify/ : /does not decrypt/;
    const dead = new Map([
      ...(await dlqReasons(billing, 'billing')),
      ...(await dlqReasons(billing, 'refunds')),
      ...deadEvents,
    ]);
    for (const what of cases) {
      expect({ what, reason: dead.get(sent.get(what)!) }).toEqual({
        what,
        reason: expect.stringMatching(detected),
      });
    }
    expect(dead.get(paid.id)).toMatch(detected);
    // Only the untouched originals were handled (orders.paid has no subscriber at billing).
    expect(handled.map(([at]) => at).sort()).toEqual([
      ...cases.map(() => 'billing'),
      'orders.refunded',
    ]);
    expect(handled.every(([, got]) => JSON.stringify(got) === JSON.stringify(payload))).toBe(true);
    expect(audit.map((e) => [e.kind, e.code, e.verb]).sort()).toEqual(
      [...cases, 'topic'].map(() => ['integrity', ErrorCode.INTEGRITY_FAILED, 'receive']),
    );
    expect(audit.map((e) => e.messageId).sort()).toEqual([...sent.values(), paid.id].sort());
    expect(billing.metrics().components.security!.integrityFailed).toBe(5);
  });
}

it('S8 over Redis: an unauthorised send, publish, subscribe and serve are refused with HUB_FORBIDDEN and audited, nothing reaches Redis; an event from an identity not allowed to publish is refused on arrival', async () => {
  const prefix = uniquePrefix('deny');
  const audit: AuditEvent[] = [];
  const orders = await hub('orders-service', prefix, {
    policy: {
      rules: [
        {
          name: 'orders',
          identities: ['orders-service'],
          publish: ['orders.**'],
          subscribe: ['orders.**'],
          serve: ['orders'],
        },
      ],
    },
    protection: protection(),
    audit: (e) => audit.push(e),
  });
  const intruder = await hub('intruder', prefix, { protection: protection() });
  const handled: Array<[string, string | undefined]> = [];
  const dead: string[] = [];
  orders.on('deadLetter', (env, reason) => dead.push(`${env.id} ${reason}`));
  await orders.start();
  await intruder.start();
  await orders.subscribe('orders.**', (e) => {
    handled.push([e.id, e.headers['hub-identity']]);
  });
  const tap = await tapEvents(prefix);

  const charge = createMessage({
    source: 'o',
    destination: 'billing',
    payload: 1,
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  await expect(orders.send(charge)).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  const billingPaid = createEvent({ source: 'o', topic: 'billing.paid', type: 't', data: 1 });
  await expect(orders.publish(billingPaid)).rejects.toMatchObject({ code: ErrorCode.FORBIDDEN });
  await expect(orders.subscribe('billing.**', () => {})).rejects.toMatchObject({
    code: ErrorCode.FORBIDDEN,
  });
  await expect(orders.onMessage('billing', () => {})).rejects.toMatchObject({
    code: ErrorCode.FORBIDDEN,
  });
  // Allowed: its own topic. Published after the refused one on the same link, so once it is
  // seen on Redis the refused one would have been seen before it.
  const own = createEvent({ source: 'o', topic: 'orders.created', type: 't', data: 2 });
  await orders.publish(own);
  await waitFor(
    () => handled.length === 1 && tap.seen.length === 1,
    () => `handled=${handled.length} tapped=${tap.seen.length}`,
  );
  tap.stop();
  expect(tap.seen.map(([ch]) => ch)).toEqual([`${prefix}:ev:orders.created`]);
  // Nothing was written or set up on Redis for the endpoint it may not send to or serve.
  expect(await raw.keys(`${prefix}:{billing}:*`)).toEqual([]);

  // Signed by the fleet's key, but from an identity no rule lets publish.
  const forged = createEvent({ source: 'i', topic: 'orders.created', type: 't', data: 3 });
  await intruder.publish(forged);
  await waitFor(
    () => dead.length === 1,
    () => `dead=${dead.length}`,
  );
  expect(dead[0]).toContain(
    `${forged.id} inbound middleware: [hub:security] intruder may not publish "orders.created"`,
  );
  expect(handled).toEqual([[own.id, 'orders-service']]);
  expect(
    audit
      .filter((e) => e.kind === 'refused')
      .map((e) => [e.identity, e.verb, e.address, e.code, e.messageId]),
  ).toEqual([
    ['orders-service', 'send', 'billing', ErrorCode.FORBIDDEN, charge.id],
    ['orders-service', 'publish', 'billing.paid', ErrorCode.FORBIDDEN, billingPaid.id],
    ['orders-service', 'subscribe', 'billing.**', ErrorCode.FORBIDDEN, undefined],
    ['orders-service', 'serve', 'billing', ErrorCode.FORBIDDEN, undefined],
    ['intruder', 'publish', 'orders.created', ErrorCode.FORBIDDEN, forged.id],
  ]);
  expect(orders.metrics().components.security!.refused).toBe(5);
});
