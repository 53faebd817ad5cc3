import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type Codec,
  createJsonCodec,
  createLimits,
  createMessage,
  ErrorCode,
  InvalidMessageError,
  jsonCodec,
  TAG_KEY,
} from '../../src/index.js';
import { envelopeArb, eventArb, expectedAfterWire, messageArb } from '../arbitraries.js';
import { fullEvent, fullMessage } from '../fixtures.js';

/** Every codec the package ships; each one gets the same properties. */
const CODECS: Codec[] = [jsonCodec];
const encoder = new TextEncoder();

function rejection(fn: () => unknown): InvalidMessageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    return err as InvalidMessageError;
  }
  throw new Error('expected a rejection, but the input was accepted');
}

describe.each(CODECS.map((c) => [c.name, c] as const))(
  '%s codec: round trips (property)',
  (_, codec) => {
    it('messages survive encode → decode, special values included', () => {
      fc.assert(
        fc.property(messageArb, (msg) => {
          expect(codec.decode(codec.encode(msg))).toEqual(expectedAfterWire(msg));
        }),
        { numRuns: 300 },
      );
    });

    it('events survive encode → decode, special values included', () => {
      fc.assert(
        fc.property(eventArb, (ev) => {
          expect(codec.decode(codec.encode(ev))).toEqual(expectedAfterWire(ev));
        }),
        { numRuns: 300 },
      );
    });

    it('decoding bytes equals decoding text, and re-encoding is stable', () => {
      fc.assert(
        fc.property(envelopeArb, (env) => {
          const wire = codec.encode(env);
          const bytes = typeof wire === 'string' ? encoder.encode(wire) : wire;
          const decoded = codec.decode(bytes);
          expect(decoded).toEqual(codec.decode(wire));
          expect(codec.encode(decoded)).toEqual(wire);
        }),
        { numRuns: 200 },
      );
    });

    it('types survive: Date, Uint8Array (Buffer in, Uint8Array out), bigint, undefined array slots', () => {
      const payload = {
        at: new Date('2024-02-29T12:34:56.789Z'),
        bytes: Buffer.from([0, 255, 10]),
        big: -(2n ** 100n),
        list: [undefined, 1, undefined],
        nested: [{ deep: [new Date(0)] }],
        gone: undefined,
      };
      const out = codec.decode(
        codec.encode(createMessage({ source: 'a', destination: 'b', payload })),
      );
      const p = (out as { payload: typeof payload }).payload;
      expect(p.at).toBeInstanceOf(Date);
      expect(p.at.toISOString()).toBe('2024-02-29T12:34:56.789Z');
      expect(p.bytes).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(p.bytes)).toBe(false);
      expect([...p.bytes]).toEqual([0, 255, 10]);
      expect(p.big).toBe(-(2n ** 100n));
      expect(p.list).toHaveLength(3);
      expect(0 in p.list && p.list[0] === undefined).toBe(true);
      expect('gone' in p).toBe(false);
      expect(p.nested[0]!.deep[0]).toEqual(new Date(0));
    });

    it('top-level special payloads and an undefined payload', () => {
      for (const payload of [new Date(5), new Uint8Array([1]), 7n, undefined, null, 'text', 0]) {
        const out = codec.decode(
          codec.encode(createMessage({ source: 'a', destination: 'b', payload })),
        );
        expect(out.kind === 'message' && out.payload).toEqual(
          payload === undefined ? undefined : payload,
        );
      }
    });
  },
);

describe('json codec: wire form', () => {
  it('plain payloads are exactly JSON.stringify of the envelope (no tags, no cost)', () => {
    const msg = fullMessage();
    expect(jsonCodec.encode(msg)).toBe(JSON.stringify(msg));
    expect(jsonCodec.encode(msg)).not.toContain(TAG_KEY);
    expect(jsonCodec.contentType).toBe('application/json');
  });

  it('writes the documented tag objects', () => {
    const wire = JSON.parse(
      jsonCodec.encode({
        ...fullEvent(),
        data: [new Date(0), new Uint8Array([1, 2, 3]), 10n, undefined],
      }),
    ) as { data: unknown };
    expect(wire.data).toEqual([
      { [TAG_KEY]: 'date', v: '1970-01-01T00:00:00.000Z' },
      { [TAG_KEY]: 'bytes', v: 'AQID' },
      { [TAG_KEY]: 'bigint', v: '10' },
      { [TAG_KEY]: 'undefined' },
    ]);
  });

  it('escapes application keys that look like the tag key, so a payload cannot forge a tag', () => {
    const data = { [TAG_KEY]: 'date', v: 'not a date', [`${TAG_KEY}$`]: 1 };
    const text = jsonCodec.encode({ ...fullEvent(), data });
    expect(JSON.parse(text).data).toEqual({
      [`${TAG_KEY}$`]: 'date',
      v: 'not a date',
      [`${TAG_KEY}$$`]: 1,
    });
    expect(jsonCodec.decode(text)).toMatchObject({ data });
  });

  it('keeps a "__proto__" key as data, never as a prototype', () => {
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "d": 1}') as Record<
      string,
      unknown
    >;
    payload.when = new Date(0); // force the tagging path
    const out = jsonCodec.decode(jsonCodec.encode({ ...fullMessage(), payload })) as {
      payload: object;
    };
    expect(Object.getPrototypeOf(out.payload)).toBe(Object.prototype);
    expect(Object.hasOwn(out.payload, '__proto__')).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });
});

describe('json codec: refusals', () => {
  const good = jsonCodec.encode(fullMessage());
  const cases: [string, string | Uint8Array, string, string][] = [
    ['empty input', '', 'malformed', ''],
    ['truncated JSON', good.slice(0, good.length - 5), 'malformed', ''],
    ['not JSON at all', 'hello', 'malformed', ''],
    ['invalid UTF-8 bytes', new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), 'malformed', ''],
    ['a JSON array', '[1,2]', 'wrong_type', ''],
    ['a JSON string', '"message"', 'wrong_type', ''],
    ['JSON null', 'null', 'wrong_type', ''],
    [
      'a future version',
      good.replace('"version":1', '"version":2'),
      'unsupported_version',
      'version',
    ],
    [
      'a missing field',
      good.replace('"destination":"worker_agent",', ''),
      'missing',
      'destination',
    ],
    [
      'an unknown tag',
      good.replace('"ok":true', `"ok":{"${TAG_KEY}":"regexp","v":"x"}`),
      'bad_format',
      'payload.nested.ok',
    ],
    [
      'a bad date tag',
      good.replace('"ok":true', `"ok":{"${TAG_KEY}":"date","v":"yesterday"}`),
      'bad_format',
      'payload.nested.ok',
    ],
    [
      'a bad bytes tag',
      good.replace('"sizes":[1,2,3]', `"sizes":[1,{"${TAG_KEY}":"bytes","v":"!!"}]`),
      'bad_format',
      'payload.sizes.1',
    ],
    [
      'a bad bigint tag',
      good.replace('"sizes":[1,2,3]', `"sizes":{"${TAG_KEY}":"bigint","v":"1e3"}`),
      'bad_format',
      'payload.sizes',
    ],
    [
      'a tag without value',
      good.replace('"ok":true', `"ok":{"${TAG_KEY}":"bigint"}`),
      'bad_format',
      'payload.nested.ok',
    ],
  ];
  it.each(cases)('%s', (_, input, reason, field) => {
    const err = rejection(() => jsonCodec.decode(input));
    expect([err.code, err.reason, err.field]).toEqual([ErrorCode.INVALID_MESSAGE, reason, field]);
  });

  it('refuses input over maxEnvelopeBytes before parsing it, as text and as bytes', () => {
    const codec = createJsonCodec({ limits: createLimits({ maxEnvelopeBytes: 100 }) });
    const big = `{"pad":"${'x'.repeat(200)}"}`;
    expect(rejection(() => codec.decode(big))).toMatchObject({ reason: 'too_large', field: '' });
    expect(rejection(() => codec.decode(encoder.encode(big)))).toMatchObject({
      reason: 'too_large',
      field: '',
    });
    expect(rejection(() => jsonCodec.decode(`"${'x'.repeat(1_200_000)}"`))).toMatchObject({
      reason: 'too_large',
    });
  });

  it('applies its limits to every field after parsing', () => {
    const codec = createJsonCodec({ limits: createLimits({ maxHeaders: 1 }) });
    expect(rejection(() => codec.decode(good))).toMatchObject({
      reason: 'too_many',
      field: 'headers',
    });
  });

  it('refuses a non-string, non-bytes input', () => {
    expect(rejection(() => jsonCodec.decode(42 as unknown as string))).toMatchObject({
      reason: 'wrong_type',
      field: '',
    });
  });

  it('encode refuses payload values no codec can carry, naming the path', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const cases: [unknown, string, string][] = [
      [{ f: () => 1 }, 'wrong_type', 'payload.f'],
      [[new Map()], 'wrong_type', 'payload.0'],
      [{ n: Number.NaN }, 'out_of_range', 'payload.n'],
      [[1, 2, Number.POSITIVE_INFINITY], 'out_of_range', 'payload.2'],
      [{ a: [0, { b: [Number.NEGATIVE_INFINITY] }] }, 'out_of_range', 'payload.a.1.b.0'],
      [{ s: 'ok', n: 1, f: Symbol('x') }, 'wrong_type', 'payload.f'],
      [cyclic, 'too_deep', 'payload'],
      [{ d: new Date(Number.NaN) }, 'bad_format', 'payload.d'],
    ];
    for (const [payload, reason, field] of cases) {
      const err = rejection(() => jsonCodec.encode({ ...fullMessage(), payload }));
      expect([err.reason, err.field]).toEqual([reason, field]);
    }
    expect(rejection(() => jsonCodec.encode({ ...fullEvent(), data: Symbol('x') }))).toMatchObject({
      field: 'data',
    });
  });
});
