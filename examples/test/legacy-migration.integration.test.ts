import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/legacy-migration.js';

// The migration example, as written, against a real redis-server of its own.
describe('legacy-migration example against a real Redis', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
    process.env.REDIS_HOST = '127.0.0.1';
    process.env.REDIS_PORT = String(server.port);
  });
  afterAll(async () => {
    delete process.env.REDIS_HOST;
    delete process.env.REDIS_PORT;
    await server?.stop();
  });

  it('a legacy producer and a hub consumer side by side, both directions', async () => {
    const lines: string[] = [];
    const r = await main((line) => lines.push(line));
    expect(r.tasks).toEqual(
      expect.arrayContaining([{ task_id: '123', data: { n: 42 } }, { task_id: '124' }]),
    );
    expect(r.signups).toEqual([{ user_id: '456' }]);
    expect(r.notified).toEqual([
      expect.objectContaining({ data: { status: 'healthy' }, from: 'monitor' }),
    ]);
    expect(lines).toContain(
      'not carried over: redis_config.pool_size (the adapter uses one command connection with auto-pipelining (plus one subscriber and one per blocking reader) instead of a pool)',
    );
    expect(r.stats.map((s) => [s.route, s.forwarded])).toEqual([
      ['list:legacy:tasks', 1],
      ['pubsub:legacy:events', 1],
      ['topic:notifications -> pubsub:legacy:notifications', 1],
    ]);
  });
});
