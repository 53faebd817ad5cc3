/**
 * Mistakes at start are loud, quick and said once: a closed port fails
 * `start()` within the connect budget with one logged line that says what to
 * check; an `http://` URL and a misspelt option are refused when the adapter
 * is built; a wrong password rejects `start()` with HUB_AUTH_FAILED as the
 * code of the thrown error itself.
 */
import { freePort, type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, type Logger } from '@hub/core';
import { ErrorCode } from '@hub/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { redis, redisDedupStore } from '../src/index.js';
import { uniquePrefix } from './helpers.js';

const servers: RedisServer[] = [];
afterAll(async () => {
  await Promise.allSettled(servers.map((s) => s.stop()));
});

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (m: string) => {
    lines.push(m);
  };
  return { lines, debug() {}, info() {}, warn: log, error: log };
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (err) {
    return err as { code?: string; message: string };
  }
  throw new Error('expected a rejection');
}

describe('a Redis nobody listens on', () => {
  it('start() fails within the connect budget, logged once, saying what to check', async () => {
    const port = await freePort();
    const logger = recordingLogger();
    const hub = createHub({
      name: 'closed-port',
      adapters: [redis({ url: `redis://127.0.0.1:${port}`, keyPrefix: uniquePrefix('cp') })],
      logger,
    });
    const t0 = Date.now();
    const err = await failure(hub.start());
    const ms = Date.now() - t0;
    await hub.close();
    expect(err.code).toBe(ErrorCode.CONNECTION_FAILED);
    expect(err.message).toContain(`cannot reach Redis at 127.0.0.1:${port}`);
    expect(err.message).toMatch(/check that redis-server is running there/);
    expect(err.message).toMatch(/"url"/);
    // Default budget 2 s (plus one reconnect delay); it used to be a silent 10 s.
    expect(ms, `start() took ${ms} ms`).toBeLessThan(6_000);
    const refusals = logger.lines.filter((l) => /ECONNREFUSED/.test(l));
    expect(refusals, refusals.join('\n')).toHaveLength(1);
  });

  it('connectBudgetMs bounds the retrying', async () => {
    const port = await freePort();
    const a = redis({ url: `redis://127.0.0.1:${port}`, connectBudgetMs: 200 });
    const hub = createHub({ adapters: [a], logger: recordingLogger() });
    const t0 = Date.now();
    const err = await failure(hub.start());
    const ms = Date.now() - t0;
    await hub.close();
    expect(err.code).toBe(ErrorCode.CONNECTION_FAILED);
    expect(ms, `start() took ${ms} ms`).toBeLessThan(2_000);
  });
});

describe('options checked when the adapter is built', () => {
  it.each([
    [
      'http://127.0.0.1:6379',
      /"url" must start with redis:\/\/ or rediss:\/\/.*"http:" is the wrong scheme/,
    ],
    ['127.0.0.1:6379', /"url" must start with redis:\/\//],
  ])('url %s is refused as HUB_INVALID_CONFIG naming url', (url, text) => {
    let err: { code?: string; message: string } | undefined;
    try {
      redis({ url });
    } catch (e) {
      err = e as { code?: string; message: string };
    }
    expect(err?.code).toBe(ErrorCode.INVALID_CONFIG);
    expect(err?.message).toMatch(text);
    expect(() => redisDedupStore({ url })).toThrow(text);
  });

  it('an unknown option is refused naming it and the option meant', () => {
    const options = { urll: 'redis://127.0.0.1:1' } as unknown as Parameters<typeof redis>[0];
    expect(() => redis(options)).toThrow(
      /\[hub:config\] unknown option `redis\.urll`; did you mean `url`\?/,
    );
    expect(() => redis({ keyprefix: 'x' } as never)).toThrow(/did you mean `keyPrefix`/);
    expect(() => redisDedupStore({ urll: 'redis://127.0.0.1:1' } as never)).toThrow(
      /unknown option `redisDedupStore\.urll`; did you mean `url`\?/,
    );
    let code: string | undefined;
    try {
      redis(options);
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe(ErrorCode.INVALID_CONFIG);
  });

  it('the legacy connection config shape is still accepted', () => {
    expect(() =>
      redis({
        protocol: 'redis',
        host: '127.0.0.1',
        port: 1,
        poolSize: 4,
        connectionParams: {},
      } as never),
    ).not.toThrow();
  });
});

it('a wrong password rejects start() with HUB_AUTH_FAILED as the error code', async () => {
  const server = await startRedisServer({ password: 'right' });
  servers.push(server);
  const hub = createHub({
    adapters: [redis({ url: `redis://:wrong@127.0.0.1:${server.port}` })],
    logger: recordingLogger(),
  });
  const err = await failure(hub.start());
  await hub.close();
  expect(err.code).toBe(ErrorCode.AUTH_FAILED);
  expect(err.message).toMatch(/WRONGPASS|invalid username-password/);
  expect(err.message).toMatch(/check the username and password/);
});
