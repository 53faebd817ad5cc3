import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Hub, type Logger } from '@hub/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionFactory, plaintextRemotes } from '../src/connection.js';
import { redis } from '../src/index.js';
import { type RedisAdapterOptions, resolveOptions } from '../src/options.js';
import { uniquePrefix } from './helpers.js';

/** The links a configuration would open without TLS to another machine (the clients never connect). */
function exposed(opts: RedisAdapterOptions): string[] {
  const { client } = new ConnectionFactory(opts, resolveOptions(opts)).create('commands');
  try {
    return plaintextRemotes(client, opts.cluster?.nodes);
  } finally {
    client.disconnect();
  }
}

describe('plaintext Redis to a non-loopback host is found at start-up', () => {
  it('redis:// or a host without tls to another machine; not rediss://, tls, loopback or a socket', () => {
    expect(exposed({ url: 'redis://:pw@10.1.2.3:6380' })).toEqual(['10.1.2.3:6380']);
    expect(exposed({ host: 'cache.internal' })).toEqual(['cache.internal:6379']);
    expect(exposed({ url: 'rediss://10.1.2.3:6380' })).toEqual([]);
    expect(exposed({ host: 'cache.internal', tls: { servername: 'cache.internal' } })).toEqual([]);
    expect(exposed({ url: 'redis://127.0.0.1:6380' })).toEqual([]);
    expect(exposed({ url: 'redis://localhost:6380' })).toEqual([]);
    expect(exposed({ host: '::1' })).toEqual([]);
    expect(exposed({ url: '/tmp/redis.sock' })).toEqual([]);
    expect(
      exposed({
        sentinels: {
          name: 'm',
          sentinels: [
            { host: '10.0.0.5', port: 26379 },
            { host: '127.0.0.1', port: 26380 },
          ],
        },
      }),
    ).toEqual(['10.0.0.5:26379']);
    expect(
      exposed({ cluster: { nodes: [{ host: '10.0.0.7', port: 7000 }, 'redis://10.0.0.8:7001'] } }),
    ).toEqual(['10.0.0.7:7000', '10.0.0.8:7001']);
    expect(
      exposed({
        cluster: {
          nodes: [{ host: '10.0.0.7', port: 7000 }],
          options: { redisOptions: { tls: {} } },
        },
      }),
    ).toEqual([]);
  });
});

describe('secure defaults on a real redis-server', () => {
  const password = 'pw-4e1f9c-never-logged';
  let server: RedisServer;
  const hubs: Hub[] = [];
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, meta?: unknown): void => {
      lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
    };
  const logger: Logger = {
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
  beforeAll(async () => {
    server = await startRedisServer({ password });
  });
  afterAll(async () => {
    await Promise.allSettled(hubs.map((h) => h.close()));
    await server?.stop();
  });

  it('a loopback link is not warned about; the password never reaches the logs, even when it is wrong', async () => {
    const good = createHub({
      name: 'good',
      logger,
      adapters: [redis({ url: server.url, keyPrefix: uniquePrefix('sd') })],
    });
    hubs.push(good);
    await good.start();
    const wrong = 'wrong-7d2a61-never-logged';
    const bad = createHub({
      name: 'bad',
      logger,
      adapters: [
        redis({
          url: `redis://:${wrong}@127.0.0.1:${server.port}`,
          keyPrefix: uniquePrefix('sd'),
        }),
      ],
    });
    hubs.push(bad);
    await expect(bad.start()).rejects.toThrow();
    const log = lines.join('\n');
    expect(log).not.toMatch(/without TLS/);
    expect(log).not.toContain(password);
    expect(log).not.toContain(wrong);
    expect(log).not.toContain(encodeURIComponent(password));
  });
});
