/**
 * Acks of a stream subscription, batched: every ack of a tick goes out as one
 * XACK per stream on the command connection at setImmediate, unless the read
 * loop's next read takes them along first (one write for both; see
 * StreamSubscription.readHot). An ack that fails leaves its entry pending: it
 * comes back through the reclaim loop, a duplicate, never a loss.
 */
import type { RedisClient } from './connection.js';

const noop = () => {};

export class AckBatcher {
  private queue = new Map<string, string[]>();
  private flush: Promise<void> | undefined;
  /** Acks that went out with a read, until their replies are in. */
  private carried: Promise<void> | undefined;
  /** The same, for close: cleared only when the replies are in. */
  carrying: Promise<void> | undefined;

  constructor(
    private readonly commands: RedisClient,
    private readonly group: string,
    private readonly report: (operation: string, err: unknown) => void,
  ) {}

  /** The flush scheduled now, if any; resolves once its acks are sent and answered. */
  get flushing(): Promise<void> | undefined {
    return this.flush;
  }

  /** Queue acks of `key`; resolves once they are sent and answered, either way. */
  add(key: string, add: string | readonly string[]): Promise<void> {
    let ids = this.queue.get(key);
    if (!ids) {
      ids = [];
      this.queue.set(key, ids);
    }
    if (typeof add === 'string') ids.push(add);
    else for (const id of add) ids.push(id);
    this.flush ??= new Promise<void>((resolve) => {
      setImmediate(() => {
        const batch = this.queue;
        this.queue = new Map();
        this.flush = undefined;
        const carried = this.carried;
        this.carried = undefined;
        const c = this.commands;
        Promise.all([
          carried,
          ...[...batch].map(([k, list]) =>
            c.call('XACK', [k, this.group, ...list]).catch((err: unknown) => {
              // The entries stay pending and come back through the reclaim loop: a duplicate, not a loss.
              this.report('XACK', err);
            }),
          ),
        ]).then(() => resolve());
      });
    });
    return this.flush;
  }

  /**
   * The acks queued for the flush scheduled now, taken for a read to carry
   * instead (the flush then waits for that read); undefined when there are none.
   */
  takeForRead(): Map<string, string[]> | undefined {
    if (this.queue.size === 0 || this.flush === undefined) return undefined;
    const acks = this.queue;
    this.queue = new Map();
    return acks;
  }

  /** The read carrying taken acks was sent: the flush and close wait for its replies. */
  carriedBy(sent: Promise<unknown>): Promise<void> {
    const carried = sent.then(noop, noop);
    this.carried = this.carrying = carried;
    return carried;
  }

  /** The replies of a carrying read are in. */
  landed(carried: Promise<void>): void {
    if (this.carrying === carried) this.carrying = undefined;
  }
}
