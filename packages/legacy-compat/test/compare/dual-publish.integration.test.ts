import { redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { HubError } from '@hub/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Comparison,
  createDualPublisher,
  type DualPublisher,
  formatComparisonReport,
} from '../../src/index.js';

let server: RedisServer;
let hub: Hub;
let subscriber: Redis;
let dual: DualPublisher;

beforeAll(async () => {
  server = await startRedisServer();
  subscriber = new Redis(server.url);
});
afterAll(async () => {
  await dual?.close();
  await hub?.close({ drainTimeoutMs: 0 });
  subscriber?.disconnect();
  await server?.stop();
});

describe('dual-publish mode and the comparison report', () => {
  it('counts what each path delivered, what it lost and what it changed', async () => {
    const N = 40;
    // Faults on the hub path, made by real middleware: one payload altered, one send refused.
    hub = createHub({
      logger: silentLogger,
      adapters: [redis({ url: server.url, keyPrefix: 'dual' })],
      middleware: [
        {
          name: 'faults',
          outbound(env) {
            const n = (env.kind === 'event' ? env.data : undefined) as { n?: number } | undefined;
            if (n?.n === 7) return { ...env, data: { n: 7, altered: true } };
            if (n?.n === 13) throw new HubError('TEST_REFUSED', 'refused for the test');
            return env;
          },
        },
      ],
    });
    await hub.start();
    dual = createDualPublisher({
      hub,
      redis: server.url,
      legacy: { to: 'pubsub', channel: 'legacy:user_events' },
      onError: () => {},
    });
    // The consumers of both paths report what they get.
    await hub.subscribe('user_events', (e) => dual.observeHub(e));
    subscriber.on('message', (_ch: string, m: string) => {
      // The legacy consumer misses one message, as a flaky legacy path would.
      if (JSON.parse(m).data.n !== 21) dual.observeLegacy(m);
    });
    await subscriber.subscribe('legacy:user_events');

    const ids: string[] = [];
    for (let n = 0; n < N; n++) {
      ids.push(
        await dual.publish({ event: 'user_registered', channel: 'user_events', data: { n } }),
      );
    }
    await waitFor(
      () => {
        const r = dual.report();
        return r.seen.legacy === N - 1 && r.seen.hub === N - 1;
      },
      { message: () => JSON.stringify(dual.report().seen) },
    );

    const r = dual.report();
    expect(r.sent).toEqual({ legacy: N, hub: N });
    expect(r.failed).toEqual({ legacy: 0, hub: 1 });
    expect(r.seenOnBoth).toBe(N - 2);
    expect(r.missing).toEqual({ legacy: [ids[21]], hub: [ids[13]] });
    expect(r.payloadMismatches).toEqual([
      { id: ids[7], path: 'hub', sent: { n: 7 }, seen: { n: 7, altered: true } },
    ]);
    expect(r.duplicates).toEqual({ legacy: 0, hub: 0 });
    expect(r.latencyMs.legacy.count).toBe(N - 1);
    expect(r.latencyMs.hub.count).toBe(N - 1);
    expect(r.latencyMs.hub.p99).toBeGreaterThan(0);

    const text = formatComparisonReport(r);
    console.info(`[dual publish]\n${text}`);
    expect(text).toMatch(/^sent\s+40\s+40$/m);
    expect(text).toMatch(/^missing\s+1\s+1$/m);
    expect(text).toMatch(/^payload mismatches\s+0\s+1$/m);
    expect(text).toContain(`missing on hub: ${ids[13]}`);
    expect(text).toMatch(/^latency p99\s+[0-9.]+ ms\s+[0-9.]+ ms$/m);
  });
});

describe('createDualPublisher options', () => {
  it('unknown and malformed options are typed config errors naming them', () => {
    const base = { hub: { send() {}, publish() {} } as never, redis: 'redis://127.0.0.1:1' };
    expect(() =>
      createDualPublisher({ ...base, legacy: { to: 'pubsub', chanel: 'x' } as never }),
    ).toThrow(/createDualPublisher\.legacy\.chanel/);
    expect(() => createDualPublisher({ ...base, legacy: { to: 'kafka' } as never })).toThrow(
      /legacy\.to/,
    );
    expect(() => createDualPublisher({ ...base, legacy: { to: 'list', key: '' } })).toThrow(
      /legacy\.key/,
    );
  });
});

describe('Comparison', () => {
  it('duplicates and deliveries of ids it never published are counted apart', () => {
    let t = 0;
    const c = new Comparison(() => t);
    c.sent('legacy', 'a', { x: 1 });
    t = 5;
    c.seen('legacy', 'a', { x: 1 });
    c.seen('legacy', 'a', { x: 1 });
    c.seen('legacy', 'zzz', {});
    c.seen('hub', 'a', { x: 1 });
    const r = c.report();
    expect(r.duplicates.legacy).toBe(1);
    expect(r.unexpected).toEqual({ legacy: 1, hub: 1 });
    expect(r.latencyMs.legacy).toMatchObject({ count: 1, p50: 5, p99: 5, max: 5 });
    // Key order does not make payloads differ.
    c.sent('hub', 'b', { p: 1, q: 2 });
    c.seen('hub', 'b', { q: 2, p: 1 });
    expect(c.report().payloadMismatches).toEqual([]);
  });
});
