import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import type { InboundDelivery } from '@hub/core';
import { Priority } from '@hub/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisAdapter, redis } from '../src/index.js';
import { connected, message, recorder, uniquePrefix, waitFor } from './helpers.js';

let server: RedisServer;
const adapters: RedisAdapter[] = [];

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(async () => {
  await Promise.allSettled(adapters.map((a) => a.close()));
  await server?.stop();
});

const PREFETCH = 4;

/** The one endpoint's consumer figures from inspect(). */
async function consumerState(a: RedisAdapter, address: string): Promise<Record<string, unknown>> {
  const info = (await a.inspect()) as { endpoints: Record<string, Record<string, unknown>> };
  return info.endpoints[address] ?? {};
}

describe('flow control with reads past the free credit', () => {
  it('never hands more than prefetch unsettled deliveries; buffered extras are delivered best rank first, each once', async () => {
    const prefix = uniquePrefix('oc');
    // claimIdleMs stays at its default (30 s): a reclaim must not be what delivers anything here.
    const a = redis({ url: server.url, keyPrefix: prefix, partitions: 4 });
    adapters.push(a);
    await connected(a, 'oc1');

    // Every delivery is held until the test settles it.
    let unsettled = 0;
    let maxUnsettled = 0;
    const held: InboundDelivery[] = [];
    const seen = new Map<string, number>();
    const r = recorder('ep', (d) => {
      unsettled++;
      maxUnsettled = Math.max(maxUnsettled, unsettled);
      seen.set(d.envelope.id, (seen.get(d.envelope.id) ?? 0) + 1);
      held.push(d);
    });
    const settle = async (d: InboundDelivery) => {
      unsettled--;
      await d.ack();
    };

    const sent = new Set<string>();
    const send = async (extra: Parameters<typeof message>[2] = {}) => {
      const m = message('ep', { n: sent.size }, extra);
      sent.add(m.id);
      await a.send(m);
      return m.id;
    };

    // A backlog on the NORMAL stream, written before anyone reads it.
    const BACKLOG = 150;
    for (let i = 0; i < BACKLOG; i++) await send({ priority: Priority.NORMAL });

    await a.subscribe(r.spec({ prefetch: PREFETCH }));
    await waitFor(
      () => held.length === PREFETCH,
      () => `held ${held.length}`,
    );

    // Step 1, exact: the first read found only NORMAL entries (exactly the credit), so the
    // next read is the plain one over NORMAL and every higher stream, COUNT = free credit.
    // With one entry waiting in each higher stream, freeing one slot makes it return 4.
    const critical = await send({ priority: Priority.CRITICAL });
    const urgent = await send({ priority: Priority.URGENT });
    const high = await send({ priority: Priority.HIGH });
    await settle(held.shift()!);
    await waitFor(
      async () => held.length === PREFETCH && (await consumerState(a, 'ep')).buffered === 3,
      async () => `held ${held.length}, state ${JSON.stringify(await consumerState(a, 'ep'))}`,
    );
    expect(unsettled).toBe(PREFETCH);
    // The best rank went to the handler, the rest wait locally and follow in rank order.
    expect(held[PREFETCH - 1]!.envelope.id).toBe(critical);
    await settle(held.shift()!);
    await waitFor(
      () => held.length === PREFETCH,
      () => `held ${held.length}`,
    );
    expect(held[PREFETCH - 1]!.envelope.id).toBe(urgent);
    await settle(held.shift()!);
    await waitFor(
      () => held.length === PREFETCH,
      () => `held ${held.length}`,
    );
    expect(held[PREFETCH - 1]!.envelope.id).toBe(high);
    expect(maxUnsettled).toBe(PREFETCH);

    // Step 2, under load: higher-priority and ordered entries keep arriving while the
    // backlog drains and the handler releases one delivery at a time.
    const EXTRA = 90;
    const sender = (async () => {
      const levels = [Priority.HIGH, Priority.URGENT, Priority.CRITICAL, Priority.LOW] as const;
      for (let i = 0; i < EXTRA; i++) {
        if (i % 3 === 2) {
          await send({ guarantee: 'ordered', partitionKey: `k${i % 7}` });
        } else {
          await send({ priority: levels[i % levels.length]! });
        }
        // Spread the sends over the drain instead of landing all before it.
        if (i % 5 === 4) await new Promise((res) => setTimeout(res, 2));
      }
    })();
    let maxBuffered = 0;
    const deadline = Date.now() + 60_000;
    let loops = 0;
    let sending = true;
    void sender.finally(() => {
      sending = false;
    });
    while (Date.now() < deadline && loops < 10_000) {
      loops++;
      if (held.length > 0) {
        // Alternate oldest and newest so settling is not always FIFO.
        const d = loops % 2 === 0 ? held.shift()! : held.pop()!;
        await settle(d);
      } else if (!sending && seen.size === sent.size) {
        break;
      }
      if (loops % 10 === 0) {
        const b = Number((await consumerState(a, 'ep')).buffered ?? 0);
        maxBuffered = Math.max(maxBuffered, b);
      }
      // Let the read loop run between releases.
      await new Promise((res) => setTimeout(res, 1));
      expect(unsettled).toBeLessThanOrEqual(PREFETCH);
    }
    await sender;

    expect(maxUnsettled).toBeLessThanOrEqual(PREFETCH);
    expect(held).toHaveLength(0);
    expect(seen.size).toBe(sent.size);
    expect(sent.size).toBe(BACKLOG + 3 + EXTRA);
    for (const id of sent) expect(seen.get(id), id).toBe(1);
    // Every entry was acked: nothing pending, nothing buffered, nothing in flight.
    await waitFor(
      async () => {
        const s = await consumerState(a, 'ep');
        return s.pending === 0 && s.buffered === 0 && s.unsettled === 0 && s.lag === 0;
      },
      async () => JSON.stringify(await consumerState(a, 'ep')),
    );
    expect(r.rejected).toHaveLength(0);
    // Informational bound only: the local buffer never needs more than a few entries per stream.
    expect(maxBuffered).toBeLessThanOrEqual(5 + 4 + PREFETCH * 5);
  }, 90_000);
});
