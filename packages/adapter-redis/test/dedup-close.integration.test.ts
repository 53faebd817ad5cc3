/**
 * The README's exactly-once snippet passes `redisDedupStore({ url })` inline:
 * nobody but the hub holds it. With `closeWithHub: true` the hub closes it,
 * and the process exits as soon as `close()` resolves. Without it the store's
 * connection is left open (a store passed in may be shared), which keeps the
 * process alive: the reason the snippet sets the option.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { uniquePrefix, waitFor } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/dedup-exit.ts', import.meta.url));

let server: RedisServer;
beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await server?.stop();
});

interface Run {
  lines: Array<{ closed?: boolean; handled?: number; afterCloseMs?: number }>;
  exited: boolean;
  stderr: string;
}

/** Run the child; wait for its close, then up to `listenMs` for its exit. */
async function run(closeWithHub: boolean, listenMs: number): Promise<Run> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@hub/source',
      CHILD,
      JSON.stringify({ url: server.url, keyPrefix: uniquePrefix('dx'), closeWithHub }),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: Run = { lines: [], exited: false, stderr: '' };
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      out.lines.push(JSON.parse(buf.slice(0, nl)));
      buf = buf.slice(nl + 1);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out.stderr += d;
  });
  child.on('exit', () => {
    out.exited = true;
  });
  try {
    await waitFor(
      () => out.lines.some((l) => l.closed),
      () => `child never closed its hub: ${out.stderr}`,
    );
    const closedSeen = Date.now();
    await waitFor(
      () => out.exited || Date.now() - closedSeen > listenMs,
      () => 'unreachable',
    );
    return out;
  } finally {
    if (!out.exited) child.kill('SIGKILL');
  }
}

it('closeWithHub: true — the hub closes the inline dedup store and the process exits within 200 ms of close()', async () => {
  const r = await run(true, 5_000);
  expect(r.lines.find((l) => l.closed)?.handled).toBe(1);
  expect(r.exited, 'the process did not exit after close()').toBe(true);
  const exit = r.lines.find((l) => l.afterCloseMs !== undefined);
  expect(exit?.afterCloseMs).toBeLessThan(200);
});

it('without closeWithHub the store is left open for its owner: the process stays alive', async () => {
  const r = await run(false, 1_500);
  expect(r.lines.find((l) => l.closed)?.handled).toBe(1);
  expect(r.exited).toBe(false);
});
