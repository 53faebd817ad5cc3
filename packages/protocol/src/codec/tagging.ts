/**
 * The JSON codec's encoding of values JSON has no form for. Inside a payload
 * such a value travels as a tag object `{"$hub:t": <tag>, "v": <string>}`:
 *   date      -> ISO 8601 string (ms precision)
 *   bytes     -> standard base64 (Uint8Array and Buffer)
 *   bigint    -> decimal string
 *   undefined -> no `v` (only as an array element; undefined object
 *                properties are omitted, as JSON.stringify does)
 * An application key that starts with `$hub:t` and continues with only `$`
 * gets one more `$` on the wire and loses it on decode, so a payload can never
 * forge a tag.
 */
import { TAG_KEY } from '../fields.js';
import { payloadError, pushPayloadFailurePath, recordPayloadFailure } from '../payload.js';

type NodeBufferCtor = {
  from(data: ArrayBufferLike, offset: number, length: number): { toString(enc: 'base64'): string };
  from(data: string, enc: 'base64'): Uint8Array;
};
const NodeBuffer = (globalThis as { Buffer?: NodeBufferCtor }).Buffer;

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const BIGINT_RE = /^-?[0-9]+$/;
// ISO 8601 as Date#toISOString writes it (years may be extended: +275760 / -000001).
const DATE_RE =
  /^(?:\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;
const ESCAPED_KEY_RE = /^\$hub:t\$+$/;
const OWN_KEY_RE = /^\$hub:t\$*$/;

const BAD = Symbol('bad');

export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer !== undefined) {
    return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  }
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin);
}

export function fromBase64(text: string): Uint8Array {
  if (NodeBuffer !== undefined) {
    // Copy out of Node's shared pool so callers never see (or keep alive) a slab.
    return new Uint8Array(NodeBuffer.from(text, 'base64'));
  }
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Set an own property; a plain assignment of "__proto__" would change the prototype instead. */
export function setKey(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else obj[key] = value;
}

/** A copy of `value` with special values replaced by tag objects. Call only when needed. */
export function toWire(value: unknown): unknown {
  if (typeof value === 'bigint') return { [TAG_KEY]: 'bigint', v: value.toString() };
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) {
      const e: unknown = value[i];
      out[i] = e === undefined ? { [TAG_KEY]: 'undefined' } : toWire(e);
    }
    return out;
  }
  if (value instanceof Uint8Array) return { [TAG_KEY]: 'bytes', v: toBase64(value) };
  if (value instanceof Date) return { [TAG_KEY]: 'date', v: value.toISOString() };
  const out: Record<string, unknown> = {};
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    const e = obj[k];
    if (e === undefined) continue;
    setKey(out, OWN_KEY_RE.test(k) ? `${k}$` : k, toWire(e));
  }
  return out;
}

function decodeTag(obj: Record<string, unknown>): unknown {
  const tag = obj[TAG_KEY];
  const v = obj.v;
  switch (tag) {
    case 'date': {
      if (typeof v === 'string' && DATE_RE.test(v)) {
        const d = new Date(v);
        if (!Number.isNaN(d.getTime())) return d;
      }
      recordPayloadFailure('bad_format', 'holds a date tag whose value is not an ISO 8601 date');
      return BAD;
    }
    case 'bytes':
      if (typeof v === 'string' && v.length % 4 === 0 && BASE64_RE.test(v)) return fromBase64(v);
      recordPayloadFailure('bad_format', 'holds a bytes tag whose value is not standard base64');
      return BAD;
    case 'bigint':
      if (typeof v === 'string' && BIGINT_RE.test(v)) return BigInt(v);
      recordPayloadFailure('bad_format', 'holds a bigint tag whose value is not a decimal integer');
      return BAD;
    case 'undefined':
      return undefined;
    default:
      recordPayloadFailure(
        'bad_format',
        `holds an unknown tag ${JSON.stringify(tag)?.slice(0, 40)}`,
      );
      return BAD;
  }
}

function revive(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const r = revive(value[i]);
      if (r === BAD) {
        pushPayloadFailurePath(i);
        return BAD;
      }
      value[i] = r;
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  if (Object.hasOwn(obj, TAG_KEY)) return decodeTag(obj);
  let escaped = false;
  for (const k in obj) {
    const e = obj[k];
    if (typeof e === 'object' && e !== null) {
      const r = revive(e);
      if (r === BAD) {
        pushPayloadFailurePath(k);
        return BAD;
      }
      obj[k] = r;
    }
    if (!escaped && ESCAPED_KEY_RE.test(k)) escaped = true;
  }
  if (!escaped) return obj;
  const out: Record<string, unknown> = {};
  for (const k in obj) setKey(out, ESCAPED_KEY_RE.test(k) ? k.slice(0, -1) : k, obj[k]);
  return out;
}

/**
 * Replace tag objects inside a freshly JSON-parsed value (mutated in place;
 * use the returned value instead of the argument).
 * @throws InvalidMessageError (`bad_format`, path under `field`) for a malformed tag.
 */
export function reviveTags(value: unknown, field: string): unknown {
  const r = revive(value);
  if (r === BAD) throw payloadError(field);
  return r;
}
