import type { Hub } from '@hub/core';
import {
  createEvent,
  createMessage,
  DeliveryGuarantee,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type { CaseContext } from '../context.js';
import { fail } from './helpers.js';

const STRONG = [
  DeliveryGuarantee.AT_LEAST_ONCE,
  DeliveryGuarantee.EXACTLY_ONCE,
  DeliveryGuarantee.ORDERED,
] as const;

/**
 * R17, no silent downgrade: every guarantee the adapter does not declare is
 * refused by the hub at once with HUB_GUARANTEE_UNSUPPORTED (messages: not in
 * `guarantees`; events: not in `guarantees`, or anything above best-effort
 * without `durableTopics`), and nothing refused reaches a handler. What the
 * adapter declares is accepted and delivered, so the refusal is not blanket.
 * A sentinel sent after the refused ones, on the same addresses, proves the
 * refused ones had their chance to arrive.
 */
export async function noSilentDowngrade(ctx: CaseContext): Promise<void> {
  const caps = ctx.capabilities;
  const endpoint = ctx.unique('r17');
  const topic = `${ctx.unique('r17t')}.kept`;
  const receiver = await ctx.hub('r17_recv');
  const sender = await ctx.hub('r17_send');
  const gotMessages = new Set<string>();
  const gotEvents = new Set<string>();
  await receiver.onMessage(endpoint, (msg) => {
    gotMessages.add(msg.id);
  });
  if (caps.broadcast) {
    await receiver.subscribe(topic, (ev: UnifiedEvent) => {
      gotEvents.add(ev.id);
    });
  }

  const refused: string[] = [];
  const accepted: { id: string; kind: 'message' | 'event' }[] = [];
  const atOnce = ctx.ms(2_000);
  const attempt = async (
    hub: Hub,
    env: UnifiedMessage | UnifiedEvent,
    honoured: boolean,
    what: string,
  ): Promise<void> => {
    const started = Date.now();
    let error: unknown;
    try {
      if (env.kind === 'message') await hub.send(env);
      else await hub.publish(env);
    } catch (err) {
      error = err;
    }
    if (honoured) {
      if (error !== undefined) {
        fail('R17', `${what} is declared but was refused: ${(error as Error).message}`);
      }
      accepted.push({ id: env.id, kind: env.kind });
      return;
    }
    if (!(error instanceof HubError) || error.code !== ErrorCode.GUARANTEE_UNSUPPORTED) {
      fail(
        'R17',
        `${what} is not declared: expected HUB_GUARANTEE_UNSUPPORTED, got ${error === undefined ? 'an accepted send (a silent downgrade)' : String((error as Error).message)}`,
      );
    }
    const took = Date.now() - started;
    if (took > atOnce) fail('R17', `${what} was refused only after ${took} ms, not at once`);
    refused.push(env.id);
  };

  for (const g of STRONG) {
    const msg = createMessage({
      source: 'ats_r17',
      destination: endpoint,
      payload: { g },
      deliveryGuarantee: g,
    });
    await attempt(
      sender,
      msg,
      caps.guarantees.includes(g),
      `a message with deliveryGuarantee "${g}"`,
    );
    const ev = createEvent({
      source: 'ats_r17',
      topic,
      type: 'ats_event',
      data: { g },
      deliveryGuarantee: g,
    });
    const eventHonoured =
      caps.broadcast && caps.durableTopics === true && caps.guarantees.includes(g);
    await attempt(sender, ev, eventHonoured, `an event with deliveryGuarantee "${g}"`);
  }

  // Sentinels: best-effort always passes the router (when the adapter carries the kind).
  const sentinels: { id: string; kind: 'message' | 'event' }[] = [];
  if (caps.guarantees.includes(DeliveryGuarantee.BEST_EFFORT)) {
    const msg = createMessage({
      source: 'ats_r17',
      destination: endpoint,
      payload: 'sentinel',
      deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT,
    });
    await sender.send(msg);
    sentinels.push({ id: msg.id, kind: 'message' });
    if (caps.broadcast) {
      const ev = createEvent({ source: 'ats_r17', topic, type: 'ats_event', data: 'sentinel' });
      await sender.publish(ev);
      sentinels.push({ id: ev.id, kind: 'event' });
    }
  }
  const seen = (x: { id: string; kind: 'message' | 'event' }) =>
    (x.kind === 'message' ? gotMessages : gotEvents).has(x.id);
  await ctx.waitFor(() => [...accepted, ...sentinels].every(seen), {
    message: () =>
      `R17: declared sends not all delivered (${[...accepted, ...sentinels].filter((x) => !seen(x)).length} missing)`,
  });
  const leaked = refused.filter((id) => gotMessages.has(id) || gotEvents.has(id));
  if (leaked.length > 0) {
    fail(
      'R17',
      `${leaked.length} refused envelope(s) reached a handler anyway: ${leaked.join(', ')}`,
    );
  }
}
