import { randomInt } from 'node:crypto';
import type { Hub } from '@hub/core';
import { createMessage, type UnifiedMessage } from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import type { CaseContext } from '../context.js';
import { activeTimeouts, awaitDelivery, fail, pause, sendAll } from './helpers.js';

/**
 * R7 subscriber churn: instances subscribe and unsubscribe repeatedly and
 * concurrently while messages stream in; the union of what handlers received
 * equals what was sent, and closing everything leaves no timer behind.
 */
export async function subscriberChurn(ctx: CaseContext): Promise<void> {
  const timersBefore = activeTimeouts();
  const endpoint = ctx.unique('r7');
  const rec = new DeliveryRecorder();
  const instances = ctx.capabilities.consumerGroups ? 3 : 1;
  const churners: Hub[] = [];
  for (let i = 0; i < instances; i++) churners.push(await ctx.hub(`r7_churn${i}`));
  const sender = await ctx.hub('r7_send');

  const n = ctx.count(1_000, 100);
  let sending = true;
  const minRounds = 5;
  const maxRounds = 400;
  const rounds: number[] = churners.map(() => 0);
  const churn = async (hub: Hub, i: number): Promise<void> => {
    const name = `instance${i}`;
    while ((sending || (rounds[i] as number) < minRounds) && (rounds[i] as number) < maxRounds) {
      const off = await hub.onMessage(endpoint, (msg) => {
        rec.received(msg.id, name);
      });
      await pause(randomInt(1, 12));
      await off();
      await pause(randomInt(0, 4));
      rounds[i] = (rounds[i] as number) + 1;
    }
  };
  const send = async (): Promise<void> => {
    const batchSize = 20;
    for (let start = 0; start < n; start += batchSize) {
      const batch: UnifiedMessage[] = [];
      for (let i = start; i < Math.min(n, start + batchSize); i++) {
        batch.push(
          createMessage({
            source: 'ats_r7',
            destination: endpoint,
            payload: { i },
            deliveryGuarantee: ctx.guarantee,
          }),
        );
      }
      await sendAll(sender, batch, rec, { caseId: 'R7', parallel: 4 });
      // pace the stream so subscriptions come and go in the middle of it
      await pause(2);
    }
    sending = false;
  };
  await Promise.all([send(), ...churners.map((hub, i) => churn(hub, i))]);

  // whatever was left unsettled by the churn is drained by one steady subscriber
  await churners[0]?.onMessage(endpoint, (msg) => {
    rec.received(msg.id, 'final');
  });
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: ctx.guarantee, label: 'R7 churn', allowDuplicates: true },
    () =>
      `R7: ${rec.uniqueReceived}/${n} received after ${rounds.join('+')} subscribe/unsubscribe rounds`,
  );
  // churn releases in-flight deliveries for redelivery, so duplicates are allowed here
  expectDelivery(rec, { guarantee: ctx.guarantee, allowDuplicates: true, label: 'R7 churn' });

  await Promise.all([...churners, sender].map((hub) => hub.close()));
  try {
    await ctx.waitFor(() => activeTimeouts() <= timersBefore, {
      timeoutMs: ctx.ms(5_000),
      message: 'timers to be cleared',
    });
  } catch {
    fail(
      'R7',
      `leaked timers: ${activeTimeouts()} active Timeout resources after closing every hub, ${timersBefore} before the case`,
    );
  }
}
