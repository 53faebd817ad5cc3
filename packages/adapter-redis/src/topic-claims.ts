/**
 * Topic groups over Pub/Sub: every instance of the group gets each event, and
 * the one whose claim (SET NX on the event's claim key) lands first handles
 * it; pausing waits for the claims already sent.
 */

import { matchTopic } from '@hub/core';
import type { Envelope } from '@hub/protocol';
import { bounded } from './link-close.js';
import type { PubSubHost, PubSubTarget } from './pubsub-router.js';

const noop = () => {};

/**
 * A topic group over Pub/Sub: every instance of the group gets the event, the
 * one whose `SET NX` on the event's claim key lands first handles it. Replies
 * come back in order on the command connection, so each instance still sees
 * its events in publish order. When the claim cannot be made (link down),
 * the event is dropped here rather than risk a second handling: events are
 * best-effort, and lost is allowed where duplicated is not.
 */
export function claimThenDeliver(
  host: PubSubHost,
  t: PubSubTarget,
  envelope: Envelope,
  deliverTo: (t: PubSubTarget, envelope: Envelope) => void,
): void {
  const c = host.commands();
  if (c === undefined) return;
  // Exact match first: the Redis glob matches a superset (`*` crosses dots),
  // and a claim won for an event the core then filters out would be lost
  // to the instances whose pattern does match.
  if (t.paused) return;
  if (envelope.kind !== 'event' || !matchTopic(t.spec.address, envelope.topic)) return;
  // A group is one per pattern, as on the memory transport.
  const key = host.keys.eventClaim(t.spec.group!, t.spec.address, envelope.id);
  t.claiming = (t.claiming ?? 0) + 1;
  const settled = () => {
    if (--t.claiming! === 0 && t.settledClaims) {
      const waiting = t.settledClaims;
      t.settledClaims = undefined;
      for (const w of waiting) w();
    }
  };
  c.set(key, '1', 'PX', host.opts.groupClaimMs, 'NX').then(
    (won) => {
      if (won === 'OK') deliverTo(t, envelope);
      settled();
    },
    (err: unknown) => {
      host.report('topic group claim', err);
      settled();
    },
  );
}

/**
 * Stop claiming for `t` (pause before a graceful close). A claim already sent
 * may come back won: it is delivered, and the subscription still takes
 * deliveries until this resolves (bounded by `timeoutMs`).
 */
export async function pauseClaims(t: PubSubTarget, timeoutMs: number): Promise<void> {
  t.paused = true;
  if ((t.claiming ?? 0) > 0) {
    await bounded(
      new Promise<void>((resolve) => {
        t.settledClaims ??= [];
        t.settledClaims.push(resolve);
      }),
      timeoutMs,
    ).catch(noop);
  }
}
