// The field tables are the single source of the wire format. These tests
// derive their cases from the tables, so a field added to a table but not to
// the hand-written validator (or the other way round) fails here.
import { describe, expect, it } from 'vitest';
import {
  EVENT_FIELDS,
  type FieldSpec,
  InvalidMessageError,
  MESSAGE_FIELDS,
  parseEnvelope,
} from '../src/index.js';
import { fullEvent, fullMessage, RULE_BAD } from './fixtures.js';

function reasonOf(input: unknown): [string, string] | 'ok' {
  try {
    parseEnvelope(input);
    return 'ok';
  } catch (err) {
    if (!(err instanceof InvalidMessageError)) throw err;
    return [err.reason, err.field.split('.')[0]!];
  }
}

const tables: [string, readonly FieldSpec[], () => Record<string, unknown>][] = [
  ['message', MESSAGE_FIELDS, () => ({ ...fullMessage() })],
  ['event', EVENT_FIELDS, () => ({ ...fullEvent() })],
];

describe.each(tables)('%s field table', (_, fields, make) => {
  it('names exactly the fields a fully populated factory envelope has', () => {
    expect(fields.map((f) => f.name).sort()).toEqual(Object.keys(make()).sort());
  });

  it.each(fields.map((f) => [f.name, f] as const))(
    '%s: required-ness and rule are enforced',
    (name, spec) => {
      const absent = make();
      delete absent[name];
      expect(reasonOf(absent)).toEqual(spec.required ? ['missing', name] : 'ok');

      const [badValue, reason] = RULE_BAD[spec.rule];
      const bad = make();
      bad[name] = badValue;
      expect(reasonOf(bad)).toEqual([reason, name]);

      if (spec.rule !== 'payload') {
        const wrongType = make();
        wrongType[name] = true;
        expect(reasonOf(wrongType)).toEqual(['wrong_type', name]);
      }
    },
  );
});
