import { describe, expect, it } from 'vitest';
import {
  createLimits,
  DEFAULT_LIMITS,
  ENVELOPE_VERSION,
  ErrorCode,
  HubError,
  INVALID_REASONS,
  InvalidMessageError,
  isValidTraceparent,
  parseEnvelope,
  parseEvent,
  parseMessage,
  TRACEPARENT_PATTERN,
  validateEnvelope,
  validateEvent,
  validateMessage,
} from '../src/index.js';
import { BAD_INPUTS, buildBad, fullEvent, fullMessage, label, TRACEPARENT } from './fixtures.js';

function rejection(fn: () => unknown): InvalidMessageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    return err as InvalidMessageError;
  }
  throw new Error('expected a rejection, but the input was accepted');
}

describe('parseEnvelope: the bad-input table', () => {
  it.each(BAD_INPUTS.map((row) => [label(row), row] as const))('%s', (_, row) => {
    const err = rejection(() => parseEnvelope(buildBad(row)));
    expect({ code: err.code, reason: err.reason, field: err.field }).toEqual({
      code: ErrorCode.INVALID_MESSAGE,
      reason: row.reason,
      field: row.field,
    });
    expect(err).toBeInstanceOf(HubError);
    expect(err.message).toMatch(/^\[hub:protocol\] invalid envelope: /);
    if (row.field !== '') expect(err.message).toContain(`'${row.field}'`);
  });

  it('covers every rejection reason except the codec-only `malformed`', () => {
    const seen = new Set(BAD_INPUTS.map((r) => r.reason));
    expect(INVALID_REASONS.filter((r) => !seen.has(r))).toEqual(['malformed']);
  });

  it('the same rows are refused by parseMessage / parseEvent with the same reason and field', () => {
    for (const row of BAD_INPUTS) {
      const input = buildBad(row);
      const parse = row.base === 'message' ? parseMessage : parseEvent;
      const err = rejection(() => parse(input));
      expect([label(row), err.reason, err.field]).toEqual([label(row), row.reason, row.field]);
    }
  });
});

describe('parseEnvelope: valid input', () => {
  it('returns the same object, typed, for messages and events', () => {
    const msg = JSON.parse(JSON.stringify(fullMessage())) as unknown;
    expect(parseEnvelope(msg)).toBe(msg);
    expect(parseMessage(msg)).toBe(msg);
    const ev = JSON.parse(JSON.stringify(fullEvent())) as unknown;
    expect(parseEnvelope(ev)).toBe(ev);
    expect(parseEvent(ev)).toBe(ev);
  });

  it('accepts envelopes without any optional field, and without payload/data', () => {
    const msg: Record<string, unknown> = { ...fullMessage() };
    for (const k of [
      'correlationId',
      'replyTo',
      'partitionKey',
      'ttlMs',
      'expiresAt',
      'traceparent',
      'payload',
    ]) {
      delete msg[k];
    }
    expect(parseMessage(msg).payload).toBeUndefined();
    const ev: Record<string, unknown> = { ...fullEvent() };
    for (const k of ['priority', 'expiresAt', 'traceparent', 'data']) delete ev[k];
    expect(parseEvent(ev).data).toBeUndefined();
  });

  it('treats optional fields set to undefined as absent', () => {
    expect(() =>
      parseMessage({ ...fullMessage(), replyTo: undefined, ttlMs: undefined }),
    ).not.toThrow();
  });

  it('ignores unknown extra fields and leaves them in place', () => {
    const msg = { ...fullMessage(), futureField: { x: 1 } };
    expect(parseMessage(msg)).toHaveProperty('futureField', { x: 1 });
  });

  it('accepts every address, topic and id shape the docs promise', () => {
    for (const address of [
      'worker_agent',
      'https://svc.example/orders',
      'agent@host:1',
      'a.b-c_d',
      'x',
    ]) {
      expect(() =>
        parseMessage({ ...fullMessage(), destination: address, source: address }),
      ).not.toThrow();
    }
    for (const topic of ['user_events', 'orders.eu.created', 'a', 'a.b.c.d.e', 'svc:1.ev-t/x@y']) {
      expect(() => parseEvent({ ...fullEvent(), topic })).not.toThrow();
    }
    for (const id of [
      'V1StGXR8_Z5jdHi6B-myT',
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      '01ARZ3NDEKTSV4RRFFQ69G5FAV',
      'ord#1!~',
    ]) {
      expect(() => parseMessage({ ...fullMessage(), id, correlationId: id })).not.toThrow();
    }
  });

  it('accepts payloads of every supported kind', () => {
    const payloads: unknown[] = [
      undefined,
      null,
      0,
      -1.5,
      'text',
      true,
      [],
      {},
      [1, undefined, 'x'],
      new Date(),
      new Uint8Array([1, 2]),
      Buffer.from('hi'),
      10n ** 30n,
      Object.assign(Object.create(null), { a: 1 }),
      { deep: { er: [{ est: 1 }] } },
    ];
    for (const payload of payloads)
      expect(() => parseMessage({ ...fullMessage(), payload })).not.toThrow();
  });

  it('accepts a timestamp a little in the future (clock skew) and exactly at the limits', () => {
    const now = Date.now();
    expect(() => parseMessage({ ...fullMessage(), timestamp: now + 60_000 })).not.toThrow();
    expect(() =>
      parseMessage({ ...fullMessage(), timestamp: DEFAULT_LIMITS.minTimestamp }),
    ).not.toThrow();
    expect(() => parseMessage({ ...fullMessage(), priority: 1, attempt: 1 })).not.toThrow();
    expect(() => parseMessage({ ...fullMessage(), priority: 5, attempt: 99 })).not.toThrow();
  });

  it('counts headers up to the limit, and sizes strings up to the limit', () => {
    const headers = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`h${i}`, 'v'.repeat(8192)]),
    );
    expect(() => parseMessage({ ...fullMessage(), headers })).not.toThrow();
    expect(() =>
      parseMessage({ ...fullMessage(), id: 'a'.repeat(128), source: 's'.repeat(256) }),
    ).not.toThrow();
    expect(() => parseMessage({ ...fullMessage(), payload: 'x'.repeat(1_048_000) })).not.toThrow();
  });
});

describe('kind dispatch', () => {
  it('parseMessage refuses an event and parseEvent refuses a message (unknown_kind)', () => {
    expect(rejection(() => parseMessage(fullEvent()))).toMatchObject({
      reason: 'unknown_kind',
      field: 'kind',
    });
    expect(rejection(() => parseEvent(fullMessage()))).toMatchObject({
      reason: 'unknown_kind',
      field: 'kind',
    });
  });

  it('checks the version before anything else, so a future envelope is named as such', () => {
    const future = { version: ENVELOPE_VERSION + 1, kind: 'telegram', whatever: true };
    const err = rejection(() => parseEnvelope(future));
    expect(err).toMatchObject({ reason: 'unsupported_version', field: 'version' });
    expect(err.message).toContain(`up to ${ENVELOPE_VERSION}`);
  });
});

describe('validate*', () => {
  it('accept valid typed values and throw the same errors as parse*', () => {
    expect(() => validateMessage(fullMessage())).not.toThrow();
    expect(() => validateEvent(fullEvent())).not.toThrow();
    expect(() => validateEnvelope(fullEvent())).not.toThrow();
    const bad = { ...fullMessage(), priority: 7 as 5 };
    expect(rejection(() => validateMessage(bad))).toMatchObject({
      reason: 'out_of_range',
      field: 'priority',
    });
    expect(rejection(() => validateEvent({ ...fullEvent(), topic: 'a..b' }))).toMatchObject({
      reason: 'bad_format',
      field: 'topic',
    });
  });
});

describe('limits', () => {
  it('createLimits overrides defaults and is frozen', () => {
    const limits = createLimits({ maxHeaders: 2, maxPayloadBytes: 100 });
    expect(limits).toMatchObject({ ...DEFAULT_LIMITS, maxHeaders: 2, maxPayloadBytes: 100 });
    expect(Object.isFrozen(limits)).toBe(true);
    expect(Object.isFrozen(DEFAULT_LIMITS)).toBe(true);
  });

  it('createLimits refuses nonsense with HUB_INVALID_CONFIG', () => {
    for (const bad of [
      { maxHeaders: -1 },
      { maxHeaders: 1.5 },
      { maxHeaders: Number.NaN },
      { nope: 1 },
    ]) {
      expect(() => createLimits(bad as never)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
      );
    }
  });

  it('every limit is enforced by the validator, at its exact boundary', () => {
    const base = fullMessage();
    const cases: [
      Partial<Record<keyof typeof DEFAULT_LIMITS, number>>,
      Record<string, unknown>,
      string,
      string,
    ][] = [
      [{ maxPayloadBytes: 50 }, { payload: 'x'.repeat(60) }, 'payload', 'too_large'],
      [{ maxPayloadDepth: 2 }, { payload: [[[1]]] }, 'payload', 'too_deep'],
      [{ maxHeaders: 1 }, { headers: { a: '1', b: '2' } }, 'headers', 'too_many'],
      [{ maxHeaderKeyLength: 3 }, { headers: { abcd: '1' } }, 'headers.abcd', 'too_large'],
      [{ maxHeaderValueLength: 3 }, { headers: { a: '1234' } }, 'headers.a', 'too_large'],
      [{ maxAddressLength: 20 }, { destination: 'd'.repeat(21) }, 'destination', 'too_large'],
      [{ maxIdLength: 21 }, { correlationId: 'c'.repeat(22) }, 'correlationId', 'too_large'],
      [{ maxTypeLength: 5 }, { type: 'abcdef' }, 'type', 'too_large'],
      [{ maxPartitionKeyLength: 5 }, { partitionKey: 'abcdef' }, 'partitionKey', 'too_large'],
      [{ minTimestamp: Date.now() + 1000 }, {}, 'timestamp', 'out_of_range'],
      [{ maxClockSkewMs: 0 }, { timestamp: Date.now() + 60_000 }, 'timestamp', 'out_of_range'],
    ];
    for (const [overrides, patch, field, reason] of cases) {
      const limits = createLimits(overrides);
      expect(() => parseMessage({ ...base, ...patch }), field).not.toThrow();
      const err = rejection(() => parseMessage({ ...base, ...patch }, limits));
      expect([field, err.reason]).toEqual([err.field, reason]);
    }
  });

  it('measures payload strings in UTF-8 bytes once they could matter', () => {
    const limits = createLimits({ maxPayloadBytes: 1000 });
    expect(() =>
      parseMessage({ ...fullMessage(), payload: 'a'.repeat(990) }, limits),
    ).not.toThrow();
    // 400 chars but 1200 bytes
    expect(
      rejection(() => parseMessage({ ...fullMessage(), payload: '€'.repeat(400) }, limits)).reason,
    ).toBe('too_large');
  });

  it('stops a cyclic payload with too_deep instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(rejection(() => parseMessage({ ...fullMessage(), payload: cyclic }))).toMatchObject({
      reason: 'too_deep',
    });
  });
});

describe('repeated addresses and types (validator cache)', () => {
  it("a value that passed is still held to a stricter codec's limits", () => {
    const long = `orders.${'x'.repeat(30)}`;
    const ok = { ...fullMessage(), source: long, destination: long, type: `t.${'y'.repeat(30)}` };
    expect(() => parseEnvelope(ok)).not.toThrow();
    expect(() => parseEnvelope(ok)).not.toThrow();
    const strict = createLimits({ maxAddressLength: 20, maxTypeLength: 20 });
    expect(rejection(() => parseEnvelope(ok, strict))).toMatchObject({
      field: 'source',
      reason: 'too_large',
    });
    const typeOnly = { ...fullMessage(), type: ok.type };
    expect(rejection(() => parseEnvelope(typeOnly, strict))).toMatchObject({
      field: 'type',
      reason: 'too_large',
    });
  });

  it('only the same text is let through: a near miss after a pass is refused', () => {
    const good = { ...fullMessage(), source: 'svc.a', destination: 'svc.b', type: 'order.created' };
    expect(() => parseEnvelope(good)).not.toThrow();
    for (const [field, value] of [
      ['source', 'svc a'],
      ['destination', 'svc.b '],
      ['type', 'order created'],
      ['destination', ''],
    ] as const) {
      expect(rejection(() => parseEnvelope({ ...good, [field]: value }))).toMatchObject({
        field,
        reason: 'bad_format',
      });
      // The good values still pass right after a refusal, and a refused value stays refused.
      expect(() => parseEnvelope(good)).not.toThrow();
      expect(rejection(() => parseEnvelope({ ...good, [field]: value }))).toMatchObject({ field });
    }
  });

  it('a type that passed is not taken as an address (the character sets differ)', () => {
    const typed = { ...fullMessage(), type: 'order#created' };
    expect(() => parseEnvelope(typed)).not.toThrow();
    expect(rejection(() => parseEnvelope({ ...typed, source: 'order#created' }))).toMatchObject({
      field: 'source',
      reason: 'bad_format',
    });
  });
});

describe('traceparent', () => {
  it('the fast check agrees with TRACEPARENT_PATTERN (what the schema publishes)', () => {
    const re = new RegExp(TRACEPARENT_PATTERN);
    const hex = '0123456789abcdef';
    const samples = [
      TRACEPARENT,
      `${TRACEPARENT}x`,
      TRACEPARENT.replace('-', '_'),
      `ff${TRACEPARENT.slice(2)}`,
      `fe${TRACEPARENT.slice(2)}`,
    ];
    let seed = 7;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 2000; i++) {
      const chars = TRACEPARENT.split('');
      const n = 1 + Math.floor(rand() * 3);
      for (let j = 0; j < n; j++) {
        const at = Math.floor(rand() * chars.length);
        chars[at] = rand() < 0.8 ? hex[Math.floor(rand() * 16)]! : 'G-0 '[Math.floor(rand() * 4)]!;
      }
      samples.push(chars.join(''));
      samples.push(`00-${'0'.repeat(32)}-${chars.join('').slice(36)}`);
      samples.push(`${chars.join('').slice(0, 36)}${'0'.repeat(16)}-01`);
    }
    for (const s of samples) expect([s, isValidTraceparent(s)]).toEqual([s, re.test(s)]);
    expect(isValidTraceparent(42)).toBe(false);
  });
});
