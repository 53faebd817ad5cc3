import { randomUUID } from 'node:crypto';
import { type DedupBegin, type DedupStore, rejectUnknownOptions } from '@hub/core';

import { ConnectionFactory, type RedisClient } from './connection.js';
import { keyLayout } from './keys.js';
import {
  CONNECTION_OPTIONS,
  checkUrl,
  type RedisAdapterOptions,
  resolveOptions,
} from './options.js';

export interface RedisDedupStoreOptions
  extends Pick<RedisAdapterOptions, 'url' | 'client' | 'cluster' | 'sentinels' | 'redisOptions'> {
  /** Prefix of the dedup keys (`<prefix>:dedup:<id>`). @default 'hub' */
  keyPrefix?: string;
}

const DONE = 'done';
const ABORT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Exactly-once dedup shared by every instance through Redis: `begin` takes a
 * lease with SET NX PX, `commit` marks the id done for the window, `abort`
 * deletes the lease only if it is still ours (an expired lease may already
 * belong to another instance).
 */
export function redisDedupStore(
  opts: RedisDedupStoreOptions,
): DedupStore & { readonly client: RedisClient } {
  rejectUnknownOptions('redisDedupStore', opts, [...CONNECTION_OPTIONS, 'keyPrefix']);
  checkUrl(opts?.url);
  const resolved = resolveOptions({ keyPrefix: opts.keyPrefix ?? 'hub' });
  const keys = keyLayout(resolved.keyPrefix);
  const { client, owned } = new ConnectionFactory(opts, resolved).create('commands');
  client.on('error', () => {
    // Failures surface as rejected begin/commit/abort calls; the listener keeps the process alive.
  });
  if (client.status === 'wait') client.connect().catch(() => {});
  const tokens = new Map<string, string>();
  return {
    client,
    async begin(id: string, leaseMs: number): Promise<DedupBegin> {
      const token = randomUUID();
      const key = keys.dedup(id);
      const ok = await client.set(key, token, 'PX', Math.max(1, Math.ceil(leaseMs)), 'NX');
      if (ok === 'OK') {
        tokens.set(id, token);
        return 'new';
      }
      const v = await client.get(key);
      if (v === DONE) return 'done';
      if (v === null) {
        // The lease expired between SET and GET: try once more.
        const again = await client.set(key, token, 'PX', Math.max(1, Math.ceil(leaseMs)), 'NX');
        if (again === 'OK') {
          tokens.set(id, token);
          return 'new';
        }
      }
      return 'busy';
    },
    async commit(id: string, windowMs: number): Promise<void> {
      tokens.delete(id);
      await client.set(keys.dedup(id), DONE, 'PX', Math.max(1, Math.ceil(windowMs)));
    },
    async abort(id: string): Promise<void> {
      const token = tokens.get(id);
      tokens.delete(id);
      if (token !== undefined) await client.eval(ABORT, 1, keys.dedup(id), token);
    },
    async close(): Promise<void> {
      tokens.clear();
      if (owned) await client.quit().catch(() => client.disconnect());
    },
  };
}
