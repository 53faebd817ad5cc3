import type { Hub, InboundDelivery } from '@hub/core';
import { createMessage, HubError, Priority, type UnifiedMessage } from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import { type CaseContext, isReliable } from '../context.js';
import type { Gate } from '../wait.js';
import { fail, pause, sendAll, settle } from './helpers.js';

/**
 * R8 flow control, of the adapter itself: a subscription with prefetch 1
 * is handed one delivery, and the next only after that one is acked. The
 * case drives a bare adapter (no hub above it): under a hub, the core's
 * concurrency limit would hide an adapter that ignores `spec.prefetch`.
 * Best-effort-only adapters cannot keep a delivery waiting in the transport,
 * so for them the case checks the hub's flow control instead.
 */
export async function flowControl(ctx: CaseContext): Promise<void> {
  if (isReliable(ctx.guarantee)) await adapterPrefetch(ctx);
  else await hubFlowControl(ctx);
}

/** R8's three messages, sent one after the other. */
async function sendThree(
  ctx: CaseContext,
  sender: Hub,
  endpoint: string,
): Promise<UnifiedMessage[]> {
  const messages = Array.from({ length: 3 }, (_, i) =>
    createMessage({
      source: 'ats_r8',
      destination: endpoint,
      payload: { i },
      deliveryGuarantee: ctx.guarantee,
    }),
  );
  await sendAll(sender, messages, undefined, { caseId: 'R8', parallel: 1 });
  return messages;
}

/** Deliveries a bare subscription with `prefetch` was handed before any ack. */
async function adapterPrefetch(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r8');
  const prefetch = 1;
  const adapter = await ctx.bareAdapter('r8_recv');
  const handed: InboundDelivery[] = [];
  const sub = await adapter.subscribe({
    kind: 'endpoint',
    address: endpoint,
    group: endpoint,
    prefetch,
    maxDeliveries: 5,
    deliver: (d) => void handed.push(d),
    reject: () => {},
  });
  try {
    const messages = await sendThree(ctx, await ctx.hub('r8_send'), endpoint);
    const window = ctx.ms(300);
    for (let k = 0; k < messages.length; k++) {
      await ctx.waitFor(() => handed.length >= k + 1, {
        timeoutMs: ctx.ms(5_000),
        message: () =>
          `R8: delivery ${k + 1} to be handed to the subscription ${k === 0 ? 'at once' : 'promptly after the previous one was acked'} (${handed.length} handed over)`,
      });
      // nothing more may be handed over while `prefetch` deliveries are unsettled
      await pause(window);
      if (handed.length > k + 1) {
        fail(
          'R8',
          `the adapter handed ${handed.length} deliveries to a subscription with prefetch ${prefetch} while ${k + 1 === 1 ? 'one was' : `${k + 1} were`} handed and only ${k} acked: it ignores spec.prefetch (the hub's concurrency limit hides this, so the case subscribes to the adapter directly)`,
        );
      }
      await handed[k]?.ack();
    }
    const want = new Set(messages.map((m) => m.id));
    const got = handed.map((d) => d.envelope.id);
    if (got.length !== 3 || !got.every((id) => want.has(id))) {
      fail('R8', `subscription got [${got.join(', ')}], sent [${[...want].join(', ')}]`);
    }
  } finally {
    await sub.close();
  }
}

/** Best-effort only: with concurrency 1 the handler gets the next message only after the previous one settled. */
async function hubFlowControl(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r8');
  const receiver = await ctx.hub('r8_recv');
  const sender = await ctx.hub('r8_send');
  const gates: Gate[] = [ctx.gate(), ctx.gate(), ctx.gate()];
  const arrived: string[] = [];
  await receiver.onMessage(
    endpoint,
    async (msg) => {
      const k = arrived.length;
      arrived.push(msg.id);
      await gates[k]?.promise;
    },
    { concurrency: 1, prefetch: 1 },
  );
  const messages = await sendThree(ctx, sender, endpoint);
  const window = ctx.ms(300);
  for (let k = 0; k < messages.length; k++) {
    await ctx.waitFor(() => arrived.length >= k + 1, {
      timeoutMs: ctx.ms(5_000),
      message: () =>
        `R8: message ${k + 1} to arrive ${k === 0 ? 'at an idle handler' : 'promptly after the previous one was acked'} (${arrived.length} arrived)`,
    });
    if (k === messages.length - 1) break;
    // nothing may arrive while the only handler slot is taken
    await pause(window);
    if (arrived.length > k + 1) {
      fail(
        'R8',
        `${arrived.length} messages handed to the handler while message ${k + 1} was unsettled (concurrency 1, prefetch 1)`,
      );
    }
    gates[k]?.release();
  }
  gates[2]?.release();
  const want = new Set(messages.map((m) => m.id));
  if (arrived.length !== 3 || !arrived.every((id) => want.has(id))) {
    fail('R8', `handler saw [${arrived.join(', ')}], sent [${[...want].join(', ')}]`);
  }
}

/** Unsettled deliveries R15's receiver takes: the blocker and a few more. */
const R15_PREFETCH = 5;

/**
 * R15 expiry: messages whose TTL passes while they wait, a few in the hub's
 * buffer and most in the transport (the prefetch is small), are dropped and
 * counted, never delivered.
 */
export async function expiry(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r15');
  const receiver = await ctx.hub('r15_recv');
  const sender = await ctx.hub('r15_send');
  const blocker = ctx.gate();
  const live = new DeliveryRecorder();
  const expiredReceived: string[] = [];
  let blocked = false;
  await receiver.onMessage(
    endpoint,
    async (msg: UnifiedMessage<{ kind: string }>) => {
      if (msg.payload.kind === 'blocker') {
        blocked = true;
        await blocker.promise;
        return;
      }
      if (msg.payload.kind === 'expiring') expiredReceived.push(msg.id);
      else live.received(msg.id);
    },
    // a small prefetch: the blocker and a few more wait in the hub, the rest in the transport
    { concurrency: 1, prefetch: R15_PREFETCH },
  );
  const make = (kind: string, ttlMs?: number) =>
    createMessage({
      source: 'ats_r15',
      destination: endpoint,
      payload: { kind },
      deliveryGuarantee: ctx.guarantee,
      ...(ttlMs === undefined ? {} : { ttlMs }),
    });
  await sendAll(sender, [make('blocker')], undefined, { caseId: 'R15' });
  await ctx.waitFor(() => blocked, { message: 'R15: the blocking message to reach the handler' });

  const ttl = ctx.ms(300);
  // far more than the prefetch, so most wait in the transport and expire there
  const expiring = Array.from({ length: ctx.count(50, 40) }, () => make('expiring', ttl));
  let acceptedExpiring = 0;
  for (const m of expiring) {
    try {
      await sender.send(m);
      acceptedExpiring++;
    } catch (err) {
      // a slow transport may already see it expired at send: refusing it is fine
      if (!(err instanceof HubError)) throw err;
    }
  }
  const controls = Array.from({ length: 5 }, () => make('live'));
  await sendAll(sender, controls, live, { caseId: 'R15' });
  const lastExpiry = Math.max(...expiring.map((m) => m.expiresAt ?? 0));
  await ctx.waitFor(() => Date.now() > lastExpiry + 20, { message: 'R15: the TTLs to pass' });
  if (isReliable(ctx.guarantee)) {
    // the premise: what the adapter handed over is bounded by the prefetch, the rest waits in the transport
    const reached = ctx.totals([receiver]);
    const handed = reached.delivered + reached.expired;
    if (handed > R15_PREFETCH) {
      fail(
        'R15',
        `${handed} deliveries reached the hub while its only handler was blocked (prefetch ${R15_PREFETCH}): nothing was left waiting in the transport`,
      );
    }
  }
  blocker.release();
  await ctx.waitFor(() => live.allAcknowledgedReceived(), {
    message: () => `R15: ${live.uniqueReceived}/5 live messages after the expired ones`,
  });
  await settle(ctx.ms(200));
  expectDelivery(live, { guarantee: ctx.guarantee, label: 'R15 live messages' });
  if (expiredReceived.length > 0) {
    fail(
      'R15',
      `${expiredReceived.length} expired messages were delivered (TTL ${ttl} ms): ${expiredReceived.slice(0, 5).join(', ')}`,
    );
  }
  const counted = ctx.totals([receiver, sender]).expired;
  if (counted < acceptedExpiring) {
    fail(
      'R15',
      `metrics count ${counted} expired, want ≥ ${acceptedExpiring} (sent with TTL and never delivered)`,
    );
  }
}

const LEVELS: readonly Priority[] = [
  Priority.LOW,
  Priority.NORMAL,
  Priority.HIGH,
  Priority.URGENT,
  Priority.CRITICAL,
];

/**
 * R16 priorities: a backlog of every level (sent lowest first, the worst case
 * for FIFO) is handled higher priority first on average, and the lowest
 * level still progresses before all higher ones are done.
 */
export async function priorities(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r16');
  const receiver = await ctx.hub('r16_recv');
  const sender = await ctx.hub('r16_send');
  const perLevel = ctx.count(40, 20);
  const total = perLevel * LEVELS.length;
  const blocker = ctx.gate();
  const order: Priority[] = [];
  let blocked = false;
  await receiver.onMessage(
    endpoint,
    async (msg: UnifiedMessage<{ blocker?: boolean }>) => {
      if (msg.payload.blocker === true) {
        blocked = true;
        await blocker.promise;
        return;
      }
      order.push(msg.priority);
    },
    // room for the whole backlog: the hub, not the transport, decides what runs next
    { concurrency: 1, prefetch: total + 1 },
  );
  const make = (priority: Priority, blocker = false) =>
    createMessage({
      source: 'ats_r16',
      destination: endpoint,
      payload: { blocker },
      priority,
      deliveryGuarantee: ctx.guarantee,
    });
  await sendAll(sender, [make(Priority.NORMAL, true)], undefined, { caseId: 'R16' });
  await ctx.waitFor(() => blocked, { message: 'R16: the blocking message to reach the handler' });
  const backlog: UnifiedMessage[] = [];
  for (const level of LEVELS) for (let i = 0; i < perLevel; i++) backlog.push(make(level));
  await sendAll(sender, backlog, undefined, { caseId: 'R16', parallel: 1 });
  // let the transport hand the backlog over before the handler frees up
  await ctx.waitFor(
    async () => {
      const before = ctx.totals([receiver]).delivered;
      await pause(ctx.ms(50));
      return ctx.totals([receiver]).delivered === before;
    },
    { message: 'R16: deliveries to settle' },
  );
  blocker.release();
  await ctx.waitFor(() => order.length >= total, {
    message: () => `R16: ${order.length}/${total} backlog messages handled`,
  });

  const mean = (p: Priority): number => {
    let sum = 0;
    let count = 0;
    order.forEach((q, i) => {
      if (q === p) {
        sum += i;
        count++;
      }
    });
    return count === 0 ? Number.NaN : sum / count;
  };
  const means = LEVELS.map(mean);
  const summary = LEVELS.map((p, i) => `P${p}:${(means[i] as number).toFixed(1)}`).join(' ');
  for (let i = 1; i < LEVELS.length; i++) {
    if (!((means[i] as number) < (means[i - 1] as number))) {
      fail(
        'R16',
        `higher priority was not handled first on average (mean position per level ${summary}; handled order ${order.slice(0, 30).join('')}…)`,
      );
    }
  }
  const firstLow = order.indexOf(Priority.LOW);
  let lastHigher = -1;
  order.forEach((p, i) => {
    if (p !== Priority.LOW) lastHigher = i;
  });
  if (!(firstLow >= 0 && firstLow < lastHigher)) {
    fail(
      'R16',
      `the lowest level starved: first LOW handled at position ${firstLow}, after every higher message (last at ${lastHigher}); mean positions ${summary}`,
    );
  }
}
