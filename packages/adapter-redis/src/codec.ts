import { type Envelope, ErrorCode, HubError } from '@hub/protocol';

// TODO(lead): replace with `jsonCodec` from '@hub/protocol' once the codec is exported
// from its index; this is the single place that encodes and decodes stream entries.

/** Encode an envelope as UTF-8 JSON text (the `env` field of a stream entry). */
export function encodeEnvelope(envelope: Envelope): string {
  return JSON.stringify(envelope);
}

function bad(field: string, why: string): HubError {
  return new HubError(ErrorCode.DECODE_FAILED, `[hub:redis] invalid envelope: ${field} ${why}`);
}

/** Decode and minimally validate; throws HubError(DECODE_FAILED) naming the field. */
export function decodeEnvelope(text: string | Buffer): Envelope {
  let value: unknown;
  try {
    value = JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (err) {
    throw new HubError(ErrorCode.DECODE_FAILED, `[hub:redis] invalid envelope: not JSON`, {
      cause: err,
    });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('(root)', 'is not an object');
  }
  const v = value as Record<string, unknown>;
  if (v.kind !== 'message' && v.kind !== 'event') throw bad('kind', 'must be message or event');
  if (v.version !== 1) throw bad('version', 'must be 1');
  if (typeof v.id !== 'string' || v.id === '') throw bad('id', 'must be a non-empty string');
  if (v.kind === 'message' && typeof v.destination !== 'string') {
    throw bad('destination', 'must be a string');
  }
  if (v.kind === 'event' && typeof v.topic !== 'string') throw bad('topic', 'must be a string');
  if (typeof v.headers !== 'object' || v.headers === null) throw bad('headers', 'must be an object');
  return v as unknown as Envelope;
}
