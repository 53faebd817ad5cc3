import { type RedisServer, redisCli, startRedisServer } from '@hub/adapter-test-suite';
import { createHub, createMessage, type Hub, silentLogger } from '@hub/core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis } from '../src/index.js';
import { waitFor } from './helpers.js';

// An ordered message whose dead-letter write fails stays first in its key:
// nothing behind it runs until it is really dead-lettered (it is neither lost
// nor overtaken). The DLQ write is made to fail with an ACL that withholds the
// DLQ key, then the permission is granted.
let server: RedisServer;
let hub: Hub | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  // Every key of prefix "odlq" but the DLQ (`…:dlq`): streams :p / :o, :lease, :members.
  await redisCli(server, [
    'ACL',
    'SETUSER',
    'nodlq',
    'on',
    '>pw',
    '~odlq:{*}:[opml]*',
    '&*',
    '+@all',
  ]);
});
afterAll(async () => {
  await hub?.close({ drainTimeoutMs: 100 });
  await server?.stop();
});

it('a failed DLQ write on an ordered key blocks the key until it succeeds, then the rest follow in order', async () => {
  hub = createHub({
    adapters: [
      redis({
        url: `redis://nodlq:pw@127.0.0.1:${server.port}`,
        keyPrefix: 'odlq',
        claimIdleMs: 1_000,
        partitionLeaseMs: 900,
      }),
    ],
    logger: silentLogger,
    retry: { initialDelayMs: 1, maxDelayMs: 5 },
  });
  await hub.start();
  const attempts: string[] = [];
  const handled: string[] = [];
  await hub.onMessage<string>(
    'seq',
    (m) => {
      attempts.push(m.payload);
      if (m.payload === 'A') throw new Error('poison');
      handled.push(m.payload);
    },
    { maxDeliveries: 1, concurrency: 4 },
  );
  for (const payload of ['A', 'B', 'C']) {
    await hub.send(
      createMessage({
        source: 't',
        destination: 'seq',
        payload,
        deliveryGuarantee: 'ordered',
        partitionKey: 'k',
      }),
    );
  }
  // A fails, its DLQ write is refused, and it is read again — B must not pass it.
  await waitFor(
    () => attempts.filter((p) => p === 'A').length >= 2,
    () => `A re-read after the failed DLQ write; attempts ${attempts.join(',')}`,
    20_000,
  );
  expect(handled, `attempts so far: ${attempts.join(',')}`).toEqual([]);

  await redisCli(server, ['ACL', 'SETUSER', 'nodlq', '~*']);
  await waitFor(
    () => handled.length === 2,
    () => `B and C after A is dead-lettered; handled ${handled.join(',')}`,
    20_000,
  );
  expect(handled).toEqual(['B', 'C']);
  const dead = await hub.readDeadLetters('seq');
  expect(dead.map((d) => d.envelope.kind === 'message' && d.envelope.payload)).toEqual(['A']);
});
