import { createHash } from 'node:crypto';
import type { RedisClient } from './connection.js';

/**
 * A Lua script run by EVALSHA, with the body sent (EVAL) until Redis has it and
 * again after NOSCRIPT (a restart or SCRIPT FLUSH empties the cache). Works on a
 * user's own client too: nothing is defined on it.
 */
export class CachedScript {
  readonly sha: string;
  /** Redis has run the script for us: EVALSHA from now on. */
  private cached = false;

  constructor(readonly body: string) {
    this.sha = createHash('sha1').update(body).digest('hex');
  }

  /** `args` starts with a slot for the sha or body, then numkeys, keys and arguments. */
  run(c: RedisClient, args: string[]): Promise<unknown> {
    const withBody = (): Promise<unknown> => {
      const a = args.slice();
      a[0] = this.body;
      return (c.call('EVAL', a) as Promise<unknown>).then((r) => {
        this.cached = true;
        return r;
      });
    };
    if (!this.cached) return withBody();
    args[0] = this.sha;
    return (c.call('EVALSHA', args) as Promise<unknown>).catch((err: unknown) => {
      if (!(err instanceof Error && err.message.startsWith('NOSCRIPT'))) throw err;
      this.cached = false;
      return withBody();
    });
  }
}
