import { redis } from '@hub/adapter-redis';
import { createGate, type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, DeliveryGuarantee, type HubError } from '@hub/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type WebSocketConstructor, WsErrorCode } from '../src/index.js';
import { startClient, startServer, trackHub, trackLast } from './helpers.js';

// Kept (durable) events through the gateway: a client declares durable topics
// when the server's hub has them, and a client subscribed in a named group
// that loses its link gets every kept event published meanwhile, back on the
// same gateway or on another one over the same redis-server.

let redisServer: RedisServer | undefined;
beforeAll(async () => {
  const server = await startRedisServer();
  redisServer = server;
  // stopped after the hubs using it have closed (helpers' afterAll)
  trackLast({ close: () => server.stop() });
});

let seq = 0;
/** Keys of one test apart from every other test's (and run's). */
const uniquePrefix = () => `dr${process.pid}x${++seq}`;

/**
 * A hub over the shared redis-server. A short `claimIdleMs` so that entries a
 * gateway hands back are taken by another consumer of the group within a second.
 */
const redisHub = (name: string, prefix: string, blockMs?: number) =>
  trackHub(
    createHub({
      name,
      logger: silentLogger,
      adapters: [
        redis({
          url: redisServer!.url,
          keyPrefix: prefix,
          claimIdleMs: 1_500,
          ...(blockMs === undefined ? {} : { blockMs }),
        }),
      ],
    }),
  );

/**
 * `ws` sockets aimed at whichever gateway `target` names when they open, the
 * last one kept so a test can cut it like a dead link (no close handshake).
 */
function switchableSocket(initial: string) {
  const link = { target: initial, last: undefined as WebSocket | undefined };
  const Ctor = class extends WebSocket {
    constructor(_url: string, protocols?: string | string[]) {
      super(link.target, protocols);
      link.last = this;
    }
  };
  return { link, WebSocket: Ctor as unknown as WebSocketConstructor };
}

interface Tally {
  /** data of every event the handler was called with, in call order */
  readonly calls: number[];
  readonly unique: Set<number>;
}

async function durableClient(
  url: string,
  pattern: string,
  group: string,
  gate: { blocked: boolean; open: Promise<void> },
): Promise<{
  hub: Hub;
  tally: Tally;
  errors: HubError[];
  link: { target: string; last: WebSocket | undefined };
}> {
  const socket = switchableSocket(url);
  const hub = await startClient(url, { WebSocket: socket.WebSocket, connectTimeoutMs: 2_000 });
  const errors: HubError[] = [];
  hub.on('error', (e) => errors.push(e as HubError));
  const tally: Tally = { calls: [], unique: new Set() };
  await hub.subscribe(
    pattern,
    async (e) => {
      const n = e.data as number;
      tally.calls.push(n);
      tally.unique.add(n);
      if (gate.blocked) await gate.open;
    },
    { group },
  );
  return { hub, tally, errors, link: socket.link };
}

const event = (topic: string, n: number, guarantee: DeliveryGuarantee) =>
  createEvent({ source: 'test', topic, data: n, deliveryGuarantee: guarantee });

/**
 * The scenario: a client subscribed in a group on A, its handler held so
 * that A has deliveries out to it; the link dies (terminated, no close
 * frame); N kept events are published on A and B in turn; the client comes
 * back to `backTo` (A again, or B). It must get all N, none lost.
 */
async function cutAndComeBack(
  guarantee: DeliveryGuarantee,
  backTo: 'a' | 'b',
  n: number,
  blockMs?: number,
): Promise<{ tally: Tally; errors: HubError[]; resumedOnA: number }> {
  const prefix = uniquePrefix();
  // A keeps a dropped session far longer than the test waits: what it held
  // must move on because the link died, not because the session expired.
  const a = await startServer({ resumeWindowMs: 120_000 }, redisHub('server-a', prefix, blockMs));
  const b = await startServer({ resumeWindowMs: 120_000 }, redisHub('server-b', prefix, blockMs));
  const topic = `orders.${prefix}`;
  const released = createGate();
  const gate = { blocked: true, open: released.promise };
  const client = await durableClient(a.gateway.url, 'orders.*', 'billing', gate);
  expect(client.hub.adapters.get('ws')?.capabilities.durableTopics).toBe(true);

  // Deliveries out to the client when its link dies: the handler holds them.
  const head = Math.min(50, n);
  for (let i = 0; i < head; i++) await a.hub.publish(event(topic, i, guarantee));
  await waitFor(() => client.tally.calls.length >= 1, { message: () => 'nothing delivered on A' });

  // Away for the whole publishing: its reconnects find nobody listening.
  client.link.target = 'ws://127.0.0.1:1/';
  client.link.last!.terminate();
  await waitFor(() => a.gateway.metrics().connections === 0);
  for (let i = head; i < n; i++) {
    await (i % 2 === 0 ? a.hub : b.hub).publish(event(topic, i, guarantee));
  }
  client.link.target = backTo === 'a' ? a.gateway.url : b.gateway.url;
  gate.blocked = false;
  released.release();

  await waitFor(() => client.tally.unique.size >= n, {
    timeoutMs: 60_000,
    message: () =>
      `${client.tally.unique.size}/${n} received (last calls: ${client.tally.calls.slice(-30).join(',')})`,
  });
  return {
    tally: client.tally,
    errors: client.errors,
    resumedOnA: a.gateway.metrics().resumed,
  };
}

const report = (what: string, n: number, tally: Tally) =>
  console.log(
    `[durable resume] ${what}: published ${n}, received ${tally.unique.size}, duplicates ${tally.calls.length - tally.unique.size}, lost ${n - tally.unique.size}`,
  );

describe('durable topics through a ws client', () => {
  it('a client of a server whose hub keeps events publishes kept events, and subscribes in a group from a start position', async () => {
    const prefix = uniquePrefix();
    const a = await startServer({}, redisHub('server-a', prefix));
    const topic = `ledger.${prefix}`;
    // Kept before the client subscribes: its group starts from them because it asks to.
    const since = Date.now() - 1;
    for (let i = 0; i < 3; i++) {
      await a.hub.publish(event(topic, i, DeliveryGuarantee.AT_LEAST_ONCE));
    }
    const sub = await startClient(a.gateway.url, {}, 'subscriber');
    const pub = await startClient(a.gateway.url, {}, 'publisher');
    expect(pub.adapters.get('ws')?.capabilities.durableTopics).toBe(true);
    const got: number[] = [];
    await sub.subscribe(
      topic,
      (e) => {
        got.push(e.data as number);
      },
      { group: 'audit', startFrom: { time: since } },
    );
    for (let i = 3; i < 6; i++) {
      await pub.publish(event(topic, i, DeliveryGuarantee.AT_LEAST_ONCE));
    }
    await pub.publish(event(topic, 6, DeliveryGuarantee.ORDERED));
    await waitFor(() => got.length >= 7, { message: () => `${got.length}/7: ${got.join(',')}` });
    expect(new Set(got)).toEqual(new Set([0, 1, 2, 3, 4, 5, 6]));
  });
});

describe('resume of a durable group subscription', () => {
  const N = 1_000;

  it('back to ANOTHER gateway: every at-least-once event published meanwhile, none lost; told to resync for the rest', async () => {
    const { tally, errors } = await cutAndComeBack(DeliveryGuarantee.AT_LEAST_ONCE, 'b', N);
    report('at-least-once, back on B', N, tally);
    expect(tally.unique.size).toBe(N);
    // best-effort deliveries of the old session are not replayed: the client is told
    expect(errors.some((e) => e.code === WsErrorCode.RESYNC)).toBe(true);
  }, 120_000);

  it('back to ANOTHER gateway: ordered events in publish order, no gap', async () => {
    // The Redis reader takes the next entry of an ordered topic only after its
    // blocking read of the other streams returns (blockMs) once the one held
    // entry is acked from afar: a short block keeps this run short.
    const n = Math.min(N, 200);
    const { tally } = await cutAndComeBack(DeliveryGuarantee.ORDERED, 'b', n, 10);
    report('ordered, back on B', n, tally);
    expect(tally.unique.size).toBe(n);
    // A duplicate may only repeat the event just handled (its ack was lost with the link).
    for (let i = 1; i < tally.calls.length; i++) {
      const step = tally.calls[i]! - tally.calls[i - 1]!;
      if (step !== 0 && step !== 1) {
        throw new Error(
          `out of order at call ${i}: ${tally.calls.slice(Math.max(0, i - 3), i + 3).join(',')}`,
        );
      }
    }
  }, 120_000);

  it('back to the SAME gateway within the window: every event, none lost', async () => {
    const { tally, resumedOnA } = await cutAndComeBack(DeliveryGuarantee.AT_LEAST_ONCE, 'a', N);
    report('at-least-once, back on A', N, tally);
    expect(tally.unique.size).toBe(N);
    // the session was resumed there, its durable subscription opened again
    expect(resumedOnA).toBe(1);
  }, 120_000);
});
