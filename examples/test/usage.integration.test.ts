import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/usage.js';

// The established usage (examples/src/usage.ts), run as written against a real
// redis-server of its own.
describe('the established usage against a real Redis', () => {
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

  it('initializes, sends, broadcasts, publishes, serves, monitors and closes', async () => {
    const r = await main(() => {});
    expect(r.result.success).toBe(true);
    expect(r.result.protocol).toBe('redis-streams');
    expect(r.tasks).toEqual([{ task_id: '123', data: { n: 42 } }]);
    expect(r.userEvents).toEqual([{ user_id: '456', email: 'user@example.com' }]);
    expect(r.notified).toEqual([{ status: 'healthy', load: 0.75 }]);
    expect(r.metrics.totals.sent).toBeGreaterThanOrEqual(4);
    expect(r.metrics.activeConnections).toBe(1);
    expect(r.health.hubStatus).toBe('healthy');
    expect(Object.keys(r.health.adapters)).toEqual(['redis']);
  });
});
