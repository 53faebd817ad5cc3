import fc from 'fast-check';
import {
  createEvent,
  createMessage,
  DELIVERY_GUARANTEES,
  type Envelope,
  type Priority,
  type UnifiedEvent,
  type UnifiedMessage,
} from '../src/index.js';

// Built from a string so the linter does not flag the control-character class it must contain.
const HEADER_VALUE_CONTROL = '[\\x00-\\x08\\x0A-\\x1F\\x7F]';
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

/** Every value a payload may hold: JSON plus Date, Uint8Array/Buffer, bigint, undefined; unicode strings. */
export const payloadArb: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 20 }),
    fc.integer(),
    // JSON writes -0 as 0 (documented); keep the property about everything else.
    fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => (Object.is(d, -0) ? 0 : d)),
    fc.boolean(),
    fc.constant(null),
    fc.date({ noInvalidDate: true }),
    fc.uint8Array({ maxLength: 40 }),
    fc.uint8Array({ maxLength: 10 }).map((u) => Buffer.from(u)),
    fc.bigInt(),
    fc.constantFrom('$hub:t', '"$hub:t', '{"$hub:t":"date","v":"x"}'),
  ),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc.array(fc.oneof(tie('node'), fc.constant(undefined)), { maxLength: 5 }),
    fc.dictionary(
      fc.oneof(
        fc.string({ maxLength: 8 }),
        fc.constantFrom('$hub:t', '$hub:t$', '$hub:t$$', '__proto__', 'v'),
      ),
      fc.oneof(tie('node'), fc.constant(undefined)),
      { maxKeys: 5 },
    ),
  ),
})).node;

const address = fc.stringMatching(/^[A-Za-z0-9_.:/@-]{1,40}$/);
const topic = fc
  .array(fc.stringMatching(/^[A-Za-z0-9_:/@-]{1,10}$/), { minLength: 1, maxLength: 5 })
  .map((s) => s.join('.'));
const id = fc.stringMatching(/^[!-~]{1,40}$/);
const headers = fc.dictionary(
  fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}$/),
  fc.string({ maxLength: 40 }).map((s) => s.replace(new RegExp(HEADER_VALUE_CONTROL, 'g'), '')),
  { maxKeys: 8 },
);
const priority = fc.constantFrom<Priority>(1, 2, 3, 4, 5);
const timestamp = fc.integer({ min: 946_684_800_000, max: Date.now() });
const traceparent = fc
  .tuple(hex(32), hex(16), hex(2))
  .filter(([t, p]) => !/^0+$/.test(t) && !/^0+$/.test(p))
  .map(([t, p, f]) => `00-${t}-${p}-${f}`);

export const messageArb: fc.Arbitrary<UnifiedMessage<unknown>> = fc
  .record(
    {
      id,
      timestamp,
      source: address,
      destination: address,
      type: id,
      priority,
      deliveryGuarantee: fc.constantFrom(...DELIVERY_GUARANTEES),
      headers,
      payload: payloadArb,
      correlationId: id,
      replyTo: address,
      partitionKey: fc.string({ minLength: 1, maxLength: 30 }),
      ttlMs: fc.integer({ min: 1, max: 10 ** 10 }),
      traceparent,
    },
    { requiredKeys: ['id', 'timestamp', 'source', 'destination', 'type', 'payload', 'headers'] },
  )
  .chain((input) =>
    fc.integer({ min: 1, max: 50 }).map((attempt) => ({ ...createMessage(input), attempt })),
  );

export const eventArb: fc.Arbitrary<UnifiedEvent<unknown>> = fc
  .record(
    {
      id,
      timestamp,
      source: address,
      type: id,
      topic,
      headers,
      data: payloadArb,
      priority,
      expiresAt: fc.integer({ min: 946_684_800_000, max: 2 ** 45 }),
      traceparent,
    },
    { requiredKeys: ['id', 'timestamp', 'source', 'topic', 'data', 'headers'] },
  )
  .map((input) => createEvent(input));

export const envelopeArb: fc.Arbitrary<Envelope<unknown>> = fc.oneof(messageArb, eventArb);

/**
 * What a decoded envelope must equal: JSON drops `undefined` object
 * properties (and an undefined payload), and binary comes back as Uint8Array.
 */
export function expectedAfterWire(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (value instanceof Date || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(expectedAfterWire);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (v === undefined) continue;
    Object.defineProperty(out, k, {
      value: expectedAfterWire(v),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}
