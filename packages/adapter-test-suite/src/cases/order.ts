import { createMessage, DeliveryGuarantee, type UnifiedMessage } from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import type { CaseContext } from '../context.js';
import { awaitDelivery, fail, pause, settle } from './helpers.js';

interface Keyed {
  key: string;
  seq: number;
}

/**
 * R9 per-key order: 1,000 messages over 16 partition keys, two instances;
 * each key's handled sequence is exactly the sent one, no skips, even though
 * a few messages fail their first attempt and must be retried in place.
 */
export async function perKeyOrder(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r9');
  const keys = Array.from({ length: 16 }, (_, i) => `key${i}`);
  const perKey = Math.ceil(ctx.count(1_000, 160) / keys.length);
  const rec = new DeliveryRecorder();
  const seen = new Map<string, number[]>(keys.map((k) => [k, []]));
  const instances = ctx.capabilities.consumerGroups ? 2 : 1;
  for (let i = 0; i < instances; i++) {
    const hub = await ctx.hub(`r9_recv${i}`, { retry: { initialDelayMs: 5, maxDelayMs: 50 } });
    const name = `instance${i}`;
    await hub.onMessage(
      endpoint,
      async (msg: UnifiedMessage<Keyed>, hc) => {
        const { key, seq } = msg.payload;
        // a failed attempt must hold its key's lane until the retry succeeds
        if (seq % 37 === 5 && hc.attempt === 1) throw new Error('ats planned failure');
        if (seq % 11 === 0) await pause(1);
        seen.get(key)?.push(seq);
        rec.received(msg.id, name);
      },
      { concurrency: 8 },
    );
  }
  const sender = await ctx.hub('r9_send');
  // one sequential producer per key: the send order of a key is its await order
  await Promise.all(
    keys.map(async (key) => {
      for (let seq = 0; seq < perKey; seq++) {
        const msg = createMessage<Keyed>({
          source: 'ats_r9',
          destination: endpoint,
          payload: { key, seq },
          partitionKey: key,
          deliveryGuarantee: DeliveryGuarantee.ORDERED,
        });
        rec.attempted(msg.id);
        await sender.send(msg);
        rec.acknowledged(msg.id);
      }
    }),
  );
  const total = perKey * keys.length;
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: DeliveryGuarantee.ORDERED, label: 'R9 per-key order' },
    () => `R9: ${rec.uniqueReceived}/${total} received`,
  );
  await settle(ctx.ms(200));
  expectDelivery(rec, { guarantee: DeliveryGuarantee.ORDERED, label: 'R9 per-key order' });
  const broken: string[] = [];
  for (const [key, seqs] of seen) {
    const at = seqs.findIndex((s, i) => s !== i);
    if (at >= 0 || seqs.length !== perKey) {
      broken.push(
        `${key}: at position ${at >= 0 ? at : seqs.length} got ${at >= 0 ? seqs[at] : 'end'}, want ${at >= 0 ? at : seqs.length} (…${seqs.slice(Math.max(0, (at >= 0 ? at : seqs.length) - 3), (at >= 0 ? at : seqs.length) + 3).join(',')}…)`,
      );
    }
  }
  if (broken.length > 0) {
    fail(
      'R9',
      `${broken.length}/${keys.length} keys out of order: ${broken.slice(0, 4).join('; ')}`,
    );
  }
}
