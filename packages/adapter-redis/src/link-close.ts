/** Closing Redis links and commands so that close always returns: bounded waits, and a disconnect that does not wait for the far end. */
import type { RedisClient } from './connection.js';

/** Wait for `p` at most `ms`: settles as `p` does (its rejection too, at once), or rejects on timeout; never hangs. */
export function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Disconnect without waiting for a FIN the far end may never send (a stalled
 * link), and leave no timer behind: ioredis's `disconnect()` arms a timer
 * (2 s) that only the socket's 'close' event clears, so it is skipped on a
 * client already ended (its socket closed before and never closes again),
 * and the socket is destroyed right away so 'close' comes at once.
 */
export function hardClose(client: RedisClient): void {
  const stream = (client as { stream?: { destroyed?: boolean; destroy(): void } }).stream;
  if (client.status !== 'end') {
    try {
      client.disconnect();
    } catch {
      // already closed
    }
  }
  try {
    if (stream && !stream.destroyed) stream.destroy();
  } catch {
    // already destroyed
  }
}
