import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createMessage,
  createReply,
  decodeReplyFrame,
  ErrorCode,
  encodeReplyFrame,
  InvalidMessageError,
  isReplyFrame,
  jsonCodec,
  REPLY_FRAME_VERSION,
  type UnifiedMessage,
} from '../../src/index.js';
import { expectedAfterWire, messageArb } from '../arbitraries.js';

function rejection(fn: () => unknown): InvalidMessageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    return err as InvalidMessageError;
  }
  throw new Error('expected a rejection, but the input was accepted');
}

const request = createMessage({
  source: 'caller',
  destination: 'svc.echo',
  payload: { q: 1 },
  deliveryGuarantee: 'best-effort',
  correlationId: 'req-1',
  replyTo: '_inbox.abc',
});
const payload = { when: new Date(1_700_000_000_000), bytes: new Uint8Array([1, 2, 3]), n: 7n };
const reply = createReply(request, { payload });

describe('reply frames', () => {
  it('decode to the envelope the full form decodes to, special payload values included', () => {
    const frame = encodeReplyFrame(reply);
    expect(frame).toBeDefined();
    expect(isReplyFrame(frame!)).toBe(true);
    expect(isReplyFrame(jsonCodec.encode(reply))).toBe(false);
    expect(frame!.length).toBeLessThan(jsonCodec.encode(reply).length);
    expect(decodeReplyFrame(frame!)).toEqual(jsonCodec.decode(jsonCodec.encode(reply)));
  });

  it('carry a type and a priority other than the defaults, and an absent payload', () => {
    const r = createReply({ ...request, priority: 4 }, { payload: undefined, type: 'done' });
    const back = decodeReplyFrame(encodeReplyFrame(r)!);
    expect(back).toEqual(jsonCodec.decode(jsonCodec.encode(r)));
    expect(back.type).toBe('done');
    expect(back.priority).toBe(4);
    expect('payload' in back).toBe(false);
  });

  it('every message a frame takes round-trips as the full form does (property)', () => {
    fc.assert(
      fc.property(messageArb, (msg) => {
        const m = { ...msg, deliveryGuarantee: 'best-effort', attempt: 1, headers: {} };
        for (const k of ['replyTo', 'partitionKey', 'ttlMs', 'expiresAt', 'traceparent'])
          delete (m as Record<string, unknown>)[k];
        const frame = encodeReplyFrame(m as UnifiedMessage);
        if (m.correlationId === undefined) expect(frame).toBeUndefined();
        else expect(decodeReplyFrame(frame!)).toEqual(expectedAfterWire(m));
      }),
      { numRuns: 300 },
    );
  });

  it('are not made for a message the frame cannot carry whole', () => {
    const cases: Array<[string, UnifiedMessage]> = [
      ['headers', { ...reply, headers: { 'x-tenant': 'a' } }],
      [
        'traceparent',
        { ...reply, traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
      ],
      ['at-least-once', { ...reply, deliveryGuarantee: 'at-least-once' }],
      ['replyTo', { ...reply, replyTo: 'x' }],
      ['a redelivery', { ...reply, attempt: 2 }],
      ['no correlationId', { ...reply, correlationId: undefined } as unknown as UnifiedMessage],
      ['expiresAt', { ...reply, expiresAt: Date.now() + 1000 }],
      ['a field the protocol does not know', { ...reply, extra: 1 } as UnifiedMessage],
    ];
    for (const [what, m] of cases) expect(encodeReplyFrame(m), what).toBeUndefined();
    // A field left undefined (by an untyped caller) is left out by the full form too: the frame still fits.
    const unset = { ...reply, replyTo: undefined } as unknown as UnifiedMessage;
    expect(encodeReplyFrame(unset)).toBeDefined();
  });

  it('check the payload as the JSON codec does when encoding', () => {
    const err = rejection(() => encodeReplyFrame({ ...reply, payload: { f: () => 1 } }));
    expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    expect(err.field).toMatch(/^payload/);
  });

  it('refuse bad frames with a typed error naming the field', () => {
    const good = JSON.parse(encodeReplyFrame(reply)!) as Record<string, unknown>;
    const text = (patch: Record<string, unknown>) => JSON.stringify({ ...good, ...patch });
    const cases: Array<[string, string, string]> = [
      ['{"f":"reply",', 'malformed', ''],
      [text({ v: REPLY_FRAME_VERSION + 1 }), 'unsupported_version', 'v'],
      [text({ v: '1' }), 'wrong_type', 'v'],
      [text({ c: undefined }), 'missing', 'correlationId'],
      [text({ s: 'not an address!' }), 'bad_format', 'source'],
      [text({ t: 'yesterday' }), 'wrong_type', 'timestamp'],
      [text({ i: 5 }), 'wrong_type', 'id'],
      [text({ r: 9 }), 'out_of_range', 'priority'],
    ];
    for (const [input, reason, field] of cases) {
      const err = rejection(() => decodeReplyFrame(input));
      expect({ reason: err.reason, field: err.field }, input).toEqual({ reason, field });
      expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
    }
  });
});
