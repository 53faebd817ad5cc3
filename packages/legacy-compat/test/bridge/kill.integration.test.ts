import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLegacyBridge, type LegacyBridge } from '../../src/index.js';
import { startHub } from './helpers.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '../..');
const N = 1_000;
/** The first bridge's sends hang after this many; the kill then finds 16 (its concurrency) half-done. */
const HOLD_AFTER = 300;
const CONCURRENCY = 16;

let server: RedisServer;
let legacy: Redis;
let consumer: Hub | undefined;
let bridge: LegacyBridge | undefined;
let child: ChildProcess | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  legacy = new Redis(server.url);
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await bridge?.close();
  await consumer?.close({ drainTimeoutMs: 0 });
  legacy?.disconnect();
  await server?.stop();
});

// At-least-once across the bridge: a list item is moved to a processing list
// before it is converted and removed only after the hub accepted it, so a
// bridge killed at any instant loses nothing; the next bridge with the same
// id sends what was half-done (possibly again: duplicates, never losses).
describe('a bridge SIGKILLed mid-run loses nothing', () => {
  it(`${N} legacy list items, bridge killed after a part, a new bridge finishes`, async () => {
    const prefix = `kill${process.pid}`;
    const key = 'legacy:kill:tasks';
    const id = 'bridge-a';
    const processing = `${key}:processing:${id}`;
    consumer = await startHub(server.url, prefix);
    const deliveries = new Map<string, number>();
    await consumer.onMessage(
      'worker',
      (m) => {
        deliveries.set(m.id, (deliveries.get(m.id) ?? 0) + 1);
      },
      { concurrency: 64 },
    );
    const batch = legacy.pipeline();
    for (let i = 0; i < N; i++) {
      batch.lpush(
        key,
        JSON.stringify({ type: 'task', to: 'worker', message_id: `job-${i}`, payload: { i } }),
      );
    }
    await batch.exec();

    child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--conditions=@hub/source',
        'test/fixtures/list-bridge-worker.ts',
        JSON.stringify({ url: server.url, prefix, key, id, holdAfter: HOLD_AFTER }),
      ],
      { cwd: packageDir, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
    );
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr = (stderr + String(d)).slice(-4_000);
    });
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    await waitFor(
      async () => deliveries.size >= HOLD_AFTER && (await legacy.llen(processing)) === CONCURRENCY,
      {
        timeoutMs: 30_000,
        message: () =>
          `the first bridge to forward ${HOLD_AFTER} and hold ${CONCURRENCY}, got ${deliveries.size}; stderr: ${stderr}`,
      },
    );
    child.kill('SIGKILL');
    await exited;
    const atKill = {
      delivered: deliveries.size,
      queued: await legacy.llen(key),
      processing: await legacy.llen(processing),
    };
    // Killed mid-run: work still queued, and items taken but not yet accepted by the hub.
    expect(atKill.queued).toBeGreaterThan(0);
    expect(atKill.processing).toBe(CONCURRENCY);
    expect(atKill.delivered).toBe(HOLD_AFTER);

    bridge = createLegacyBridge({
      hub: consumer,
      redis: server.url,
      id,
      blockMs: 200,
      inbound: [{ from: 'list', key }],
      onError: () => {},
    });
    await bridge.start();
    await waitFor(() => deliveries.size === N, {
      timeoutMs: 40_000,
      message: () => `all ${N} delivered, got ${deliveries.size}`,
    });
    await waitFor(
      async () => (await legacy.llen(processing)) === 0 && (await legacy.llen(key)) === 0,
    );
    const recovered = bridge.stats()[0]!.recovered;
    const total = [...deliveries.values()].reduce((a, b) => a + b, 0);
    const counts = {
      sent: N,
      accepted: deliveries.size,
      lost: N - deliveries.size,
      duplicated: total - deliveries.size,
      atKill,
      recoveredFromProcessingList: recovered,
    };
    console.info(`[kill test] ${JSON.stringify(counts)}`);
    expect(counts.lost).toBe(0);
    for (let i = 0; i < N; i++) expect(deliveries.has(`job-${i}`)).toBe(true);
    expect(await legacy.llen(`${key}:dead`)).toBe(0);
    // What the killed bridge held in its processing list was sent by the new one.
    expect(recovered).toBe(atKill.processing);
  });
});
