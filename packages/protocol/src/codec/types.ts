import type { Envelope } from '../types.js';

/**
 * Turns envelopes into bytes (or text) and back. `decode` is a trust
 * boundary: it validates what it returns and throws `InvalidMessageError`
 * on anything else, so a transport never hands the core an unchecked value.
 */
export interface Codec {
  /** Short name, e.g. `json`; used in logs and negotiation. */
  readonly name: string;
  /** MIME type of the encoded form, e.g. `application/json`. */
  readonly contentType: string;
  /**
   * Encode one envelope. Does not validate the envelope (the send path does),
   * but throws `InvalidMessageError` for payload values it cannot carry.
   */
  encode(envelope: Envelope): string | Uint8Array;
  /** Decode and validate. @throws InvalidMessageError */
  decode(data: string | Uint8Array): Envelope;
}
