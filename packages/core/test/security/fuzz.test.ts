import { randomBytes } from 'node:crypto';
import { envelopeProtection } from '@hub/core/security';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createEvent, createMessage, type Envelope, HubError, jsonCodec } from '../../src/index.js';

const keys: Record<string, Buffer> = { k1: randomBytes(32), s1: randomBytes(32) };
const protection = envelopeProtection({
  signing: { keyId: 's1', keys: (id) => keys[id] },
  encryption: { keyId: 'k1', keys: (id) => keys[id] },
  compression: { thresholdBytes: 32, maxDecompressedBytes: 64 * 1024 },
});
/** Verification off, so mutations reach decryption and decompression too. */
const unsigned = envelopeProtection({
  encryption: { keyId: 'k1', keys: (id) => keys[id], required: false },
  compression: { thresholdBytes: 32, maxDecompressedBytes: 64 * 1024 },
});

const bytesOf = (e: string | Uint8Array): Uint8Array =>
  typeof e === 'string' ? new TextEncoder().encode(e) : e;

/** decode → verify → decrypt → decompress: a HubError or an envelope, nothing else. */
async function pipeline(bytes: Uint8Array): Promise<'ok' | string> {
  let env: Envelope;
  try {
    env = jsonCodec.decode(bytes);
  } catch (err) {
    if (err instanceof HubError) return err.code;
    throw err;
  }
  let code = 'ok';
  for (const p of [protection, unsigned]) {
    try {
      await p.open(env);
    } catch (err) {
      if (!(err instanceof HubError)) throw err;
      code = err.code;
    }
  }
  return code;
}

describe('fuzzed envelopes through decode, verify, decrypt and decompress', () => {
  it('100,000 mutated sealed envelopes: typed errors only, never a crash', async () => {
    const seeds: Uint8Array[] = [];
    for (const body of [{ a: 1 }, 'x'.repeat(200), { nested: [1, 2, { deep: 'y'.repeat(50) }] }]) {
      for (const p of [protection, unsigned]) {
        const message = createMessage({ source: 's', destination: 'd.e', payload: body });
        const event = createEvent({ source: 's', topic: 't.u', type: 'x', data: body });
        seeds.push(
          bytesOf(
            jsonCodec.encode(await p.seal({ ...message, headers: { 'hub-identity': 'me' } })),
          ),
        );
        seeds.push(bytesOf(jsonCodec.encode(await p.seal(event))));
      }
    }
    const text = seeds.map((s) => new TextDecoder().decode(s));
    const mutation = fc.record({
      seed: fc.nat(seeds.length - 1),
      kind: fc.constantFrom('flip', 'insert', 'delete', 'header'),
      at: fc.nat(),
      value: fc.string({ maxLength: 24 }),
      bit: fc.nat(7),
    });
    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(mutation, async ({ seed, kind, at, value, bit }) => {
        let bytes: Uint8Array;
        const base = seeds[seed]!;
        const i = at % base.length;
        if (kind === 'flip') {
          bytes = Uint8Array.from(base);
          bytes[i] = bytes[i]! ^ (1 << bit);
        } else if (kind === 'insert') {
          bytes = new TextEncoder().encode(text[seed]!.slice(0, i) + value + text[seed]!.slice(i));
        } else if (kind === 'delete') {
          bytes = new TextEncoder().encode(
            text[seed]!.slice(0, i) + text[seed]!.slice(i + 1 + (bit % 8)),
          );
        } else {
          const obj = JSON.parse(text[seed]!) as { headers: Record<string, string> };
          const names = ['hub-sig', 'hub-enc', 'hub-iv', 'hub-tag', 'hub-zip', 'hub-identity'];
          obj.headers[names[at % names.length]!] = value;
          bytes = new TextEncoder().encode(JSON.stringify(obj));
        }
        const outcome = await pipeline(bytes);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }),
      {
        numRuns: 100_000,
        seed: 15,
        interruptAfterTimeLimit: 120_000,
        markInterruptAsFailure: true,
      },
    );
    const total = [...outcomes.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(100_000);
    // Most mutations must be caught; the integrity check sees a good share of them.
    expect(outcomes.get('HUB_INTEGRITY_FAILED') ?? 0).toBeGreaterThan(10_000);
  }, 180_000);
});
