import { decodeReplyFrame, type Envelope, isReplyFrame, jsonCodec } from '@hub/protocol';

/** Encode an envelope as UTF-8 JSON text (the `env` field of a stream entry, the Pub/Sub message). */
export function encodeEnvelope(envelope: Envelope): string {
  return jsonCodec.encode(envelope);
}

/** Decode and validate; throws a HubError naming the offending field. */
export function decodeEnvelope(text: string | Buffer): Envelope {
  return jsonCodec.decode(text);
}

/**
 * Decode a Pub/Sub message: a full envelope, or a reply frame (the compact
 * form of a reply, sent only to member channels whose listener announced it
 * reads them, see members.ts). Throws a HubError naming the offending field.
 */
export function decodePubSub(text: string): Envelope {
  return isReplyFrame(text) ? decodeReplyFrame(text) : jsonCodec.decode(text);
}
