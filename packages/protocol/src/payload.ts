/**
 * What a payload may hold, and how big it is. One recursive walk checks the
 * value model (plain JSON plus Date, Uint8Array, bigint, undefined), the
 * nesting depth, and estimates the JSON size with an early exit past the
 * budget. It also notes whether the JSON codec must tag special values.
 *
 * Hot path: the success path allocates nothing. Failure details are left in
 * module state and turned into an error by `payloadError`, only on failure.
 */
import { InvalidMessageError, type InvalidReason } from './errors.js';
import { TAG_KEY } from './fields.js';

const FAIL = -1;
const DOLLAR = 36;

let maxDepth = 64;
let special = false;
let failReason: InvalidReason = 'wrong_type';
let failDetail = '';
const failPath: (string | number)[] = [];

type NodeBuffer = { byteLength(s: string, enc: 'utf8'): number };
const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

/** Exact UTF-8 length; only called once a string could push the payload over its budget. */
export function utf8Length(s: string): number {
  if (NodeBuffer !== undefined) return NodeBuffer.byteLength(s, 'utf8');
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

function fail(reason: InvalidReason, detail: string): number {
  failReason = reason;
  failDetail = detail;
  failPath.length = 0;
  return FAIL;
}

function describe(v: object): string {
  const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
  return proto?.constructor?.name ?? 'object';
}

function walk(v: unknown, depth: number, budget: number): number {
  switch (typeof v) {
    case 'string':
      // A UTF-16 unit is at most 3 UTF-8 bytes: only measure exactly when it could matter.
      return (v.length * 3 < budget ? v.length : utf8Length(v)) + 2;
    case 'number':
      // NaN and ±Infinity have no JSON form.
      return v - v === 0 ? 8 : fail('out_of_range', `holds ${v}, which JSON cannot carry`);
    case 'boolean':
      return 5;
    case 'undefined':
      return 0;
    case 'bigint':
      special = true;
      return 30 + v.toString().length;
    case 'object': {
      if (v === null) return 4;
      if (depth >= maxDepth) return fail('too_deep', `nests deeper than ${maxDepth} levels`);
      if (Array.isArray(v)) {
        let total = 2;
        for (let i = 0; i < v.length; i++) {
          const e: unknown = v[i];
          let n: number;
          // Finite numbers and short strings inline (the common array elements): no call each.
          if (typeof e === 'number' && e - e === 0) n = 8;
          else if (typeof e === 'string' && e.length * 3 < budget - total) n = e.length + 2;
          else if (e === undefined) {
            special = true;
            n = 20;
          } else {
            n = walk(e, depth + 1, budget - total);
            if (n < 0) {
              failPath.push(i);
              return FAIL;
            }
          }
          total += n + 1;
          if (total > budget) return total;
        }
        return total;
      }
      // A plain object first (the commonest): its prototype is neither
      // Uint8Array's nor Date's, so the two instanceof walks are skipped.
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        if (v instanceof Uint8Array) {
          special = true;
          return Math.ceil(v.byteLength / 3) * 4 + 30;
        }
        if (v instanceof Date) {
          if (Number.isNaN(v.getTime())) return fail('bad_format', 'is an invalid Date');
          special = true;
          return 40;
        }
        return fail(
          'wrong_type',
          `is a ${describe(v)}; payloads hold plain objects, arrays, strings, numbers, booleans, null, Date, Uint8Array and bigint`,
        );
      }
      let total = 2;
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        const e = obj[k];
        if (e === undefined) continue;
        if (k.charCodeAt(0) === DOLLAR && k.startsWith(TAG_KEY)) special = true;
        let n: number;
        if (typeof e === 'number' && e - e === 0) n = 8;
        else if (typeof e === 'string' && e.length * 3 < budget - total) n = e.length + 2;
        else {
          n = walk(e, depth + 1, budget - total);
          if (n < 0) {
            failPath.push(k);
            return FAIL;
          }
        }
        total += k.length + 4 + n;
        if (total > budget) return total;
      }
      return total;
    }
    default:
      return fail('wrong_type', `is a ${typeof v}, which no codec can carry`);
  }
}

/**
 * Estimated JSON size of `value` in bytes, or -1 when the value cannot travel
 * (then {@link payloadError} describes why). Stops counting once over `budget`.
 */
export function measurePayload(value: unknown, depthLimit: number, budget: number): number {
  maxDepth = depthLimit;
  special = false;
  return walk(value, 0, budget);
}

/** After {@link measurePayload}: does the payload hold values the JSON codec must tag? */
export function payloadNeedsTags(): boolean {
  return special;
}

/** The error for the last failed {@link measurePayload}, with the path inside the payload. */
export function payloadError(field: string): InvalidMessageError {
  let path = field;
  // A too-deep path would be as long as the nesting: name the payload itself.
  if (failReason !== 'too_deep') {
    for (let i = failPath.length - 1; i >= 0; i--) path += `.${String(failPath[i])}`;
  }
  return new InvalidMessageError(
    failReason,
    path,
    `[hub:protocol] invalid envelope: '${path}' ${failDetail}`,
  );
}

/** Record a failure found outside `walk` (the codec's tag decoder) so `payloadError` reports it. */
export function recordPayloadFailure(reason: InvalidReason, detail: string): void {
  fail(reason, detail);
}

/** Called while unwinding a failure, innermost key first. */
export function pushPayloadFailurePath(key: string | number): void {
  failPath.push(key);
}

/**
 * Check a payload as a wire codec does before it encodes: the value model,
 * depth and estimated size. Throws the codec's `InvalidMessageError` (same
 * reason, field path and text), so an in-process transport refuses exactly
 * what a networked one refuses. `field` is `payload` or `data`.
 */
export function checkWirePayload(
  value: unknown,
  field: string,
  depthLimit: number,
  budget: number,
): void {
  const size = measurePayload(value, depthLimit, budget);
  if (size < 0) throw payloadError(field);
  if (size > budget) throw tooLarge(field, budget);
}

/**
 * The estimated JSON size of what the last {@link cloneWalk} copied, or
 * FAIL. Sizes are small integers: keeping one here is a plain store, where
 * keeping the copy (a new object) in a module variable, which lives in the
 * old generation, cost a write-barrier call for every object and array copied.
 */
let walked = 0;

/**
 * {@link walk} and {@link cloneValue} in one pass: the same checks, sizes,
 * order and early exits as `walk` (so it accepts and refuses exactly what
 * `walk` does, with the same failure), returning the copy `cloneValue` makes
 * (a primitive is its own copy) and leaving the size in `walked`. Checking
 * and then copying walked every payload twice; this is on the path of every
 * message the memory transport copies.
 */
function cloneWalk(v: unknown, depth: number, budget: number): unknown {
  switch (typeof v) {
    case 'string':
      walked = (v.length * 3 < budget ? v.length : utf8Length(v)) + 2;
      return v;
    case 'number':
      walked = v - v === 0 ? 8 : fail('out_of_range', `holds ${v}, which JSON cannot carry`);
      return v;
    case 'boolean':
      walked = 5;
      return v;
    case 'undefined':
      walked = 0;
      return v;
    case 'bigint':
      special = true;
      walked = 30 + v.toString().length;
      return v;
    case 'object': {
      if (v === null) {
        walked = 4;
        return v;
      }
      if (depth >= maxDepth) {
        walked = fail('too_deep', `nests deeper than ${maxDepth} levels`);
        return undefined;
      }
      if (Array.isArray(v)) {
        const out = v.slice() as unknown[];
        let total = 2;
        for (let i = 0; i < out.length; i++) {
          const e: unknown = out[i];
          let n: number;
          if (typeof e === 'number' && e - e === 0) n = 8;
          else if (typeof e === 'string' && e.length * 3 < budget - total) n = e.length + 2;
          else if (e === undefined) {
            special = true;
            n = 20;
            out[i] = undefined; // a hole becomes a slot, as cloneValue makes it
          } else {
            const c = cloneWalk(e, depth + 1, budget - total);
            n = walked;
            if (n < 0) {
              failPath.push(i);
              walked = FAIL;
              return undefined;
            }
            if (typeof e === 'object' && e !== null) out[i] = c;
          }
          total += n + 1;
          if (total > budget) break;
        }
        walked = total;
        return out;
      }
      // A plain object first, as in walk.
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) {
        if (v instanceof Uint8Array) {
          special = true;
          walked = Math.ceil(v.byteLength / 3) * 4 + 30;
          return new Uint8Array(v);
        }
        if (v instanceof Date) {
          if (Number.isNaN(v.getTime())) {
            walked = fail('bad_format', 'is an invalid Date');
            return undefined;
          }
          special = true;
          walked = 40;
          return new Date(v.getTime());
        }
        walked = fail(
          'wrong_type',
          `is a ${describe(v)}; payloads hold plain objects, arrays, strings, numbers, booleans, null, Date, Uint8Array and bigint`,
        );
        return undefined;
      }
      const out: Record<string, unknown> = {};
      let total = 2;
      let at = 0;
      const obj = v as Record<string, unknown>;
      for (const k in obj) {
        const e = obj[k];
        if (e === undefined) continue;
        if (k.charCodeAt(0) === DOLLAR && k.startsWith(TAG_KEY)) special = true;
        let n: number;
        let c: unknown = e;
        if (typeof e === 'number' && e - e === 0) n = 8;
        else if (typeof e === 'string' && e.length * 3 < budget - total) n = e.length + 2;
        else {
          c = cloneWalk(e, depth + 1, budget - total);
          n = walked;
          if (n < 0) {
            failPath.push(k);
            walked = FAIL;
            return undefined;
          }
        }
        if (k === '__proto__') setOwn(out, k, c);
        else storeAt(out, at, k, c);
        at++;
        total += k.length + 4 + n;
        if (total > budget) break;
      }
      walked = total;
      return out;
    }
    default:
      walked = fail('wrong_type', `is a ${typeof v}, which no codec can carry`);
      return undefined;
  }
}

/**
 * {@link checkWirePayload} and then {@link clonePayload}, in one walk: throws
 * what `checkWirePayload` throws, else returns what `clonePayload` returns.
 */
export function checkedClonePayload<T>(
  value: T,
  field: string,
  depthLimit: number,
  budget: number,
): T {
  maxDepth = depthLimit;
  special = false;
  const copy = cloneWalk(value, 0, budget);
  const size = walked;
  if (size < 0) throw payloadError(field);
  if (size > budget) throw tooLarge(field, budget);
  return copy as T;
}

function tooLarge(field: string, budget: number): InvalidMessageError {
  return new InvalidMessageError(
    'too_large',
    field,
    `[hub:protocol] invalid envelope: '${field}' is over the limit of ${budget} bytes (estimated JSON size)`,
  );
}

function cloneValue(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    // slice() copies in one native step (a `new Array(n)` filled in a loop
    // measured ~15 % of a whole in-process send); then the nested values.
    const out = v.slice() as unknown[];
    const n = out.length;
    for (let i = 0; i < n; i++) {
      const e: unknown = out[i];
      if (typeof e === 'object' && e !== null) out[i] = cloneValue(e);
      else if (e === undefined) out[i] = undefined; // a hole becomes a slot, as before
    }
    return out;
  }
  if (v instanceof Uint8Array) return new Uint8Array(v);
  if (v instanceof Date) return new Date(v.getTime());
  const out: Record<string, unknown> = {};
  const obj = v as Record<string, unknown>;
  let at = 0;
  for (const k in obj) {
    const e = obj[k];
    // JSON omits undefined properties: so does the copy.
    if (e === undefined) continue;
    const c = typeof e === 'object' && e !== null ? cloneValue(e) : e;
    if (k === '__proto__') setOwn(out, k, c);
    else storeAt(out, at, k, c);
    at++;
  }
  return out;
}

/**
 * `out[key] = value` for the key at position `at` of the object being copied,
 * from a store of that position's own. One store for every key sees every
 * (object shape, key) pair the copies make, and V8 gives up on caching them
 * (a megamorphic keyed store: about a tenth of an in-process request's
 * instructions, for two copies of a four-key payload). The n-th key of a
 * payload is mostly the same name on the same shape (the copy so far), so
 * each position's store stays cached while an application's payloads have a
 * few shapes; with many it does what the one store did. No code is generated
 * (the keys come from the network): these are plain stores.
 */
function storeAt(out: Record<string, unknown>, at: number, key: string, value: unknown): void {
  switch (at) {
    case 0:
      out[key] = value;
      return;
    case 1:
      out[key] = value;
      return;
    case 2:
      out[key] = value;
      return;
    case 3:
      out[key] = value;
      return;
    case 4:
      out[key] = value;
      return;
    case 5:
      out[key] = value;
      return;
    case 6:
      out[key] = value;
      return;
    case 7:
      out[key] = value;
      return;
    default:
      out[key] = value;
  }
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * A deep copy of a payload that {@link checkWirePayload} accepted, as the
 * JSON codec would hand it to a receiver: plain objects (undefined properties
 * omitted), arrays, and new `Date` and `Uint8Array` objects (a `Buffer`
 * arrives as a `Uint8Array`); strings, numbers, booleans, null, bigint and
 * undefined array slots as they are. Far cheaper than an encode and decode,
 * and the receiver shares nothing with the sender.
 */
export function clonePayload<T>(value: T): T {
  return cloneValue(value) as T;
}
