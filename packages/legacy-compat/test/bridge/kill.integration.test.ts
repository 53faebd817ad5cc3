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
/** The held run: the first bridge's sends hang after this many, so the kill finds 16 (its concurrency) half-done. */
const HOLD_AFTER = 300;
const CONCURRENCY = 16;

let server: RedisServer;
let legacy: Redis;
const hubs: Hub[] = [];
const bridges: LegacyBridge[] = [];
const children = new Set<ChildProcess>();

beforeAll(async () => {
  server = await startRedisServer();
  legacy = new Redis(server.url);
});
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(bridges.map((b) => b.close()));
  await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
  legacy?.disconnect();
  await server?.stop();
});

/**
 * Push N items, let a bridge in a child process forward part of them, SIGKILL
 * it, let a new bridge with the same id finish, and count what the hub
 * consumer received.
 */
async function killMidRun(name: string, hold: boolean) {
  const prefix = `kill${process.pid}${name}`;
  const key = `legacy:kill:${name}`;
  const id = 'bridge-a';
  const processing = `${key}:processing:${id}`;
  const consumer = await startHub(server.url, prefix);
  hubs.push(consumer);
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
    const item = { type: 'task', to: 'worker', message_id: `job-${i}`, payload: { i } };
    batch.lpush(key, JSON.stringify(item));
  }
  await batch.exec();

  const holdAfter = hold ? HOLD_AFTER : 1e9;
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@hub/source',
      'test/fixtures/list-bridge-worker.ts',
      JSON.stringify({ url: server.url, prefix, key, id, holdAfter }),
    ],
    { cwd: packageDir, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
  );
  children.add(child);
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr = (stderr + String(d)).slice(-4_000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  await waitFor(
    async () =>
      hold
        ? deliveries.size >= HOLD_AFTER && (await legacy.llen(processing)) === CONCURRENCY
        : deliveries.size >= N / 5,
    {
      timeoutMs: 30_000,
      message: () =>
        `the first bridge to forward a part, got ${deliveries.size}; stderr: ${stderr}`,
    },
  );
  child.kill('SIGKILL');
  await exited;
  children.delete(child);
  const atKill = {
    delivered: deliveries.size,
    queued: await legacy.llen(key),
    processing: await legacy.llen(processing),
  };

  const bridge = createLegacyBridge({
    hub: consumer,
    redis: server.url,
    id,
    blockMs: 200,
    inbound: [{ from: 'list', key }],
    onError: () => {},
  });
  bridges.push(bridge);
  await bridge.start();
  await waitFor(() => deliveries.size === N, {
    timeoutMs: 40_000,
    message: () => `all ${N} delivered, got ${deliveries.size}`,
  });
  await waitFor(
    async () => (await legacy.llen(processing)) === 0 && (await legacy.llen(key)) === 0,
  );
  const total = [...deliveries.values()].reduce((a, b) => a + b, 0);
  const counts = {
    sent: N,
    accepted: deliveries.size,
    lost: N - deliveries.size,
    duplicated: total - deliveries.size,
    atKill,
    recoveredFromProcessingList: bridge.stats()[0]!.recovered,
  };
  console.info(`[kill test, ${name}] ${JSON.stringify(counts)}`);
  for (let i = 0; i < N; i++) expect(deliveries.has(`job-${i}`)).toBe(true);
  expect(await legacy.llen(`${key}:dead`)).toBe(0);
  return counts;
}

// At-least-once across the bridge: a list item is moved to a processing list
// before it is converted and removed only after the hub accepted it, so a
// bridge killed at any instant loses nothing; the next bridge with the same
// id sends what was half-done (possibly again: duplicates, never losses).
describe('a bridge SIGKILLed mid-run loses nothing', () => {
  it(`${N} items, killed holding ${CONCURRENCY} taken but not accepted`, async () => {
    const c = await killMidRun('held', true);
    expect(c.lost).toBe(0);
    // Killed mid-run: work still queued, and items taken but not yet accepted by the hub.
    expect(c.atKill).toMatchObject({ delivered: HOLD_AFTER, processing: CONCURRENCY });
    expect(c.atKill.queued).toBeGreaterThan(0);
    // What the killed bridge held in its processing list was sent by the new one.
    expect(c.recoveredFromProcessingList).toBe(CONCURRENCY);
  });

  it(`${N} items, killed at whatever instant a fifth had arrived`, async () => {
    const c = await killMidRun('free', false);
    expect(c.lost).toBe(0);
    expect(c.atKill.queued).toBeGreaterThan(0);
    expect(c.recoveredFromProcessingList).toBe(c.atKill.processing);
  });
});
