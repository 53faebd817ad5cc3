import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis options as the bridge passes them on. ioredis 6 types `replyMapping`
 * in the options it takes as not-undefined, which `exactOptionalPropertyTypes`
 * cannot match from its own `RedisOptions`; the bridge never sets it.
 */
type Options = Omit<RedisOptions, 'replyMapping'> & { replyMapping?: 'legacy' };

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
  // RESP2, as the hub's own connections: the bridge parses replies in that shape.
  const opts = { protocol: 2, lazyConnect: false, ...extra } as Options;
  const client =
    typeof redis === 'string'
      ? new Redis(redis, opts)
      : new Redis({ protocol: 2, ...redis, ...opts } as Options);
  client.on('error', (err: Error) => report(err, `${role} connection`));
  return client;
}
