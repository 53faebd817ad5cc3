import type { DeadLetterEntry } from '@hub/core';
import { createEvent, createMessage, type Envelope } from '@hub/protocol';
import { DeliveryRecorder } from '../checker.js';
import type { CaseContext } from '../context.js';
import { fail, pause, settle } from './helpers.js';
import { capturingLogger } from './log.js';
import { checkStillWorking } from './malformed.js';
import { hasDeadLetterReader } from './redelivery.js';

/**
 * S11 foreign envelopes: valid envelopes that are not the endpoint's (an
 * event, a message for another endpoint) put where the endpoint reads its
 * messages (the `injectForeign` hook) are refused: never handed to the
 * handler, counted as rejected, dead-lettered with a reason when the adapter
 * keeps a DLQ; the endpoint keeps working and nothing loops.
 */
export async function foreignEnvelopes(ctx: CaseContext): Promise<void> {
  const inject = ctx.options.injectForeign;
  if (!inject) fail('S11', 'needs the injectForeign option');
  const endpoint = ctx.unique('s11');
  const receiver = await ctx.hub('s11_recv');
  const sender = await ctx.hub('s11_send');
  const rec = new DeliveryRecorder();
  await receiver.onMessage(endpoint, (msg) => {
    rec.received(msg.id);
  });
  const foreign: Array<{ what: string; envelope: Envelope }> = [
    {
      what: 'an event',
      envelope: createEvent({ source: 'ats_s11', topic: ctx.unique('s11topic'), data: { n: 1 } }),
    },
    {
      what: 'a message for another endpoint',
      envelope: createMessage({
        source: 'ats_s11',
        destination: ctx.unique('s11other'),
        payload: { n: 2 },
        deliveryGuarantee: ctx.guarantee,
      }),
    },
  ];
  const rejectedBefore = ctx.totals([receiver]).rejected;
  for (const f of foreign) await inject(endpoint, f.envelope);
  // a valid message after them arrives, and the handler saw nothing else
  await checkStillWorking(ctx, sender, endpoint, rec, 'S11');
  const rejected = () => ctx.totals([receiver]).rejected - rejectedBefore;
  await ctx.waitFor(() => rejected() >= foreign.length, {
    message: () =>
      `S11: ${foreign.length} foreign envelopes to be counted as rejected (rejected ${rejected()})`,
  });
  if (hasDeadLetterReader(ctx.adapterOf(receiver))) {
    let entries: DeadLetterEntry[] = [];
    const missing = () =>
      foreign.filter((f) => !entries.some((e) => e.envelope.id === f.envelope.id));
    await ctx.waitFor(
      async () => {
        entries = await receiver.readDeadLetters(endpoint);
        return missing().length === 0;
      },
      {
        message: () =>
          `S11: foreign envelopes in the DLQ; missing ${missing()
            .map((f) => f.what)
            .join(', ')}`,
      },
    );
    for (const f of foreign) {
      const entry = entries.find((e) => e.envelope.id === f.envelope.id);
      if (!entry?.reason) fail('S11', `${f.what}: dead-lettered without a reason`);
    }
  }
  const first = rejected();
  await settle(ctx.ms(300));
  if (rejected() !== first) {
    fail('S11', `foreign envelopes loop: rejected count went ${first} → ${rejected()}`);
  }
}

/** The interval the hub rate-limits its "rejected an inbound entry" lines by, plus slack. */
const REJECT_LOG_INTERVAL_MS = 5_100;

/**
 * S12 bad-input floods: thousands of undecodable entries (the `injectRaw`
 * hook) are all counted, but logged as a handful of lines, one of them
 * carrying the count of those not logged; then oversized entries (4 MiB each)
 * are refused by their length: the receiver's memory grows by less than the
 * junk it was sent, and a valid message behind them still arrives.
 */
export async function badInputFloods(ctx: CaseContext): Promise<void> {
  const inject = ctx.options.injectRaw;
  if (!inject) fail('S12', 'needs the injectRaw option');
  const endpoint = ctx.unique('s12');
  const log = capturingLogger();
  const receiver = await ctx.hub('s12_recv', { logger: log });
  const sender = await ctx.hub('s12_send');
  const rec = new DeliveryRecorder();
  await receiver.onMessage(endpoint, (msg) => {
    rec.received(msg.id);
  });
  const rejected = () => ctx.totals([receiver]).rejected;
  const n = ctx.count(2_000, 200);
  for (let i = 0; i < n; i += 100) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(n, i + 100); j++) batch.push(inject(endpoint, `{"ats_s12":${j}`));
    await Promise.all(batch);
  }
  await ctx.waitFor(() => rejected() >= n, {
    message: () => `S12: ${n} undecodable entries to be counted as rejected (${rejected()})`,
  });
  const lines = () => log.lines.length;
  if (lines() > 5) {
    fail(
      'S12',
      `${n} bad entries logged ${lines()} lines: warnings are not rate-limited (first: ${log.lines[0]?.message})`,
    );
  }
  // The next line, after the interval, accounts for the ones held back.
  await pause(REJECT_LOG_INTERVAL_MS);
  await inject(endpoint, '{"ats_s12":"last"');
  await ctx.waitFor(() => rejected() >= n + 1, {
    message: () => `S12: one more undecodable entry to be counted (${rejected()})`,
  });
  const held = String(n - 1);
  await ctx.waitFor(
    () =>
      log.lines.some(
        (l) => l.meta?.suppressed === n - 1 || new RegExp(`\\b${held}\\b`).test(l.message),
      ),
    {
      message: () =>
        `S12: a log line with the count of warnings held back (${held}); lines: ${log.lines
          .map((l) => l.message.slice(0, 160))
          .join(' | ')}`,
    },
  );

  // Oversized entries: refused by length, not buffered whole.
  const big = ctx.count(16, 8);
  const size = 4 * 1024 * 1024;
  const junk = 'x'.repeat(size);
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    for (let i = 0; i < big; i++) await inject(endpoint, junk);
    await checkStillWorking(ctx, sender, endpoint, rec, 'S12');
    await ctx.waitFor(() => rejected() >= n + 1 + big, {
      message: () => `S12: ${big} oversized entries to be refused (rejected ${rejected()})`,
    });
  } finally {
    clearInterval(sampler);
  }
  const growth = peak - before;
  if (growth > big * size) {
    fail(
      'S12',
      `memory grew by ${Math.round(growth / 2 ** 20)} MiB for ${Math.round((big * size) / 2 ** 20)} MiB of oversized entries: they are read whole`,
    );
  }
}
