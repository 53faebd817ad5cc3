import type { Hub } from '@hub/core';
import { HubError, type UnifiedMessage } from '@hub/protocol';
import {
  CASE_FAILED,
  type DeliveryRecorder,
  type ExpectDeliveryOptions,
  expectDelivery,
} from '../checker.js';
import type { CaseContext } from '../context.js';

/** Throw a case failure naming the case. */
export function fail(caseId: string, message: string): never {
  throw new HubError(CASE_FAILED, `[hub:adapter-test-suite] ${caseId}: ${message}`);
}

/** Resolve after `ms`. Only for pacing load and for "nothing more arrives" windows, never to wait for a result. */
export const pause = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    setTimeout(resolve, ms);
  });

/** Number of live timers in this process (R7's leak check). */
export const activeTimeouts = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

export interface SendAllOptions {
  /** Sends in flight at once. @default 16 */
  parallel?: number;
  /** Case id, for the failure message. */
  caseId: string;
}

/**
 * Send every message, `parallel` at a time, recording attempts and acks. A
 * rejected send fails the case (cases inject no faults), naming the message.
 */
export async function sendAll(
  hub: Hub,
  messages: readonly UnifiedMessage[],
  recorder: DeliveryRecorder | undefined,
  options: SendAllOptions,
): Promise<void> {
  let next = 0;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < messages.length) {
      const msg = messages[next++] as UnifiedMessage;
      recorder?.attempted(msg.id);
      try {
        await hub.send(msg);
        recorder?.acknowledged(msg.id);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  const workers = Math.max(1, Math.min(options.parallel ?? 16, messages.length));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure !== undefined) {
    const reason = failure instanceof Error ? failure.message : String(failure);
    fail(options.caseId, `send rejected with no fault injected: ${reason}`);
  }
}

/** Give stray extra deliveries (duplicates, leaks) a moment to show up before judging. */
export const settle = (ms: number): Promise<void> => pause(ms);

/**
 * Wait until every acknowledged id was received. On timeout, judge what did
 * arrive first, so the failure names the lost ids and counts rather than
 * only "timed out".
 */
export async function awaitDelivery(
  ctx: CaseContext,
  recorders: readonly DeliveryRecorder[],
  check: ExpectDeliveryOptions & { label: string },
  progress?: () => string,
): Promise<void> {
  try {
    await ctx.waitFor(() => recorders.every((r) => r.allAcknowledgedReceived()), {
      message:
        progress ??
        (() =>
          `${check.label}: ${recorders.map((r) => `${r.uniqueReceived}/${r.check().acknowledged}`).join(', ')} received`),
    });
  } catch (err) {
    for (const rec of recorders)
      expectDelivery(rec, { ...check, label: `${check.label} (timed out)` });
    throw err;
  }
}
