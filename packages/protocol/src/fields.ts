/**
 * The wire format as data: one table per envelope kind. The validator
 * (validate.ts) walks these tables and the JSON Schema builder (schema.ts)
 * renders them, so the two cannot drift apart.
 */

/** How a field is checked. Each rule maps to one check in validate.ts and one schema fragment. */
export type FieldRule =
  | 'kind'
  | 'version'
  | 'id'
  | 'timestamp'
  | 'address'
  | 'topic'
  | 'type'
  | 'priority'
  | 'guarantee'
  | 'headers'
  | 'payload'
  | 'partitionKey'
  | 'positiveInt'
  | 'expiresAt'
  | 'traceparent';

export interface FieldSpec {
  /** Property name on the wire (and in the TypeScript type). */
  readonly name: string;
  readonly rule: FieldRule;
  /** Absent (or `undefined`) is an error. `payload`/`data` are optional: absent means `undefined`. */
  readonly required: boolean;
  /** One line for the schema and the docs. */
  readonly description: string;
}

/**
 * Syntax of addresses (`source`, `destination`, `replyTo`): endpoint ids,
 * URIs such as `https://svc.example/orders` or `agent@host:1`.
 */
export const ADDRESS_PATTERN = '^[A-Za-z0-9_.:/@-]+$';
/** Topics: dot-separated, non-empty segments; no wildcards (those belong to subscriptions). */
export const TOPIC_PATTERN = '^[A-Za-z0-9_:/@-]+(\\.[A-Za-z0-9_:/@-]+)*$';
/** Ids and types: visible ASCII, no spaces (nanoid, UUID, ULID, reverse-DNS types). */
export const ID_PATTERN = '^[!-~]+$';
export const TYPE_PATTERN = ID_PATTERN;
/** Header names: HTTP token characters (RFC 9110 `tchar`), so every header can ride on HTTP. */
export const HEADER_KEY_PATTERN = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";
/** Header values: no control characters except TAB (they would break HTTP and log lines). */
export const HEADER_VALUE_PATTERN = '^[^\\x00-\\x08\\x0A-\\x1F\\x7F]*$';
/**
 * W3C Trace Context `traceparent`, version-00 layout; version `ff` and
 * all-zero trace or parent ids are invalid per the spec.
 */
export const TRACEPARENT_PATTERN =
  '^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$';

/** Latest instant a JavaScript Date can hold (ms); the upper bound of `expiresAt`. */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** The object key that marks a tagged special value inside a payload (see docs/protocol.md). */
export const TAG_KEY = '$hub:t';

const f = (name: string, rule: FieldRule, required: boolean, description: string): FieldSpec =>
  Object.freeze({ name, rule, required, description });

const VERSION = f(
  'version',
  'version',
  true,
  'Envelope format version. A reader refuses versions newer than its own.',
);
const ID = f('id', 'id', true, 'Unique id (nanoid by default); the dedup key under exactly-once.');
const TIMESTAMP = f(
  'timestamp',
  'timestamp',
  true,
  'Creation time, integer ms since the Unix epoch.',
);
const SOURCE = f('source', 'address', true, 'Address of the sender.');
const HEADERS = f(
  'headers',
  'headers',
  true,
  'String metadata (tracing, auth, application). `{}` when there is none.',
);
const TRACEPARENT = f('traceparent', 'traceparent', false, 'W3C Trace Context traceparent.');

/** Fields of a `kind: "message"` envelope, in wire order. */
export const MESSAGE_FIELDS: readonly FieldSpec[] = Object.freeze([
  VERSION,
  f('kind', 'kind', true, 'Always "message": a point-to-point message.'),
  ID,
  TIMESTAMP,
  SOURCE,
  f('destination', 'address', true, 'Endpoint id that should handle the message.'),
  f('type', 'type', true, 'Message type, e.g. "task_assignment" or an application type.'),
  f('priority', 'priority', true, '1 (LOW) to 5 (CRITICAL); higher is served first under backlog.'),
  f(
    'deliveryGuarantee',
    'guarantee',
    true,
    'best-effort | at-least-once | exactly-once | ordered.',
  ),
  HEADERS,
  f('payload', 'payload', false, 'Application data. Absent means undefined.'),
  f('correlationId', 'id', false, 'Id of the request this answers, or a conversation id.'),
  f('replyTo', 'address', false, 'Endpoint the reply should go to.'),
  f(
    'partitionKey',
    'partitionKey',
    false,
    'FIFO key under the ordered guarantee (default: destination).',
  ),
  f('ttlMs', 'positiveInt', false, 'Time to live in ms as given at creation (informative).'),
  f(
    'expiresAt',
    'expiresAt',
    false,
    'Absolute expiry, ms since epoch; past it the message is dropped.',
  ),
  f('attempt', 'positiveInt', true, 'Delivery attempt, 1-based; raised on each redelivery.'),
  TRACEPARENT,
]);

/** Fields of a `kind: "event"` envelope, in wire order. */
export const EVENT_FIELDS: readonly FieldSpec[] = Object.freeze([
  VERSION,
  f('kind', 'kind', true, 'Always "event": published to every subscriber of a matching topic.'),
  ID,
  TIMESTAMP,
  SOURCE,
  f('type', 'type', true, 'Event type, e.g. "user_registered".'),
  f('topic', 'topic', true, 'Dot-separated topic, e.g. "orders.eu.created".'),
  HEADERS,
  f('data', 'payload', false, 'Application data. Absent means undefined.'),
  f('priority', 'priority', false, '1 (LOW) to 5 (CRITICAL).'),
  f(
    'deliveryGuarantee',
    'guarantee',
    false,
    'best-effort (the default when absent) | at-least-once | exactly-once | ordered.',
  ),
  f('expiresAt', 'expiresAt', false, 'Absolute expiry, ms since epoch.'),
  TRACEPARENT,
]);
