import {
  createEvent,
  createMessage,
  type Envelope,
  InvalidMessageError,
  isHubError,
  parseEnvelope,
} from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import {
  convertLegacy,
  convertLegacyMessage,
  createLegacyConverter,
  detectLegacyShape,
  EXTENSIONS_HEADER,
  type LegacyShape,
  readExtensions,
  SHAPE_HEADER,
  toLegacy,
  withExtensions,
} from '../../src/index.js';
import { corpus } from './corpus.js';

const SHAPES: Array<[file: string, shape: string | ((f: unknown) => string)]> = [
  ['plain-json', 'plain-json'],
  ['cloudevents', 'cloudevents'],
  ['socket-io', 'socket.io'],
  [
    'moleculer',
    (input) => ('event' in (input as object) ? 'moleculer-event' : 'moleculer-request'),
  ],
  ['bullmq', 'bullmq'],
];

describe('corpus: every fixture is recognised, converted and written back unchanged', () => {
  for (const [file, shapeOf] of SHAPES) {
    describe(file, () => {
      for (const f of corpus(file)) {
        it(f.name, () => {
          const shape = typeof shapeOf === 'string' ? shapeOf : shapeOf(f.input);
          const { shape: seen, envelope } = convertLegacy(f.input);
          expect(seen).toBe(shape);
          expect(envelope.headers[SHAPE_HEADER]).toBe(shape);
          expect(envelope).toMatchObject(f.expect);
          // A valid envelope: any transport can carry it.
          expect(() => parseEnvelope(JSON.parse(JSON.stringify(envelope)))).not.toThrow();
          // The way back, also after a JSON hop (what a transport does to it).
          expect(toLegacy(shape, envelope)).toEqual(f.input);
          const hopped = JSON.parse(JSON.stringify(envelope)) as Envelope;
          if (!(f.input as { data_base64?: string }).data_base64) {
            expect(toLegacy(shape, hopped)).toEqual(f.input);
          }
          // JSON text converts the same way.
          expect(convertLegacy(JSON.stringify(f.input)).shape).toBe(shape);
        });
      }
    });
  }
});

describe('field mapping details', () => {
  it('keeps unknown fields in the extensions header and brings them back', () => {
    const input = { action: 'order.created', body: { n: 1 }, tenant: 'acme', nested: { a: [1] } };
    const env = convertLegacyMessage(input);
    expect(readExtensions(env)).toEqual({ tenant: 'acme', nested: { a: [1] } });
    expect(toLegacy('plain-json', env)).toEqual(input);
  });

  it('control characters and DEL in unknown fields survive the header', () => {
    const input = { type: 't', note: 'a\u007fb\nc\u0000' };
    expect(toLegacy('plain-json', convertLegacyMessage(input))).toEqual(input);
  });

  it('a field named __proto__ is kept as a field', () => {
    const input = JSON.parse('{"type":"t","__proto__":{"polluted":true}}') as object;
    const env = convertLegacyMessage(input);
    const back = toLegacy('plain-json', env) as Record<string, unknown>;
    expect(Object.hasOwn(back, '__proto__')).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(JSON.stringify(back)).toBe(JSON.stringify(input));
  });

  it('epoch seconds, milliseconds and ISO text all become ms', () => {
    const at = (time: unknown) => convertLegacyMessage({ type: 't', timestamp: time }).timestamp;
    expect(at(1733270400)).toBe(1733270400000);
    expect(at(1733270400.25)).toBe(1733270400250);
    expect(at(1733270400123)).toBe(1733270400123);
    expect(at('2024-12-04T00:00:00.000Z')).toBe(1733270400000);
  });

  it('named and numeric priorities', () => {
    const p = (priority: unknown) =>
      (convertLegacyMessage({ type: 't', to: 'x', priority }) as { priority: number }).priority;
    expect([p('low'), p('normal'), p('medium'), p('high'), p('urgent'), p('critical')]).toEqual([
      1, 2, 2, 3, 4, 5,
    ]);
    expect([p(1), p(5), p(0), p(10), p('3')]).toEqual([1, 5, 1, 5, 3]);
  });

  it('hub-made envelopes get the default legacy field names', () => {
    const msg = createMessage({
      source: 'coordinator',
      destination: 'worker',
      type: 'task_assignment',
      payload: { n: 1 },
      id: 'm1',
      timestamp: 1733270400000,
      headers: { 'x-a': '1' },
    });
    expect(toLegacy('plain-json', msg)).toEqual({
      type: 'task_assignment',
      data: { n: 1 },
      from: 'coordinator',
      to: 'worker',
      id: 'm1',
      timestamp: 1733270400000,
      priority: 2,
      headers: { 'x-a': '1' },
    });
    const ev = createEvent({ source: 's', type: 'user_registered', topic: 'users', data: 1 });
    expect(toLegacy('socket.io', ev)).toEqual(['user_registered', 1]);
    expect(toLegacy('moleculer-event', ev)).toMatchObject({ ver: '4', event: 'user_registered' });
    expect(toLegacy('bullmq', msg)).toMatchObject({ name: 'task_assignment', attemptsMade: 0 });
    // A hub CloudEvent round-trips through @hub/protocol's own mapping.
    const ce = toLegacy('cloudevents', msg);
    expect(convertLegacyMessage(ce)).toEqual(msg);
    expect(toLegacy('hub', msg)).toBe(msg);
  });

  it('a Hub envelope passes through as shape "hub"', () => {
    const msg = createMessage({ source: 'a', destination: 'b', payload: 1 });
    expect(convertLegacy(JSON.parse(JSON.stringify(msg)))).toEqual({ shape: 'hub', envelope: msg });
    expect(detectLegacyShape(msg)).toBe('hub');
  });
});

describe('unrecognised or bad input is a typed error naming what is missing', () => {
  const fails = (input: unknown) => {
    try {
      convertLegacyMessage(input);
    } catch (err) {
      expect(err).toBeInstanceOf(InvalidMessageError);
      return err as InvalidMessageError;
    }
    throw new Error('expected a throw');
  };

  it('an object with no type field names every field each shape is recognised by', () => {
    const err = fails({ payload: { a: 1 }, from: 'x' });
    expect(err.code).toBe('HUB_INVALID_MESSAGE');
    expect(err.reason).toBe('missing');
    expect(err.field).toBe('type');
    for (const name of ['type', 'event', 'action', 'message_type', 'specversion', 'ver, sender']) {
      expect(err.message).toContain(name);
    }
  });

  it('arrays, scalars, bad JSON text', () => {
    expect(fails([1, 2]).field).toBe('0');
    expect(fails(42).reason).toBe('wrong_type');
    expect(fails(null).reason).toBe('wrong_type');
    expect(fails('{"type":').reason).toBe('malformed');
  });

  it('a value with no JSON form is refused, not dropped', () => {
    const err = fails({ type: 't', when: new Date(0) });
    expect(err.field).toBe('when');
    expect(fails({ type: 't', n: Number.NaN }).reason).toBe('wrong_type');
    expect(fails({ type: 't', gone: undefined }).field).toBe('gone');
  });

  it('unknown fields too large for a header are refused with the advice to move them', () => {
    const err = fails({ type: 't', blob: 'x'.repeat(9000) });
    expect(err.reason).toBe('too_large');
    expect(err.message).toContain('blob');
  });

  it('toLegacy: unknown shape and shapes that cannot be written back', () => {
    const msg = createMessage({ source: 'a', destination: 'b', payload: 1 });
    expect(() => toLegacy('nope', msg)).toThrow(/unknown shape 'nope'/);
    const c = createLegacyConverter({
      shapes: [{ name: 'one-way', detect: () => false, toEnvelope: () => msg }],
    });
    expect(() => c.toLegacy('one-way', msg)).toThrow(/cannot be written back/);
  });
});

/** A pipe-delimited text format: `LEGACY|<topic>|<type>|<json data>`. */
const pipeShape: LegacyShape<string> = {
  name: 'pipe-text',
  detect: (input) => typeof input === 'string' && input.startsWith('LEGACY|'),
  toEnvelope(line, ctx) {
    const [, topic, type, json] = line.split('|');
    if (topic === undefined || type === undefined || json === undefined) {
      throw new InvalidMessageError('missing', 'type', 'pipe-text needs LEGACY|topic|type|json');
    }
    return createEvent({
      source: ctx.defaultSource,
      topic,
      type,
      data: JSON.parse(json) as unknown,
      id: ctx.newId(),
    });
  },
  fromEnvelope: (env) =>
    env.kind === 'event' ? `LEGACY|${env.topic}|${env.type}|${JSON.stringify(env.data)}` : '',
};

describe('a user-registered custom shape', () => {
  const converter = createLegacyConverter({ shapes: [pipeShape], defaultSource: 'old-system' });

  it('is detected before the built-in shapes, converted and written back', () => {
    for (const f of corpus('custom')) {
      const { shape, envelope } = converter.convert(f.input);
      expect(shape).toBe('pipe-text');
      expect(envelope).toMatchObject({ ...f.expect, source: 'old-system' });
      expect(envelope.headers[SHAPE_HEADER]).toBe('pipe-text');
      expect(converter.toLegacy('pipe-text', envelope)).toBe(f.input);
    }
    // Built-in shapes still work beside it.
    expect(converter.detect({ type: 'x' })).toBe('plain-json');
  });

  it('what it throws reaches the caller as a typed error', () => {
    const bad = createLegacyConverter({
      shapes: [
        {
          name: 'broken',
          detect: () => true,
          toEnvelope: () => {
            throw new TypeError('boom');
          },
        },
      ],
    });
    let err: unknown;
    try {
      bad.convert({});
    } catch (e) {
      err = e;
    }
    expect(isHubError(err)).toBe(true);
    expect((err as Error).message).toContain("shape 'broken' failed: boom");
    // An envelope it builds wrongly is refused like any other.
    const wrong = createLegacyConverter({
      shapes: [{ name: 'wrong', detect: () => true, toEnvelope: () => ({}) as Envelope }],
    });
    expect(() => wrong.convert({})).toThrow(InvalidMessageError);
  });

  it('withExtensions keeps its unknown fields for the way back', () => {
    const env = withExtensions(createEvent({ source: 's', topic: 't', data: 1 }), { extra: [1] });
    expect(JSON.parse(env.headers[EXTENSIONS_HEADER]!)).toEqual({ extra: [1] });
    expect(readExtensions(env)).toEqual({ extra: [1] });
  });

  it('a malformed shape definition is a config error', () => {
    expect(() => createLegacyConverter({ shapes: [{ name: '' } as LegacyShape] })).toThrow(
      /shapes\[0\]/,
    );
  });
});
