import { randomBytes } from 'node:crypto';
import {
  brotliCompressSync,
  brotliDecompressSync,
  gunzipSync,
  gzipSync,
  constants as zlibConstants,
} from 'node:zlib';
import {
  COMPRESSION_HEADER,
  envelopeProtection,
  IV_HEADER,
  KEY_ID_HEADER,
  type ProtectionOptions,
  SIGNATURE_HEADER,
  TAG_HEADER,
} from '@hub/core/security';
import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  createEvent,
  createHub,
  createMessage,
  type Envelope,
  ErrorCode,
  memory,
  silentLogger,
  type UnifiedMessage,
} from '../../src/index.js';

const encKeys: Record<string, Buffer> = { k1: randomBytes(32), k2: randomBytes(32) };
const sigKeys: Record<string, Buffer> = { s1: randomBytes(32) };
/** All three steps; a field given as undefined leaves that step out. */
const full = (over: { [K in keyof ProtectionOptions]?: ProtectionOptions[K] | undefined } = {}) => {
  const options: Record<string, unknown> = {
    signing: { keyId: 's1', keys: (id: string) => sigKeys[id] },
    encryption: { keyId: 'k1', keys: (id: string) => encKeys[id] },
    compression: { thresholdBytes: 64 },
    ...over,
  };
  for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
  return envelopeProtection(options as ProtectionOptions);
};

const msg = (payload: unknown = { text: 'secret order', n: 42 }) =>
  createMessage({ source: 'shop', destination: 'orders.create', payload });

async function errorOf(
  p: Envelope | Promise<Envelope>,
): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a refusal');
}

/** Flip one bit of a base64 value, keeping it valid base64 of the same length. */
const flip = (b64: string): string => {
  const buf = Buffer.from(b64, 'base64');
  buf[buf.length - 1]! ^= 1;
  return buf.toString('base64');
};

describe('S9 envelope protection: AES-256-GCM, HMAC signature, compression', () => {
  it('seals and opens a message: payload hidden on the wire, identical after opening', async () => {
    const p = full();
    const m = msg({ text: 'x'.repeat(500), n: 1 });
    const sealed = await p.seal({ ...m, headers: { 'hub-identity': 'shop' } });
    expect(typeof sealed.kind === 'string' && (sealed as { payload: unknown }).payload).toEqual(
      expect.any(String),
    );
    expect(JSON.stringify(sealed)).not.toContain('xxxxxxxx');
    expect(sealed.headers[KEY_ID_HEADER]).toBe('k1');
    expect(Buffer.from(sealed.headers[IV_HEADER]!, 'base64')).toHaveLength(12);
    expect(Buffer.from(sealed.headers[TAG_HEADER]!, 'base64')).toHaveLength(16);
    expect(sealed.headers[COMPRESSION_HEADER]).toBe('gzip');
    const opened = await p.open(sealed);
    expect((opened as { payload: unknown }).payload).toEqual(m.payload);
    expect(opened.headers).toEqual({
      'hub-identity': 'shop',
      [SIGNATURE_HEADER]: sealed.headers[SIGNATURE_HEADER],
    });
  });

  it('two seals of one message use different IVs', async () => {
    const p = full();
    const m = msg();
    const a = await p.seal(m);
    const b = await p.seal(m);
    expect(a.headers[IV_HEADER]).not.toBe(b.headers[IV_HEADER]);
  });

  it('tampering with ciphertext, IV, tag or bound metadata is detected (encryption alone)', async () => {
    const p = full({ signing: undefined });
    const sealed = (await p.seal(msg())) as UnifiedMessage<string>;
    const cases: Array<[string, Envelope]> = [
      ['ciphertext', { ...sealed, payload: flip(sealed.payload) }],
      [
        'iv',
        {
          ...sealed,
          headers: { ...sealed.headers, [IV_HEADER]: flip(sealed.headers[IV_HEADER]!) },
        },
      ],
      [
        'tag',
        {
          ...sealed,
          headers: { ...sealed.headers, [TAG_HEADER]: flip(sealed.headers[TAG_HEADER]!) },
        },
      ],
      ['id', { ...sealed, id: `${sealed.id}x` }],
      ['type', { ...sealed, type: 'other' } as Envelope],
      ['destination', { ...sealed, destination: 'orders.cancel' }],
      ['key id', { ...sealed, headers: { ...sealed.headers, [KEY_ID_HEADER]: 'k2' } }],
    ];
    for (const [what, env] of cases) {
      const err = await errorOf(p.open(env));
      expect({ what, code: err.code }).toEqual({ what, code: ErrorCode.INTEGRITY_FAILED });
    }
    expect(await p.open(sealed)).toBeDefined();
  });

  it("an event's topic is bound too: its ciphertext moved to another topic fails (encryption alone)", async () => {
    const p = full({ signing: undefined });
    const event = createEvent({
      source: 'shop',
      topic: 'orders.paid',
      type: 'paid',
      data: { n: 1 },
    });
    const sealed = await p.seal(event);
    expect(sealed.headers[KEY_ID_HEADER]).toBe('k1');
    const moved = { ...sealed, topic: 'orders.refunded' } as Envelope;
    const err = await errorOf(p.open(moved));
    expect(err.code).toBe(ErrorCode.INTEGRITY_FAILED);
    expect(err.message).toMatch(/does not decrypt/);
    expect(((await p.open(sealed)) as { data: unknown }).data).toEqual({ n: 1 });
  });

  it('tampering with the signed identity or any signed field is detected; a wrong key too', async () => {
    const p = full({ encryption: undefined, compression: undefined });
    const sealed = await p.seal({ ...msg(), headers: { 'hub-identity': 'shop' } });
    const changed: Envelope[] = [
      { ...sealed, headers: { ...sealed.headers, 'hub-identity': 'admin' } },
      { ...sealed, source: 'admin' },
      { ...sealed, payload: { text: 'other', n: 42 } } as Envelope,
      {
        ...sealed,
        headers: {
          ...sealed.headers,
          [SIGNATURE_HEADER]: `s1.${flip(sealed.headers[SIGNATURE_HEADER]!.slice(3))}`,
        },
      },
      {
        ...sealed,
        headers: {
          ...sealed.headers,
          [SIGNATURE_HEADER]: `nope.${sealed.headers[SIGNATURE_HEADER]!.slice(3)}`,
        },
      },
    ];
    for (const env of changed)
      expect((await errorOf(p.open(env))).code).toBe(ErrorCode.INTEGRITY_FAILED);
    const other = envelopeProtection({ signing: { keyId: 's1', keys: () => randomBytes(32) } });
    expect((await errorOf(other.open(sealed))).code).toBe(ErrorCode.INTEGRITY_FAILED);
    // An unsigned envelope is refused (fail closed) unless signing is optional.
    expect((await errorOf(p.open(msg()))).message).toMatch(/not signed/);
    const lenient = envelopeProtection({
      signing: { keyId: 's1', keys: (id) => sigKeys[id], required: false },
    });
    expect(await lenient.open(msg())).toBeDefined();
  });

  it('the signature is the HMAC-SHA256 of the documented JSON text, whatever the body (hubs of any version verify each other)', async () => {
    const { createHmac } = await import('node:crypto');
    /** The signed text as docs/security.md gives it: one JSON array. */
    const reference = (env: Envelope): string => {
      const h = env.headers;
      const names = Object.keys(h)
        .filter((k) => k.startsWith('hub-') && k !== SIGNATURE_HEADER)
        .sort();
      const m = env.kind === 'message' ? env : undefined;
      return JSON.stringify([
        'hub-sig-v1',
        env.kind,
        env.id,
        env.type,
        env.source,
        env.kind === 'message' ? env.destination : env.topic,
        env.timestamp,
        env.expiresAt ?? null,
        m?.correlationId ?? null,
        m?.replyTo ?? null,
        m?.deliveryGuarantee ?? null,
        names.map((k) => [k, h[k]]),
        (env.kind === 'message' ? env.payload : env.data) ?? null,
      ]);
    };
    const payloads: unknown[] = [
      { text: 'secret order', n: 42, long: 'x'.repeat(300) },
      'quote " backslash \\ newline \n and ünïcødé',
      'QUJD',
      '',
      42,
      null,
      [1, 'two', { three: 3 }],
    ];
    const ways = [
      full(),
      full({ encryption: undefined }),
      full({ compression: undefined }),
      full({ encryption: undefined, compression: undefined }),
    ];
    for (const p of ways) {
      for (const payload of payloads) {
        for (const env of [
          { ...msg(payload), headers: { 'hub-identity': 'shop', 'x-trace': 't' } },
          { ...createEvent({ source: 'shop', topic: 'orders.made', data: payload }), headers: {} },
        ] as Envelope[]) {
          const sealed = await p.seal(env);
          const mac = createHmac('sha256', sigKeys.s1!).update(reference(sealed)).digest('base64');
          expect(sealed.headers[SIGNATURE_HEADER]).toBe(`s1.${mac}`);
          await expect(Promise.resolve(p.open(sealed))).resolves.toBeDefined();
          // A sealed (base64) body changed by one character no longer verifies.
          const body = sealed.kind === 'message' ? sealed.payload : sealed.data;
          if (typeof body === 'string' && body.length > 4 && sealed.headers[KEY_ID_HEADER]) {
            const other = `${body[0] === 'A' ? 'B' : 'A'}${body.slice(1)}`;
            const changed = (
              sealed.kind === 'message' ? { ...sealed, payload: other } : { ...sealed, data: other }
            ) as Envelope;
            expect((await errorOf(p.open(changed))).code).toBe(ErrorCode.INTEGRITY_FAILED);
            // Nor does a body that is not base64 and needs escapes in JSON.
            for (const text of [`${body}"`, `${body.slice(0, -2)}\\"]`, `"${body}`]) {
              const odd = (
                sealed.kind === 'message' ? { ...sealed, payload: text } : { ...sealed, data: text }
              ) as Envelope;
              expect((await errorOf(p.open(odd))).code).toBe(ErrorCode.INTEGRITY_FAILED);
            }
          }
        }
      }
    }
  });

  it('a rotated key still reads old messages and writes new ones with the new key id', async () => {
    let current = 'k1';
    const p = envelopeProtection({
      encryption: { keyId: () => current, keys: (id) => encKeys[id] },
    });
    const old = await p.seal(msg());
    current = 'k2';
    const fresh = await p.seal(msg());
    expect([old.headers[KEY_ID_HEADER], fresh.headers[KEY_ID_HEADER]]).toEqual(['k1', 'k2']);
    expect(((await p.open(old)) as { payload: unknown }).payload).toEqual(msg().payload);
    expect(((await p.open(fresh)) as { payload: unknown }).payload).toEqual(msg().payload);
    // A reader that has dropped k1 refuses the old one.
    const dropped = envelopeProtection({
      encryption: { keyId: 'k2', keys: (id) => (id === 'k2' ? encKeys.k2 : undefined) },
    });
    expect((await errorOf(dropped.open(old))).message).toMatch(/key id "k1" is unknown/);
  });

  it('a compression bomb, gzip or brotli, is refused within the cap; small payloads are not compressed', async () => {
    const p = envelopeProtection({
      compression: { thresholdBytes: 100, maxDecompressedBytes: 64 * 1024 },
    });
    const small = await p.seal(msg({ a: 1 }));
    expect(small.headers[COMPRESSION_HEADER]).toBeUndefined();
    const big = await p.seal(msg('y'.repeat(10_000)));
    expect(big.headers[COMPRESSION_HEADER]).toBe('gzip');
    expect((big as { payload: string }).payload.length).toBeLessThan(1_000);
    expect(((await p.open(big)) as { payload: unknown }).payload).toBe('y'.repeat(10_000));
    // 100 MB of zeros in ~100 KB: refused without inflating it all.
    const bomb = gzipSync(Buffer.alloc(100 * 1024 * 1024));
    const env = {
      ...msg(),
      payload: bomb.toString('base64'),
      headers: { [COMPRESSION_HEADER]: 'gzip' },
    };
    const before = process.memoryUsage().rss;
    const err = await errorOf(p.open(env as Envelope));
    expect(err.message).toMatch(/compression bomb/);
    expect(process.memoryUsage().rss - before).toBeLessThan(50 * 1024 * 1024);
    // The same bomb as brotli (quality 1: the bomb is made quickly, it inflates all the same).
    const brBomb = brotliCompressSync(Buffer.alloc(100 * 1024 * 1024), {
      params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 },
    });
    expect(brBomb.length).toBeLessThan(1024 * 1024);
    const brEnv = {
      ...msg(),
      payload: brBomb.toString('base64'),
      headers: { [COMPRESSION_HEADER]: 'br' },
    };
    const brBefore = process.memoryUsage().rss;
    const brErr = await errorOf(p.open(brEnv as Envelope));
    expect(brErr.code).toBe(ErrorCode.INTEGRITY_FAILED);
    expect(brErr.message).toMatch(/decompresses past maxDecompressedBytes \(65536\)/);
    expect(process.memoryUsage().rss - brBefore).toBeLessThan(50 * 1024 * 1024);
    const br = envelopeProtection({ compression: { algorithm: 'br', thresholdBytes: 0 } });
    const sealed = await br.seal(msg('z'.repeat(2_000)));
    expect(sealed.headers[COMPRESSION_HEADER]).toBe('br');
    expect(((await br.open(sealed)) as { payload: unknown }).payload).toBe('z'.repeat(2_000));
  });

  it('an encrypted envelope at a hub without keys fails closed; an unencrypted one at a hub that requires encryption too', async () => {
    const sealed = await full().seal(msg());
    const none = envelopeProtection({ compression: {} });
    expect((await errorOf(none.open(sealed))).message).toMatch(/no encryption keys/);
    const enc = envelopeProtection({ encryption: { keyId: 'k1', keys: (id) => encKeys[id] } });
    expect((await errorOf(enc.open(msg()))).message).toMatch(/not encrypted/);
    const mixed = envelopeProtection({
      encryption: { keyId: 'k1', keys: (id) => encKeys[id], required: false },
    });
    expect(await mixed.open(msg())).toBeDefined();
  });

  it('bad options are refused naming the field', () => {
    expect(() =>
      envelopeProtection({ encryption: { keyId: 'bad id!', keys: () => undefined } }),
    ).toThrow(/encryption\.keyId/);
    expect(() => envelopeProtection({ compression: { algorithm: 'zip' as never } })).toThrow(
      /compression\.algorithm/,
    );
    expect(() =>
      envelopeProtection({
        signing: { keyId: 'a', keys: () => undefined, requird: true } as never,
      }),
    ).toThrow(/requird/);
  });

  it('through a hub: events and messages round trip; a tampered one is dead-lettered and audited, never handled', async () => {
    const broker = memory();
    const audit: AuditEvent[] = [];
    await using hub = createHub({
      logger: silentLogger,
      adapters: [broker],
      security: { protection: full(), audit: (e) => audit.push(e) },
    });
    const got: unknown[] = [];
    const dead: string[] = [];
    hub.on('deadLetter', (_env, reason) => dead.push(reason));
    await hub.onMessage('orders.create', (m) => {
      got.push(m.payload);
    });
    await hub.subscribe('orders.**', (e) => {
      got.push(e.data);
    });
    await hub.start();
    await hub.send(msg({ big: 'q'.repeat(2_000) }));
    await hub.publish(
      createEvent({ source: 'shop', topic: 'orders.eu', type: 'created', data: { n: 7 } }),
    );
    await expect.poll(() => got.length).toBe(2);
    expect(got).toContainEqual({ big: 'q'.repeat(2_000) });
    expect(got).toContainEqual({ n: 7 });
    // A foreign hub on the same broker with another signing key: refused on arrival.
    await using rogue = createHub({
      logger: silentLogger,
      adapters: [broker],
      security: {
        protection: envelopeProtection({
          signing: { keyId: 's1', keys: () => randomBytes(32) },
          encryption: { keyId: 'k1', keys: (id) => encKeys[id] },
        }),
      },
    });
    await rogue.start();
    await rogue.send(msg({ forged: true }));
    await expect.poll(() => dead.length).toBe(1);
    expect(dead[0]).toMatch(/does not verify/);
    expect(got).toHaveLength(2);
    expect(audit.map((e) => e.kind)).toEqual(['integrity']);
    expect(hub.metrics().components.security!.integrityFailed).toBe(1);
  });
});

/** A protection that also records what it writes (the headers of each sealed envelope). */
function recording(protection: ReturnType<typeof envelopeProtection>, sealed: Envelope[]) {
  return {
    ...protection,
    seal: async (env: Envelope) => {
      const out = await protection.seal(env);
      sealed.push(out);
      return out;
    },
  };
}

describe('S9 through hubs on the memory transport: compression bombs and key rotation', () => {
  it('a compression bomb from another hub, gzip or brotli, is refused within the receiver’s cap: dead-lettered and audited, never handled; a small compressed payload goes through', async () => {
    const broker = memory();
    const audit: AuditEvent[] = [];
    const cap = 64 * 1024;
    await using receiver = createHub({
      name: 'receiver',
      logger: silentLogger,
      adapters: [broker],
      security: {
        protection: envelopeProtection({ compression: { maxDecompressedBytes: cap } }),
        audit: (e) => audit.push(e),
      },
    });
    // Senders whose own cap is larger: what they write inflates far past the receiver's.
    const sender = (algorithm: 'gzip' | 'br') =>
      createHub({
        name: `sender-${algorithm}`,
        logger: silentLogger,
        adapters: [broker],
        security: {
          protection: envelopeProtection({
            compression: { algorithm, thresholdBytes: 1024, maxDecompressedBytes: 64 << 20 },
          }),
        },
      });
    await using gzip = sender('gzip');
    await using br = sender('br');
    const handled: unknown[] = [];
    const dead: Array<[string, string]> = [];
    receiver.on('deadLetter', (env, reason) => dead.push([env.id, reason]));
    await receiver.onMessage('orders.create', (m) => {
      handled.push(m.payload);
    });
    await receiver.subscribe('orders.**', (e) => {
      handled.push(e.data);
    });
    await receiver.start();
    await gzip.start();
    await br.start();

    // 4 MiB of JSON that compresses to a few KB.
    const huge = 'a'.repeat(4 << 20);
    const gzipBomb = msg(huge);
    const brBomb = createEvent({ source: 'shop', topic: 'orders.eu', type: 't', data: huge });
    await gzip.send(gzipBomb);
    await br.publish(brBomb);
    const fine = { text: 'b'.repeat(8_000) };
    await gzip.send(msg(fine));
    await br.publish(createEvent({ source: 'shop', topic: 'orders.us', type: 't', data: fine }));

    await expect.poll(() => dead.length).toBe(2);
    await expect.poll(() => handled.length).toBe(2);
    expect(handled).toEqual([fine, fine]);
    expect(dead.map(([id]) => id).sort()).toEqual([gzipBomb.id, brBomb.id].sort());
    for (const [, reason] of dead) {
      expect(reason).toMatch(
        /decompresses past maxDecompressedBytes \(65536\): refused as a compression bomb/,
      );
    }
    expect(audit.map((e) => [e.kind, e.code, e.messageId]).sort()).toEqual(
      [
        ['integrity', ErrorCode.INTEGRITY_FAILED, gzipBomb.id],
        ['integrity', ErrorCode.INTEGRITY_FAILED, brBomb.id],
      ].sort(),
    );
    expect(receiver.metrics().components.security!.integrityFailed).toBe(2);
  });

  it('a rotated key still reads old messages and writes new ones with the new key id, hub to hub', async () => {
    const broker = memory();
    let current = 'k1';
    const rotating = () =>
      envelopeProtection({
        signing: { keyId: 's1', keys: (id) => sigKeys[id] },
        encryption: { keyId: () => current, keys: (id) => encKeys[id] },
      });
    const sentByA: Envelope[] = [];
    const sentByB: Envelope[] = [];
    await using a = createHub({
      name: 'a',
      logger: silentLogger,
      adapters: [broker],
      security: { protection: recording(rotating(), sentByA) },
    });
    await using b = createHub({
      name: 'b',
      logger: silentLogger,
      adapters: [broker],
      security: { protection: recording(rotating(), sentByB) },
    });
    // A hub of the fleet not rotated yet: it still writes with k1.
    await using late = createHub({
      name: 'late',
      logger: silentLogger,
      adapters: [broker],
      security: {
        protection: envelopeProtection({
          signing: { keyId: 's1', keys: (id) => sigKeys[id] },
          encryption: { keyId: 'k1', keys: (id) => encKeys[id] },
        }),
      },
    });
    const atB: unknown[] = [];
    const atA: unknown[] = [];
    const dead: string[] = [];
    b.on('deadLetter', (_e, reason) => dead.push(reason));
    a.on('deadLetter', (_e, reason) => dead.push(reason));
    await b.onMessage('orders.create', (m) => {
      atB.push(m.payload);
    });
    await a.subscribe('orders.**', (e) => {
      atA.push(e.data);
    });
    await a.start();
    await b.start();
    await late.start();

    await a.send(msg({ n: 1 }));
    await expect.poll(() => atB.length).toBe(1);
    current = 'k2';
    await a.send(msg({ n: 2 }));
    await late.send(msg({ n: 3 }));
    await b.publish(createEvent({ source: 'b', topic: 'orders.eu', type: 't', data: { n: 4 } }));
    await expect.poll(() => atB.length).toBe(3);
    await expect.poll(() => atA.length).toBe(1);
    expect(atB).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(atA).toEqual([{ n: 4 }]);
    expect(dead).toEqual([]);
    // What went out: before the rotation k1, after it k2.
    expect(sentByA.map((e) => e.headers[KEY_ID_HEADER])).toEqual(['k1', 'k2']);
    expect(sentByB.map((e) => e.headers[KEY_ID_HEADER])).toEqual(['k2']);
  });
});

describe('secure defaults', () => {
  it('secrets never reach the logs or the audit sink, even when envelopes fail their checks', async () => {
    const lines: string[] = [];
    const record = (level: string) => (message: string, meta?: unknown) => {
      lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
    };
    const logger = {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    };
    const broker = memory();
    await using hub = createHub({ logger, adapters: [broker], security: { protection: full() } });
    await using rogue = createHub({
      logger,
      adapters: [broker],
      security: { protection: full({ signing: { keyId: 's1', keys: () => randomBytes(32) } }) },
    });
    const dead: string[] = [];
    hub.on('deadLetter', (_e, reason) => dead.push(reason));
    await hub.onMessage('orders.create', () => {});
    await hub.start();
    await rogue.start();
    await rogue.send(msg());
    await expect.poll(() => dead.length).toBe(1);
    expect(lines.some((l) => l.includes('integrity'))).toBe(true);
    const log = lines.join('\n');
    for (const key of [...Object.values(encKeys), ...Object.values(sigKeys)]) {
      expect(log).not.toContain(key.toString('base64'));
      expect(log).not.toContain(key.toString('hex'));
    }
  });

  it('a policy without signature verification is warned about at start-up', () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    createHub({ logger, security: { policy: { rules: [] } } });
    createHub({ logger, security: { policy: { rules: [] }, protection: full() } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/does not verify signatures/);
  });
});

describe('encryption switched off with a key configured', () => {
  it('reads encrypted envelopes, writes plaintext, and is warned about at start-up (as is required: false)', async () => {
    const readOnly = envelopeProtection({
      encryption: { keyId: 'k1', keys: (id) => encKeys[id], enabled: false },
    });
    const plain = await readOnly.seal(msg());
    expect(plain.headers[KEY_ID_HEADER]).toBeUndefined();
    expect((plain as { payload: unknown }).payload).toEqual(msg().payload);
    // It still opens what an encrypting hub of the fleet wrote, and accepts plaintext.
    const sealed = await full({ signing: undefined }).seal(msg());
    expect(((await readOnly.open(sealed)) as { payload: unknown }).payload).toEqual(msg().payload);
    expect(await readOnly.open(msg())).toBeDefined();

    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    createHub({ name: 'a', logger, security: { protection: readOnly } });
    createHub({
      name: 'b',
      logger,
      security: {
        protection: envelopeProtection({
          signing: { keyId: 's1', keys: (id) => sigKeys[id], required: false },
        }),
      },
    });
    createHub({ name: 'c', logger, security: { protection: full() } });
    expect(warnings).toEqual([
      expect.stringMatching(
        /a: encryption is off \(encryption\.enabled: false\) although a key is configured/,
      ),
      expect.stringMatching(/b: signing\.required is false/),
    ]);
    expect(() =>
      envelopeProtection({
        encryption: { keyId: 'k1', keys: () => undefined, enabled: 'no' as never },
      }),
    ).toThrow(/encryption\.enabled/);
  });

  it('seals and opens without a promise once its key ids are known; the first use of a key id waits for the provider', async () => {
    const asked: string[] = [];
    const p = envelopeProtection({
      signing: {
        keyId: 's1',
        keys: (id) => {
          asked.push(`sig:${id}`);
          return sigKeys[id];
        },
      },
      encryption: {
        keyId: 'k1',
        keys: async (id) => {
          asked.push(`enc:${id}`);
          return encKeys[id];
        },
      },
      compression: { thresholdBytes: 64 },
    });
    const m = { ...msg({ text: 'x'.repeat(500), n: 7 }), headers: { 'hub-identity': 'shop' } };
    const first = p.seal(m);
    expect(first).toBeInstanceOf(Promise);
    await first;
    const sealed = p.seal(m);
    expect(sealed).not.toBeInstanceOf(Promise);
    const opened = p.open(sealed as Envelope);
    expect(opened).not.toBeInstanceOf(Promise);
    expect((opened as UnifiedMessage).payload).toEqual(m.payload);
    expect(asked).toEqual(['enc:k1', 'sig:s1']);
    // A refusal still comes as a rejected promise, never as a throw out of the call.
    const tampered = { ...(sealed as Envelope), id: 'changed' };
    const refused = p.open(tampered);
    expect(refused).toBeInstanceOf(Promise);
    expect((await errorOf(refused)).code).toBe(ErrorCode.INTEGRITY_FAILED);
  });

  it('compresses to standard streams any reader inflates, and reads those of any writer; a false gzip length is refused', async () => {
    for (const algorithm of ['gzip', 'br'] as const) {
      const p = envelopeProtection({ compression: { algorithm, thresholdBytes: 0 } });
      for (const size of [0, 100, 1_000, 5_000, 40_000, 200_000]) {
        const text = Array.from({ length: size }, (_, i) =>
          String.fromCharCode(97 + ((i * 7919) % 23)),
        ).join('');
        const sealed = (await p.seal(msg(text))) as UnifiedMessage;
        const bytes = Buffer.from(sealed.payload as string, 'base64');
        const plain = algorithm === 'gzip' ? gunzipSync(bytes) : brotliDecompressSync(bytes);
        expect(JSON.parse(plain.toString('utf8'))).toBe(text);
        expect(((await p.open(sealed)) as UnifiedMessage).payload).toBe(text);
      }
    }
    // Written with Node's defaults (full window, 16 KiB chunks): read as before.
    const p = envelopeProtection({ compression: {} });
    const payload = { rows: Array.from({ length: 500 }, (_, i) => ({ i, name: `row-${i}` })) };
    const written = gzipSync(Buffer.from(JSON.stringify(payload)));
    const env = (body: Buffer) =>
      ({
        ...msg(),
        payload: body.toString('base64'),
        headers: { [COMPRESSION_HEADER]: 'gzip' },
      }) as Envelope;
    expect(((await p.open(env(written))) as UnifiedMessage).payload).toEqual(payload);
    // The length in the gzip trailer only sizes the output buffer: a false one fails the check.
    for (const declared of [1, 0xffffffff]) {
      const lying = Buffer.from(written);
      lying.writeUInt32LE(declared, lying.length - 4);
      expect((await errorOf(p.open(env(lying)))).message).toMatch(/does not decompress/);
    }
  });
});
