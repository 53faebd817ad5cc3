import { type DeadLetterEntry, deadLetterReader, type Hub, type ProtocolAdapter } from '@hub/core';
import { createMessage, type UnifiedMessage } from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import type { CaseContext } from '../context.js';
import { awaitDelivery, fail, pause, sendAll, settle } from './helpers.js';

/** Retry quickly: the cases count attempts, not wall time. */
export const FAST_RETRY = { retry: { initialDelayMs: 5, maxDelayMs: 50 } };

/** True when the adapter keeps a readable dead-letter queue. */
export const hasDeadLetterReader = (adapter: ProtocolAdapter): boolean =>
  deadLetterReader(adapter) !== undefined;

const messagesTo = (endpoint: string, n: number, ctx: CaseContext, source: string) =>
  Array.from({ length: n }, (_, i) =>
    createMessage({
      source,
      destination: endpoint,
      payload: { i },
      deliveryGuarantee: ctx.guarantee,
    }),
  );

/** R4 nack → redelivery: handlers fail the first 2 attempts; every message is still handled, attempt grows 1, 2, 3. */
export async function nackRedelivery(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r4');
  const rec = new DeliveryRecorder();
  const attempts = new Map<string, number[]>();
  const instances = ctx.capabilities.consumerGroups ? 2 : 1;
  for (let i = 0; i < instances; i++) {
    const hub = await ctx.hub(`r4_recv${i}`, FAST_RETRY);
    const name = `instance${i}`;
    await hub.onMessage(endpoint, (msg, hc) => {
      const seen = attempts.get(msg.id) ?? [];
      seen.push(hc.attempt);
      attempts.set(msg.id, seen);
      if (hc.attempt < 3) throw new Error(`ats planned failure, attempt ${hc.attempt}`);
      rec.received(msg.id, name);
    });
  }
  const sender = await ctx.hub('r4_send');
  const n = ctx.count(50, 10);
  await sendAll(sender, messagesTo(endpoint, n, ctx, 'ats_r4'), rec, { caseId: 'R4', parallel: 8 });
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: ctx.guarantee, label: 'R4 nack → redelivery' },
    () => `R4: ${rec.uniqueReceived}/${n} messages handled after their failures`,
  );
  await settle(ctx.ms(200));
  expectDelivery(rec, { guarantee: ctx.guarantee, label: 'R4 nack → redelivery' });
  const wrong: string[] = [];
  for (const [id, seen] of attempts) {
    if (seen.length !== 3 || seen[0] !== 1 || seen[1] !== 2 || seen[2] !== 3) {
      wrong.push(`${id}: attempts [${seen.join(', ')}]`);
    }
  }
  if (wrong.length > 0) {
    fail(
      'R4',
      `${wrong.length}/${n} messages did not see attempts [1, 2, 3]: ${wrong.slice(0, 5).join('; ')}`,
    );
  }
}

/**
 * R5 crashed consumer: an instance dies while its handlers hold messages;
 * every one is redelivered to the survivors. Then a live slow handler keeps
 * its message past the hold window and nobody else gets it.
 */
export async function crashedConsumer(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r5');
  const rec = new DeliveryRecorder();
  const victim = await ctx.hub('r5_victim');
  const held = new Set<string>();
  const never = ctx.gate();
  await victim.onMessage(
    endpoint,
    async (msg) => {
      held.add(msg.id);
      // the victim never settles: it dies holding the message
      await never.promise;
    },
    { concurrency: 4, prefetch: 8 },
  );
  const sender = await ctx.hub('r5_send');
  const n = ctx.count(20, 8);
  await sendAll(sender, messagesTo(endpoint, n, ctx, 'ats_r5'), rec, { caseId: 'R5', parallel: 4 });
  await ctx.waitFor(() => held.size >= Math.min(4, n), {
    message: () => `R5: the victim holds ${held.size} messages, want ${Math.min(4, n)}`,
  });

  const slowMs = ctx.ms(ctx.options.slowHandlerMs ?? 1_500);
  const slowEntries: number[] = [];
  let slowDone = false;
  const survivors: Hub[] = [];
  for (let i = 0; i < 2; i++) {
    const hub = await ctx.hub(`r5_survivor${i}`);
    const name = `survivor${i}`;
    await hub.onMessage(endpoint, async (msg: UnifiedMessage<{ slow?: boolean }>) => {
      if (msg.payload.slow === true) {
        slowEntries.push(i);
        await pause(slowMs);
        slowDone = true;
      }
      rec.received(msg.id, name);
    });
    survivors.push(hub);
  }
  const heldAtCrash = [...held];
  await ctx.crash(victim);
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: ctx.guarantee, label: 'R5 crashed consumer', allowDuplicates: true },
    () => {
      const missing = heldAtCrash.filter((id) => rec.timesReceived(id) === 0);
      return `R5: ${rec.uniqueReceived}/${n} received by survivors; ${missing.length} of the ${heldAtCrash.length} held by the crashed instance never redelivered [${missing.slice(0, 5).join(', ')}]`;
    },
  );
  // a crash is a fault: at-least-once may duplicate here, never lose
  expectDelivery(rec, {
    guarantee: ctx.guarantee,
    allowDuplicates: true,
    label: 'R5 crashed consumer',
  });

  const slow = createMessage({
    source: 'ats_r5',
    destination: endpoint,
    payload: { slow: true },
    deliveryGuarantee: ctx.guarantee,
  });
  await sender.send(slow);
  await ctx.waitFor(() => slowDone, {
    timeoutMs: ctx.ms(20_000) + slowMs,
    message: 'R5: the slow message to be handled',
  });
  await settle(ctx.ms(300));
  if (slowEntries.length !== 1) {
    fail(
      'R5',
      `a live slow handler was robbed: its message was handed to handlers ${slowEntries.length} times (instances ${slowEntries.join(', ')}) while the first still ran (${slowMs} ms)`,
    );
  }
}

/**
 * R6 poison → DLQ: a handler that always fails sees exactly `maxDeliveries`
 * attempts; then the message is in the DLQ with the reason; the endpoint keeps working.
 */
export async function poisonToDeadLetter(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r6');
  const maxDeliveries = 3;
  const receiver = await ctx.hub('r6_recv', { ...FAST_RETRY, maxDeliveries });
  const attempts = new Map<string, number>();
  const good = new DeliveryRecorder();
  await receiver.onMessage(endpoint, (msg: UnifiedMessage<{ poison: boolean }>) => {
    if (!msg.payload.poison) {
      good.received(msg.id);
      return;
    }
    attempts.set(msg.id, (attempts.get(msg.id) ?? 0) + 1);
    throw new Error(`ats poison ${msg.id}`);
  });
  const sender = await ctx.hub('r6_send');
  const n = ctx.count(5, 3);
  const poison = Array.from({ length: n }, () =>
    createMessage({
      source: 'ats_r6',
      destination: endpoint,
      payload: { poison: true },
      deliveryGuarantee: ctx.guarantee,
    }),
  );
  await sendAll(sender, poison, undefined, { caseId: 'R6' });
  const withReader = hasDeadLetterReader(ctx.adapterOf(receiver));
  let entries: DeadLetterEntry[] = [];
  await ctx.waitFor(
    async () => {
      if (!withReader) return ctx.totals([receiver]).deadLettered >= n;
      entries = await receiver.readDeadLetters(endpoint);
      return poison.every((m) => entries.some((e) => e.envelope.id === m.id));
    },
    {
      message: () =>
        `R6: ${withReader ? `${entries.length} DLQ entries` : `${ctx.totals([receiver]).deadLettered} dead-lettered`} for ${n} poison messages; attempts ${JSON.stringify([...attempts.values()])}`,
    },
  );
  await settle(ctx.ms(300));

  const problems: string[] = [];
  for (const m of poison) {
    const seen = attempts.get(m.id) ?? 0;
    if (seen !== maxDeliveries) problems.push(`${m.id}: ${seen} attempts, want ${maxDeliveries}`);
    if (!withReader) continue;
    const entry = entries.filter((e) => e.envelope.id === m.id);
    if (entry.length !== 1) problems.push(`${m.id}: ${entry.length} DLQ entries, want 1`);
    const first = entry[0];
    if (first && !first.reason.includes(`ats poison ${m.id}`)) {
      problems.push(
        `${m.id}: DLQ reason ${JSON.stringify(first.reason)} lacks the handler's error`,
      );
    }
    if (first && first.attempts !== maxDeliveries) {
      problems.push(`${m.id}: DLQ says ${first.attempts} attempts, want ${maxDeliveries}`);
    }
  }
  const deadLettered = ctx.totals([receiver]).deadLettered;
  if (deadLettered < n) problems.push(`metrics count ${deadLettered} dead-lettered, want ≥ ${n}`);
  if (problems.length > 0) fail('R6', problems.slice(0, 8).join('; '));

  // the poison did not wedge the endpoint
  const ok = createMessage({
    source: 'ats_r6',
    destination: endpoint,
    payload: { poison: false },
    deliveryGuarantee: ctx.guarantee,
  });
  await sendAll(sender, [ok], good, { caseId: 'R6' });
  await ctx.waitFor(() => good.allAcknowledgedReceived(), {
    message: 'R6: a valid message after the poison ones to arrive',
  });
}
