import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, createMessage, type Hub, silentLogger } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { waitFor } from './helpers.js';

// An ordered partition holds one entry at a time. When that entry's handler
// settles later than the next read comes round (real handlers do I/O), the
// reader must not sit out its whole blocking read (`blockMs`) before it reads
// the partition's next entry: 40 entries with a 5 ms handler take well under a
// second, where waiting out a 3 s BLOCK per entry would take two minutes.
let server: RedisServer;
let hub: Hub | undefined;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await hub?.close({ drainTimeoutMs: 100 });
  await server?.stop();
});

it('an ordered key with a handler that settles later moves on as soon as it settles, not after BLOCK', async () => {
  hub = createHub({
    logger: silentLogger,
    adapters: [redis({ url: server.url, keyPrefix: 'oasync', blockMs: 3_000 })],
  });
  await hub.start();
  const seen: number[] = [];
  await hub.onMessage('slow-ordered', async (m) => {
    await new Promise((r) => setTimeout(r, 5));
    seen.push(m.payload as number);
  });
  const n = 40;
  for (let i = 0; i < n; i++) {
    await hub.send(
      createMessage({
        source: 't',
        destination: 'slow-ordered',
        payload: i,
        deliveryGuarantee: 'ordered',
        partitionKey: 'k',
      }),
    );
  }
  // 40 × 3 s if every entry waited out BLOCK; the deadline is far from both.
  await waitFor(
    () => seen.length >= n,
    () => `${seen.length}/${n} handled`,
    30_000,
  );
  expect(seen).toEqual(Array.from({ length: n }, (_, i) => i));
});
