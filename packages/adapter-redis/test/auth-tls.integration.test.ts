import { type RedisServer, redisCli, startRedisServer } from '@hub/adapter-test-suite';
import { ErrorCode, type HubError } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, context, message, recorder, uniquePrefix, waitFor } from './helpers.js';

const servers: RedisServer[] = [];
const adapters: RedisAdapter[] = [];
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await Promise.allSettled(servers.map((s) => s.stop()));
});

describe('S10: ACL user and password', () => {
  let server: RedisServer;
  beforeAll(async () => {
    server = await startRedisServer();
    servers.push(server);
    await redisCli(server, ['ACL', 'SETUSER', 'app', 'on', '>app-pw', '~acl*', '&*', '+@all']);
    await redisCli(server, [
      'ACL',
      'SETUSER',
      'noread',
      'on',
      '>nr-pw',
      '~acl*',
      '&*',
      '+@all',
      '-xreadgroup',
    ]);
    await redisCli(server, [
      'ACL',
      'SETUSER',
      'nowrite',
      'on',
      '>nw-pw',
      '~acl*',
      '&*',
      '+@all',
      '-xadd',
    ]);
  });
  const url = (user: string, pw: string) => `redis://${user}:${pw}@127.0.0.1:${server.port}`;
  const aclLog = async () => (await redisCli(server, ['ACL', 'LOG'])).trim();

  it('an ACL user with a password sends and receives', async () => {
    const prefix = `acl-${uniquePrefix('a')}`;
    const a = redis({ url: url('app', 'app-pw'), keyPrefix: prefix });
    adapters.push(a);
    await connected(a, 'i');
    const r = recorder('ep');
    await a.subscribe(r.spec());
    await a.send(message('ep', 1));
    await waitFor(
      () => r.deliveries.length === 1,
      () => 'not received',
    );
  });

  it('legacy ConnectionConfig shape (host, port, username, connectionParams.password) works', async () => {
    const a = redis({
      host: '127.0.0.1',
      port: server.port,
      username: 'app',
      connectionParams: { password: 'app-pw' },
      keyPrefix: `acl-${uniquePrefix('a')}`,
    });
    adapters.push(a);
    await connected(a, 'i');
    expect((await a.send(message('ep', 1))).protocol).toBe('redis-streams');
  });

  it('a wrong password fails connect at once with AUTH_FAILED and is not retried', async () => {
    const a = redis({ url: url('app', 'wrong'), keyPrefix: `acl-${uniquePrefix('a')}` });
    adapters.push(a);
    const err = (await a.connect(context('i')).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
    expect(err.message).toMatch(/^\[hub:redis\]/);
    const before = authFailures(await aclLog());
    expect(before).toBeGreaterThanOrEqual(1);
    const until = Date.now() + 1_000;
    await waitFor(
      () => Date.now() > until,
      () => '',
    );
    expect(authFailures(await aclLog())).toBe(before);
    expect(a.health().state).toBe('failed');
  });

  it('a permission error on XREADGROUP is reported once, not retried forever', async () => {
    const a = redis({
      url: url('noread', 'nr-pw'),
      keyPrefix: `acl-${uniquePrefix('a')}`,
      blockMs: 100,
    });
    adapters.push(a);
    const ctx = await connected(a, 'i');
    await a.subscribe(recorder('ep').spec());
    await waitFor(
      () => ctx.errors.length > 0,
      () => 'no error reported',
    );
    const until = Date.now() + 1_000;
    await waitFor(
      () => Date.now() > until,
      () => '',
    );
    const denied = ctx.errors.filter((e) => /xreadgroup|read/i.test(e.message));
    expect(denied, ctx.errors.map((e) => e.message).join(' | ')).toHaveLength(1);
    expect((denied[0] as HubError).code).toBe(ErrorCode.AUTH_FAILED);
    // Redis counts repeats of one ACL denial in the entry's count field.
    const log = await aclLog();
    expect(log).toContain('xreadgroup');
    expect(log).toMatch(/^count\n1$/m);
  });

  it('a permission error on send rejects with AUTH_FAILED, not retryable', async () => {
    const a = redis({ url: url('nowrite', 'nw-pw'), keyPrefix: `acl-${uniquePrefix('a')}` });
    adapters.push(a);
    await connected(a, 'i');
    const err = (await a.send(message('ep', 1)).catch((e: unknown) => e)) as HubError & {
      retryable: boolean;
    };
    expect(err.code).toBe(ErrorCode.AUTH_FAILED);
    expect(err.retryable).toBe(false);
  });
});

/** Sum of `count` over ACL LOG entries with reason auth (redis-cli prints key/value lines). */
function authFailures(log: string): number {
  let n = 0;
  for (const m of log.matchAll(/count\n(\d+)\nreason\nauth/g)) n += Number(m[1]);
  return n;
}

describe('S10: TLS', () => {
  it('rediss:// with a certificate generated for the test', async () => {
    const server = await startRedisServer({ tls: true });
    servers.push(server);
    expect(server.url.startsWith('rediss://')).toBe(true);
    const a = redis({
      url: server.url,
      keyPrefix: uniquePrefix('tls'),
      redisOptions: { tls: { ca: server.tls!.ca } },
    });
    adapters.push(a);
    await connected(a, 'i');
    const r = recorder('ep');
    await a.subscribe(r.spec());
    await a.send(message('ep', 'secret'));
    await a.send(message('ep', 'fast', { guarantee: 'best-effort' }));
    await waitFor(
      () => r.deliveries.length === 2,
      () => `received ${r.deliveries.length}`,
    );
  });

  it('an unknown CA is refused', async () => {
    const server = servers.find((s) => s.tls)!;
    const a = redis({
      url: server.url,
      keyPrefix: uniquePrefix('tls'),
      redisOptions: { connectTimeout: 2_000 },
    });
    adapters.push(a);
    const err = (await a.connect(context('i')).catch((e: unknown) => e)) as HubError;
    expect(err.code).toBe(ErrorCode.CONNECTION_FAILED);
    await a.close();
  });
});
