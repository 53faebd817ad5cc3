import {
  createEvent,
  createMessage,
  DeliveryGuarantee,
  type FieldRule,
  type InvalidReason,
  type UnifiedEvent,
  type UnifiedMessage,
} from '../src/index.js';

export const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

/** A message with every optional field set, so each one can be corrupted. */
export function fullMessage(): UnifiedMessage<unknown> {
  return createMessage({
    source: 'api_gateway',
    destination: 'worker_agent',
    type: 'task_assignment',
    payload: { task: 'resize', sizes: [1, 2, 3], nested: { ok: true, note: null } },
    headers: { 'x-tenant': 'acme', 'content-type': 'application/json' },
    correlationId: 'conv-1',
    replyTo: 'api_gateway.replies',
    partitionKey: 'user:42',
    ttlMs: 60_000,
    traceparent: TRACEPARENT,
  });
}

/** An event with every optional field set. */
export function fullEvent(): UnifiedEvent<unknown> {
  return createEvent({
    source: 'orders',
    type: 'order_created',
    topic: 'orders.eu.created',
    data: { orderId: 'o-1', total: 12.5 },
    headers: { 'x-tenant': 'acme' },
    priority: 3,
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    ttlMs: 60_000,
    traceparent: TRACEPARENT,
  });
}

export const DELETE = Symbol('delete');

export interface BadRow {
  /** Which envelope the patch applies to. */
  base: 'message' | 'event';
  /** Top-level fields to overwrite (DELETE removes the key), or a whole replacement input. */
  patch?: Record<string, unknown>;
  replace?: unknown;
  reason: InvalidReason;
  field: string;
  /**
   * The rule has no JSON Schema form (clock skew, payload size/depth, values
   * that are not JSON): only the runtime validator can refuse it.
   */
  runtimeOnly?: boolean;
}

const DAY = 86_400_000;
const many = (n: number): Record<string, string> =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
const nest = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};

// Row helpers keep the table one line per case.
const m = (
  field: string,
  value: unknown,
  reason: InvalidReason,
  extra: Partial<BadRow> = {},
): BadRow => ({ base: 'message', patch: { [field]: value }, reason, field, ...extra });
const e = (
  field: string,
  value: unknown,
  reason: InvalidReason,
  extra: Partial<BadRow> = {},
): BadRow => ({ base: 'event', patch: { [field]: value }, reason, field, ...extra });

/** Every field, every reason. Used by the validator, codec and schema tests alike. */
export const BAD_INPUTS: readonly BadRow[] = [
  // the envelope as a whole
  { base: 'message', replace: null, reason: 'wrong_type', field: '' },
  { base: 'message', replace: [1, 2], reason: 'wrong_type', field: '' },
  { base: 'message', replace: 'message', reason: 'wrong_type', field: '' },
  { base: 'message', replace: 42, reason: 'wrong_type', field: '' },
  // version
  m('version', DELETE, 'missing'),
  m('version', '1', 'wrong_type'),
  m('version', 1.5, 'wrong_type'),
  m('version', 0, 'out_of_range'),
  m('version', 2, 'unsupported_version'),
  e('version', 99, 'unsupported_version'),
  // kind
  m('kind', DELETE, 'missing'),
  m('kind', 7, 'wrong_type'),
  m('kind', 'command', 'unknown_kind'),
  e('kind', 'Event', 'unknown_kind'),
  // id
  m('id', DELETE, 'missing'),
  m('id', 123, 'wrong_type'),
  m('id', '', 'bad_format'),
  m('id', 'has space', 'bad_format'),
  m('id', 'ünïcode', 'bad_format'),
  m('id', 'a'.repeat(129), 'too_large'),
  e('id', DELETE, 'missing'),
  // timestamp
  m('timestamp', DELETE, 'missing'),
  m('timestamp', '2024-01-01T00:00:00Z', 'wrong_type'),
  m('timestamp', 1_700_000_000_000.5, 'wrong_type'),
  m('timestamp', 1_700_000_000, 'out_of_range'), // seconds, not ms
  m('timestamp', -1, 'out_of_range'),
  m('timestamp', Date.now() + 2 * DAY, 'out_of_range', { runtimeOnly: true }),
  e('timestamp', 5, 'out_of_range'),
  // source
  m('source', DELETE, 'missing'),
  m('source', null, 'wrong_type'),
  m('source', '', 'bad_format'),
  m('source', 'has space', 'bad_format'),
  m('source', 'a?b=c', 'bad_format'),
  m('source', 'a'.repeat(257), 'too_large'),
  e('source', 'é', 'bad_format'),
  // destination
  m('destination', DELETE, 'missing'),
  m('destination', ['worker'], 'wrong_type'),
  m('destination', 'worker*', 'bad_format'),
  m('destination', 'w'.repeat(257), 'too_large'),
  // type
  m('type', DELETE, 'missing'),
  m('type', 1, 'wrong_type'),
  m('type', 'two words', 'bad_format'),
  m('type', '', 'bad_format'),
  m('type', 't'.repeat(257), 'too_large'),
  e('type', DELETE, 'missing'),
  // topic
  e('topic', DELETE, 'missing'),
  e('topic', {}, 'wrong_type'),
  e('topic', 'orders..eu', 'bad_format'),
  e('topic', 'orders.*', 'bad_format'),
  e('topic', 'orders.#', 'bad_format'),
  e('topic', '.orders', 'bad_format'),
  e('topic', 'orders.', 'bad_format'),
  e('topic', '', 'bad_format'),
  e('topic', 'o'.repeat(257), 'too_large'),
  // priority
  m('priority', DELETE, 'missing'),
  m('priority', 'high', 'wrong_type'),
  m('priority', 0, 'out_of_range'),
  m('priority', 6, 'out_of_range'),
  m('priority', 2.5, 'out_of_range'),
  e('priority', 9, 'out_of_range'),
  e('priority', '3', 'wrong_type'),
  // deliveryGuarantee
  m('deliveryGuarantee', DELETE, 'missing'),
  m('deliveryGuarantee', 1, 'wrong_type'),
  m('deliveryGuarantee', 'exactly_once', 'out_of_range'),
  // headers
  m('headers', DELETE, 'missing'),
  m('headers', null, 'wrong_type'),
  m('headers', ['a'], 'wrong_type'),
  m('headers', 'a=b', 'wrong_type'),
  e('headers', DELETE, 'missing'),
  m('headers', many(65), 'too_many'),
  { ...m('headers', { 'x-n': 5 }, 'wrong_type'), field: 'headers.x-n' },
  { ...m('headers', { 'x-n': null }, 'wrong_type'), field: 'headers.x-n' },
  { ...m('headers', { 'bad key': 'v' }, 'bad_format'), field: 'headers.bad key' },
  { ...m('headers', { 'x-é': 'v' }, 'bad_format'), field: 'headers.x-é' },
  { ...m('headers', { 'x-nl': 'a\r\nb' }, 'bad_format'), field: 'headers.x-nl' },
  { ...m('headers', { 'x-big': 'v'.repeat(8193) }, 'too_large'), field: 'headers.x-big' },
  {
    ...m('headers', { [`x-${'k'.repeat(127)}`]: 'v' }, 'too_large'),
    field: `headers.x-${'k'.repeat(62)}`,
  },
  { ...e('headers', { ok: 'v', 'x-tab\t': 'v' }, 'bad_format'), field: 'headers.x-tab\t' },
  // payload / data (values that are not JSON have no schema form)
  m('payload', () => 1, 'wrong_type', { runtimeOnly: true }),
  m('payload', Symbol('s'), 'wrong_type', { runtimeOnly: true }),
  m('payload', new Map([[1, 2]]), 'wrong_type', { runtimeOnly: true }),
  m('payload', new Set([1]), 'wrong_type', { runtimeOnly: true }),
  m('payload', new Int16Array(2), 'wrong_type', { runtimeOnly: true }),
  m('payload', Number.NaN, 'out_of_range', { runtimeOnly: true }),
  m('payload', nest(65), 'too_deep', { runtimeOnly: true }),
  m('payload', 'x'.repeat(1_048_577), 'too_large', { runtimeOnly: true }),
  m('payload', 'é'.repeat(600_000), 'too_large', { runtimeOnly: true }), // 1.2 MB of UTF-8
  {
    ...m('payload', { a: { b: [1, () => 1] } }, 'wrong_type', { runtimeOnly: true }),
    field: 'payload.a.b.1',
  },
  {
    ...m('payload', { when: new Date(Number.NaN) }, 'bad_format', { runtimeOnly: true }),
    field: 'payload.when',
  },
  {
    ...e('data', { list: [0, Number.POSITIVE_INFINITY] }, 'out_of_range', { runtimeOnly: true }),
    field: 'data.list.1',
  },
  e('data', nest(100), 'too_deep', { runtimeOnly: true }),
  e('data', 'x'.repeat(1_048_577), 'too_large', { runtimeOnly: true }),
  // correlationId
  m('correlationId', 7, 'wrong_type'),
  m('correlationId', 'a b', 'bad_format'),
  m('correlationId', 'c'.repeat(129), 'too_large'),
  // replyTo
  m('replyTo', false, 'wrong_type'),
  m('replyTo', 'reply to', 'bad_format'),
  m('replyTo', 'r'.repeat(257), 'too_large'),
  // partitionKey
  m('partitionKey', 42, 'wrong_type'),
  m('partitionKey', '', 'bad_format'),
  m('partitionKey', 'p'.repeat(257), 'too_large'),
  // ttlMs
  m('ttlMs', '5000', 'wrong_type'),
  m('ttlMs', 1.5, 'wrong_type'),
  m('ttlMs', 0, 'out_of_range'),
  m('ttlMs', -5, 'out_of_range'),
  // expiresAt
  m('expiresAt', 'tomorrow', 'wrong_type'),
  m('expiresAt', 100, 'out_of_range'),
  e('expiresAt', 1.5, 'wrong_type'),
  e('expiresAt', 999, 'out_of_range'),
  e('expiresAt', 8_640_000_000_000_001, 'out_of_range'),
  // attempt
  m('attempt', DELETE, 'missing'),
  m('attempt', '1', 'wrong_type'),
  m('attempt', 1.5, 'wrong_type'),
  m('attempt', 0, 'out_of_range'),
  // traceparent
  m('traceparent', 1, 'wrong_type'),
  m('traceparent', 'abc', 'bad_format'),
  m('traceparent', TRACEPARENT.toUpperCase(), 'bad_format'),
  m('traceparent', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, 'bad_format'),
  m('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01', 'bad_format'),
  m('traceparent', 'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'bad_format'),
  m('traceparent', `${TRACEPARENT}-extra`, 'bad_format'),
  e('traceparent', 'x', 'bad_format'),
];

/** Apply a row to a fresh valid envelope. */
export function buildBad(row: BadRow): unknown {
  if ('replace' in row) return row.replace;
  const env: Record<string, unknown> = {
    ...(row.base === 'message' ? fullMessage() : fullEvent()),
  };
  for (const [k, v] of Object.entries(row.patch ?? {})) {
    if (v === DELETE) delete env[k];
    else env[k] = v;
  }
  return env;
}

export const label = (row: BadRow): string => {
  const value =
    row.replace !== undefined || row.patch === undefined
      ? row.replace
      : Object.values(row.patch)[0];
  let shown: string;
  try {
    shown =
      value === DELETE
        ? '<absent>'
        : typeof value === 'function'
          ? 'function'
          : String(JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  return `${row.base} ${row.field || '<envelope>'} = ${shown.slice(0, 40)} -> ${row.reason}`;
};

/** One value each rule must refuse, and why. */
export const RULE_BAD: Record<FieldRule, [unknown, InvalidReason]> = {
  kind: ['nope', 'unknown_kind'],
  version: [2, 'unsupported_version'],
  id: ['a b', 'bad_format'],
  timestamp: [5, 'out_of_range'],
  address: ['a b', 'bad_format'],
  topic: ['a..b', 'bad_format'],
  type: ['a b', 'bad_format'],
  priority: [9, 'out_of_range'],
  guarantee: ['maybe-once', 'out_of_range'],
  headers: [{ 'a b': 'x' }, 'bad_format'],
  payload: [() => 1, 'wrong_type'],
  partitionKey: ['', 'bad_format'],
  positiveInt: [0, 'out_of_range'],
  expiresAt: [5, 'out_of_range'],
  traceparent: ['x', 'bad_format'],
};
