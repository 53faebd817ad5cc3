import { isDeepStrictEqual } from 'node:util';
import type { Hub } from '@hub/core';
import {
  createEvent,
  createMessage,
  DeliveryGuarantee,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { DeliveryRecorder, expectDelivery } from '../checker.js';
import type { CaseContext } from '../context.js';
import { awaitDelivery, fail, pause, sendAll, settle } from './helpers.js';

/** Payloads a transport must carry unchanged: unicode, escapes, numbers, nesting, size. */
function jsonPayloads(maxBytes: number): unknown[] {
  const big = 'Ω≈ç√∫'.repeat(Math.max(1, Math.floor(Math.min(maxBytes / 4, 32_768) / 12)));
  return [
    'plain ascii',
    'héllo wörld — 日本語 — Ελληνικά — עברית — 🚀👩‍👩‍👧‍👦 — \u0000 nul — \u2028\u2029 separators',
    'quotes " \' ` backslash \\ newline \n tab \t cr \r </script> {"not":"json"}',
    '',
    0,
    -1,
    1.5,
    Number.MAX_SAFE_INTEGER,
    1e-7,
    true,
    false,
    null,
    [],
    {},
    [1, 'two', { three: [3] }, null, true],
    { 'dotted.key': 1, 'ünïcode-kéy': '✓', nested: { deep: { deeper: { deepest: 'x' } } } },
    { big },
  ];
}

function binaryPayloads(): unknown[] {
  const all = new Uint8Array(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  return [all, { blob: new Uint8Array([0, 255, 0xc3, 0x28, 0xff, 0xfe]), label: 'invalid utf-8' }];
}

const describeValue = (v: unknown): string => {
  const s = JSON.stringify(v, (_k, x: unknown) =>
    x instanceof Uint8Array ? `Uint8Array(${x.length})` : x,
  );
  return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 120)}…` : s;
};

/** R1 round trip: 100 messages with headers and binary-safe payloads arrive intact, exact id set. */
export async function roundTrip(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r1');
  const receiver = await ctx.hub('r1_recv');
  const sender = await ctx.hub('r1_send');
  const rec = new DeliveryRecorder();
  const got = new Map<string, UnifiedMessage>();
  await receiver.onMessage(endpoint, (msg) => {
    rec.received(msg.id);
    got.set(msg.id, msg);
  });

  // An adapter may learn its limit at connect: read it from the connected one.
  const limit =
    ctx.adapterOf(sender).capabilities.maxPayloadBytes ?? ctx.capabilities.maxPayloadBytes;
  const samples = jsonPayloads(limit ?? 1_048_576);
  if (ctx.options.binaryPayloads === true) samples.push(...binaryPayloads());
  const n = ctx.count(100, samples.length);
  const sent = new Map<string, UnifiedMessage>();
  for (let i = 0; i < n; i++) {
    const sample = samples[i % samples.length];
    const msg = createMessage<unknown>({
      source: 'ats_r1_sender',
      destination: endpoint,
      messageType: 'ats_round_trip',
      // alternate bare values and wrapped ones, so top-level scalars travel too
      payload: i % 2 === 0 ? sample : { i, v: sample },
      deliveryGuarantee: ctx.guarantee,
      correlationId: `ats-corr-${i}`,
      headers: {
        'x-ats-index': String(i),
        'x-ats-unicode': 'ü → ✓ 🚀',
        'x-ats-empty': '',
        'x-ats-long': 'h'.repeat(256),
      },
    });
    sent.set(msg.id, msg);
  }
  await sendAll(sender, [...sent.values()], rec, { caseId: 'R1', parallel: 8 });
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: DeliveryGuarantee.AT_LEAST_ONCE, label: 'R1 round trip' },
    () => `R1: ${rec.uniqueReceived}/${n} messages received`,
  );
  await settle(ctx.ms(100));
  // no faults: every message exactly once, whatever the adapter's guarantee
  expectDelivery(rec, { guarantee: DeliveryGuarantee.AT_LEAST_ONCE, label: 'R1 round trip' });

  const problems: string[] = [];
  for (const [id, want] of sent) {
    const have = got.get(id);
    if (!have) continue;
    if (!isDeepStrictEqual(have.payload, want.payload)) {
      problems.push(
        `${id}: payload ${describeValue(have.payload)} != sent ${describeValue(want.payload)}`,
      );
    }
    for (const [k, v] of Object.entries(want.headers)) {
      if (have.headers[k] !== v) {
        problems.push(
          `${id}: header ${k} = ${describeValue(have.headers[k])}, sent ${describeValue(v)}`,
        );
      }
    }
    for (const field of [
      'source',
      'destination',
      'type',
      'priority',
      'correlationId',
      'timestamp',
    ] as const) {
      if (have[field] !== want[field]) {
        problems.push(
          `${id}: ${field} = ${describeValue(have[field])}, sent ${describeValue(want[field])}`,
        );
      }
    }
  }
  if (problems.length > 0) {
    fail(
      'R1',
      `${problems.length} field(s) changed in transit: ${problems.slice(0, 5).join('; ')}`,
    );
  }
}

/** R2 competing consumers: 5,000 messages, 4 senders, 3 instances: each handled by exactly one. */
export async function competingConsumers(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r2');
  const rec = new DeliveryRecorder();
  const receivers: Hub[] = [];
  for (let i = 0; i < 3; i++) {
    const hub = await ctx.hub(`r2_recv${i}`);
    const name = `instance${i}`;
    await hub.onMessage(endpoint, (msg) => {
      rec.received(msg.id, name);
    });
    receivers.push(hub);
  }
  const senders = await Promise.all([0, 1, 2, 3].map((i) => ctx.hub(`r2_send${i}`)));
  const n = ctx.count(5_000, 200);
  await Promise.all(
    senders.map((hub, s) => {
      const batch: UnifiedMessage[] = [];
      for (let i = s; i < n; i += senders.length) {
        batch.push(
          createMessage({
            source: `ats_r2_sender${s}`,
            destination: endpoint,
            payload: { i },
            deliveryGuarantee: ctx.guarantee,
          }),
        );
      }
      return sendAll(hub, batch, rec, { caseId: 'R2', parallel: 8 });
    }),
  );
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: ctx.guarantee, label: 'R2 competing consumers' },
    () => `R2: ${rec.uniqueReceived}/${n} messages received`,
  );
  await settle(ctx.ms(200));
  const report = expectDelivery(rec, { guarantee: ctx.guarantee, label: 'R2 competing consumers' });
  const busy = Object.values(report.byInstance).filter((c) => c > 0).length;
  if (busy < 2) {
    fail(
      'R2',
      `work was not shared: ${JSON.stringify(report.byInstance)} over 3 instances of one endpoint`,
    );
  }
}

/**
 * R2 under exactly-once: every message is sent twice with the same id (a
 * sender retrying an uncertain send, from two instances); handlers see each once.
 */
export async function exactlyOnce(ctx: CaseContext): Promise<void> {
  const endpoint = ctx.unique('r2eo');
  const rec = new DeliveryRecorder();
  const instances = ctx.capabilities.consumerGroups ? 2 : 1;
  for (let i = 0; i < instances; i++) {
    const hub = await ctx.hub(`r2eo_recv${i}`);
    const name = `instance${i}`;
    await hub.onMessage(endpoint, (msg) => {
      rec.received(msg.id, name);
    });
  }
  const senders = [await ctx.hub('r2eo_send0'), await ctx.hub('r2eo_send1')];
  const n = ctx.count(1_000, 100);
  const messages: UnifiedMessage[] = [];
  for (let i = 0; i < n; i++) {
    messages.push(
      createMessage({
        source: 'ats_r2eo_sender',
        destination: endpoint,
        payload: { i },
        deliveryGuarantee: DeliveryGuarantee.EXACTLY_ONCE,
      }),
    );
  }
  // the retry is a fresh copy with the same id, as a restarted sender would build it
  const retries = messages.map((m) => ({ ...m, headers: { ...m.headers } }));
  await Promise.all([
    sendAll(senders[0] as Hub, messages, rec, { caseId: 'R2-exactly-once', parallel: 8 }),
    sendAll(senders[1] as Hub, retries, rec, { caseId: 'R2-exactly-once', parallel: 8 }),
  ]);
  await awaitDelivery(
    ctx,
    [rec],
    { guarantee: DeliveryGuarantee.EXACTLY_ONCE, label: 'R2 exactly-once' },
    () => `R2-exactly-once: ${rec.uniqueReceived}/${n} messages received`,
  );
  await settle(ctx.ms(300));
  expectDelivery(rec, {
    guarantee: DeliveryGuarantee.EXACTLY_ONCE,
    label: 'R2 exactly-once (each id sent twice)',
  });
}

/** R3 destinations: two endpoints each receive all of theirs; nothing leaks, not even to a prefix sibling. */
export async function destinations(ctx: CaseContext): Promise<void> {
  const a = ctx.unique('r3a');
  const b = ctx.unique('r3b');
  // a sibling whose name extends `a`: catches prefix matching of addresses
  const sibling = `${a}_x`;
  const recA = new DeliveryRecorder();
  const recB = new DeliveryRecorder();
  const recSibling = new DeliveryRecorder();
  const wrongDestination: string[] = [];
  const hubX = await ctx.hub('r3_x');
  const hubY = await ctx.hub('r3_y');
  const serve = (hub: Hub, address: string, rec: DeliveryRecorder, name: string) =>
    hub.onMessage(address, (msg) => {
      if (msg.destination !== address) wrongDestination.push(`${msg.id}→${msg.destination}`);
      rec.received(msg.id, name);
    });
  await serve(hubX, a, recA, 'x');
  await serve(hubY, b, recB, 'y');
  await serve(hubY, sibling, recSibling, 'y');
  const sender = await ctx.hub('r3_send');
  const n = ctx.count(100, 20);
  const toA: UnifiedMessage[] = [];
  const toB: UnifiedMessage[] = [];
  for (let i = 0; i < n; i++) {
    toA.push(
      createMessage({
        source: 'ats_r3',
        destination: a,
        payload: { i },
        deliveryGuarantee: ctx.guarantee,
      }),
    );
    toB.push(
      createMessage({
        source: 'ats_r3',
        destination: b,
        payload: { i },
        deliveryGuarantee: ctx.guarantee,
      }),
    );
  }
  await Promise.all([
    sendAll(sender, toA, recA, { caseId: 'R3', parallel: 4 }),
    sendAll(sender, toB, recB, { caseId: 'R3', parallel: 4 }),
  ]);
  await awaitDelivery(
    ctx,
    [recA, recB],
    { guarantee: ctx.guarantee, label: 'R3 destinations' },
    () => `R3: ${recA.uniqueReceived}/${n} at A, ${recB.uniqueReceived}/${n} at B`,
  );
  await settle(ctx.ms(200));
  // every receipt at A of a message sent to B shows up as "unexpected" in A's recorder
  expectDelivery(recA, { guarantee: ctx.guarantee, label: 'R3 endpoint A' });
  expectDelivery(recB, { guarantee: ctx.guarantee, label: 'R3 endpoint B' });
  expectDelivery(recSibling, { guarantee: ctx.guarantee, label: `R3 sibling endpoint ${sibling}` });
  if (wrongDestination.length > 0) {
    fail(
      'R3',
      `handlers got messages addressed elsewhere: ${wrongDestination.slice(0, 5).join(', ')}`,
    );
  }
}

/**
 * How R3-topics judges: by events' own guarantee (best-effort: never
 * duplicated), and, since it injects no faults, with no loss either.
 */
const EVENTS_WITHOUT_FAULTS = {
  guarantee: DeliveryGuarantee.BEST_EFFORT,
  noLossBecause:
    'events are best-effort, which allows loss under faults only, and this run injects none',
} as const;

/**
 * R3 topics and groups: two groups (two instances each when the adapter has
 * consumer groups) each receive every event of their topic exactly once; a
 * fan-out subscriber gets every event; nothing leaks to other topics.
 */
export async function topicsAndGroups(ctx: CaseContext): Promise<void> {
  const base = ctx.unique('r3t');
  const created = `${base}.orders.created`;
  const deleted = `${base}.orders.deleted`;
  // same suffix, different first segment: must not match subscriptions on `base`
  const foreign = `${base}x.orders.created`;
  const { patterns, consumerGroups } = ctx.capabilities;
  const hubs = [await ctx.hub('r3t_1'), await ctx.hub('r3t_2')];
  const publisher = await ctx.hub('r3t_pub');

  interface Sub {
    label: string;
    rec: DeliveryRecorder;
    topics: string[];
  }
  const subs: Sub[] = [];
  const wrongTopic: string[] = [];
  const add = async (label: string, pattern: string, topics: string[], group?: string) => {
    const sub: Sub = { label, rec: new DeliveryRecorder(), topics };
    subs.push(sub);
    const instances = group !== undefined && consumerGroups ? hubs : hubs.slice(0, 1);
    for (const [i, hub] of instances.entries()) {
      await hub.subscribe(
        pattern,
        (event: UnifiedEvent) => {
          if (!topics.includes(event.topic)) wrongTopic.push(`${label} got ${event.topic}`);
          sub.rec.received(event.id, `instance${i}`);
        },
        group === undefined ? {} : { group },
      );
    }
  };
  const createdPattern = patterns ? `${base}.*.created` : created;
  await add('group g1', createdPattern, [created], `${base}_g1`);
  await add('group g2', created, [created], `${base}_g2`);
  await add('fan-out on deleted', deleted, [deleted]);
  if (patterns) await add(`fan-out on ${base}.**`, `${base}.**`, [created, deleted]);

  const n = ctx.count(100, 20);
  const events: UnifiedEvent[] = [];
  for (let i = 0; i < n; i++) {
    for (const topic of [created, deleted, foreign]) {
      events.push(createEvent({ source: 'ats_r3t', topic, type: 'ats_event', data: { i } }));
    }
  }
  for (const [k, ev] of events.entries()) {
    for (const sub of subs) if (sub.topics.includes(ev.topic)) sub.rec.attempted(ev.id);
    await publisher.publish(ev);
    for (const sub of subs) if (sub.topics.includes(ev.topic)) sub.rec.acknowledged(ev.id);
    // keep publishing paced like a live producer, not one synchronous burst
    if (k % 50 === 49) await pause(1);
  }
  await awaitDelivery(
    ctx,
    subs.map((s) => s.rec),
    { ...EVENTS_WITHOUT_FAULTS, label: 'R3-topics' },
    () =>
      `R3-topics: ${subs.map((s) => `${s.label} ${s.rec.uniqueReceived}/${s.topics.length * n}`).join(', ')}`,
  );
  await settle(ctx.ms(200));
  // no faults: each subscription (a group counts as one) gets every matching event once
  for (const sub of subs) {
    expectDelivery(sub.rec, { ...EVENTS_WITHOUT_FAULTS, label: `R3-topics ${sub.label}` });
  }
  if (wrongTopic.length > 0) {
    fail('R3-topics', `events leaked across topics: ${wrongTopic.slice(0, 5).join(', ')}`);
  }
}
