import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type CloudEventObject,
  createEvent,
  createLimits,
  type Envelope,
  fromCloudEvent,
  fromCloudEventHttp,
  InvalidMessageError,
  jsonCodec,
  parseEnvelope,
  toCloudEvent,
  toCloudEventHttp,
} from '../src/index.js';
import { envelopeArb, expectedAfterWire } from './arbitraries.js';
import { fullEvent, fullMessage, TRACEPARENT } from './fixtures.js';

function rejection(fn: () => unknown): InvalidMessageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidMessageError);
    return err as InvalidMessageError;
  }
  throw new Error('expected a rejection, but the input was accepted');
}

// The SDK's HTTP binary mode writes a top-level string/number/boolean body
// unquoted, drops falsy ones and turns null into "null" (cloudevents 10):
// only objects and arrays survive it.
const sdkBinarySafe = (env: Envelope): boolean => {
  const body = env.kind === 'message' ? env.payload : env.data;
  if (body instanceof Uint8Array) return body.byteLength > 0; // and it drops empty binary data
  return body === undefined || (typeof body === 'object' && body !== null);
};

describe('toCloudEvent / fromCloudEvent', () => {
  it('round-trips every envelope (property)', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        expect(fromCloudEvent(toCloudEvent(env))).toEqual(expectedAfterWire(env));
      }),
      { numRuns: 300 },
    );
  });

  it('maps the documented attributes and extensions', () => {
    const msg = fullMessage();
    const ce = toCloudEvent(msg);
    expect(ce).toMatchObject({
      specversion: '1.0',
      id: msg.id,
      source: 'api_gateway',
      type: 'task_assignment',
      time: new Date(msg.timestamp).toISOString(),
      datacontenttype: 'application/json',
      data: msg.payload,
      hubkind: 'message',
      hubversion: 1,
      hubdestination: 'worker_agent',
      hubpriority: 2,
      hubguarantee: 'at-least-once',
      hubattempt: 1,
      hubcorrelationid: 'conv-1',
      hubreplyto: 'api_gateway.replies',
      hubpartitionkey: 'user:42',
      hubttlms: '60000',
      hubexpiresat: new Date(msg.expiresAt!).toISOString(),
      traceparent: TRACEPARENT,
      hubheaders: JSON.stringify(msg.headers),
    });
    expect(toCloudEvent(fullEvent())).toMatchObject({
      hubkind: 'event',
      hubtopic: 'orders.eu.created',
      hubpriority: 3,
    });
    const bin = toCloudEvent(
      createEvent({ source: 's', topic: 't', data: new Uint8Array([1, 2]) }),
    );
    expect(bin).toMatchObject({ datacontenttype: 'application/octet-stream', data_base64: 'AQI=' });
    expect(bin).not.toHaveProperty('data');
    expect(toCloudEvent({ ...fullMessage(), payload: undefined })).not.toHaveProperty(
      'datacontenttype',
    );
    // every extension name is CloudEvents-legal: lowercase alphanumeric, at most 20 chars
    for (const key of Object.keys(ce)) expect(key).toMatch(/^([a-z0-9]{1,20}|data_base64)$/);
  });
});

describe('events we emit parse in the cloudevents SDK', () => {
  it('new CloudEvent(...) accepts them in strict mode and they come back unchanged (property)', () => {
    fc.assert(
      fc.property(envelopeArb, (env) => {
        const sdk = new CloudEvent(
          toCloudEvent(env) as ConstructorParameters<typeof CloudEvent>[0],
        );
        expect(sdk.validate()).toBe(true);
        expect(fromCloudEvent(sdk)).toEqual(expectedAfterWire(env));
      }),
      { numRuns: 150 },
    );
  });

  it('through the SDK HTTP binary and structured modes (property)', () => {
    fc.assert(
      fc.property(envelopeArb.filter(sdkBinarySafe), (env) => {
        const sdk = new CloudEvent(
          toCloudEvent(env) as ConstructorParameters<typeof CloudEvent>[0],
        );
        for (const message of [HTTP.binary(sdk), HTTP.structured(sdk)]) {
          const back = HTTP.toEvent(message) as CloudEvent<unknown>;
          expect(fromCloudEvent(back)).toEqual(expectedAfterWire(env));
        }
      }),
      { numRuns: 100 },
    );
  });

  it('our HTTP helpers produce requests the SDK reads, in both modes', () => {
    for (const env of [
      fullMessage(),
      fullEvent(),
      createEvent({ source: 's', topic: 'bin', data: new Uint8Array([7, 8]) }),
    ]) {
      for (const mode of ['binary', 'structured'] as const) {
        const { headers, body } = toCloudEventHttp(env, mode);
        const sdk = HTTP.toEvent({
          headers,
          body: typeof body === 'string' ? body : Buffer.from(body),
        }) as CloudEvent<unknown>;
        expect(sdk.id).toBe(env.id);
        expect(sdk.type).toBe(env.type);
        expect(sdk.source).toBe(env.source);
        expect(sdk.specversion).toBe('1.0');
        expect([mode, fromCloudEvent(sdk)]).toEqual([mode, expectedAfterWire(env)]);
      }
    }
  });

  it('our HTTP helpers round-trip on their own (property), percent-encoding header values', () => {
    fc.assert(
      fc.property(
        envelopeArb,
        fc.constantFrom('binary' as const, 'structured' as const),
        (env, mode) => {
          const http = toCloudEventHttp(env, mode);
          for (const v of Object.values(http.headers)) expect(v).toMatch(/^[\x21-\x7E]*$/);
          expect(fromCloudEventHttp(http)).toEqual(expectedAfterWire(env));
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('SDK-made events convert into valid envelopes', () => {
  it('a structured SDK event becomes a Hub event whose topic is its type', () => {
    const sdk = new CloudEvent({
      type: 'com.example.order.created',
      source: 'https://shop.example/orders',
      subject: 'order-1',
      data: { orderId: 1, items: ['a'] },
      partitionkey: 'p1',
      traceparent: TRACEPARENT,
    });
    const env = fromCloudEvent(sdk);
    expect(parseEnvelope(env)).toBe(env);
    expect(env).toMatchObject({
      kind: 'event',
      version: 1,
      id: sdk.id,
      source: 'https://shop.example/orders',
      type: 'com.example.order.created',
      topic: 'com.example.order.created',
      timestamp: Date.parse(sdk.time!),
      data: { orderId: 1, items: ['a'] },
      traceparent: TRACEPARENT,
      headers: { 'ce-subject': 'order-1', 'ce-partitionkey': 'p1' },
    });
    // and it encodes like any other envelope
    expect(jsonCodec.decode(jsonCodec.encode(env))).toEqual(env);
  });

  it('SDK HTTP binary and structured requests (what a webhook sender posts) are accepted', () => {
    const sdk = new CloudEvent({
      type: 'user.created',
      source: '/users',
      data: { id: 7 },
      datacontenttype: 'application/json',
    });
    for (const message of [HTTP.binary(sdk), HTTP.structured(sdk)]) {
      const env = fromCloudEventHttp({
        headers: message.headers as Record<string, string>,
        body: message.body as string,
      });
      expect(env).toMatchObject({
        kind: 'event',
        id: sdk.id,
        topic: 'user.created',
        data: { id: 7 },
      });
    }
  });

  it('binary data, text data and other content types', () => {
    const bytes = new CloudEvent({
      type: 'blob.put',
      source: 'store',
      data: Buffer.from([1, 2, 3]),
    });
    expect(fromCloudEvent(bytes)).toMatchObject({ data: new Uint8Array([1, 2, 3]) });
    const text = new CloudEvent({
      type: 'log.line',
      source: 'app',
      datacontenttype: 'text/plain',
      data: 'hello',
    });
    expect(fromCloudEvent(text)).toMatchObject({
      data: 'hello',
      headers: { 'content-type': 'text/plain' },
    });
    const viaHttp = fromCloudEventHttp({
      headers: HTTP.binary(text).headers as Record<string, string>,
      body: 'hello',
    });
    expect(viaHttp).toMatchObject({ data: 'hello', headers: { 'content-type': 'text/plain' } });
  });

  it('an invalid traceparent is dropped (a new trace starts), not refused', () => {
    const sdk = new CloudEvent({ type: 't', source: 's', traceparent: 'garbage' });
    expect(fromCloudEvent(sdk)).not.toHaveProperty('traceparent');
  });

  it('a CloudEvent without time gets the current time', () => {
    const before = Date.now();
    const env = fromCloudEvent({ specversion: '1.0', id: 'x1', source: 's', type: 't' });
    expect(env.timestamp).toBeGreaterThanOrEqual(before);
  });
});

describe('refusals', () => {
  const base = (): CloudEventObject => toCloudEvent(fullMessage());
  const cases: [string, unknown, string, string][] = [
    ['not an object', 'event', 'wrong_type', ''],
    ['specversion 0.3', { ...base(), specversion: '0.3' }, 'unsupported_version', 'specversion'],
    ['no id', { ...base(), id: undefined }, 'missing', 'id'],
    ['bad source', { ...base(), source: 'has space' }, 'bad_format', 'source'],
    ['bad time', { ...base(), time: 'yesterday' }, 'bad_format', 'time'],
    [
      'time too far ahead',
      { ...base(), time: new Date(Date.now() + 3 * 86_400_000).toISOString() },
      'out_of_range',
      'timestamp',
    ],
    ['unknown hubkind', { ...base(), hubkind: 'rpc' }, 'unknown_kind', 'kind'],
    [
      'message without destination',
      { ...base(), hubdestination: undefined },
      'missing',
      'destination',
    ],
    ['bad priority', { ...base(), hubpriority: 'high' }, 'wrong_type', 'priority'],
    ['bad priority number', { ...base(), hubpriority: '9' }, 'out_of_range', 'priority'],
    ['future hubversion', { ...base(), hubversion: 2 }, 'unsupported_version', 'version'],
    ['bad hubheaders', { ...base(), hubheaders: '{nope' }, 'bad_format', 'headers'],
    ['hubheaders not an object', { ...base(), hubheaders: '[1]' }, 'wrong_type', 'headers'],
    [
      'bad data_base64',
      { ...base(), data: undefined, data_base64: '***' },
      'bad_format',
      'data_base64',
    ],
    [
      'bad tagged data',
      { ...base(), hubtagged: true, data: { x: { '$hub:t': 'nope' } } },
      'bad_format',
      'payload.x',
    ],
    ['bad expiry', { ...base(), hubexpiresat: 'never' }, 'bad_format', 'expiresAt'],
  ];
  it.each(cases)('%s', (_, input, reason, field) => {
    const err = rejection(() => fromCloudEvent(input));
    expect([err.reason, err.field]).toEqual([reason, field]);
  });

  it('applies the given limits', () => {
    const err = rejection(() => fromCloudEvent(base(), createLimits({ maxHeaders: 1 })));
    expect([err.reason, err.field]).toEqual(['too_many', 'headers']);
  });

  it('HTTP: refuses a body that is not JSON, and a request that is not a CloudEvent', () => {
    expect(
      rejection(() =>
        fromCloudEventHttp({
          headers: { 'content-type': 'application/cloudevents+json' },
          body: '{',
        }),
      ),
    ).toMatchObject({ reason: 'malformed' });
    expect(
      rejection(() =>
        fromCloudEventHttp({ headers: { 'content-type': 'application/json' }, body: '{}' }),
      ),
    ).toMatchObject({ reason: 'missing', field: 'specversion' });
    const { headers } = toCloudEventHttp(fullEvent(), 'binary');
    expect(rejection(() => fromCloudEventHttp({ headers, body: '{"trunc' }))).toMatchObject({
      reason: 'malformed',
      field: 'data',
    });
  });
});
