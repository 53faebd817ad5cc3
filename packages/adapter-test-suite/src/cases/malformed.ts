import type { Hub } from '@hub/core';
import { createMessage, ErrorCode, HubError, type UnifiedMessage } from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import type { CaseContext } from '../context.js';
import { fail, settle } from './helpers.js';
import { hasDeadLetterReader } from './redelivery.js';

interface Malformed {
  what: string;
  envelope: unknown;
  /** Field the error must name (via `err.field` or in its message); undefined: any. */
  field?: string;
}

function buildMalformed(valid: () => UnifiedMessage): Malformed[] {
  const without = (field: keyof UnifiedMessage): Record<string, unknown> => {
    const e: Record<string, unknown> = { ...valid() };
    delete e[field];
    return e;
  };
  return [
    { what: 'missing destination', envelope: without('destination'), field: 'destination' },
    { what: 'missing id', envelope: without('id'), field: 'id' },
    { what: 'missing source', envelope: without('source'), field: 'source' },
    {
      what: 'priority of the wrong type',
      envelope: { ...valid(), priority: 'high' },
      field: 'priority',
    },
    {
      what: 'timestamp of the wrong type',
      envelope: { ...valid(), timestamp: 'yesterday' },
      field: 'timestamp',
    },
    {
      what: 'header value not a string',
      envelope: { ...valid(), headers: { n: 1 } },
      field: 'headers',
    },
    { what: 'headers not an object', envelope: { ...valid(), headers: 'x' }, field: 'headers' },
    { what: 'unknown envelope version', envelope: { ...valid(), version: 99 }, field: 'version' },
    {
      what: 'unknown delivery guarantee',
      envelope: { ...valid(), deliveryGuarantee: 'twice' },
      field: 'deliveryGuarantee',
    },
    { what: 'unknown kind', envelope: { ...valid(), kind: 'bogus' }, field: 'kind' },
    {
      what: 'huge header (2 MiB)',
      envelope: { ...valid(), headers: { big: 'x'.repeat(2 * 1024 * 1024) } },
      field: 'headers',
    },
    { what: 'empty destination', envelope: { ...valid(), destination: '' }, field: 'destination' },
    {
      what: 'destination with spaces and a newline',
      envelope: { ...valid(), destination: 'bad address\n' },
      field: 'destination',
    },
    {
      what: 'huge destination (64 KiB)',
      envelope: { ...valid(), destination: 'd'.repeat(65_536) },
      field: 'destination',
    },
    { what: 'null envelope', envelope: null },
    { what: 'a string instead of an envelope', envelope: '{"kind":"message"' },
  ];
}

const fieldOf = (err: HubError): unknown => (err as HubError & { field?: unknown }).field;

/**
 * S1 malformed envelopes: `hub.send` rejects each with a typed error naming
 * the field, counts it, delivers nothing, and keeps working.
 */
export async function malformedEnvelopes(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('s1');
  const receiver = await ctx.hub('s1_recv');
  const sender = await ctx.hub('s1_send');
  const rec = new DeliveryRecorder();
  await receiver.onMessage(endpoint, (msg) => {
    rec.received(msg.id);
  });
  const valid = () =>
    createMessage({
      source: 'ats_s1',
      destination: endpoint,
      payload: { ok: true },
      deliveryGuarantee: ctx.guarantee,
    });
  const cases = buildMalformed(valid);
  const rejectedBefore = ctx.totals([sender]).rejected;
  const problems: string[] = [];
  for (const c of cases) {
    try {
      await sender.send(c.envelope as UnifiedMessage);
      problems.push(`${c.what}: accepted`);
    } catch (err) {
      if (!(err instanceof HubError)) {
        problems.push(`${c.what}: rejected with ${String(err)}, not a HubError`);
        continue;
      }
      if (err.code !== ErrorCode.INVALID_MESSAGE) {
        problems.push(`${c.what}: code ${err.code}, want ${ErrorCode.INVALID_MESSAGE}`);
      }
      if (c.field !== undefined) {
        const field = fieldOf(err);
        const named =
          typeof field === 'string' ? field.startsWith(c.field) : err.message.includes(c.field);
        if (!named) {
          problems.push(
            `${c.what}: error does not name "${c.field}" (field ${JSON.stringify(field)}, message ${JSON.stringify(err.message.slice(0, 120))})`,
          );
        }
      }
    }
  }
  const rejected = ctx.totals([sender]).rejected - rejectedBefore;
  if (rejected < cases.length) {
    problems.push(`metrics count ${rejected} rejected, want ≥ ${cases.length}`);
  }
  if (problems.length > 0) {
    fail('S1', `${problems.length} problem(s) with malformed envelopes: ${problems.join('; ')}`);
  }
  await checkStillWorking(ctx, sender, endpoint, rec, 'S1');
}

export async function checkStillWorking(
  ctx: CaseContext,
  sender: Hub,
  endpoint: string,
  rec: DeliveryRecorder,
  caseId: string,
): Promise<void> {
  const ok = createMessage({
    source: 'ats_s1',
    destination: endpoint,
    payload: { ok: true },
    deliveryGuarantee: ctx.guarantee,
  });
  rec.attempted(ok.id);
  await sender.send(ok);
  rec.acknowledged(ok.id);
  await ctx.waitFor(() => rec.allAcknowledgedReceived(), {
    message: `${caseId}: a valid message after the malformed ones to arrive`,
  });
  await settle(ctx.ms(100));
  // anything else the handler saw (a malformed envelope let through) is "unexpected"
  expectDelivery(rec, { guarantee: ctx.guarantee, label: `${caseId} handler after bad input` });
}

/** Undecodable bytes put straight on the transport (needs the `injectRaw` hook). */
const RAW_GARBAGE: ReadonlyArray<Uint8Array | string> = [
  '{"kind":"message","id":"trunc',
  'not json at all',
  '',
  '{"kind":"message","version":99,"id":"ats-bad-version"}',
  '{"kind":"message","version":1,"id":"ats-wrong-types","destination":42,"priority":"high"}',
  new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28]),
];

/**
 * S1 raw: entries that cannot be decoded are rejected (counted, or moved to
 * the DLQ), never handed to a handler, never looping; the consumer keeps working.
 */
export async function malformedRaw(ctx: CaseContext): Promise<void> {
  const inject = ctx.options.injectRaw;
  if (!inject) fail('S1-raw', 'needs the injectRaw option');
  const endpoint = ctx.unique('s1raw');
  const receiver = await ctx.hub('s1raw_recv');
  const sender = await ctx.hub('s1raw_send');
  const rec = new DeliveryRecorder();
  await receiver.onMessage(endpoint, (msg) => {
    rec.received(msg.id);
  });
  for (const raw of RAW_GARBAGE) await inject(endpoint, raw);
  await checkStillWorking(ctx, sender, endpoint, rec, 'S1-raw');

  const withReader = hasDeadLetterReader(ctx.adapterOf(receiver));
  const handled = async (): Promise<number> =>
    ctx.totals([receiver]).rejected +
    (withReader ? (await receiver.readDeadLetters(endpoint)).length : 0);
  await ctx.waitFor(async () => (await handled()) >= RAW_GARBAGE.length, {
    message: () =>
      `S1-raw: ${RAW_GARBAGE.length} undecodable entries to be counted as rejected${withReader ? ' or dead-lettered' : ''} (rejected ${ctx.totals([receiver]).rejected})`,
  });
  const first = await handled();
  await settle(ctx.ms(300));
  const second = await handled();
  if (second !== first) {
    fail(
      'S1-raw',
      `undecodable entries loop: rejected/dead-lettered count went ${first} → ${second} with no new input`,
    );
  }
}
