/**
 * CloudEvents 1.0 mapping, for events and messages. Hub fields that have no
 * CloudEvents attribute travel as `hub*` extensions; `traceparent` uses the
 * CloudEvents distributed-tracing extension. A foreign CloudEvent (no
 * `hubkind`) becomes a Hub event whose topic is its `type`.
 */
import { fromBase64, reviveTags, setKey, toBase64, toWire } from './codec/tagging.js';
import { DeliveryGuarantee, MessageType, Priority } from './enums.js';
import { InvalidMessageError } from './errors.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits.js';
import { measurePayload, payloadError, payloadNeedsTags } from './payload.js';
import { ENVELOPE_VERSION, type Envelope, type Headers } from './types.js';
import { isValidTraceparent, parseEnvelope } from './validate.js';

/** A CloudEvents 1.0 event in structured (JSON object) form. Extensions sit beside the core attributes. */
export interface CloudEventObject {
  specversion: string;
  id: string;
  source: string;
  type: string;
  time?: string;
  datacontenttype?: string;
  dataschema?: string;
  subject?: string;
  data?: unknown;
  data_base64?: string;
  [extension: string]: unknown;
}

/** An HTTP request or response carrying one CloudEvent. */
export interface CloudEventHttpMessage {
  headers: Record<string, string>;
  body: string | Uint8Array;
}

/** Incoming HTTP request parts; header names in any case (Node lowercases them). */
export interface CloudEventHttpInput {
  headers: Record<string, string | readonly string[] | undefined>;
  body?: string | Uint8Array | undefined;
}

export const CLOUDEVENTS_SPECVERSION = '1.0';
/** Content type of the structured JSON mode. */
export const CLOUDEVENTS_JSON = 'application/cloudevents+json';

const JSON_TYPE = 'application/json';
const BYTES_TYPE = 'application/octet-stream';

/** Attributes owned by the mapping; every other attribute of a foreign event becomes a `ce-<name>` header. */
const CORE_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'datacontenttype',
  'data',
  'data_base64',
  'traceparent',
]);
const HUB_EXTENSIONS = new Set([
  'hubkind',
  'hubversion',
  'hubdestination',
  'hubtopic',
  'hubpriority',
  'hubguarantee',
  'hubattempt',
  'hubcorrelationid',
  'hubreplyto',
  'hubpartitionkey',
  'hubttlms',
  'hubexpiresat',
  'hubheaders',
  'hubtagged',
]);

/**
 * Map an envelope to a CloudEvent (structured form). `data` is the payload;
 * a top-level Uint8Array payload goes to `data_base64`; special values nested
 * inside use the JSON codec's tags and set `hubtagged: true`.
 */
export function toCloudEvent(envelope: Envelope): CloudEventObject {
  const ce: CloudEventObject = {
    specversion: CLOUDEVENTS_SPECVERSION,
    id: envelope.id,
    source: envelope.source,
    type: envelope.type,
    time: new Date(envelope.timestamp).toISOString(),
    hubkind: envelope.kind,
    hubversion: envelope.version,
  };
  const isMessage = envelope.kind === 'message';
  const body: unknown = isMessage ? envelope.payload : envelope.data;
  if (body instanceof Uint8Array) {
    ce.datacontenttype = BYTES_TYPE;
    ce.data_base64 = toBase64(body);
  } else if (body !== undefined) {
    ce.datacontenttype = JSON_TYPE;
    if (measurePayload(body, DEFAULT_LIMITS.maxPayloadDepth, Number.POSITIVE_INFINITY) < 0) {
      throw payloadError(isMessage ? 'payload' : 'data');
    }
    if (payloadNeedsTags()) {
      ce.data = toWire(body);
      ce.hubtagged = true;
    } else ce.data = body;
  }
  if (envelope.kind === 'message') {
    ce.hubdestination = envelope.destination;
    ce.hubpriority = envelope.priority;
    ce.hubguarantee = envelope.deliveryGuarantee;
    ce.hubattempt = envelope.attempt;
    if (envelope.correlationId !== undefined) ce.hubcorrelationid = envelope.correlationId;
    if (envelope.replyTo !== undefined) ce.hubreplyto = envelope.replyTo;
    if (envelope.partitionKey !== undefined) ce.hubpartitionkey = envelope.partitionKey;
    // CloudEvents integers are 32-bit: ms values travel as strings.
    if (envelope.ttlMs !== undefined) ce.hubttlms = String(envelope.ttlMs);
  } else {
    ce.hubtopic = envelope.topic;
    if (envelope.priority !== undefined) ce.hubpriority = envelope.priority;
    if (envelope.deliveryGuarantee !== undefined) ce.hubguarantee = envelope.deliveryGuarantee;
  }
  if (envelope.expiresAt !== undefined)
    ce.hubexpiresat = new Date(envelope.expiresAt).toISOString();
  if (envelope.traceparent !== undefined) ce.traceparent = envelope.traceparent;
  for (const _ in envelope.headers) {
    ce.hubheaders = JSON.stringify(envelope.headers);
    break;
  }
  return ce;
}

function bad(
  field: string,
  detail: string,
  reason: 'missing' | 'wrong_type' | 'bad_format' = 'bad_format',
): InvalidMessageError {
  return new InvalidMessageError(
    reason,
    field,
    `[hub:protocol] invalid CloudEvent: '${field}' ${detail}`,
  );
}

/** Integers arrive as numbers (structured) or strings (HTTP binary mode); anything else is left for the validator to name. */
function int(v: unknown): unknown {
  return typeof v === 'string' && /^-?[0-9]{1,16}$/.test(v) ? Number(v) : v;
}

function millis(v: unknown, field: string): number {
  const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN;
  if (Number.isNaN(ms)) throw bad(field, 'must be an RFC 3339 timestamp');
  return ms;
}

function headersOf(ce: Record<string, unknown>): Headers {
  const headers: Headers = {};
  const raw = ce.hubheaders;
  if (raw !== undefined) {
    if (typeof raw !== 'string') throw bad('headers', 'must be a JSON object text', 'wrong_type');
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch {
      // The SDK's HTTP binary mode hands percent-encoded extension values through as-is.
      try {
        parsed = JSON.parse(percentDecode(raw));
      } catch (err) {
        throw new InvalidMessageError(
          'bad_format',
          'headers',
          "[hub:protocol] invalid CloudEvent: 'hubheaders' is not a JSON object text",
          { cause: err },
        );
      }
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw bad('headers', 'must be a JSON object of strings', 'wrong_type');
    }
    for (const [k, v] of Object.entries(parsed)) setKey(headers, k, v);
  }
  for (const key of Object.keys(ce)) {
    if (CORE_ATTRIBUTES.has(key) || HUB_EXTENSIONS.has(key)) continue;
    const value = ce[key];
    if (value === undefined || value === null || typeof value === 'function') continue;
    setKey(
      headers,
      `ce-${key}`,
      value instanceof Date
        ? value.toISOString()
        : value instanceof Uint8Array
          ? toBase64(value)
          : String(value),
    );
  }
  const type = ce.datacontenttype;
  if (typeof type === 'string' && type !== JSON_TYPE && type !== BYTES_TYPE)
    headers['content-type'] = type;
  return headers;
}

/**
 * Map a CloudEvent (a structured-form object, or an instance of the
 * `cloudevents` SDK's `CloudEvent`) to a validated envelope.
 * An invalid `traceparent` is dropped (a new trace starts), not refused.
 * @throws InvalidMessageError
 */
export function fromCloudEvent(input: unknown, limits: ProtocolLimits = DEFAULT_LIMITS): Envelope {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw bad('', 'must be an object', 'wrong_type');
  }
  const ce = input as Record<string, unknown>;
  if (ce.specversion !== CLOUDEVENTS_SPECVERSION) {
    throw new InvalidMessageError(
      'unsupported_version',
      'specversion',
      `[hub:protocol] invalid CloudEvent: 'specversion' must be '1.0', got ${JSON.stringify(ce.specversion)}`,
    );
  }
  const kind = ce.hubkind ?? 'event';
  if (kind !== 'message' && kind !== 'event') {
    throw new InvalidMessageError(
      'unknown_kind',
      'kind',
      `[hub:protocol] invalid CloudEvent: 'hubkind' must be 'message' or 'event'`,
    );
  }

  let body: unknown;
  if (typeof ce.data_base64 === 'string') {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(ce.data_base64)) throw bad('data_base64', 'is not base64');
    body = fromBase64(ce.data_base64);
  } else if (ce.data instanceof Uint8Array) {
    body = new Uint8Array(ce.data);
  } else body = ce.data;
  const field = kind === 'message' ? 'payload' : 'data';
  if (body !== undefined && (ce.hubtagged === true || ce.hubtagged === 'true')) {
    // Revival mutates; never touch the caller's object.
    let copy: unknown;
    try {
      copy = JSON.parse(JSON.stringify(body));
    } catch (err) {
      throw new InvalidMessageError(
        'wrong_type',
        field,
        `[hub:protocol] invalid CloudEvent: tagged '${field}' is not JSON`,
        { cause: err },
      );
    }
    body = reviveTags(copy, field);
  }

  const base: Record<string, unknown> = {
    kind,
    version: int(ce.hubversion ?? ENVELOPE_VERSION),
    id: ce.id,
    timestamp: ce.time === undefined ? Date.now() : millis(ce.time, 'time'),
    source: ce.source,
    type: ce.type,
  };
  if (kind === 'message') {
    base.destination = ce.hubdestination;
    base.priority = int(ce.hubpriority ?? Priority.NORMAL);
    base.deliveryGuarantee = ce.hubguarantee ?? DeliveryGuarantee.AT_LEAST_ONCE;
    base.headers = headersOf(ce);
    if (body !== undefined) base.payload = body;
    if (ce.hubcorrelationid !== undefined) base.correlationId = ce.hubcorrelationid;
    if (ce.hubreplyto !== undefined) base.replyTo = ce.hubreplyto;
    if (ce.hubpartitionkey !== undefined) base.partitionKey = ce.hubpartitionkey;
    if (ce.hubttlms !== undefined) base.ttlMs = int(ce.hubttlms);
    base.attempt = int(ce.hubattempt ?? 1);
    if (base.type === undefined) base.type = MessageType.REQUEST;
  } else {
    base.topic = ce.hubtopic ?? ce.type;
    base.headers = headersOf(ce);
    if (body !== undefined) base.data = body;
    if (ce.hubpriority !== undefined) base.priority = int(ce.hubpriority);
    if (ce.hubguarantee !== undefined) base.deliveryGuarantee = ce.hubguarantee;
  }
  if (ce.hubexpiresat !== undefined) base.expiresAt = millis(ce.hubexpiresat, 'expiresAt');
  if (isValidTraceparent(ce.traceparent)) base.traceparent = ce.traceparent;
  return parseEnvelope(base, limits);
}

// Per the CloudEvents HTTP binding: percent-encode space, '"', '%' and anything outside printable ASCII.
function encodeHeaderValue(value: string): string {
  return /[^\x21-\x7E]|["%]/.test(value)
    ? value.replace(/[^\x21-\x7E]|["%]/gu, (c) => encodeURIComponent(c))
    : value;
}

function percentDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

function headerValue(v: string | readonly string[] | undefined): string | undefined {
  return typeof v === 'string' ? v : v?.join(',');
}

/**
 * Map an envelope to an HTTP message in CloudEvents binary mode (attributes in
 * `ce-*` headers, data as the body) or structured mode (one JSON document).
 */
export function toCloudEventHttp(
  envelope: Envelope,
  mode: 'binary' | 'structured' = 'binary',
): CloudEventHttpMessage {
  const ce = toCloudEvent(envelope);
  if (mode === 'structured') {
    return { headers: { 'content-type': CLOUDEVENTS_JSON }, body: JSON.stringify(ce) };
  }
  const headers: Record<string, string> = {};
  let body: string | Uint8Array = '';
  for (const key of Object.keys(ce)) {
    const value = ce[key];
    if (value === undefined) continue;
    if (key === 'data') body = JSON.stringify(value);
    else if (key === 'data_base64') body = fromBase64(value as string);
    else if (key === 'datacontenttype') headers['content-type'] = String(value);
    else headers[`ce-${key}`] = encodeHeaderValue(String(value));
  }
  return { headers, body };
}

/**
 * Read a CloudEvent from an HTTP message in binary or structured mode and map
 * it to a validated envelope. JSON bodies are parsed when the content type is
 * JSON; other bodies become a string (text) or Uint8Array payload.
 * @throws InvalidMessageError
 */
export function fromCloudEventHttp(
  message: CloudEventHttpInput,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): Envelope {
  // Null prototypes: header names are attacker-chosen ("__proto__").
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(message.headers)) {
    const v = headerValue(message.headers[key]);
    if (v !== undefined) headers[key.toLowerCase()] = v;
  }
  const contentType = headers['content-type'] ?? '';
  const body = message.body;
  const text =
    typeof body === 'string' ? body : body === undefined ? '' : new TextDecoder().decode(body);
  if (contentType.startsWith(CLOUDEVENTS_JSON)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new InvalidMessageError(
        'malformed',
        '',
        '[hub:protocol] invalid CloudEvent: body is not JSON',
        { cause: err },
      );
    }
    return fromCloudEvent(parsed, limits);
  }
  if (headers['ce-specversion'] === undefined) {
    throw new InvalidMessageError(
      'missing',
      'specversion',
      "[hub:protocol] invalid CloudEvent: no 'ce-specversion' header and not structured mode",
    );
  }
  const ce: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(headers)) {
    if (!key.startsWith('ce-')) continue;
    const raw = headers[key]!;
    ce[key.slice(3)] = raw.includes('%') ? percentDecode(raw) : raw;
  }
  if (contentType !== '') ce.datacontenttype = contentType.split(';')[0]!.trim();
  // No content type means no data (that is how toCloudEventHttp writes an undefined payload).
  if (typeof ce.datacontenttype === 'string' && body !== undefined) {
    if (/[/+]json$/.test(ce.datacontenttype)) {
      if (text.length > 0) {
        try {
          ce.data = JSON.parse(text);
        } catch (err) {
          throw new InvalidMessageError(
            'malformed',
            'data',
            '[hub:protocol] invalid CloudEvent: JSON body does not parse',
            { cause: err },
          );
        }
      }
    } else ce.data = body;
  }
  return fromCloudEvent(ce, limits);
}
