/**
 * Loop prevention. A bridge marks what it carries in a header: `from-legacy`
 * on envelopes it brings into the hub, `to-legacy` on what it writes to the
 * legacy side (legacy shapes with headers keep it: plain JSON `headers`,
 * CloudEvents `hubheaders`). Neither direction carries a marked message
 * again, so a message is bridged at most once even with both directions on
 * the same channel and topic.
 */
import type { Envelope } from '@hub/protocol';

export const BRIDGE_HEADER = 'legacy-bridge';
export const FROM_LEGACY = 'from-legacy';
export const TO_LEGACY = 'to-legacy';

/** True when a bridge already carried this envelope (in either direction). */
export const wasBridged = (env: Envelope): boolean => env.headers[BRIDGE_HEADER] !== undefined;

/** A copy of `env` marked with `direction` (the original is left alone: a handler may still read it). */
export function marked<E extends Envelope>(env: E, direction: string): E {
  return { ...env, headers: { ...env.headers, [BRIDGE_HEADER]: direction } };
}
