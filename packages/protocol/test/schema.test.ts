import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildEnvelopeSchema,
  createLimits,
  EVENT_FIELDS,
  InvalidMessageError,
  jsonCodec,
  MESSAGE_FIELDS,
  parseEnvelope,
} from '../src/index.js';
import { BAD_INPUTS, buildBad, fullEvent, fullMessage, label, RULE_BAD } from './fixtures.js';

const committed = JSON.parse(
  readFileSync(new URL('../schema/envelope.schema.json', import.meta.url), 'utf8'),
) as unknown;

const ajv = new Ajv2020({ strict: true, allErrors: false });
const validate = ajv.compile(buildEnvelopeSchema());
const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

function validatorAccepts(input: unknown): boolean {
  try {
    parseEnvelope(input);
    return true;
  } catch (err) {
    if (err instanceof InvalidMessageError) return false;
    throw err;
  }
}

describe('JSON Schema', () => {
  it('the committed schema/envelope.schema.json is what buildEnvelopeSchema() produces (run `pnpm gen:schema`)', () => {
    expect(committed).toEqual(buildEnvelopeSchema());
  });

  it('is a valid draft 2020-12 schema under ajv strict mode', () => {
    expect(ajv.validateSchema(buildEnvelopeSchema())).toBe(true);
  });

  it('lists exactly the table fields, with the same required set', () => {
    const defs = buildEnvelopeSchema().$defs as Record<
      string,
      { properties: object; required: string[] }
    >;
    for (const [name, table] of [
      ['message', MESSAGE_FIELDS],
      ['event', EVENT_FIELDS],
    ] as const) {
      expect(Object.keys(defs[name]!.properties)).toEqual(table.map((f) => f.name));
      expect(defs[name]!.required).toEqual(table.filter((f) => f.required).map((f) => f.name));
    }
  });

  it('accepts valid envelopes, including encoded special values and minimal ones', () => {
    const samples = [
      fullMessage(),
      fullEvent(),
      { ...fullMessage(), payload: undefined, traceparent: undefined, ttlMs: undefined },
      JSON.parse(
        jsonCodec.encode({
          ...fullMessage(),
          payload: { d: new Date(), b: new Uint8Array(3), n: 5n },
        }),
      ),
    ];
    for (const s of samples)
      expect(validate(asJson(s)), JSON.stringify(validate.errors)).toBe(true);
  });

  it.each(BAD_INPUTS.filter((r) => !r.runtimeOnly).map((r) => [label(r), r] as const))(
    'refuses %s',
    (_, row) => {
      expect(validate(asJson(buildBad(row)))).toBe(false);
    },
  );

  it('refuses, for every field of every table, the value the validator refuses', () => {
    for (const [make, table] of [
      [fullMessage, MESSAGE_FIELDS],
      [fullEvent, EVENT_FIELDS],
    ] as const) {
      for (const spec of table) {
        if (spec.rule === 'payload') continue; // no JSON value is a bad payload
        const bad: Record<string, unknown> = { ...make(), [spec.name]: RULE_BAD[spec.rule][0] };
        expect([spec.name, validate(asJson(bad))]).toEqual([spec.name, false]);
        if (spec.required) {
          const absent: Record<string, unknown> = { ...make() };
          delete absent[spec.name];
          expect([spec.name, validate(asJson(absent))]).toEqual([spec.name, false]);
        }
      }
    }
  });

  it('agrees with the validator on random field values (property)', () => {
    const names = [...new Set([...MESSAGE_FIELDS, ...EVENT_FIELDS].map((f) => f.name))].filter(
      (n) => n !== 'payload' && n !== 'data', // payload limits are runtime-only
    );
    const nearValid = fc.constantFrom(
      '',
      'a',
      'a b',
      'orders.eu',
      'a..b',
      'x-y',
      'message',
      'event',
      'ordered',
      'best-effort',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      0,
      1,
      2,
      5,
      6,
      -1,
      1.5,
      1_700_000_000_000,
      946_684_800_000,
      946_684_799_999,
      { a: 'b' },
      { 'a b': 'c' },
      { a: 1 },
      {},
      [],
      null,
      true,
    );
    const value = fc.oneof(nearValid, fc.jsonValue({ maxDepth: 2 }), fc.string({ maxLength: 300 }));
    const now = Date.now();
    fc.assert(
      fc.property(fc.boolean(), fc.constantFrom(...names), value, (isMessage, name, v) => {
        // the clock-skew rule is runtime-only
        if (name === 'timestamp' && typeof v === 'number' && v > now) return;
        const env: Record<string, unknown> = {
          ...(isMessage ? fullMessage() : fullEvent()),
          [name]: v,
        };
        const json = asJson(env);
        expect([name, v, validate(json)]).toEqual([name, v, validatorAccepts(json)]);
      }),
      { numRuns: 3000 },
    );
  });

  it('renders custom limits', () => {
    const schema = buildEnvelopeSchema(createLimits({ maxHeaders: 3, maxIdLength: 10 })) as {
      $defs: { headers: { maxProperties: number }; id: { maxLength: number } };
    };
    expect(schema.$defs.headers.maxProperties).toBe(3);
    expect(schema.$defs.id.maxLength).toBe(10);
  });
});
