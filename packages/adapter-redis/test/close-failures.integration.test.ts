import { type RedisServer, redisCli, startRedisServer } from '@hub/adapter-test-suite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { bounded } from '../src/link-close.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];
beforeAll(async () => {
  server = await startRedisServer();
  // A user that may do everything but ZREM: the step of close that leaves the
  // member set (beside releasing the partition leases) is refused at once.
  await redisCli(server, ['ACL', 'SETUSER', 'app', 'on', '>app-pw', '~*', '&*', '+@all']);
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

describe('bounded()', () => {
  it('rejects with the wrapped promise’s own error at once, not when the limit runs out', async () => {
    const started = Date.now();
    const refused = new Error('refused');
    await expect(bounded(Promise.reject(refused), 10_000)).rejects.toBe(refused);
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('rejects when the limit runs out, and resolves with the value otherwise', async () => {
    await expect(bounded(new Promise(() => {}), 20)).rejects.toThrow('timed out after 20 ms');
    await expect(bounded(Promise.resolve(7), 1_000)).resolves.toBe(7);
  });
});

describe('close-time failures', () => {
  it('a lease release refused by the server is reported at once, long before the command timeout', async () => {
    const commandTimeoutMs = 8_000;
    const a = redis({
      url: `redis://app:app-pw@127.0.0.1:${server.port}`,
      keyPrefix: uniquePrefix('close'),
      commandTimeoutMs,
    });
    adapters.push(a);
    const ctx = await connected(a, 'closing');
    const r = recorder('leased');
    const sub = await a.subscribe(r.spec({ guarantees: ['ordered'] }));
    await a.send(message('leased', 1, { guarantee: 'ordered', partitionKey: 'k' }));
    await waitFor(
      () => r.deliveries.length === 1,
      () => 'the ordered message was not delivered',
    );
    await redisCli(server, ['ACL', 'SETUSER', 'app', '-zrem']);
    const started = Date.now();
    await sub.close();
    const elapsed = Date.now() - started;
    const reported = ctx.errors.map((e) => e.message);
    expect(reported.some((m) => m.includes('lease release') && m.includes('NOPERM'))).toBe(true);
    expect(elapsed).toBeLessThan(commandTimeoutMs);
  });
});
