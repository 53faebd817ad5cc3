import { backoffDelay, type Hub } from '@hub/core';
import { type Envelope, ErrorCode, isHubError } from '@hub/protocol';
import type { Redis } from 'ioredis';
import type { LegacyConverter } from '../convert/converter.js';
import { FROM_LEGACY, marked, wasBridged } from './marker.js';
import type { RouteStats } from './stats.js';

/** The hub calls a bridge makes. */
export type BridgeHub = Pick<Hub, 'send' | 'publish' | 'onMessage' | 'subscribe'>;

/** Errors a retry cannot fix: the item goes to the dead key instead. */
const PERMANENT: ReadonlySet<string> = new Set([
  ErrorCode.INVALID_MESSAGE,
  ErrorCode.GUARANTEE_UNSUPPORTED,
  ErrorCode.NO_ROUTE,
]);

const RETRY = { initialDelayMs: 20, maxDelayMs: 1_000, jitter: 'equal' } as const;

export type Outcome = 'forwarded' | 'loop' | 'dead' | 'closed';

/** What every route of one bridge shares: the hub, the converter, the command connection, closing. */
export class BridgeContext {
  closed = false;
  private readonly sleepers = new Set<() => void>();

  constructor(
    readonly id: string,
    readonly hub: BridgeHub,
    readonly converter: LegacyConverter,
    readonly commands: Redis,
    readonly report: (err: unknown, where: string) => void,
  ) {}

  /** Wait `ms`, or less when the bridge closes. */
  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.sleepers.add(done);
    });
  }

  close(): void {
    this.closed = true;
    for (const wake of [...this.sleepers]) wake();
  }

  /**
   * A blocking read failed: report it and wait (capped exponential backoff by
   * `attempt`) before the loop reads again. False when the bridge is closing.
   */
  async readFailed(
    err: unknown,
    stats: RouteStats,
    what: string,
    attempt: number,
  ): Promise<boolean> {
    if (this.closed) return false;
    stats.retries++;
    this.report(err, `${stats.route}: ${what}`);
    await this.sleep(backoffDelay(attempt, RETRY));
    return true;
  }

  /** Run a Redis command until it succeeds or the bridge closes (then undefined). */
  async retry<T>(what: string, stats: RouteStats, fn: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (this.closed) break;
        stats.retries++;
        this.report(err, what);
        await this.sleep(backoffDelay(attempt, RETRY));
      }
    }
    return undefined;
  }

  /**
   * Convert one legacy item and hand it to the hub, retrying a refusal that
   * may pass until the hub accepts it or the bridge closes. Resolves with what
   * became of it; the caller removes or acknowledges the item accordingly.
   */
  async deliver(
    raw: string,
    stats: RouteStats,
    map: ((env: Envelope) => Envelope) | undefined,
  ): Promise<Outcome> {
    let env: Envelope;
    try {
      env = this.converter.convertMessage(raw);
      if (map) env = map(env);
    } catch (err) {
      stats.failed++;
      this.report(err, `${stats.route}: convert`);
      return 'dead';
    }
    if (wasBridged(env)) {
      stats.loopsPrevented++;
      return 'loop';
    }
    const out = marked(env, FROM_LEGACY);
    for (let attempt = 1; !this.closed; attempt++) {
      try {
        if (out.kind === 'message') await this.hub.send(out);
        else await this.hub.publish(out);
        stats.forwarded++;
        return 'forwarded';
      } catch (err) {
        if (isHubError(err) && PERMANENT.has(err.code)) {
          stats.failed++;
          this.report(err, `${stats.route}: hub refused`);
          return 'dead';
        }
        if (this.closed) break;
        stats.retries++;
        this.report(err, `${stats.route}: hub send`);
        await this.sleep(backoffDelay(attempt, RETRY));
      }
    }
    return 'closed';
  }
}

/**
 * At most `limit` settlements at once: `add` waits for room, `drain` for all
 * of them. A settlement handles its own errors; one that throws anyway is
 * reported, never allowed to end the read loop.
 */
export class InFlight {
  private readonly running = new Set<Promise<void>>();
  constructor(
    private readonly limit: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  async add(task: Promise<void>): Promise<void> {
    const p: Promise<void> = task
      .then(undefined, this.onError)
      .finally(() => this.running.delete(p));
    this.running.add(p);
    if (this.running.size >= this.limit) await Promise.race(this.running);
  }

  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }
}
