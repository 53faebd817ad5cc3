import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import type { InboundDelivery } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];
let child: ChildProcess | undefined;
const CLAIM_IDLE_MS = 1_000;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  child?.kill('SIGKILL');
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

function make(prefix: string): RedisAdapter {
  const a = redis({ url: server.url, keyPrefix: prefix, claimIdleMs: CLAIM_IDLE_MS });
  adapters.push(a);
  return a;
}

it('R5: entries of a SIGKILLed consumer are reclaimed by another; a live slow handler is not robbed', async () => {
  const prefix = uniquePrefix('r5');
  const sender = make(prefix);
  await connected(sender, 'sender');

  // A live, slow consumer holds one entry for several claim windows.
  const slow = make(prefix);
  await connected(slow, 'slow');
  const slowHeld: InboundDelivery[] = [];
  const slowRec = recorder('ep', (d) => {
    slowHeld.push(d);
  });
  await slow.subscribe(slowRec.spec({ prefetch: 1 }));
  const slowMsg = message('ep', 'slow');
  await sender.send(slowMsg);
  await waitFor(
    () => slowHeld.length === 1,
    () => 'slow consumer did not get its message',
  );

  // The child takes the next 10 and holds them.
  const cwd = fileURLToPath(new URL('..', import.meta.url));
  child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@hub/source',
      'test/fixtures/holding-consumer.ts',
      server.url,
      prefix,
      'ep',
      String(CLAIM_IDLE_MS),
      '10',
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => {
    out += d;
  });
  child.stderr?.on('data', (d) => {
    err += d;
  });
  await waitFor(
    () => out.includes('READY'),
    () => `child not ready: ${out} ${err}`,
    60_000,
  );
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    const m = message('ep', { i });
    ids.push(m.id);
    await sender.send(m);
  }
  await waitFor(
    () => out.includes('HELD '),
    () => `child holds: ${out} ${err}`,
  );
  const childHeld = out.split('HELD ')[1]!.trim().split(',');
  expect(new Set(childHeld)).toEqual(new Set(ids));
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGKILL');
  await exited;

  // A rescuer comes up: it must reclaim all 10 once idle > claimIdleMs, and never the slow one's.
  const rescuer = make(prefix);
  await connected(rescuer, 'rescuer');
  const rescued = recorder('ep');
  await rescuer.subscribe(rescued.spec({ prefetch: 50 }));
  await waitFor(
    () => new Set(rescued.ids()).size >= 10,
    () => `rescued ${rescued.ids().length}/10`,
    CLAIM_IDLE_MS * 20,
  );
  expect(new Set(rescued.ids())).toEqual(new Set(ids));
  for (const d of rescued.deliveries) expect(d.attempt).toBeGreaterThanOrEqual(2);
  // Keep the slow handler busy for three more claim windows: still not robbed.
  const until = Date.now() + CLAIM_IDLE_MS * 3;
  await waitFor(
    () => Date.now() > until || rescued.ids().includes(slowMsg.id),
    () => '',
  );
  expect(rescued.ids()).not.toContain(slowMsg.id);
  expect(slowRec.deliveries).toHaveLength(1);
  await slowHeld[0]!.ack();
  const info = (await rescuer.inspect()).endpoints as Record<string, { pending: number }>;
  await waitFor(
    async () =>
      (((await rescuer.inspect()).endpoints as Record<string, { pending: number }>).ep?.pending ??
        -1) === 0,
    () => `pending ${JSON.stringify(info.ep)}`,
  );
});
