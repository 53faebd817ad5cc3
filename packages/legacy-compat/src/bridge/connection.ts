import { Redis, type RedisOptions } from 'ioredis';

/** The legacy Redis: a URL or ioredis options. */
export type LegacyRedis = string | RedisOptions;

/**
 * A connection of the bridge's own, with the error listener every client
 * needs (ioredis would otherwise print unhandled errors and crash tests).
 */
export function connect(
  redis: LegacyRedis,
  role: string,
  report: (err: Error, where: string) => void,
  extra: RedisOptions = {},
): Redis {
  const opts: RedisOptions = { lazyConnect: false, ...extra };
  const client =
    typeof redis === 'string' ? new Redis(redis, opts) : new Redis({ ...redis, ...opts });
  client.on('error', (err: Error) => report(err, `${role} connection`));
  return client;
}
