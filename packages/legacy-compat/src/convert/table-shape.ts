/**
 * Shapes that are flat JSON objects with known field names (plain JSON,
 * Moleculer packets, BullMQ jobs) share one mapper driven by a table of
 * legacy field name → envelope role. The `legacy-keys` header records which
 * legacy name held each role (and the timestamp and priority formats), so the
 * way back writes the same names; values that had to change to fit the
 * envelope, and fields with no role, go to the extensions header.
 */
import {
  DEFAULT_LIMITS,
  type Envelope,
  type Headers,
  InvalidMessageError,
  parseEnvelope,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import {
  assignAll,
  bag,
  HEADER_KEY_RE,
  HEADER_VALUE_RE,
  KEYS_HEADER,
  put,
  RESERVED_HEADERS,
  readExtensions,
  SHAPE_HEADER,
  userHeaders,
  writeExtensions,
} from './headers.js';
import {
  fromTime,
  PRIORITY_LABELS,
  type TimeFormat,
  toAddress,
  toId,
  toPriority,
  toTime,
  toTopic,
  toType,
} from './names.js';
import type { ConvertContext, LegacyShape } from './shape.js';

/** What a legacy field means in the envelope. */
export type Role =
  | 'type'
  | 'body'
  | 'source'
  | 'destination'
  | 'id'
  | 'timestamp'
  | 'priority'
  | 'correlationId'
  | 'replyTo'
  | 'topic'
  | 'headers';

/** Every role, in the order of the slots the mapper fills and of the `legacy-keys` header. */
const ROLES: readonly Role[] = [
  'type',
  'body',
  'source',
  'destination',
  'id',
  'timestamp',
  'priority',
  'correlationId',
  'replyTo',
  'topic',
  'headers',
];
/** Slot of each role. */
const R = Object.fromEntries(ROLES.map((role, i) => [role, i])) as Record<Role, number>;

/** Short codes of the roles in the `legacy-keys` header. */
const CODE: Record<Role, string> = {
  type: 't',
  body: 'b',
  source: 's',
  destination: 'd',
  id: 'i',
  timestamp: 'ts',
  priority: 'p',
  correlationId: 'c',
  replyTo: 'r',
  topic: 'tp',
  headers: 'h',
};
const ROLE_OF_CODE = new Map<string, Role>(ROLES.map((role) => [CODE[role], role]));

export interface TableShapeSpec {
  readonly name: string;
  /** Legacy field name → role. The first field of a role present in a message claims it. */
  readonly fields: Readonly<Record<string, Role>>;
  /** Field names written for envelopes that did not come from this shape. */
  readonly defaults: Readonly<Partial<Record<Role, string>>>;
  /** `auto`: a message when a destination field is present, else an event. */
  readonly kind: 'auto' | 'message' | 'event';
  /** Message type when no field holds one. */
  readonly fixedType?: string;
  /** The destination when no field holds one (e.g. a job's queue name). */
  destinationOf?(input: Record<string, unknown>): string | undefined;
  /** Fixed fields of the legacy form, for envelopes that did not come from this shape. */
  extra?(envelope: Envelope): Record<string, unknown>;
  detect(input: unknown): boolean;
  /** The error for an object this shape claimed but lacks a type in. */
  missingType?: string;
}

/** Formats of the roles whose values have several spellings. */
interface Keys {
  key: Partial<Record<Role, string>>;
  time: TimeFormat;
  /** Priority written as a number (`n`) or as a name (`name`). */
  prio: 'n' | 'name';
}

function encodeKeys(
  keyOf: ReadonlyArray<string | undefined>,
  time: TimeFormat,
  prio: string,
): string {
  let out = '';
  for (let i = 0; i < ROLES.length; i++) {
    const key = keyOf[i];
    if (key === undefined) continue;
    let item = `${CODE[ROLES[i]!]}=${key}`;
    if (i === R.timestamp) item += `:${time}`;
    else if (i === R.priority) item += `:${prio}`;
    out = out === '' ? item : `${out},${item}`;
  }
  return out;
}

/** Add `key` to the extensions, creating them on first use. */
function keep(
  ext: Record<string, unknown> | undefined,
  key: string,
  v: unknown,
): Record<string, unknown> {
  const out = ext ?? bag();
  put(out, key, v);
  return out;
}

function decodeKeys(text: string): Keys {
  const k: Keys = { key: {}, time: 'ms', prio: 'n' };
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    const role = ROLE_OF_CODE.get(item.slice(0, eq));
    if (role === undefined) continue;
    let name = item.slice(eq + 1);
    if (role === 'timestamp' || role === 'priority') {
      const colon = name.lastIndexOf(':');
      const fmt = name.slice(colon + 1);
      name = name.slice(0, colon);
      if (role === 'timestamp') k.time = fmt as TimeFormat;
      else k.prio = fmt === 'name' ? 'name' : 'n';
    }
    k.key[role] = name;
  }
  return k;
}

/** A legacy `headers` object the envelope can carry as is (room left for the converter's own three). */
function asHeaders(v: unknown): Headers | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  if (Object.getPrototypeOf(v) !== Object.prototype && Object.getPrototypeOf(v) !== null) {
    return undefined;
  }
  const keys = Object.keys(v);
  if (keys.length > DEFAULT_LIMITS.maxHeaders - RESERVED_HEADERS.size) return undefined;
  for (const k of keys) {
    const value = (v as Record<string, unknown>)[k];
    if (
      RESERVED_HEADERS.has(k) ||
      k.length > DEFAULT_LIMITS.maxHeaderKeyLength ||
      !HEADER_KEY_RE.test(k) ||
      typeof value !== 'string' ||
      value.length > DEFAULT_LIMITS.maxHeaderValueLength ||
      !HEADER_VALUE_RE.test(value)
    ) {
      return undefined;
    }
  }
  return v as Headers;
}

/** Build a table-driven shape from its spec. */
export function tableShape(spec: TableShapeSpec): LegacyShape<Record<string, unknown>> {
  const fields = new Map<string, number>(
    Object.entries(spec.fields).map(([key, role]) => [key, R[role]]),
  );
  const typeFields = Object.keys(spec.fields).filter((k) => spec.fields[k] === 'type');
  const missingType =
    spec.missingType ??
    `[hub:legacy] ${spec.name} message has no type: expected one of ${typeFields.join(', ')}`;

  let lastKeyOf: ReadonlyArray<string | undefined> = [];
  let lastTime: TimeFormat | undefined;
  let lastPrio = '';
  let lastKeys = '';

  // The hot path (≥ 500,000 plain JSON messages/s): no closures, no per-call
  // objects beyond the envelope, role slots in a fixed array.
  function toEnvelope(o: Record<string, unknown>, ctx: ConvertContext): Envelope {
    let ext: Record<string, unknown> | undefined;
    const keyOf: Array<string | undefined> = [
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ];
    let time: TimeFormat = 'ms';
    let prio: 'n' | 'name' = 'n';
    let type: string | undefined;
    let body: unknown;
    let source: string | undefined;
    let destination: string | undefined;
    let id: string | undefined;
    let timestamp: number | undefined;
    let priority: 1 | 2 | 3 | 4 | 5 | undefined;
    let correlationId: string | undefined;
    let replyTo: string | undefined;
    let topic: string | undefined;
    let headers: Headers | undefined;
    // Raw values of the roles only one kind has, moved to the extensions if the other kind wins.
    let rawTopic: unknown;
    let rawCorrelation: unknown;
    let rawReplyTo: unknown;

    for (const key in o) {
      if (!Object.hasOwn(o, key)) continue;
      const v = o[key];
      const role = fields.get(key);
      if (role !== undefined && keyOf[role] === undefined) {
        let claimed: unknown;
        switch (role) {
          case R.type:
            claimed = type = toType(v);
            break;
          case R.body:
            if (v !== undefined) claimed = body = v;
            break;
          case R.source:
            claimed = source = toAddress(v);
            break;
          case R.destination:
            claimed = destination = toAddress(v);
            break;
          case R.replyTo:
            claimed = replyTo = toAddress(v);
            rawReplyTo = v;
            break;
          case R.id:
            claimed = id = toId(v);
            break;
          case R.correlationId:
            claimed = correlationId = toId(v);
            rawCorrelation = v;
            break;
          case R.topic:
            claimed = topic = toTopic(v);
            rawTopic = v;
            break;
          case R.timestamp: {
            const t = toTime(v, ctx.now());
            if (t !== undefined) {
              timestamp = t.ms;
              time = t.format;
              claimed = fromTime(t.ms, t.format);
            }
            break;
          }
          case R.priority:
            priority = toPriority(v);
            if (priority !== undefined) {
              prio = typeof v === 'string' ? 'name' : 'n';
              claimed = prio === 'name' ? PRIORITY_LABELS[priority] : priority;
            }
            break;
          case R.headers:
            claimed = headers = asHeaders(v);
            break;
        }
        if (claimed !== undefined) {
          keyOf[role] = key;
          // Changed to fit the envelope: the original comes back from the extensions.
          if (claimed !== v && role !== R.body) ext = keep(ext, key, v);
          continue;
        }
      }
      ext = keep(ext, key, v);
    }

    if (type === undefined) {
      if (spec.fixedType === undefined)
        throw new InvalidMessageError('missing', 'type', missingType);
      type = spec.fixedType;
    }
    destination ??= spec.destinationOf?.(o);
    const isMessage =
      spec.kind === 'message' || (spec.kind === 'auto' && destination !== undefined);
    if (isMessage) {
      if (keyOf[R.topic] !== undefined) ext = keep(ext, keyOf[R.topic]!, rawTopic);
      keyOf[R.topic] = undefined;
    } else {
      if (keyOf[R.correlationId] !== undefined) {
        ext = keep(ext, keyOf[R.correlationId]!, rawCorrelation);
      }
      if (keyOf[R.replyTo] !== undefined) ext = keep(ext, keyOf[R.replyTo]!, rawReplyTo);
      keyOf[R.correlationId] = undefined;
      keyOf[R.replyTo] = undefined;
    }

    const h: Headers = {};
    if (headers !== undefined) for (const name of Object.keys(headers)) h[name] = headers[name]!;
    h[SHAPE_HEADER] = spec.name;
    // A producer's messages repeat one layout: reuse the last header text when the layout is the same.
    let same = time === lastTime && prio === lastPrio;
    for (let i = 0; same && i < keyOf.length; i++) same = keyOf[i] === lastKeyOf[i];
    if (!same) {
      lastKeyOf = keyOf;
      lastTime = time;
      lastPrio = prio;
      lastKeys = encodeKeys(keyOf, time, prio);
    }
    h[KEYS_HEADER] = lastKeys;
    if (ext !== undefined) writeExtensions(h, ext);

    let env: Envelope;
    if (isMessage) {
      const m: UnifiedMessage = {
        kind: 'message',
        version: 1,
        id: id ?? ctx.newId(),
        timestamp: timestamp ?? ctx.now(),
        source: source ?? ctx.defaultSource,
        destination: destination ?? ctx.defaultDestination,
        type,
        priority: priority ?? 2,
        deliveryGuarantee: ctx.deliveryGuarantee,
        headers: h,
        payload: body,
        attempt: 1,
      };
      if (correlationId !== undefined) m.correlationId = correlationId;
      if (replyTo !== undefined) m.replyTo = replyTo;
      env = m;
    } else {
      const e: UnifiedEvent = {
        kind: 'event',
        version: 1,
        id: id ?? ctx.newId(),
        timestamp: timestamp ?? ctx.now(),
        source: source ?? ctx.defaultSource,
        type,
        topic: topic ?? (toTopic(type) as string),
        headers: h,
        data: body,
      };
      if (priority !== undefined) e.priority = priority;
      env = e;
    }
    return parseEnvelope(env);
  }

  function fromEnvelope(env: Envelope): Record<string, unknown> {
    const own = env.headers[SHAPE_HEADER] === spec.name && env.headers[KEYS_HEADER] !== undefined;
    const k: Keys = own
      ? decodeKeys(env.headers[KEYS_HEADER]!)
      : { key: { ...spec.defaults }, time: 'ms', prio: 'n' };
    const out: Record<string, unknown> = own ? {} : { ...spec.extra?.(env) };
    const isMessage = env.kind === 'message';
    const set = (role: Role, value: unknown) => {
      const key = k.key[role];
      if (key !== undefined && value !== undefined) put(out, key, value);
    };
    set('type', env.type);
    set('body', isMessage ? env.payload : env.data);
    set('source', env.source);
    set('id', env.id);
    set('timestamp', fromTime(env.timestamp, k.time));
    const p = env.priority;
    if (p !== undefined && (own || isMessage)) {
      set('priority', k.prio === 'name' ? PRIORITY_LABELS[p] : p);
    }
    if (isMessage) {
      set('destination', env.destination);
      set('correlationId', env.correlationId);
      set('replyTo', env.replyTo);
    } else if (own || env.topic !== env.type) set('topic', env.topic);
    const user = userHeaders(env.headers);
    if (user !== undefined || (own && k.key.headers !== undefined)) {
      // Headers the hub added to a message that has no headers field (such as the
      // bridge's loop marker) still travel, under `headers`.
      put(out, k.key.headers ?? 'headers', user ?? {});
    }
    if (own) assignAll(out, readExtensions(env));
    return out;
  }

  return { name: spec.name, detect: spec.detect, toEnvelope, fromEnvelope };
}
