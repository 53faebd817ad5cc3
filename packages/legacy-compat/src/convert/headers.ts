/**
 * The headers a converted envelope carries so it can go back to its legacy
 * form unchanged: which shape it came in, which legacy field names it used,
 * and every field the envelope has no place for (the extensions).
 */
import {
  DEFAULT_LIMITS,
  type Envelope,
  HEADER_KEY_PATTERN,
  HEADER_VALUE_PATTERN,
  type Headers,
  InvalidMessageError,
} from '@hub/protocol';

/** The envelope's own header syntax (from @hub/protocol's field tables). */
export const HEADER_KEY_RE = new RegExp(HEADER_KEY_PATTERN);
export const HEADER_VALUE_RE = new RegExp(HEADER_VALUE_PATTERN);

/** Name of the shape a message was converted from (`plain-json`, `cloudevents`, ...). */
export const SHAPE_HEADER = 'legacy-shape';
/** Which legacy field held each envelope field, and in which format (see table-shape.ts). */
export const KEYS_HEADER = 'legacy-keys';
/** JSON object of the legacy fields the envelope has no place for; they come back on the way out. */
export const EXTENSIONS_HEADER = 'legacy-extensions';

/** Headers owned by the converter: never copied from legacy headers, never written back as legacy headers. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  SHAPE_HEADER,
  KEYS_HEADER,
  EXTENSIONS_HEADER,
]);

/** A JSON object with no prototype, so a legacy key named `__proto__` is an ordinary field. */
export const bag = (): Record<string, unknown> => Object.create(null) as Record<string, unknown>;

/** Set `key` as an own, enumerable property, whatever its name. */
export function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  } else obj[key] = value;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

/**
 * Refuse values JSON would change or drop (undefined, functions, symbols,
 * bigint, NaN/Infinity, Dates, class instances, cycles): an extension that
 * came back different would be a dropped field.
 */
function checkJson(v: unknown, path: string, depth: number): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (Number.isFinite(v)) return;
      break;
    case 'object': {
      if (v === null) return;
      if (depth > DEFAULT_LIMITS.maxPayloadDepth) {
        throw new InvalidMessageError(
          'too_deep',
          path,
          `[hub:legacy] field '${path}' nests deeper than ${DEFAULT_LIMITS.maxPayloadDepth} levels (or is cyclic)`,
        );
      }
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) checkJson(v[i], `${path}.${i}`, depth + 1);
        return;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) break;
      for (const k of Object.keys(v)) {
        checkJson((v as Record<string, unknown>)[k], `${path}.${k}`, depth + 1);
      }
      return;
    }
  }
  throw new InvalidMessageError(
    'wrong_type',
    path,
    `[hub:legacy] field '${path}' is ${v instanceof Date ? 'a Date' : typeName(v)}, which has no JSON form to keep it in`,
  );
}

/** Store `ext` (DEL, which JSON.stringify leaves as is and header values refuse, escaped) (when it has any field) in the extensions header. @throws InvalidMessageError */
export function writeExtensions(headers: Headers, ext: Record<string, unknown> | undefined): void {
  if (ext === undefined) return;
  let any = false;
  for (const k of Object.keys(ext)) {
    checkJson(ext[k], k, 1);
    any = true;
  }
  if (!any) return;
  const text = JSON.stringify(ext).replaceAll('\u007f', '\\u007f');
  if (text.length > DEFAULT_LIMITS.maxHeaderValueLength) {
    throw new InvalidMessageError(
      'too_large',
      `headers.${EXTENSIONS_HEADER}`,
      `[hub:legacy] the legacy fields without an envelope field (${Object.keys(ext).join(', ').slice(0, 200)}) take ${text.length} chars as JSON, over the header limit of ${DEFAULT_LIMITS.maxHeaderValueLength}; move them into the payload`,
    );
  }
  headers[EXTENSIONS_HEADER] = text;
}

/** The extension fields of a converted envelope (an empty object when it has none). */
export function readExtensions(envelope: Envelope): Record<string, unknown> {
  const text = envelope.headers[EXTENSIONS_HEADER];
  if (text === undefined) return bag();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidMessageError(
      'malformed',
      `headers.${EXTENSIONS_HEADER}`,
      `[hub:legacy] header '${EXTENSIONS_HEADER}' is not JSON`,
      { cause: err },
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidMessageError(
      'wrong_type',
      `headers.${EXTENSIONS_HEADER}`,
      `[hub:legacy] header '${EXTENSIONS_HEADER}' must be a JSON object`,
    );
  }
  const out = bag();
  for (const k of Object.keys(parsed)) put(out, k, (parsed as Record<string, unknown>)[k]);
  return out;
}

/** Copy every own field of `from` onto `to` (extensions win over values rebuilt from the envelope). */
export function assignAll(to: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const k of Object.keys(from)) put(to, k, from[k]);
}

/** The envelope's headers without the converter's own. */
export function userHeaders(headers: Headers): Headers | undefined {
  let out: Headers | undefined;
  for (const k of Object.keys(headers)) {
    if (RESERVED_HEADERS.has(k)) continue;
    out ??= {};
    out[k] = headers[k]!;
  }
  return out;
}
