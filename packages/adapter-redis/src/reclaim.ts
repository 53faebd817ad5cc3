/**
 * Taking entries over and holding them, by idle time: XAUTOCLAIM of what dead
 * consumers abandoned (with the delivery counts Redis kept), and the idle time
 * of what we hold set to 0 (still working on it) or to the maximum (release:
 * anyone's next reclaim takes it).
 */
import type { Held } from './held-entries.js';
import { parseEntries, type RawEntry } from './stream-entry.js';
import { CLAIM_SCRIPT, HOLD_SCRIPT } from './stream-scripts.js';
import type { StreamHost } from './stream-subscription.js';

/** Idle time given to released entries so any consumer's next reclaim takes them. */
export const RELEASED_IDLE_MS = 2 ** 31 - 1;

/** The consumer-group member claiming or holding entries. */
export interface ClaimingMember {
  readonly host: StreamHost;
  readonly group: string;
  readonly consumer: string;
  readonly counters: { trimmedWhilePending: number };
}

/** XAUTOCLAIM plus the delivery counts of what it claimed. */
export async function autoclaim(
  sub: ClaimingMember,
  key: string,
  minIdle: number,
  count: number,
): Promise<Array<RawEntry & { attempt: number }>> {
  const c = sub.host.commands;
  const reply = (await c.eval(
    CLAIM_SCRIPT,
    1,
    key,
    String(sub.host.opts.maxEntryBytes),
    sub.group,
    sub.consumer,
    String(minIdle),
    '0-0',
    'COUNT',
    String(count),
  )) as unknown[];
  const entries = parseEntries(reply?.[1]);
  const deleted = Array.isArray(reply?.[2]) ? (reply[2] as unknown[]) : [];
  if (deleted.length > 0) {
    // Trimmed by MAXLEN while pending: Redis already dropped them from the PEL.
    sub.counters.trimmedWhilePending += deleted.length;
    sub.host.ctx.logger.warn('[hub:redis] pending entries were trimmed before delivery', {
      stream: key,
      count: deleted.length,
    });
  }
  if (entries.length === 0) return [];
  const pend = (await c.call('XPENDING', [
    key,
    sub.group,
    entries[0]!.id,
    entries[entries.length - 1]!.id,
    String(entries.length + 16),
    sub.consumer,
  ])) as unknown[];
  const counts = new Map<string, number>();
  if (Array.isArray(pend)) {
    for (const p of pend) if (Array.isArray(p)) counts.set(String(p[0]), Number(p[3]));
  }
  return entries.map((e) => ({ ...e, attempt: counts.get(e.id) ?? 2 }));
}

export async function setIdle(sub: ClaimingMember, entries: Held[], idleMs: number): Promise<void> {
  const byKey = new Map<string, string[]>();
  for (const h of entries) {
    const list = byKey.get(h.key) ?? [];
    list.push(h.id);
    byKey.set(h.key, list);
  }
  const c = sub.host.commands;
  await Promise.all(
    [...byKey].map(([key, ids]) =>
      c.eval(HOLD_SCRIPT, 1, key, sub.group, sub.consumer, String(idleMs), ...ids),
    ),
  );
}
