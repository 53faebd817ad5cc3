import type { DeadLetterEntry } from '@hub/core';
import { createMessage } from '@hub/protocol';
import type { CaseContext } from '../context.js';
import { fail, sendAll, settle } from './helpers.js';
import { capturingLogger } from './log.js';
import { FAST_RETRY, hasDeadLetterReader } from './redelivery.js';

/**
 * R19 dead-letter failure: a message whose handler always fails, while every
 * dead-letter write fails (the `breakDeadLetters` hook), is reported and stays
 * with the transport: it comes back for more attempts instead of being acked
 * without a DLQ copy. Once the dead-letter store is repaired it lands there.
 */
export async function deadLetterFailure(ctx: CaseContext): Promise<void> {
  const breakDeadLetters = ctx.options.breakDeadLetters;
  if (!breakDeadLetters) fail('R19', 'needs the breakDeadLetters option');
  const endpoint = ctx.unique('r19');
  const maxDeliveries = 2;
  const log = capturingLogger();
  const receiver = await ctx.hub('r19_recv', { ...FAST_RETRY, maxDeliveries, logger: log });
  const errors: Error[] = [];
  receiver.on('error', (e: Error) => errors.push(e));
  let attempts = 0;
  await receiver.onMessage(endpoint, () => {
    attempts++;
    throw new Error('ats r19 always fails');
  });
  const repair = await breakDeadLetters(endpoint);
  let repaired = false;
  try {
    const sender = await ctx.hub('r19_send');
    const m = createMessage({
      source: 'ats_r19',
      destination: endpoint,
      payload: { poison: true },
      deliveryGuarantee: ctx.guarantee,
    });
    await sendAll(sender, [m], undefined, { caseId: 'R19' });
    const reported = () =>
      errors.length > 0 ||
      log.lines.some((l) => l.level === 'error' && /dead.?letter/i.test(l.message));
    await ctx.waitFor(reported, {
      message: () =>
        `R19: the failed dead-letter write to be reported (an 'error' event or an error logged); attempts ${attempts}`,
    });
    // More attempts than maxDeliveries: it came back after the failed write, it was not acked.
    await ctx.waitFor(() => attempts > maxDeliveries, {
      message: () =>
        `R19: the message to come back after its dead-letter write failed (attempts ${attempts}, maxDeliveries ${maxDeliveries}): acked without a DLQ copy?`,
    });
    await repair();
    repaired = true;
    const withReader = hasDeadLetterReader(ctx.adapterOf(receiver));
    let entries: DeadLetterEntry[] = [];
    await ctx.waitFor(
      async () => {
        if (!withReader) return ctx.totals([receiver]).deadLettered >= 1;
        entries = await receiver.readDeadLetters(endpoint);
        return entries.some((e) => e.envelope.id === m.id);
      },
      {
        message: () =>
          `R19: the message in the DLQ once the dead-letter store works again (${withReader ? `${entries.length} entries` : `${ctx.totals([receiver]).deadLettered} dead-lettered`}, attempts ${attempts})`,
      },
    );
    // Dead-lettered means done: it stops coming back.
    await settle(ctx.ms(300));
    const after = attempts;
    await settle(ctx.ms(1_500));
    if (attempts !== after) {
      fail('R19', `still handled after it was dead-lettered (attempts ${after} → ${attempts})`);
    }
    if (withReader) {
      const copies = (await receiver.readDeadLetters(endpoint)).filter(
        (e) => e.envelope.id === m.id,
      );
      if (copies.length < 1) fail('R19', 'no DLQ entry for the message');
      if (!copies[0]!.reason.includes('ats r19 always fails')) {
        fail('R19', `DLQ reason ${JSON.stringify(copies[0]!.reason)} lacks the handler's error`);
      }
    }
  } finally {
    if (!repaired) await repair().catch(() => {});
  }
}
