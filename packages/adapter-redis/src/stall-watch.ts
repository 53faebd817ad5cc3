import type { RedisClient } from './connection.js';

/** The message our timeouts carry: `classifySendError` and operators both know it from ioredis. */
export const TIMED_OUT = 'Command timed out';

/** A command that got no reply within `commandTimeoutMs`; the link was dropped and reconnected. */
export class CommandStallError extends Error {
  constructor(timeoutMs: number, status: string) {
    super(
      `${TIMED_OUT}: no reply within ${timeoutMs} ms on the commands connection (status ${status}); the link was dropped`,
    );
    this.name = 'CommandStallError';
  }
}

/** The parts of an ioredis 5 `Redis` connection the watch reads (denque queues, the socket). */
interface Queue {
  peekFront(): unknown;
  shift(): { command: { reject(err: Error): void } } | undefined;
  readonly length: number;
}

interface QueueView {
  readonly status: string;
  readonly commandQueue?: Queue;
  readonly offlineQueue?: Queue;
  /** Commands written before the last disconnect, resent once the link is ready again. */
  prevCommandQueue?: Queue | null;
  readonly stream?: { destroy(err?: Error): void };
  flushQueue?(err: Error): void;
}

/** True when `client` exposes the queues the watch needs (a standalone ioredis 5 connection). */
export function canWatch(client: RedisClient): boolean {
  const v = client as unknown as QueueView;
  return (
    typeof v.commandQueue?.peekFront === 'function' &&
    typeof v.offlineQueue?.peekFront === 'function' &&
    typeof v.flushQueue === 'function'
  );
}

/**
 * Bounds how long any command on a connection may wait for its reply, at no
 * cost per command. ioredis's own `commandTimeout` arms a timer for every
 * command; at tens of thousands of sends a second those timers were the
 * largest single cost the adapter added over raw ioredis.
 *
 * Instead, a sweep every quarter of the timeout looks at the oldest command
 * still waiting (the head of the reply queue, or of the offline queue while
 * the link is down). Replies arrive in order on one connection, so if the
 * same command has been at the head for the whole timeout, nothing has come
 * back for that long: every waiting command is rejected with a
 * {@link CommandStallError} and a live socket is destroyed so ioredis
 * reconnects. Flushing (rather than ioredis's timeout, which leaves the
 * command queued) also means a timed-out command is never resent later
 * behind the caller's back, after the caller was told it failed.
 */
export class StallWatch {
  private head: unknown;
  private headSince = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: RedisClient,
    private readonly timeoutMs: number,
    private readonly onStall: (err: CommandStallError) => void,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(timeoutMs / 4)));
    this.timer.unref();
  }

  private sweep(): void {
    const v = this.client as unknown as QueueView;
    // Oldest first: written before the last disconnect, then on this link, then queued offline.
    const prev = v.prevCommandQueue;
    const q =
      prev && prev.length > 0
        ? prev
        : v.commandQueue!.length > 0
          ? v.commandQueue!
          : v.offlineQueue!;
    const head = q.length > 0 ? q.peekFront() : undefined;
    const now = performance.now(); // monotonic: a wall-clock jump must not look like a stall
    if (head === undefined || head !== this.head) {
      this.head = head;
      this.headSince = now;
      return;
    }
    if (now - this.headSince < this.timeoutMs) return;
    this.head = undefined;
    const err = new CommandStallError(this.timeoutMs, v.status);
    if (prev && prev !== v.commandQueue) {
      for (let item = prev.shift(); item; item = prev.shift()) item.command.reject(err);
    }
    v.flushQueue!(err);
    // A socket that is up and owes us a reply: cut it (ioredis reconnects).
    // While the link is down, or still handshaking (a restarted Redis loading
    // its data answers the ready check late), the flush alone settles the
    // waiting sends and the connection is left to finish on its own.
    if (q === v.commandQueue && v.status === 'ready') v.stream?.destroy(err);
    this.onStall(err);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
