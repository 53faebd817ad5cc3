import type { RedisClient } from './connection.js';

/**
 * A Lua script sent with its body every time (EVAL), never by hash (EVALSHA).
 * An EVALSHA refused with NOSCRIPT (a restart or SCRIPT FLUSH empties the
 * cache) would have to be sent again, after later calls that may already have
 * run: their writes would overtake the refused batch's. The body of our
 * scripts is ~250 bytes per call of up to 256 messages, and Redis keeps the
 * compiled script, so EVAL costs next to nothing more.
 */
export class BatchScript {
  constructor(readonly body: string) {}

  /** `args` starts with a slot for the body, then numkeys, keys and arguments. */
  run(c: RedisClient, args: string[]): Promise<unknown> {
    args[0] = this.body;
    return c.call('EVAL', args) as Promise<unknown>;
  }
}
