import { InvalidMessageError } from '../errors.js';
import { DEFAULT_LIMITS, type ProtocolLimits } from '../limits.js';
import { checkWirePayload, payloadNeedsTags } from '../payload.js';
import type { UnifiedMessage } from '../types.js';
import { reviveEnvelope } from './json.js';
import { toWire } from './tagging.js';

/**
 * The reply frame: a compact encoding of one message shape, the reply a
 * handler sends to a waiting request (docs/protocol.md, "Reply frames").
 * Such a reply has no headers, no `replyTo`, is best-effort, attempt 1, and
 * carries a `correlationId`; everything else a full envelope spells out is
 * then fixed, so the frame carries only what varies: id, timestamp, source,
 * destination, correlation id, payload, and the type and priority when they
 * are not the defaults. Decoding rebuilds the very envelope the full form
 * would give, checked as strictly.
 *
 * A frame is sent only to a reader that announced it reads frames (how is
 * the transport's business): a reader that does not know them never gets one.
 */
export const REPLY_FRAME_VERSION = 1;

/** Every frame starts with these bytes (JSON.stringify keeps insertion order). */
const FRAME_PREFIX = '{"f":"reply",';
const DEFAULT_TYPE = 'response';
const DEFAULT_PRIORITY = 2;

/**
 * Message fields a frame carries or fixes; any other field set means the full
 * form. A switch, not a Set: it runs for every field of every reply, and the
 * keys are internalized strings, compared by identity.
 */
function isFramedField(k: string): boolean {
  switch (k) {
    case 'kind':
    case 'version':
    case 'id':
    case 'timestamp':
    case 'source':
    case 'destination':
    case 'type':
    case 'priority':
    case 'deliveryGuarantee':
    case 'headers':
    case 'payload':
    case 'attempt':
    case 'correlationId':
      return true;
    default:
      return false;
  }
}

/** True when `text` is a reply frame rather than a full envelope. */
export function isReplyFrame(text: string): boolean {
  return text.startsWith(FRAME_PREFIX);
}

/**
 * The reply frame of `message`, or undefined when the message is not of the
 * one shape a frame carries without loss (send the full envelope then).
 * Checks the payload as the JSON codec's `encode` does.
 * @throws InvalidMessageError when the payload is not sendable.
 */
export function encodeReplyFrame(
  message: UnifiedMessage,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): string | undefined {
  const m = message;
  if (
    m.kind !== 'message' ||
    m.version !== 1 ||
    m.deliveryGuarantee !== 'best-effort' ||
    m.attempt !== 1 ||
    typeof m.correlationId !== 'string' ||
    // A request (it waits for a reply) is never a reply: no walk over its fields.
    m.replyTo !== undefined ||
    typeof m.priority !== 'number' ||
    typeof m.headers !== 'object' ||
    m.headers === null
  ) {
    return undefined;
  }
  for (const _ in m.headers) return undefined;
  // for-in walks the keys without the array Object.keys would allocate; an
  // inherited enumerable field (never on a message createReply built) only
  // sends the full form, which is always correct.
  for (const k in m) {
    // A field set to undefined is left out by the full form too.
    if (!isFramedField(k) && (m as unknown as Record<string, unknown>)[k] !== undefined)
      return undefined;
  }
  const body = m.payload;
  checkWirePayload(body, 'payload', limits.maxPayloadDepth, limits.maxPayloadBytes);
  return JSON.stringify({
    f: 'reply',
    v: REPLY_FRAME_VERSION,
    i: m.id,
    t: m.timestamp,
    s: m.source,
    d: m.destination,
    c: m.correlationId,
    // Left out (undefined) when they are the defaults.
    y: m.type === DEFAULT_TYPE ? undefined : m.type,
    r: m.priority === DEFAULT_PRIORITY ? undefined : m.priority,
    p: payloadNeedsTags() ? toWire(body) : body,
  });
}

function frameError(
  reason: 'wrong_type' | 'unsupported_version' | 'missing' | 'malformed' | 'too_large',
  field: string,
  detail: string,
  cause?: unknown,
): InvalidMessageError {
  return new InvalidMessageError(
    reason,
    field,
    `[hub:protocol] invalid reply frame: ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}

/**
 * Decode a reply frame into the message it stands for, checked as a full
 * envelope is (errors name the envelope's field: `source`, `payload`, …;
 * `v` for the frame's own version).
 * @throws InvalidMessageError naming the first bad field.
 */
export function decodeReplyFrame(
  text: string,
  limits: ProtocolLimits = DEFAULT_LIMITS,
): UnifiedMessage {
  if (text.length > limits.maxEnvelopeBytes) {
    throw frameError(
      'too_large',
      '',
      `encoded size ${text.length} is over the limit of ${limits.maxEnvelopeBytes} bytes`,
    );
  }
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw frameError('malformed', '', `not valid JSON (${(err as Error).message})`, err);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || raw.f !== 'reply') {
    throw frameError('wrong_type', 'f', 'not an object with f: "reply"');
  }
  const v = raw.v;
  if (v !== REPLY_FRAME_VERSION) {
    if (typeof v === 'number' && Number.isInteger(v) && v > REPLY_FRAME_VERSION) {
      throw frameError(
        'unsupported_version',
        'v',
        `version ${v} is newer than this reader's (${REPLY_FRAME_VERSION})`,
      );
    }
    throw frameError('wrong_type', 'v', `v must be ${REPLY_FRAME_VERSION}, got ${String(v)}`);
  }
  if (raw.c === undefined)
    throw frameError('missing', 'correlationId', 'c (correlationId) is required');
  // In createReply's field order: the same hidden class as a full decode's.
  const env: Record<string, unknown> = {
    kind: 'message',
    version: 1,
    id: raw.i,
    timestamp: raw.t,
    source: raw.s,
    destination: raw.d,
    type: raw.y === undefined ? DEFAULT_TYPE : raw.y,
    priority: raw.r === undefined ? DEFAULT_PRIORITY : raw.r,
    deliveryGuarantee: 'best-effort',
    headers: {},
    payload: raw.p,
    attempt: 1,
    correlationId: raw.c,
  };
  // The full form leaves an undefined payload out: so does the envelope it decodes to.
  if (!('p' in raw)) delete env.payload;
  return reviveEnvelope(env, limits) as UnifiedMessage;
}
