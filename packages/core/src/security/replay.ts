import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { rejectUnknownOptions } from '../config/unknown-options.js';
import type { InboundContext } from '../hub/middleware.js';

export interface ReplayOptions {
  /**
   * How far an envelope's signed `timestamp` may lie from this hub's clock
   * on its first delivery, and how long its id is remembered. An envelope
   * older (or further in the future) is refused. Size it above the longest
   * a message may wait in a queue before its first delivery (a durable
   * backlog counts): past the window it is refused, not handled.
   * @default 300_000 (5 minutes)
   */
  windowMs?: number;
  /**
   * Most ids remembered at once (memory stays bounded). When a still-fresh id
   * must make room, envelopes as old as it are refused from then on, so a
   * replay never slips through a forgotten id; size it above the messages a
   * hub receives in one window.
   * @default 100_000
   */
  maxIds?: number;
}

const OPTIONS = ['windowMs', 'maxIds'] as const;

const invalid = (field: string, why: string) =>
  new HubError(ErrorCode.INVALID_CONFIG, `[hub:config] security.replay.${field} ${why}`);

/**
 * Refuses a copy of an envelope the hub has already received: the same id
 * at the same consumer on a transport's first delivery (a redelivery, of a
 * message nacked or left by a crashed consumer, has attempt > 1 and goes
 * on), or one whose timestamp lies outside the window. With signing on, the
 * id and timestamp are signed, so a replayed copy cannot be made to look new.
 */
export class ReplayGuard {
  readonly windowMs: number;
  private readonly maxIds: number;
  /** `consumer id` → its signed timestamp, in arrival order (close to timestamp order). */
  private readonly seen = new Map<string, number>();
  /** Envelopes signed at or before this were possibly forgotten early: refused. */
  private horizon = Number.NEGATIVE_INFINITY;
  /** Ids forgotten before their time to keep memory bounded. */
  evicted = 0;

  constructor(options: ReplayOptions) {
    if (typeof options !== 'object' || options === null) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub:config] security.replay must be an object',
      );
    }
    rejectUnknownOptions('security.replay', options, OPTIONS);
    const { windowMs = 300_000, maxIds = 100_000 } = options;
    if (!Number.isInteger(windowMs) || windowMs < 1)
      throw invalid('windowMs', 'must be an integer >= 1');
    if (!Number.isInteger(maxIds) || maxIds < 1) throw invalid('maxIds', 'must be an integer >= 1');
    this.windowMs = windowMs;
    this.maxIds = maxIds;
  }

  /** Ids remembered now. */
  get size(): number {
    return this.seen.size;
  }

  /** Throws a HUB_REPLAYED HubError when `env` is a replay or outside the window. */
  check(env: Envelope, context: InboundContext, now = Date.now()): void {
    if (context.attempt > 1) return;
    const ts = env.timestamp;
    if (typeof ts !== 'number' || !Number.isFinite(ts) || Math.abs(now - ts) > this.windowMs) {
      throw new HubError(
        ErrorCode.REPLAYED,
        `[hub:security] ${env.id} was signed at ${JSON.stringify(ts)}, outside the replay window of ${this.windowMs} ms around now (${now})`,
      );
    }
    if (ts <= this.horizon) {
      throw new HubError(
        ErrorCode.REPLAYED,
        `[hub:security] ${env.id} is older than the ids the replay memory still holds (maxIds is full): refused rather than risk a replay`,
      );
    }
    this.sweep(now);
    const key = `${context.consumer}\u0000${env.id}`;
    if (this.seen.has(key)) {
      throw new HubError(
        ErrorCode.REPLAYED,
        `[hub:security] ${env.id} was already received by ${context.consumer} (a replay)`,
      );
    }
    if (this.seen.size >= this.maxIds) {
      // The oldest goes; envelopes as old as it are refused from now on.
      const [oldest, signedAt] = this.seen.entries().next().value as [string, number];
      this.seen.delete(oldest);
      this.evicted++;
      this.horizon = Math.max(this.horizon, signedAt);
    }
    // Remembered until its timestamp leaves the window: a copy after that is refused as stale.
    this.seen.set(key, ts);
  }

  /**
   * Forget ids whose envelopes can no longer pass the timestamp check, from
   * the oldest arrival on (it stops at the first one still fresh: arrival
   * order is close enough to timestamp order, and memory stays bounded by
   * `maxIds` either way).
   */
  private sweep(now: number): void {
    for (const [key, signedAt] of this.seen) {
      if (now - signedAt <= this.windowMs) return;
      this.seen.delete(key);
    }
  }
}
