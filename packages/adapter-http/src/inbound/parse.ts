/**
 * What a POST carries, as envelopes: Hub JSON (a whole envelope, or the short
 * form `{ destination, payload }` / `{ topic, data }` the endpoint completes),
 * CloudEvents 1.0 in binary (`ce-*` headers) or structured
 * (`application/cloudevents+json`) mode, or a batch (a JSON array, or
 * `application/cloudevents-batch+json`).
 */
import type { IncomingHttpHeaders } from 'node:http';
import {
  CLOUDEVENTS_JSON,
  type CreateEventInput,
  type CreateMessageInput,
  createEvent,
  createMessage,
  type Envelope,
  fromCloudEvent,
  fromCloudEventHttp,
  InvalidMessageError,
  isValidTraceparent,
  jsonCodec,
} from '@hub/protocol';

export const CLOUDEVENTS_BATCH = 'application/cloudevents-batch+json';

/** Most envelopes in one batch. */
export const MAX_BATCH = 1_000;

export interface Parsed {
  readonly envelopes: Envelope[];
  readonly batch: boolean;
  /**
   * The one envelope's id was made here (a short form without an
   * Idempotency-Key): no earlier request can have carried it, so the
   * idempotency window need not be searched for it (it is still recorded).
   */
  readonly minted?: boolean;
  /**
   * The envelopes' payloads were made by this parse (`JSON.parse` of the
   * body), so nothing else holds them: the endpoint may hand them over to
   * the hub (`handOverPayload`). A CloudEvent's data may be the body's bytes,
   * which share memory with the socket's reads: not set for those.
   */
  readonly ownPayloads?: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The short form: the endpoint fills in id (the Idempotency-Key when given),
 * version, timestamp and defaults; the hub validates the result like any send.
 */
function fromShortForm(
  item: Record<string, unknown>,
  kind: 'message' | 'event',
  id: string | undefined,
): Envelope {
  // Built field by field (no spreads): this runs once per request. Wrong
  // types pass through and are refused by the hub's validation, naming the field.
  const input: Record<string, unknown> = {
    source: typeof item.source === 'string' ? item.source : 'http',
  };
  if (id !== undefined) input.id = id;
  if (isObject(item.headers)) input.headers = item.headers;
  if (typeof item.traceparent === 'string') input.traceparent = item.traceparent;
  if (typeof item.ttlMs === 'number') input.ttlMs = item.ttlMs;
  if (item.type !== undefined) input.type = item.type;
  if (item.priority !== undefined) input.priority = item.priority;
  if (kind === 'event') {
    input.topic = item.topic;
    input.data = item.data;
    return createEvent(input as unknown as CreateEventInput<unknown>);
  }
  input.destination = item.destination;
  input.payload = item.payload;
  if (item.deliveryGuarantee !== undefined) input.deliveryGuarantee = item.deliveryGuarantee;
  if (typeof item.correlationId === 'string') input.correlationId = item.correlationId;
  if (typeof item.partitionKey === 'string') input.partitionKey = item.partitionKey;
  return createMessage(input as unknown as CreateMessageInput<unknown>);
}

/** A whole envelope (it carries its own id), not the short form the endpoint completes. */
const isWholeEnvelope = (item: Record<string, unknown>): boolean =>
  item.version !== undefined || item.kind !== undefined;

function fromJsonItem(
  item: unknown,
  raw: Buffer | undefined,
  kind: 'message' | 'event',
  id: string | undefined,
  field: string,
): Envelope {
  if (!isObject(item)) {
    throw new InvalidMessageError(
      'wrong_type',
      field,
      `[hub:http] ${field || 'body'} must be a JSON object`,
    );
  }
  // A whole envelope goes through the codec: tagged values (bytes, dates) revive.
  if (isWholeEnvelope(item)) {
    return jsonCodec.decode(raw ?? JSON.stringify(item));
  }
  return fromShortForm(item, kind, id);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Parse one POST body into envelopes of `kind`; throws InvalidMessageError naming the field. */
export function parseBody(
  headers: IncomingHttpHeaders,
  body: Buffer,
  kind: 'message' | 'event',
): Parsed {
  const given = header(headers, 'content-type') ?? '';
  // The usual spelling is taken as it is; any other is compared in lower case.
  const contentType = given === 'application/json' ? given : given.toLowerCase();
  const idempotencyKey = header(headers, 'idempotency-key');
  let parsed: Parsed;
  if (contentType.startsWith(CLOUDEVENTS_BATCH)) {
    const list = parseJson(body);
    if (!Array.isArray(list)) {
      throw new InvalidMessageError(
        'wrong_type',
        '',
        '[hub:http] a CloudEvents batch must be a JSON array',
      );
    }
    checkBatch(list);
    parsed = { envelopes: list.map((ce) => fromCloudEvent(ce)), batch: true };
  } else if (contentType.startsWith(CLOUDEVENTS_JSON) || headers['ce-specversion'] !== undefined) {
    parsed = {
      envelopes: [fromCloudEventHttp({ headers: headers as Record<string, string>, body })],
      batch: false,
    };
  } else if (
    contentType === 'application/json' ||
    contentType === '' ||
    /^application\/(.+\+)?json\b/.test(contentType)
  ) {
    const value = parseJson(body);
    if (Array.isArray(value)) {
      checkBatch(value);
      parsed = {
        envelopes: value.map((item, i) => fromJsonItem(item, undefined, kind, undefined, `[${i}]`)),
        batch: true,
        ownPayloads: true,
      };
    } else {
      const env = fromJsonItem(value, body, kind, idempotencyKey, '');
      // fromJsonItem refused anything but an object; the short form's id is made here.
      const minted =
        idempotencyKey === undefined && !isWholeEnvelope(value as Record<string, unknown>);
      parsed = { envelopes: [env], batch: false, minted, ownPayloads: true };
    }
  } else {
    throw new InvalidMessageError(
      'bad_format',
      'content-type',
      `[hub:http] content type "${contentType}" is not JSON or CloudEvents`,
    );
  }
  const traceparent = header(headers, 'traceparent');
  const tracestate =
    traceparent === undefined ? undefined : validTracestate(header(headers, 'tracestate'));
  const envelopes = parsed.envelopes;
  for (let i = 0; i < envelopes.length; i++) {
    const env = envelopes[i]!;
    if (env.kind !== kind) {
      throw new InvalidMessageError(
        'unknown_kind',
        parsed.batch ? `[${i}].kind` : 'kind',
        `[hub:http] expected ${kind === 'message' ? 'a message' : 'an event'} here, got ${env.kind === 'message' ? 'a message' : 'an event'}`,
      );
    }
    // W3C trace context in: a valid header continues the trace (with its
    // tracestate, carried as the envelope's `tracestate` header); an invalid one is ignored.
    if (
      traceparent !== undefined &&
      env.traceparent === undefined &&
      isValidTraceparent(traceparent)
    ) {
      env.traceparent = traceparent;
      if (tracestate !== undefined && env.headers.tracestate === undefined) {
        env.headers.tracestate = tracestate;
      }
    }
  }
  return parsed;
}

/** A W3C `tracestate` worth carrying: at most 512 visible ASCII characters (the spec's limit). */
function validTracestate(value: string | undefined): string | undefined {
  return value !== undefined &&
    value.length <= 512 &&
    /^[\x20-\x7e]*$/.test(value) &&
    value.trim() !== ''
    ? value
    : undefined;
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new InvalidMessageError('malformed', '', '[hub:http] request body is not JSON', {
      cause: err,
    });
  }
}

function checkBatch(list: unknown[]): void {
  if (list.length === 0 || list.length > MAX_BATCH) {
    throw new InvalidMessageError(
      list.length === 0 ? 'missing' : 'too_many',
      '',
      `[hub:http] a batch holds 1 to ${MAX_BATCH} items (got ${list.length})`,
    );
  }
}
