/**
 * Standard Webhooks signatures (https://www.standardwebhooks.com): the sender
 * signs `<webhook-id>.<webhook-timestamp>.<body>` with HMAC-SHA256 and sends
 * `webhook-signature: v1,<base64>`; the receiver recomputes it, checks the
 * timestamp is recent and refuses an id it has already seen. Both directions
 * of the HTTP adapter use this one file.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ErrorCode, HubError } from '@hub/protocol';

export const WEBHOOK_ID = 'webhook-id';
export const WEBHOOK_TIMESTAMP = 'webhook-timestamp';
export const WEBHOOK_SIGNATURE = 'webhook-signature';

const PREFIX = 'whsec_';

/**
 * The key bytes of a secret: `whsec_<base64>` as the scheme writes them, or
 * any other string taken as UTF-8 bytes.
 */
export function secretKey(secret: string, field: string): Buffer {
  if (typeof secret !== 'string' || secret.length === 0) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:http] option "${field}" must be a non-empty string`,
    );
  }
  if (!secret.startsWith(PREFIX)) return Buffer.from(secret, 'utf8');
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64');
  if (key.length < 16) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:http] option "${field}" must hold at least 16 bytes of base64 after "whsec_"`,
    );
  }
  return key;
}

/** The `v1,<base64>` signature of one request body. */
export function sign(
  key: Buffer,
  id: string,
  timestampSec: number,
  body: string | Uint8Array,
): string {
  const mac = createHmac('sha256', key)
    .update(`${id}.${timestampSec}.`)
    .update(body)
    .digest('base64');
  return `v1,${mac}`;
}

/** The three headers that sign `body`. */
export function signatureHeaders(
  key: Buffer,
  id: string,
  body: string | Uint8Array,
  nowMs = Date.now(),
): Record<string, string> {
  const ts = Math.floor(nowMs / 1000);
  return {
    [WEBHOOK_ID]: id,
    [WEBHOOK_TIMESTAMP]: String(ts),
    [WEBHOOK_SIGNATURE]: sign(key, id, ts, body),
  };
}

export type SignatureFailure = 'missing' | 'stale' | 'mismatch' | 'replayed';

export interface SignatureInput {
  id: string | undefined;
  timestamp: string | undefined;
  signature: string | undefined;
  body: Uint8Array;
}

/**
 * Check one signed request against any of `keys` (several during a key
 * rotation). Returns why it fails, or undefined when it is good. Replays are
 * the caller's (a seen-id window); this is the pure part.
 */
export function verify(
  keys: readonly Buffer[],
  input: SignatureInput,
  toleranceSec: number,
  nowMs = Date.now(),
): SignatureFailure | undefined {
  const { id, timestamp, signature } = input;
  if (!id || !timestamp || !signature) return 'missing';
  const ts = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || Math.abs(nowMs / 1000 - ts) > toleranceSec) return 'stale';
  for (const key of keys) {
    const expected = Buffer.from(sign(key, id, ts, input.body).slice(3), 'base64');
    for (const part of signature.split(' ')) {
      if (!part.startsWith('v1,')) continue;
      const given = Buffer.from(part.slice(3), 'base64');
      if (given.length === expected.length && timingSafeEqual(given, expected)) return undefined;
    }
  }
  return 'mismatch';
}
