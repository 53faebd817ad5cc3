import { type Envelope, jsonCodec } from '@hub/protocol';

/** Encode an envelope as UTF-8 JSON text (the `env` field of a stream entry, the Pub/Sub message). */
export function encodeEnvelope(envelope: Envelope): string {
  return jsonCodec.encode(envelope);
}

/** Decode and validate; throws a HubError naming the offending field. */
export function decodeEnvelope(text: string | Buffer): Envelope {
  return jsonCodec.decode(text);
}
