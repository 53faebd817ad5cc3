import type { Envelope } from '@hub/protocol';

/** Header carrying the identity that sent an envelope; signed when signing is on. */
export const IDENTITY_HEADER = 'hub-identity';

/**
 * Headers the security layer writes itself. Whatever a sender put under
 * these names is dropped on the way out, so a remote client cannot claim an
 * identity or forge protection metadata by setting a header.
 */
export const RESERVED_HEADER_PREFIX = 'hub-';

const attached = new WeakMap<object, string>();

/**
 * Say who an envelope comes from before handing it to `hub.send` or
 * `hub.publish`: an entry point (a WebSocket gateway, an HTTP endpoint) calls
 * this with the identity its authentication resolved. An envelope without one
 * is sent as the hub's own identity. The mark lives beside the object (not in
 * its headers), so nothing a remote sender writes can set it.
 */
export function attachIdentity<E extends Envelope>(envelope: E, identity: string): E {
  attached.set(envelope, identity);
  return envelope;
}

/** Give `to` (a copy the hub made of `from`) the identity attached to `from`. */
export function carryIdentity(from: Envelope, to: Envelope): void {
  const identity = attached.get(from);
  if (identity !== undefined) attached.set(to, identity);
}

/** The identity an entry point attached to this envelope object, if any. */
export function attachedIdentity(envelope: Envelope): string | undefined {
  return attached.get(envelope);
}

/** The identity an arrived envelope names (checked by signature when signing is on). */
export function senderOf(envelope: Envelope): string | undefined {
  return envelope.headers[IDENTITY_HEADER];
}

let ambient: string | undefined;

/**
 * Run `fn` as `identity`: the serve and subscribe checks of `hub.onMessage`
 * and `hub.subscribe` calls made synchronously inside it are decided for that
 * identity instead of the hub's own (a gateway serving an endpoint for a
 * client, say).
 */
export function runAs<T>(identity: string, fn: () => T): T {
  const before = ambient;
  ambient = identity;
  try {
    return fn();
  } finally {
    ambient = before;
  }
}

/** The identity `runAs` set for the current synchronous call, if any. */
export function currentIdentity(): string | undefined {
  return ambient;
}
