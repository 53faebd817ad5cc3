/**
 * Making legacy names fit the envelope's syntax. A legacy system happily
 * sends `"type": "user signed up"` or `"from": 42`; the envelope needs visible
 * ASCII types, `[A-Za-z0-9_.:/@-]` addresses and dot-separated topics. Each
 * helper returns the value to use, and the caller keeps the original (as an
 * extension) whenever the two differ, so nothing is lost on the way back.
 */
import { DEFAULT_LIMITS } from '@hub/protocol';

const ADDRESS_BAD = /[^A-Za-z0-9_.:/@-]/g;
const ADDRESS_OK = /^[A-Za-z0-9_.:/@-]+$/;
const TYPE_OK = /^[!-~]+$/;
const TOPIC_SEGMENT_BAD = /[^A-Za-z0-9_:/@-]/g;
const TOPIC_OK = /^[A-Za-z0-9_:/@-]+(\.[A-Za-z0-9_:/@-]+)*$/;
const TYPE_BAD = /[^!-~]/g;

/**
 * `v` fitted to `ok` (each character outside it becomes `_`), numbers as their
 * decimal text when `numbers`; undefined for anything else, empty or over `max`.
 */
function fit(v: unknown, max: number, ok: RegExp, bad: RegExp, numbers: boolean) {
  if (numbers && typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string' || v.length === 0 || v.length > max) return undefined;
  return ok.test(v) ? v : v.replace(bad, '_');
}

/** An address (`source`, `destination`, `replyTo`) from a string or number, or undefined when it cannot be one. */
export const toAddress = (v: unknown): string | undefined =>
  fit(v, DEFAULT_LIMITS.maxAddressLength, ADDRESS_OK, ADDRESS_BAD, true);

/** A message or event type: visible ASCII without spaces. */
export const toType = (v: unknown): string | undefined =>
  fit(v, DEFAULT_LIMITS.maxTypeLength, TYPE_OK, TYPE_BAD, false);

/** An id or correlation id: visible ASCII, numbers as their decimal text. */
export const toId = (v: unknown): string | undefined =>
  fit(v, DEFAULT_LIMITS.maxIdLength, TYPE_OK, TYPE_BAD, true);

/** A topic: dot-separated non-empty segments; an empty segment becomes `_`. */
export function toTopic(v: unknown): string | undefined {
  if (typeof v !== 'string' || v.length === 0 || v.length > DEFAULT_LIMITS.maxAddressLength) {
    return undefined;
  }
  if (TOPIC_OK.test(v)) return v;
  let out = '';
  const parts = v.split('.');
  for (let i = 0; i < parts.length; i++) {
    const seg = parts[i]!;
    out += (i === 0 ? '' : '.') + (seg === '' ? '_' : seg.replace(TOPIC_SEGMENT_BAD, '_'));
  }
  return out;
}

/** Named priorities as legacy systems spell them (lower case); numbers are the hub's 1..5. */
export const PRIORITY_NAMES: Readonly<Record<string, 1 | 2 | 3 | 4 | 5>> = Object.freeze({
  lowest: 1,
  low: 1,
  normal: 2,
  medium: 2,
  default: 2,
  high: 3,
  urgent: 4,
  highest: 5,
  critical: 5,
});

/** The canonical name of each level, written back for messages whose priority came as a name. */
export const PRIORITY_LABELS = ['', 'low', 'normal', 'high', 'urgent', 'critical'] as const;

/** A priority 1..5 from a number (clamped, rounded) or a name (any case); undefined when neither. */
export function toPriority(v: unknown): 1 | 2 | 3 | 4 | 5 | undefined {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    return Math.min(5, Math.max(1, Math.round(v))) as 1 | 2 | 3 | 4 | 5;
  }
  if (typeof v !== 'string') return undefined;
  const named = PRIORITY_NAMES[v.toLowerCase()];
  if (named !== undefined && Object.hasOwn(PRIORITY_NAMES, v.toLowerCase())) return named;
  return /^[0-9]{1,2}$/.test(v) ? toPriority(Number(v)) : undefined;
}

export type TimeFormat = 's' | 'ms' | 'iso';

/**
 * Milliseconds since the epoch from epoch seconds, epoch milliseconds or an
 * ISO 8601 text, and the format it came in. A number below 1e11 is seconds
 * (1e11 s is the year 5138; 1e11 ms is 1973). Undefined when the value is no
 * time the envelope accepts (before 2000 or more than a day ahead).
 */
export function toTime(v: unknown, now: number): { ms: number; format: TimeFormat } | undefined {
  let ms: number;
  let format: TimeFormat;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return undefined;
    if (Math.abs(v) < 1e11) {
      ms = Math.round(v * 1000);
      format = 's';
    } else {
      ms = Math.round(v);
      format = 'ms';
    }
  } else if (typeof v === 'string' && v.length >= 10 && v.length <= 40) {
    ms = Date.parse(v);
    format = 'iso';
  } else return undefined;
  if (!(ms >= DEFAULT_LIMITS.minTimestamp && ms <= now + DEFAULT_LIMITS.maxClockSkewMs)) {
    return undefined;
  }
  return { ms, format };
}

/** The value `toTime` read, written back in `format`. */
export function fromTime(ms: number, format: TimeFormat): number | string {
  return format === 's' ? ms / 1000 : format === 'iso' ? new Date(ms).toISOString() : ms;
}
