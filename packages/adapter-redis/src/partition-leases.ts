/**
 * Ordered partitions of one endpoint group: each is read by one consumer at a
 * time, the holder of its lease. A consumer renews what it holds, notices what
 * it lost, and moves towards a fair share (partitions / live consumers).
 */
import type { PartitionState } from './held-entries.js';
import { RELEASE_LEASE, RENEW_LEASE } from './stream-scripts.js';
import type { StreamHost } from './stream-subscription.js';

/** What the leases need from their subscription. */
export interface LeaseOwner {
  closed(): boolean;
  /** Stopped for good (a permission error): take no more leases. */
  stopped(): boolean;
  /** Wake the read loop: a partition was won, or leases are to be released. */
  poke(): void;
}

export class PartitionLeases {
  /** One per partition stream, in order. */
  readonly partitions: PartitionState[];
  /** Leases above our fair share, released by the read loop between reads. */
  excess = 0;
  private leasing = false;

  constructor(
    private readonly host: StreamHost,
    private readonly destination: string,
    private readonly group: string,
    private readonly consumer: string,
    private readonly owner: LeaseOwner,
  ) {
    this.partitions = Array.from({ length: host.opts.partitions }, () => ({
      leased: false,
      busy: false,
      draining: true,
    }));
  }

  /**
   * Renew our partition leases, drop the ones we lost, and move towards a fair
   * share (partitions / live consumers): take free ones while under it; mark the
   * excess for release, which the read loop does between reads so no read in
   * flight covers a partition we gave up.
   */
  async maintain(): Promise<void> {
    if (this.owner.closed() || this.owner.stopped() || this.leasing) return;
    this.leasing = true;
    try {
      const { commands: c, keys, opts } = this.host;
      const px = String(opts.partitionLeaseMs);
      const members = keys.members(this.destination, this.group);
      const now = Date.now();
      await c.zadd(members, now + opts.partitionLeaseMs, this.consumer);
      await c.zremrangebyscore(members, '-inf', now);
      const live = Math.max(1, Number(await c.zcard(members)));
      const share = Math.ceil(this.partitions.length / live);
      await Promise.all(
        this.partitions.map(async (p, n) => {
          if (!p.leased) return;
          const key = keys.lease(this.destination, this.group, n);
          const ok = await c.eval(RENEW_LEASE, 1, key, this.consumer, px);
          if (Number(ok) !== 1) {
            p.leased = false;
            this.host.ctx.logger.warn('[hub:redis] lost ordered partition lease', {
              destination: this.destination,
              partition: n,
            });
          }
        }),
      );
      let owned = this.partitions.filter((p) => p.leased).length;
      this.excess = Math.max(0, owned - share);
      if (this.excess > 0) this.owner.poke();
      // Start at a per-consumer offset so consumers do not all race for partition 0 first.
      const start = partitionOffset(this.consumer, this.partitions.length);
      for (let i = 0; i < this.partitions.length && owned < share && !this.owner.closed(); i++) {
        const n = (start + i) % this.partitions.length;
        const p = this.partitions[n]!;
        if (p.leased) continue;
        const key = keys.lease(this.destination, this.group, n);
        const got = await c.set(key, this.consumer, 'PX', opts.partitionLeaseMs, 'NX');
        if (got === 'OK') {
          p.leased = true;
          p.draining = true;
          owned++;
          this.owner.poke();
        }
      }
    } finally {
      this.leasing = false;
    }
  }

  /** Give up idle partitions above our fair share (called by the read loop, between reads). */
  async releaseExcess(): Promise<void> {
    const { commands: c, keys } = this.host;
    for (let n = 0; n < this.partitions.length && this.excess > 0; n++) {
      const p = this.partitions[n]!;
      if (!p.leased || p.busy) continue;
      p.leased = false;
      this.excess--;
      await c.eval(RELEASE_LEASE, 1, keys.lease(this.destination, this.group, n), this.consumer);
    }
  }

  /** At close: release every lease still ours (one script call each). */
  releaseHeld(): Array<Promise<unknown> | undefined> {
    const { commands: c, keys } = this.host;
    return this.partitions.map((p, n) =>
      p.leased
        ? c.eval(RELEASE_LEASE, 1, keys.lease(this.destination, this.group, n), this.consumer)
        : undefined,
    );
  }
}

function partitionOffset(consumer: string, partitions: number): number {
  let h = 0;
  for (let i = 0; i < consumer.length; i++) h = (h * 31 + consumer.charCodeAt(i)) >>> 0;
  return h % partitions;
}
