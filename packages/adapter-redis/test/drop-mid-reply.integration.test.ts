/**
 * A link dropped while replies are due (a blocking read waiting, a send in
 * flight) must cost one reconnect and nothing more. ioredis 5 kept the socket
 * timeout armed for the dropped socket and, at that socket's deadline,
 * destroyed the fresh connection that had replaced it: a read reply cut that
 * way left its entries pending until reclaim (claimIdleMs later) and a lost
 * ack became a duplicate. Here the proxy counts every connection it accepts:
 * after the one reconnect, no connection may be torn down again while the old
 * deadlines pass, and every message sent meanwhile arrives well before any
 * reclaim could have brought it.
 */
import {
  type RedisServer,
  startRedisServer,
  startTcpProxy,
  type TcpProxy,
} from '@hub/adapter-test-suite';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

/** Socket timeouts: commands COMMAND_TIMEOUT_MS, the blocking reader BLOCK_MS + COMMAND_TIMEOUT_MS. */
const COMMAND_TIMEOUT_MS = 1_500;
const BLOCK_MS = 1_000;
/** Far beyond the test: a message that needs reclaim to arrive never does in time. */
const CLAIM_IDLE_MS = 120_000;

let server: RedisServer;
let proxy: TcpProxy;
let adapter: RedisAdapter | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  proxy = await startTcpProxy({ targetPort: server.port });
});
afterAll(async () => {
  proxy?.resume();
  await adapter?.close();
  await proxy?.close();
  await server?.stop();
});

it('a link dropped mid-reply reconnects once; the old socket deadline tears nothing down and nothing waits for reclaim', async () => {
  adapter = redis({
    url: `redis://127.0.0.1:${proxy.port}`,
    keyPrefix: uniquePrefix('drop'),
    commandTimeoutMs: COMMAND_TIMEOUT_MS,
    blockMs: BLOCK_MS,
    claimIdleMs: CLAIM_IDLE_MS,
  });
  const ctx = await connected(adapter, 'drop');
  const rec = recorder('ep');
  await adapter.subscribe(rec.spec());
  const first = message('ep', { warm: true });
  await adapter.send(first);
  await waitFor(
    () => rec.ids().includes(first.id),
    () => 'warm-up message not delivered',
  );

  const linksBefore = proxy.connections;
  // Replies due on every connection: the blocking read waits (its reply
  // deadline armed), and a send is written into the stalled link.
  proxy.stall();
  const dropped = Date.now();
  const inFlight = adapter.send(message('ep', { inFlight: true })).catch(() => undefined);
  // Auto-pipelined writes go out on the next turns of the event loop.
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
  proxy.cut();
  proxy.resume();
  await inFlight;

  // Back: a send goes through and is delivered.
  await waitFor(
    async () => {
      try {
        const m = message('ep', { probe: true });
        await adapter!.send(m);
        return true;
      } catch {
        return false;
      }
    },
    () => `sends still failing: ${JSON.stringify(adapter!.health())}`,
  );
  // Every connection back (commands, subscriber, the blocking reader).
  await waitFor(
    () => adapter!.health().state === 'ready' && proxy.connections === linksBefore,
    () =>
      `not all links back: ${proxy.connections} of ${linksBefore}; ${JSON.stringify(adapter!.health())}`,
  );
  const acceptedAfterReconnect = proxy.accepted;
  const errorsAfterReconnect = ctx.errors.length;

  // Keep traffic going until every deadline armed on the dropped sockets has
  // passed (the reader's is the longest), with margin.
  const oldDeadlinesPassed = dropped + BLOCK_MS + COMMAND_TIMEOUT_MS + 2_000;
  const sent: string[] = [];
  while (Date.now() < oldDeadlinesPassed) {
    const m = message('ep', { n: sent.length });
    await adapter.send(m);
    sent.push(m.id);
    await waitFor(
      () => rec.ids().includes(m.id),
      () => `message ${sent.length} not delivered: ${JSON.stringify(adapter!.health())}`,
      10_000,
    );
  }
  expect(sent.length).toBeGreaterThan(0);

  // No connection was torn down and replaced after the one reconnect.
  expect(
    proxy.accepted,
    `connections re-opened after recovery; errors: ${ctx.errors
      .slice(errorsAfterReconnect)
      .map((e) => e.message)
      .join(' | ')}`,
  ).toBe(acceptedAfterReconnect);
  expect(ctx.errors.slice(errorsAfterReconnect).map((e) => e.message)).not.toContainEqual(
    expect.stringMatching(/Socket timeout/),
  );
  // Every message arrived on the first read, none through reclaim.
  for (const id of sent) {
    const got = rec.deliveries.filter((d) => d.envelope.id === id);
    expect(got.map((d) => d.attempt)).toEqual([1]);
  }
});
