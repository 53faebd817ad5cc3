import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redis } from '@hub/adapter-redis';
import { freePort, type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { createHub, silentLogger } from '@hub/core';
import { createMessage, DeliveryGuarantee } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startClient, trackHub, trackLast } from './helpers.js';

// R10 for the ws server: the gateway process is killed (SIGKILL) and started
// again, twice, while a ws client sends 10,000 at-least-once messages through
// it to a handler on Redis. Whatever send confirmed must arrive.

let redisServer: RedisServer | undefined;
let child: ChildProcess | undefined;
const cwd = fileURLToPath(new URL('..', import.meta.url));

beforeAll(async () => {
  const server = await startRedisServer();
  redisServer = server;
  // stopped after the hubs using it have closed (helpers' afterAll)
  trackLast({ close: () => server.stop() });
});
afterAll(() => {
  child?.kill('SIGKILL');
});

async function startGateway(port: number, prefix: string): Promise<ChildProcess> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@hub/source',
      'test/fixtures/gateway-process.ts',
      String(port),
      redisServer!.url,
      prefix,
    ],
    { cwd, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    out += d;
  });
  await waitFor(() => out.includes('READY'), { timeoutMs: 60_000, message: () => out });
  return proc;
}

async function kill(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

describe('R10 server restart', () => {
  it('the gateway killed -9 and restarted twice during 10,000 at-least-once sends: nothing confirmed is lost', async () => {
    const prefix = `r10x${process.pid}`;
    const port = await freePort();
    child = await startGateway(port, prefix);
    const receiver = trackHub(
      createHub({
        name: 'receiver',
        logger: silentLogger,
        adapters: [redis({ url: redisServer!.url, keyPrefix: prefix })],
      }),
    );
    const received = new Map<string, number>();
    await receiver.onMessage('r10_sink', (m) => {
      received.set(m.id, (received.get(m.id) ?? 0) + 1);
    });
    await receiver.start();
    const sender = await startClient(`ws://127.0.0.1:${port}/`, {
      connectTimeoutMs: 2_000,
      reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    });
    sender.on('error', () => {});

    const total = 10_000;
    const attempted = new Set<string>();
    const acked = new Set<string>();
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const m = createMessage({
          source: 'r10',
          destination: 'r10_sink',
          payload: next,
          deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
        });
        attempted.add(m.id);
        try {
          await sender.send(m);
          acked.add(m.id);
        } catch {
          failed++;
        }
      }
    };
    const run = Promise.all(Array.from({ length: 32 }, worker));
    for (const at of [2_500, 6_000]) {
      await waitFor(() => acked.size >= at || next >= total, { timeoutMs: 60_000 });
      await kill(child);
      child = await startGateway(port, prefix);
    }
    await run;
    await waitFor(() => [...acked].every((id) => received.has(id)), {
      timeoutMs: 60_000,
      message: () =>
        `lost ${[...acked].filter((id) => !received.has(id)).length} of ${acked.size} acked`,
    });
    const lost = [...acked].filter((id) => !received.has(id)).length;
    const unexpected = [...received.keys()].filter((id) => !attempted.has(id)).length;
    const duplicates = [...received.values()].filter((n) => n > 1).length;
    console.log(
      `R10 ws: attempted ${attempted.size}, acked ${acked.size}, send failed ${failed}, received ${received.size}, lost ${lost}, unexpected ${unexpected}, duplicates ${duplicates}`,
    );
    expect({ lost, unexpected }).toEqual({ lost: 0, unexpected: 0 });
    expect(acked.size).toBeGreaterThan(total * 0.9);
  });
});
