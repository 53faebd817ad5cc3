import { isHubError, parseEnvelope } from '@hub/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BUILTIN_SHAPES, convertLegacy, detectLegacyShape, toLegacy } from '../../src/index.js';

// Two promises, for any input at all: conversion returns a valid envelope or
// throws a typed HubError (never a TypeError, never a guess), and a message it
// accepts comes back from toLegacy with every field it had.

const RUNS = { numRuns: 400 };

/** The legacy message as it travels: JSON text (where -0 is 0 and undefined is absent). */
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function convertOrTypedError(input: unknown): ReturnType<typeof convertLegacy> | undefined {
  try {
    const result = convertLegacy(input);
    expect(() => parseEnvelope(result.envelope)).not.toThrow();
    return result;
  } catch (err) {
    if (!isHubError(err)) throw err;
    expect(err.code).toMatch(/^HUB_/);
    return undefined;
  }
}

function roundTrips(input: unknown): boolean {
  const result = convertOrTypedError(input);
  if (result === undefined) return false;
  const back = toLegacy(result.shape, result.envelope);
  expect(asJson(back)).toEqual(asJson(input));
  // After a JSON hop of the envelope too (what every networked transport does).
  const hopped = asJson(result.envelope) as typeof result.envelope;
  expect(asJson(toLegacy(result.shape, hopped))).toEqual(asJson(input));
  return true;
}

const key = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'legacy-keys', 'headers', 'ver'),
);
const json = fc.jsonValue({ maxDepth: 3 });
const extras = fc.dictionary(key, json, { maxKeys: 5 });

/** A value the role may or may not accept: names, numbers, times, junk. */
const roleValue = fc.oneof(
  fc.stringMatching(/^[a-z_][a-z0-9_.]{0,15}$/),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc
    .date({ min: new Date('2001-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
    .map((d) => d.toISOString()),
  fc.integer({ min: 1_000_000_000, max: 1_900_000_000 }),
  fc.constantFrom('low', 'HIGH', 'critical', 'Medium', '3', 0, 9),
  json,
);

const PLAIN_KEYS = [
  'type',
  'event',
  'action',
  'message_type',
  'messageType',
  'event_type',
  'eventType',
  'data',
  'payload',
  'body',
  'from',
  'sender',
  'source',
  'to',
  'recipient',
  'target',
  'destination',
  'id',
  'message_id',
  'messageId',
  'timestamp',
  'ts',
  'time',
  'created_at',
  'createdAt',
  'priority',
  'correlation_id',
  'correlationId',
  'reply_to',
  'replyTo',
  'topic',
  'channel',
  'headers',
];

const plainMessage = fc
  .record({
    typeKey: fc.constantFrom('type', 'event', 'action', 'message_type', 'messageType'),
    type: fc.string({ minLength: 1, maxLength: 30 }),
    known: fc.dictionary(fc.constantFrom(...PLAIN_KEYS), roleValue, { maxKeys: 8 }),
    extras,
  })
  .map(({ typeKey, type, known, extras }) => ({ ...extras, ...known, [typeKey]: type }));

describe('conversion never throws anything but a typed error', () => {
  it('for any value at all', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true, withMap: true, withTypedArray: true }), (v) => {
        convertOrTypedError(v);
      }),
      RUNS,
    );
  });

  it('for any JSON text, and any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          json.map((v) => JSON.stringify(v)),
          fc.string(),
        ),
        (text) => {
          convertOrTypedError(text);
        },
      ),
      RUNS,
    );
  });

  it('for plain JSON objects with any values under the known field names', () => {
    fc.assert(
      fc.property(plainMessage, (m) => void convertOrTypedError(m)),
      RUNS,
    );
  });
});

describe('detection', () => {
  it('names the first built-in shape (in BUILTIN_SHAPES order) whose detect claims the input', () => {
    const candidates = fc.oneof(
      fc.anything(),
      plainMessage,
      fc.record(
        { ver: fc.constant('4'), sender: fc.string(), event: fc.string(), action: fc.string() },
        { requiredKeys: ['ver', 'sender'] },
      ),
      fc.record(
        {
          name: fc.string(),
          data: json,
          opts: json,
          specversion: fc.constant('1.0'),
          type: fc.string(),
        },
        { requiredKeys: ['name', 'data'] },
      ),
    );
    fc.assert(
      // Text and bytes are parsed as JSON first; every other value is what the shapes see.
      fc.property(
        candidates.filter((v) => typeof v !== 'string' && !(v instanceof Uint8Array)),
        (v) => {
          expect(detectLegacyShape(v)).toBe(BUILTIN_SHAPES.find((s) => s.detect(v))?.name);
        },
      ),
      RUNS,
    );
  });
});

describe('conversion never drops a field', () => {
  it('plain JSON: every accepted message comes back unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(plainMessage, (m) => {
        if (roundTrips(m)) accepted++;
      }),
      RUNS,
    );
    // The generator is meant to be mostly valid: a converter refusing everything would pass vacuously.
    expect(accepted).toBeGreaterThan(RUNS.numRuns / 2);
  });

  it('Socket.IO arrays', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.array(json, { maxLength: 4 }),
        (e, args) => {
          expect(roundTrips([e, ...args])).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('Moleculer packets', () => {
    const packet = fc.record({
      ver: fc.constantFrom('4', '5', 4),
      sender: fc.string({ minLength: 1, maxLength: 20 }),
      id: fc.uuid(),
      kind: fc.constantFrom('event', 'action'),
      name: fc.stringMatching(/^[a-z]{1,8}\.[a-z]{1,8}$/),
      body: json,
      meta: json,
      level: fc.integer({ min: 1, max: 5 }),
    });
    fc.assert(
      fc.property(packet, extras, (p, x) => {
        const { kind, name, body, ...rest } = p;
        const m =
          kind === 'event'
            ? { ...x, ...rest, event: name, data: body }
            : { ...x, ...rest, action: name, params: body, requestID: p.id };
        expect(roundTrips(m)).toBe(true);
      }),
      RUNS,
    );
  });

  it('BullMQ jobs', () => {
    const job = fc.record({
      id: fc.oneof(fc.integer({ min: 1 }), fc.stringMatching(/^[0-9a-z-]{1,12}$/)),
      name: fc.string({ minLength: 1, maxLength: 20 }),
      data: json,
      opts: fc.record({ attempts: fc.integer({ min: 1, max: 9 }), delay: fc.nat() }),
      attemptsMade: fc.nat({ max: 9 }),
      timestamp: fc.integer({ min: 1_000_000_000_000, max: 1_900_000_000_000 }),
    });
    fc.assert(
      fc.property(job, extras, (j, x) => void expect(roundTrips({ ...x, ...j })).toBe(true)),
      RUNS,
    );
  });

  it('CloudEvents with extension attributes of any type', () => {
    const ce = fc.record({
      id: fc.string({ minLength: 1, maxLength: 20 }),
      source: fc.string({ minLength: 1, maxLength: 30 }),
      type: fc.string({ minLength: 1, maxLength: 30 }),
      time: fc
        .date({ min: new Date('2001-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString()),
      data: json,
    });
    const ext = fc.dictionary(
      fc.stringMatching(/^[a-gi-z][a-z0-9]{0,10}$/),
      fc.oneof(fc.string(), fc.integer(), fc.boolean()),
      { maxKeys: 4 },
    );
    fc.assert(
      fc.property(ce, ext, (c, e) => {
        const m = { ...e, specversion: '1.0', ...c };
        if (convertOrTypedError(m) !== undefined) roundTrips(m);
      }),
      RUNS,
    );
  });
});
