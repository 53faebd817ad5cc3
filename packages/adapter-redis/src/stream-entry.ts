import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { decodeEnvelope, encodeEnvelope } from './codec.js';

/**
 * Stream entry layout (documented in README.md for other languages):
 *   v   = "1"            entry layout version
 *   id  = <message id>   the envelope id, for tools that do not parse JSON
 *   env = <JSON>         the whole envelope, UTF-8 JSON
 */
export const ENTRY_VERSION = '1';

export function entryFields(envelope: Envelope): string[] {
  return ['v', ENTRY_VERSION, 'id', envelope.id, 'env', encodeEnvelope(envelope)];
}

/** Field value of a flat [f1, v1, f2, v2…] reply. */
export function field(fields: readonly string[], name: string): string | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === name) return fields[i + 1];
  return undefined;
}

/** Decode an entry; throws HubError(DECODE_FAILED) when it is not a hub entry. */
export function decodeEntry(fields: readonly string[]): Envelope {
  // A layout we do not know may give its fields other meanings: dead-letter it
  // rather than guess. An entry without `v` is read as version 1.
  const v = field(fields, 'v');
  if (v !== undefined && v !== ENTRY_VERSION) {
    throw decodeError(`unknown stream entry layout version "v": ${JSON.stringify(v.slice(0, 20))}`);
  }
  const env = field(fields, 'env');
  if (env === undefined) {
    throw decodeError('stream entry has no "env" field');
  }
  return decodeEnvelope(env);
}

function decodeError(msg: string): HubError {
  return new HubError(ErrorCode.DECODE_FAILED, `[hub:redis] invalid envelope: ${msg}`);
}

/** Parsed XREADGROUP / XRANGE reply entry. */
export interface RawEntry {
  readonly id: string;
  readonly fields: string[];
}

/** Parse `[[id, [f, v, …]], …]`; skips malformed items (e.g. nil bodies of deleted entries). */
export function parseEntries(reply: unknown): RawEntry[] {
  const out: RawEntry[] = [];
  if (!Array.isArray(reply)) return out;
  for (const item of reply) {
    if (!Array.isArray(item) || typeof item[0] !== 'string') continue;
    const fields = Array.isArray(item[1]) ? item[1].map((f: unknown) => String(f)) : [];
    out.push({ id: item[0], fields });
  }
  return out;
}

/** Parse an XREADGROUP reply `[[key, entries], …] | null`. */
export function parseRead(reply: unknown): Array<{ key: string; entries: RawEntry[] }> {
  const out: Array<{ key: string; entries: RawEntry[] }> = [];
  if (!Array.isArray(reply)) return out;
  for (const s of reply) {
    if (!Array.isArray(s)) continue;
    out.push({ key: String(s[0]), entries: parseEntries(s[1]) });
  }
  return out;
}
