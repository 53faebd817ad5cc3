import { InvalidMessageError } from '../errors.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from '../limits.js';
import { checkWirePayload, payloadNeedsTags } from '../payload.js';
import type { Envelope } from '../types.js';
import { parseEnvelope } from '../validate.js';
import { reviveTags, toWire } from './tagging.js';
import type { Codec } from './types.js';

export interface JsonCodecOptions {
  /**
   * Limits applied by `decode` (raw size before parsing, then every field) and
   * the payload depth limit applied by `encode`.
   * @default DEFAULT_LIMITS
   */
  limits?: ProtocolLimits;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

function tooLarge(size: number, limits: ProtocolLimits): InvalidMessageError {
  return new InvalidMessageError(
    'too_large',
    '',
    `[hub:protocol] invalid envelope: encoded size ${size} is over the limit of ${limits.maxEnvelopeBytes} bytes`,
  );
}

/** A codec whose encoded form is text. */
export interface JsonCodec extends Codec {
  encode(envelope: Envelope): string;
}

/**
 * The JSON codec: UTF-8 JSON text, one envelope per document. Plain-JSON
 * payloads are a single `JSON.stringify` / `JSON.parse`; Date, Uint8Array,
 * bigint and undefined array slots travel as tag objects (docs/protocol.md).
 * `decode` throws `InvalidMessageError` for everything it refuses: reason
 * `malformed` (field `''`) when the input is not JSON or not UTF-8.
 */
export function createJsonCodec(options: JsonCodecOptions = {}): JsonCodec {
  const limits = options.limits ?? DEFAULT_LIMITS;
  return {
    name: 'json',
    contentType: 'application/json',
    encode(envelope: Envelope): string {
      const isMessage = envelope.kind === 'message';
      const body: unknown = isMessage ? envelope.payload : envelope.data;
      // The one walk of the payload on the send path: types, depth and size
      // (the hub's validation skips it; see ValidateOptions.payload).
      checkWirePayload(
        body,
        isMessage ? 'payload' : 'data',
        limits.maxPayloadDepth,
        limits.maxPayloadBytes,
      );
      if (!payloadNeedsTags()) return JSON.stringify(envelope);
      return JSON.stringify(
        isMessage ? { ...envelope, payload: toWire(body) } : { ...envelope, data: toWire(body) },
      );
    },
    decode(data: string | Uint8Array): Envelope {
      let text: string;
      if (typeof data === 'string') {
        // UTF-16 length <= UTF-8 length, so this never refuses a string that fits.
        if (data.length > limits.maxEnvelopeBytes) throw tooLarge(data.length, limits);
        text = data;
      } else if (data instanceof Uint8Array) {
        if (data.byteLength > limits.maxEnvelopeBytes) throw tooLarge(data.byteLength, limits);
        try {
          text = utf8.decode(data);
        } catch (err) {
          throw new InvalidMessageError(
            'malformed',
            '',
            '[hub:protocol] invalid envelope: not valid UTF-8',
            { cause: err },
          );
        }
      } else {
        throw new InvalidMessageError(
          'wrong_type',
          '',
          `[hub:protocol] invalid envelope: expected a string or Uint8Array, got ${typeof data}`,
        );
      }
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch (err) {
        throw new InvalidMessageError(
          'malformed',
          '',
          `[hub:protocol] invalid envelope: not valid JSON (${(err as Error).message})`,
          { cause: err },
        );
      }
      return reviveEnvelope(raw, limits);
    },
  };
}

/**
 * Check an envelope that arrived already parsed, nested in a larger JSON
 * document (a WebSocket frame), and revive its tagged payload values: the
 * same result as `decode` on its text, without parsing it twice.
 * @throws InvalidMessageError naming the first bad field.
 */
export function reviveEnvelope(raw: unknown, limits: ProtocolLimits = DEFAULT_LIMITS): Envelope {
  const envelope = parseEnvelope(raw, limits);
  // parseEnvelope's payload walk noted any key starting with the tag key (tag
  // objects and escaped keys both do; parsed JSON holds no other special
  // value), so plain payloads skip revival without a second scan.
  if (payloadNeedsTags()) {
    if (envelope.kind === 'message') {
      if (envelope.payload !== undefined)
        envelope.payload = reviveTags(envelope.payload, 'payload');
    } else if (envelope.data !== undefined) {
      envelope.data = reviveTags(envelope.data, 'data');
    }
  }
  return envelope;
}

/** The JSON codec with {@link DEFAULT_LIMITS}. */
export const jsonCodec: JsonCodec = createJsonCodec();
