import type { AdapterCapabilities } from '@hub/core';
import { DeliveryGuarantee } from '@hub/protocol';
import { type CaseContext, caseGuarantee, createCaseContext, isReliable } from '../context.js';
import type { AdapterTestSuiteOptions, CaseId } from '../options.js';
import { settleWithin } from '../wait.js';
import { expiry, flowControl, priorities } from './backlog.js';
import { badInputFloods, foreignEnvelopes } from './bad-input.js';
import { subscriberChurn } from './churn.js';
import { cleanExit } from './clean-exit.js';
import { deadLetterFailure } from './dead-letter-failure.js';
import {
  competingConsumers,
  destinations,
  exactlyOnce,
  roundTrip,
  topicsAndGroups,
} from './delivery.js';
import { noSilentDowngrade } from './downgrade.js';
import { malformedEnvelopes, malformedRaw } from './malformed.js';
import { perKeyOrder } from './order.js';
import { crashedConsumer, nackRedelivery, poisonToDeadLetter } from './redelivery.js';

/** What the suite knows about an adapter before running anything. */
export interface AdapterProbe {
  readonly capabilities: AdapterCapabilities;
  /** The adapter implements `readDeadLetters` (DeadLetterReader). */
  readonly deadLetterReader: boolean;
}

export interface CaseDefinition {
  readonly id: CaseId;
  readonly title: string;
  /** Why the case cannot run on this adapter (a missing capability); undefined when it can. */
  readonly unsupported: (
    probe: AdapterProbe,
    options: AdapterTestSuiteOptions,
  ) => string | undefined;
  /** A limitation shown in the test name when the case runs partially. */
  readonly note?: (probe: AdapterProbe) => string | undefined;
  readonly run: (ctx: CaseContext) => Promise<void>;
}

const needsReliable = ({ capabilities }: AdapterProbe): string | undefined =>
  isReliable(caseGuarantee(capabilities))
    ? undefined
    : 'needs a guarantee that redelivers (at-least-once, exactly-once or ordered); the adapter declares only best-effort';

const needsGroups = ({ capabilities }: AdapterProbe): string | undefined =>
  capabilities.consumerGroups
    ? undefined
    : 'needs consumerGroups: several instances of one endpoint sharing its work';

const first = (...reasons: (string | undefined)[]): string | undefined =>
  reasons.find((r) => r !== undefined);

/** Every case, in the order of the Hub conformance list (docs/conformance.md: R…, then S…), with what it needs. */
export const CASES: readonly CaseDefinition[] = [
  {
    id: 'R1',
    title:
      'round trip: 100 messages with headers and binary-safe payloads arrive intact, exact id set',
    unsupported: () => undefined,
    run: roundTrip,
  },
  {
    id: 'R2',
    title:
      'competing consumers: 5,000 messages, 4 senders, 3 instances, each handled by exactly one',
    unsupported: (p) => needsGroups(p),
    run: competingConsumers,
  },
  {
    id: 'R2-exactly-once',
    title: 'exactly-once: every message sent twice with the same id is handled once',
    unsupported: ({ capabilities }) =>
      capabilities.guarantees.includes(DeliveryGuarantee.EXACTLY_ONCE)
        ? undefined
        : 'needs the exactly-once guarantee',
    run: exactlyOnce,
  },
  {
    id: 'R3',
    title: 'destinations: two endpoints each receive all of theirs, nothing leaks across',
    unsupported: () => undefined,
    run: destinations,
  },
  {
    id: 'R3-topics',
    title:
      'topics and groups: each group and fan-out subscriber receives every matching event once, nothing leaks across topics',
    unsupported: ({ capabilities }) =>
      capabilities.broadcast
        ? undefined
        : 'needs broadcast: events fanned out to topic subscribers',
    note: ({ capabilities }) =>
      [
        capabilities.patterns ? undefined : 'exact topics only: no patterns capability',
        capabilities.consumerGroups
          ? undefined
          : 'one instance per group: no consumerGroups capability',
      ]
        .filter((s) => s !== undefined)
        .join('; ') || undefined,
    run: topicsAndGroups,
  },
  {
    id: 'R4',
    title:
      'nack → redelivery: handlers failing the first 2 attempts still see every message, attempt grows',
    unsupported: needsReliable,
    run: nackRedelivery,
  },
  {
    id: 'R5',
    title:
      'crashed consumer: messages held by a crashed instance are redelivered; a live slow handler is not robbed',
    unsupported: (p) => first(needsReliable(p), needsGroups(p)),
    run: crashedConsumer,
  },
  {
    id: 'R6',
    title: 'poison → DLQ: exactly maxDeliveries attempts, then dead-lettered with the reason',
    unsupported: needsReliable,
    note: ({ deadLetterReader }) =>
      deadLetterReader ? undefined : 'DLQ contents unchecked: the adapter has no readDeadLetters',
    run: poisonToDeadLetter,
  },
  {
    id: 'R7',
    title: 'subscriber churn: received ∪ = sent while subscriptions come and go; no leaked timers',
    unsupported: needsReliable,
    run: subscriberChurn,
  },
  {
    id: 'R8',
    title:
      'flow control: the adapter hands a prefetch-1 subscription the next delivery only after the ack',
    unsupported: () => undefined,
    note: ({ capabilities }) =>
      isReliable(caseGuarantee(capabilities))
        ? undefined
        : "best-effort only: checks the hub's flow control, not the adapter's prefetch",
    run: flowControl,
  },
  {
    id: 'R9',
    title: 'per-key order: 1,000 messages over 16 keys, each key handled exactly in send order',
    unsupported: ({ capabilities }) =>
      capabilities.guarantees.includes(DeliveryGuarantee.ORDERED)
        ? undefined
        : 'needs the ordered guarantee',
    run: perKeyOrder,
  },
  {
    id: 'R15',
    title:
      'expiry: messages past their TTL, waiting in the hub or in the transport, are dropped and counted, never delivered',
    unsupported: () => undefined,
    run: expiry,
  },
  {
    id: 'R16',
    title: 'priorities: under backlog higher priority goes first; the lowest still progresses',
    unsupported: () => undefined,
    run: priorities,
  },
  {
    id: 'R17',
    title:
      'no silent downgrade: each guarantee the adapter does not declare (a kept event without durableTopics) is refused at once with HUB_GUARANTEE_UNSUPPORTED and never handled; declared ones are delivered',
    unsupported: () => undefined,
    run: noSilentDowngrade,
  },
  {
    id: 'R18',
    title:
      'clean exit: a process that served, sent, requested and closed its hub exits within 200 ms',
    unsupported: (_p, options) =>
      options.cleanExit
        ? undefined
        : 'needs the cleanExit option: a module a child process can import to build the adapter',
    run: cleanExit,
  },
  {
    id: 'R19',
    title:
      'dead-letter failure: while the DLQ write fails the message stays (reported, redelivered), then lands in the DLQ',
    unsupported: (p, options) =>
      first(
        needsReliable(p),
        options.breakDeadLetters
          ? undefined
          : 'needs the breakDeadLetters option: a way to make the dead-letter write fail',
      ),
    run: deadLetterFailure,
  },
  {
    id: 'S1',
    title:
      'malformed envelopes: rejected with a typed error naming the field, counted; the hub keeps working',
    unsupported: () => undefined,
    run: malformedEnvelopes,
  },
  {
    id: 'S1-raw',
    title: 'undecodable transport entries: rejected or dead-lettered, never handled, never looping',
    unsupported: (_p, options) =>
      options.injectRaw
        ? undefined
        : 'needs the injectRaw option: the adapter does not expose raw transport bytes',
    run: malformedRaw,
  },
  {
    id: 'S11',
    title:
      'foreign envelopes: an event or a message for another endpoint in an endpoint queue is refused, counted, dead-lettered, never handled',
    unsupported: (_p, options) =>
      options.injectForeign
        ? undefined
        : 'needs the injectForeign option: the adapter cannot put a foreign envelope on an endpoint address',
    run: foreignEnvelopes,
  },
  {
    id: 'S12',
    title:
      'bad-input floods: thousands of undecodable entries are counted but logged rate-limited; oversized ones refused by length, memory bounded',
    unsupported: (_p, options) =>
      options.injectRaw
        ? undefined
        : 'needs the injectRaw option: the adapter does not expose raw transport bytes',
    run: badInputFloods,
  },
];

/** The case bodies as plain async functions, for running one outside the suite. */
export const cases: Readonly<Record<CaseId, (ctx: CaseContext) => Promise<void>>> =
  Object.fromEntries(CASES.map((c) => [c.id, c.run])) as Record<
    CaseId,
    (ctx: CaseContext) => Promise<void>
  >;

/** The reason a case is skipped (an explicit `skip` entry or a missing capability), if it is. */
export function skipReason(
  def: CaseDefinition,
  probe: AdapterProbe,
  options: AdapterTestSuiteOptions,
): string | undefined {
  const skip = options.skip ?? {};
  const base = def.id.split('-')[0] as CaseId;
  return (
    skip[def.id] ?? (base !== def.id ? skip[base] : undefined) ?? def.unsupported(probe, options)
  );
}

/**
 * Run one case on its own: builds its hubs, runs it, closes everything. Throws
 * the case's failure. `capabilities` default to `options.capabilities`, then
 * to those of one adapter built by `createAdapter`. Does not check capabilities:
 * the caller decides what to run.
 */
export async function runCase(
  id: CaseId,
  options: AdapterTestSuiteOptions,
  capabilities?: AdapterCapabilities,
): Promise<void> {
  const def = CASES.find((c) => c.id === id);
  if (!def) throw new Error(`[hub:adapter-test-suite] unknown case ${id}`);
  let caps = capabilities ?? options.capabilities;
  if (!caps) {
    const probe = await options.createAdapter();
    caps = probe.capabilities;
    await settleWithin(
      probe.close(),
      Math.round(10_000 * (options.timeoutScale ?? 1)),
      "an unconnected adapter's close()",
    ).catch(() => {});
  }
  const ctx = createCaseContext(options, caps);
  let failure: unknown;
  try {
    await def.run(ctx);
  } catch (err) {
    failure = err;
  }
  try {
    await ctx.dispose();
  } catch (err) {
    failure ??= err;
  }
  if (failure !== undefined) throw failure;
}
