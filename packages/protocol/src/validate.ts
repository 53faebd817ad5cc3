/**
 * Validation at the boundary: the rules of the field tables in fields.ts (the
 * same tables and patterns the JSON Schema is built from), hand-written for
 * speed. No closures, no allocation on the success path: a valid envelope is
 * returned as the same object, typed. The first failing field, in table
 * order, is reported.
 */
import { DeliveryGuarantee } from './enums.js';
import { InvalidMessageError, type InvalidReason } from './errors.js';
import {
  ADDRESS_PATTERN,
  HEADER_KEY_PATTERN,
  HEADER_VALUE_PATTERN,
  ID_PATTERN,
  MAX_TIME_MS,
  TYPE_PATTERN,
} from './fields.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits.js';
import { measurePayload, payloadError } from './payload.js';
import {
  ENVELOPE_VERSION,
  type Envelope,
  type UnifiedEvent,
  type UnifiedMessage,
} from './types.js';

const ADDRESS_RE = new RegExp(ADDRESS_PATTERN);

const ID_RE = new RegExp(ID_PATTERN);
const TYPE_RE = new RegExp(TYPE_PATTERN);
const HEADER_KEY_RE = new RegExp(HEADER_KEY_PATTERN);
const HEADER_VALUE_RE = new RegExp(HEADER_VALUE_PATTERN);

function invalid(reason: InvalidReason, field: string, detail: string): InvalidMessageError {
  const where = field === '' ? 'envelope' : `'${field}'`;
  return new InvalidMessageError(
    reason,
    field,
    `[hub:protocol] invalid envelope: ${where} ${detail}`,
  );
}

const typeName = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;

// Character classes of the patterns in fields.ts as lookup tables: a table
// scan is ~2x faster than RegExp#test on these short strings (the send path
// checks five of them per message). test/validate.test.ts keeps each table in
// step with its pattern over every ASCII character (test/char-tables.test.ts).
const ADDRESS_CHARS = charTable((c) => ADDRESS_RE.test(String.fromCharCode(c)));
const ID_CHARS = charTable((c) => ID_RE.test(String.fromCharCode(c)));
const TYPE_CHARS = charTable((c) => TYPE_RE.test(String.fromCharCode(c)));
const TOPIC_CHARS = charTable((c) => c !== 46 && ADDRESS_CHARS[c] === 1);

function charTable(allowed: (code: number) => boolean): Uint8Array {
  const table = new Uint8Array(128);
  for (let c = 0; c < 128; c++) table[c] = allowed(c) ? 1 : 0;
  return table;
}

/** Every char of the non-empty `v` is ASCII and allowed by `table`. */
function allIn(v: string, table: Uint8Array): boolean {
  const n = v.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c >= 128 || table[c] === 0) return false;
  }
  return true;
}

/** Dot-separated, non-empty segments of TOPIC_CHARS (TOPIC_PATTERN). */
function isTopic(v: string): boolean {
  const n = v.length;
  if (n === 0) return false;
  let segment = 0;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 46) {
      if (segment === 0) return false;
      segment = 0;
    } else if (c >= 128 || TOPIC_CHARS[c] === 0) {
      return false;
    } else {
      segment++;
    }
  }
  return segment > 0;
}

function checkString(
  v: unknown,
  field: string,
  max: number,
  table: Uint8Array | null,
  syntax: string,
): void {
  if (typeof v !== 'string')
    throw invalid('wrong_type', field, `must be a string, got ${typeName(v)}`);
  if (v.length > max)
    throw invalid('too_large', field, `is ${v.length} chars, over the limit of ${max}`);
  if (table === null ? !isTopic(v) : !allIn(v, table)) {
    throw invalid('bad_format', field, `must be ${syntax}`);
  }
}

function checkInteger(v: unknown, field: string): number {
  if (typeof v !== 'number')
    throw invalid('wrong_type', field, `must be a number, got ${typeName(v)}`);
  if (!Number.isSafeInteger(v)) throw invalid('wrong_type', field, `must be an integer, got ${v}`);
  return v;
}

function checkVersion(v: unknown): void {
  if (v === undefined) throw invalid('missing', 'version', 'is missing');
  const n = checkInteger(v, 'version');
  if (n > ENVELOPE_VERSION) {
    throw invalid(
      'unsupported_version',
      'version',
      `is ${n}; this build reads envelope versions up to ${ENVELOPE_VERSION} (upgrade @hub/protocol)`,
    );
  }
  if (n < 1) throw invalid('out_of_range', 'version', `must be 1..${ENVELOPE_VERSION}, got ${n}`);
}

function checkHeaders(v: unknown, limits: ProtocolLimits): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw invalid('wrong_type', 'headers', `must be an object of strings, got ${typeName(v)}`);
  }
  const headers = v as Record<string, unknown>;
  let count = 0;
  for (const key in headers) {
    if (++count > limits.maxHeaders) {
      throw invalid('too_many', 'headers', `has more than ${limits.maxHeaders} entries`);
    }
    const value = headers[key];
    if (key.length > limits.maxHeaderKeyLength) {
      throw invalid(
        'too_large',
        `headers.${key.slice(0, 64)}`,
        `name is ${key.length} chars, over the limit of ${limits.maxHeaderKeyLength}`,
      );
    }
    if (!HEADER_KEY_RE.test(key)) {
      throw invalid('bad_format', `headers.${key}`, 'name must be HTTP token characters');
    }
    if (typeof value !== 'string') {
      throw invalid('wrong_type', `headers.${key}`, `must be a string, got ${typeName(value)}`);
    }
    if (value.length > limits.maxHeaderValueLength) {
      throw invalid(
        'too_large',
        `headers.${key}`,
        `is ${value.length} chars, over the limit of ${limits.maxHeaderValueLength}`,
      );
    }
    if (!HEADER_VALUE_RE.test(value)) {
      throw invalid('bad_format', `headers.${key}`, 'must not contain control characters');
    }
  }
}

function checkPayload(v: unknown, field: string, limits: ProtocolLimits): void {
  const size = measurePayload(v, limits.maxPayloadDepth, limits.maxPayloadBytes);
  if (size < 0) throw payloadError(field);
  if (size > limits.maxPayloadBytes) {
    throw invalid(
      'too_large',
      field,
      `is over the limit of ${limits.maxPayloadBytes} bytes (estimated JSON size)`,
    );
  }
}

// Constant strings: a template literal at the call site would allocate on every call.
const ADDRESS_SYNTAX = `an address matching ${ADDRESS_PATTERN}`;
const ID_SYNTAX = 'visible ASCII without spaces';
const TOPIC_SYNTAX = 'dot-separated non-empty segments of [A-Za-z0-9_:/@-] (no wildcards)';

// The last addresses and types that passed. A service's messages repeat their
// source, destination and type, and comparing with a string that passed before
// (a pointer or a short memcmp; another string mostly differs in length or
// first characters) is cheaper than scanning it again. Ids are unique: no cache.
// Only a string can equal these, and the length limit is checked on a hit too.
const NONE: unknown = Symbol('none');
let goodAddress1: unknown = NONE;
let goodAddress2: unknown = NONE;
let goodType: unknown = NONE;

function checkAddress(v: unknown, field: string, limits: ProtocolLimits): void {
  if ((v === goodAddress1 || v === goodAddress2) && (v as string).length <= limits.maxAddressLength)
    return;
  checkString(v, field, limits.maxAddressLength, ADDRESS_CHARS, ADDRESS_SYNTAX);
  goodAddress2 = goodAddress1;
  goodAddress1 = v;
}

/** ID_PATTERN (`[!-~]+`) as a range test: no table read per character on the commonest check. */
function isVisibleAscii(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

function checkId(v: unknown, field: string, limits: ProtocolLimits): void {
  if (
    typeof v === 'string' &&
    v.length !== 0 &&
    v.length <= limits.maxIdLength &&
    isVisibleAscii(v)
  )
    return;
  // The full check finds the reason.
  checkString(v, field, limits.maxIdLength, ID_CHARS, ID_SYNTAX);
}

function checkType(v: unknown, limits: ProtocolLimits): void {
  if (v === goodType && (v as string).length <= limits.maxTypeLength) return;
  checkString(v, 'type', limits.maxTypeLength, TYPE_CHARS, ID_SYNTAX);
  goodType = v;
}

function checkTopic(v: unknown, limits: ProtocolLimits): void {
  checkString(v, 'topic', limits.maxAddressLength, null, TOPIC_SYNTAX);
}

// Timestamps are doubles: checked inline at the call site (a double passed to
// a call is boxed, i.e. allocated). These only build the error.
function badInteger(v: unknown, field: string): InvalidMessageError {
  return typeof v !== 'number'
    ? invalid('wrong_type', field, `must be a number, got ${typeName(v)}`)
    : invalid('wrong_type', field, `must be an integer, got ${v}`);
}

function badTimestamp(v: unknown, field: string, limits: ProtocolLimits): InvalidMessageError {
  if (!Number.isSafeInteger(v)) return badInteger(v, field);
  const n = v as number;
  if (n < limits.minTimestamp) {
    return invalid(
      'out_of_range',
      field,
      `is ${n}, before ${limits.minTimestamp} (ms since epoch expected)`,
    );
  }
  return field === 'timestamp'
    ? invalid('out_of_range', field, `is ${n}, more than ${limits.maxClockSkewMs} ms in the future`)
    : invalid('out_of_range', field, `is ${n}, after the last instant a Date can hold`);
}

function checkPriority(v: unknown): void {
  if (v === 1 || v === 2 || v === 3 || v === 4 || v === 5) return;
  if (typeof v !== 'number')
    throw invalid('wrong_type', 'priority', `must be a number, got ${typeName(v)}`);
  throw invalid('out_of_range', 'priority', `must be an integer 1..5, got ${v}`);
}

function checkGuarantee(v: unknown): void {
  if (
    v === DeliveryGuarantee.AT_LEAST_ONCE ||
    v === DeliveryGuarantee.BEST_EFFORT ||
    v === DeliveryGuarantee.EXACTLY_ONCE ||
    v === DeliveryGuarantee.ORDERED
  ) {
    return;
  }
  if (typeof v !== 'string') {
    throw invalid('wrong_type', 'deliveryGuarantee', `must be a string, got ${typeName(v)}`);
  }
  throw invalid(
    'out_of_range',
    'deliveryGuarantee',
    `must be best-effort | at-least-once | exactly-once | ordered, got '${v.slice(0, 32)}'`,
  );
}

function checkPositiveInt(v: unknown, field: string): void {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) return;
  if (!Number.isSafeInteger(v)) throw badInteger(v, field);
  throw invalid('out_of_range', field, `must be >= 1, got ${v}`);
}

function checkPartitionKey(v: unknown, limits: ProtocolLimits): void {
  if (typeof v !== 'string') {
    throw invalid('wrong_type', 'partitionKey', `must be a string, got ${typeName(v)}`);
  }
  if (v.length > limits.maxPartitionKeyLength) {
    throw invalid(
      'too_large',
      'partitionKey',
      `is ${v.length} chars, over the limit of ${limits.maxPartitionKeyLength}`,
    );
  }
  if (v.length === 0) throw invalid('bad_format', 'partitionKey', 'must not be empty');
}

// The pattern without its lookaheads (those cost ~100 ns); the zero and `ff`
// rules are checked with startsWith, which does not allocate. A test keeps
// this equal to TRACEPARENT_PATTERN.
const TRACEPARENT_SHAPE_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
const ZEROS_32 = '00000000000000000000000000000000';
const ZEROS_16 = '0000000000000000';

/** True when `value` is a valid W3C traceparent (for ingress code that must drop a bad one). */
export function isValidTraceparent(value: unknown): value is string {
  return (
    typeof value === 'string' &&
    value.length === 55 &&
    TRACEPARENT_SHAPE_RE.test(value) &&
    !value.startsWith('ff') &&
    !value.startsWith(ZEROS_32, 3) &&
    !value.startsWith(ZEROS_16, 36)
  );
}

function checkTraceparent(v: unknown): void {
  if (isValidTraceparent(v)) return;
  if (typeof v !== 'string') {
    throw invalid('wrong_type', 'traceparent', `must be a string, got ${typeName(v)}`);
  }
  throw invalid(
    'bad_format',
    'traceparent',
    'must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)',
  );
}

// Date.now() allocates (a boxed double) and costs ~40 ns. The skew check reads
// a cached clock instead; the clock only moves forward, so a stale value can
// only make the check stricter, and it is refreshed before anything is refused.
let clock = Date.now();
function refreshClock(): number {
  clock = Date.now();
  return clock;
}

const missing = (field: string): InvalidMessageError => invalid('missing', field, 'is missing');

/** The first three fields, common to messages and events, in table order. */
function checkIdTimeSource(o: Record<string, unknown>, limits: ProtocolLimits): void {
  const id = o.id;
  if (id === undefined) throw missing('id');
  checkId(id, 'id', limits);
  const ts = o.timestamp;
  if (ts === undefined) throw missing('timestamp');
  if (
    typeof ts !== 'number' ||
    !Number.isSafeInteger(ts) ||
    ts < limits.minTimestamp ||
    (ts > clock + limits.maxClockSkewMs && ts > refreshClock() + limits.maxClockSkewMs)
  ) {
    throw badTimestamp(ts, 'timestamp', limits);
  }
  if (o.source === undefined) throw missing('source');
  checkAddress(o.source, 'source', limits);
}

/**
 * The message rules of MESSAGE_FIELDS, spelled out with static property
 * reads: a table loop with obj[name] measured ~2x slower, and it allocated
 * (keyed loads box doubles).
 * test/fields.test.ts derives cases from the table to keep this in step.
 */
function checkMessage(o: Record<string, unknown>, limits: ProtocolLimits, payload = true): void {
  // version is checked by asObject; kind by the caller.
  checkIdTimeSource(o, limits);
  if (o.destination === undefined) throw missing('destination');
  checkAddress(o.destination, 'destination', limits);
  if (o.type === undefined) throw missing('type');
  checkType(o.type, limits);
  if (o.priority === undefined) throw missing('priority');
  checkPriority(o.priority);
  if (o.deliveryGuarantee === undefined) throw missing('deliveryGuarantee');
  checkGuarantee(o.deliveryGuarantee);
  if (o.headers === undefined) throw missing('headers');
  checkHeaders(o.headers, limits);
  if (payload) checkPayload(o.payload, 'payload', limits);
  if (o.correlationId !== undefined) checkId(o.correlationId, 'correlationId', limits);
  if (o.replyTo !== undefined) checkAddress(o.replyTo, 'replyTo', limits);
  if (o.partitionKey !== undefined) checkPartitionKey(o.partitionKey, limits);
  const ttl = o.ttlMs;
  if (ttl !== undefined && !(typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl >= 1)) {
    checkPositiveInt(ttl, 'ttlMs');
  }
  const exp = o.expiresAt;
  if (
    exp !== undefined &&
    !(
      typeof exp === 'number' &&
      Number.isSafeInteger(exp) &&
      exp >= limits.minTimestamp &&
      exp <= MAX_TIME_MS
    )
  ) {
    throw badTimestamp(exp, 'expiresAt', limits);
  }
  if (o.attempt === undefined) throw missing('attempt');
  checkPositiveInt(o.attempt, 'attempt');
  if (o.traceparent !== undefined) checkTraceparent(o.traceparent);
}

/** The event rules of EVENT_FIELDS; see checkMessage. */
function checkEvent(o: Record<string, unknown>, limits: ProtocolLimits, payload = true): void {
  checkIdTimeSource(o, limits);
  if (o.type === undefined) throw missing('type');
  checkType(o.type, limits);
  if (o.topic === undefined) throw missing('topic');
  checkTopic(o.topic, limits);
  if (o.headers === undefined) throw missing('headers');
  checkHeaders(o.headers, limits);
  if (payload) checkPayload(o.data, 'data', limits);
  if (o.priority !== undefined) checkPriority(o.priority);
  if (o.deliveryGuarantee !== undefined) checkGuarantee(o.deliveryGuarantee);
  const exp = o.expiresAt;
  if (
    exp !== undefined &&
    !(
      typeof exp === 'number' &&
      Number.isSafeInteger(exp) &&
      exp >= limits.minTimestamp &&
      exp <= MAX_TIME_MS
    )
  ) {
    throw badTimestamp(exp, 'expiresAt', limits);
  }
  if (o.traceparent !== undefined) checkTraceparent(o.traceparent);
}

function asObject(input: unknown): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalid('wrong_type', '', `must be a JSON object, got ${typeName(input)}`);
  }
  const obj = input as Record<string, unknown>;
  // Version first: a newer envelope may look different in every other field.
  checkVersion(obj.version);
  return obj;
}

function kindOf(obj: Record<string, unknown>): 'message' | 'event' {
  const kind = obj.kind;
  if (kind === 'message' || kind === 'event') return kind;
  if (kind === undefined) throw invalid('missing', 'kind', 'is missing');
  if (typeof kind !== 'string')
    throw invalid('wrong_type', 'kind', `must be a string, got ${typeName(kind)}`);
  throw invalid('unknown_kind', 'kind', `must be 'message' or 'event', got '${kind.slice(0, 32)}'`);
}

/**
 * Check untrusted input and return it typed (the same object, not a copy).
 * Dispatches on `kind`. Unknown extra fields are ignored and left in place.
 * @throws InvalidMessageError naming the first bad field and the reason.
 */
export function parseEnvelope(input: unknown, limits: ProtocolLimits = DEFAULT_LIMITS): Envelope {
  const obj = asObject(input);
  if (kindOf(obj) === 'message') checkMessage(obj, limits);
  else checkEvent(obj, limits);
  return obj as unknown as Envelope;
}

/**
 * Check untrusted input as a message (`kind: "message"`) and return it typed.
 * @throws InvalidMessageError; an event gets reason `unknown_kind`.
 */
export function parseMessage<T = unknown>(
  input: unknown,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): UnifiedMessage<T> {
  return checkKind(input, 'message', limits, true) as unknown as UnifiedMessage<T>;
}

/**
 * Check untrusted input as an event (`kind: "event"`) and return it typed.
 * @throws InvalidMessageError; a message gets reason `unknown_kind`.
 */
export function parseEvent<T = unknown>(
  input: unknown,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): UnifiedEvent<T> {
  return checkKind(input, 'event', limits, true) as unknown as UnifiedEvent<T>;
}

/** Check `input` as an envelope of `kind`; the payload walk is optional (see ValidateOptions). */
function checkKind(
  input: unknown,
  kind: 'message' | 'event',
  limits: ProtocolLimits,
  payload: boolean,
): Record<string, unknown> {
  const obj = asObject(input);
  const actual = kindOf(obj);
  if (actual !== kind) {
    throw invalid('unknown_kind', 'kind', `must be '${kind}', got '${actual}'`);
  }
  if (kind === 'message') checkMessage(obj, limits, payload);
  else checkEvent(obj, limits, payload);
  return obj;
}

export interface ValidateOptions {
  /**
   * Walk the payload (`payload` / `data`): plain JSON-able values plus Date,
   * Uint8Array and bigint, within the depth and byte limits. The hub's send
   * path passes false: an in-process transport carries the object as is, and
   * a wire transport's codec walks it once when it encodes (and enforces the
   * same limits there). @default true
   */
  payload?: boolean;
}

/** Assert that an already-typed message is valid (send path). @throws InvalidMessageError */
export function validateMessage(
  message: UnifiedMessage,
  limits: ProtocolLimits = DEFAULT_LIMITS,
  options?: ValidateOptions,
): void {
  checkKind(message, 'message', limits, options?.payload !== false);
}

/** Assert that an already-typed event is valid (publish path). @throws InvalidMessageError */
export function validateEvent(
  event: UnifiedEvent,
  limits: ProtocolLimits = DEFAULT_LIMITS,
  options?: ValidateOptions,
): void {
  checkKind(event, 'event', limits, options?.payload !== false);
}

/** Assert that an already-typed envelope of either kind is valid. @throws InvalidMessageError */
export function validateEnvelope(
  envelope: Envelope,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): void {
  parseEnvelope(envelope, limits);
}
