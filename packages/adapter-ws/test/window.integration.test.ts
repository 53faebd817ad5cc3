import { waitFor } from '@hub/adapter-test-suite';
import { createHub, type Middleware, silentLogger } from '@hub/core';
import { createMessage, DeliveryGuarantee } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { startServer, trackHub } from './helpers.js';
import { rawSession } from './raw.js';

type Frame = Record<string, unknown>;

describe('flow control: the per-connection window of unacked deliveries', () => {
  it('with window N the (N+1)th delivery waits for an ack to free a slot; nothing is lost', async () => {
    const WINDOW = 3;
    const TOTAL = 10;
    // Counts what reached the gateway's handler on the hub, so the test knows
    // every message is in the gateway before it looks at what was held back.
    let arrived = 0;
    const counter: Middleware = {
      name: 'count-arrivals',
      inbound: (envelope) => {
        arrived++;
        return envelope;
      },
    };
    const hub = trackHub(
      createHub({ name: 'server', logger: silentLogger, middleware: [counter] }),
    );
    const { gateway } = await startServer({ window: WINDOW }, hub);

    // A plain `ws` client that serves the endpoint and withholds its acks. Its
    // prefetch is far above the window, so only the window can hold anything back.
    const raw = await rawSession(gateway.url);
    await waitFor(() => raw.frames.some((f) => f.type === 'welcome'));
    raw.send({ type: 'serve', id: 'serve-1', sub: 'e1', address: 'jobs', prefetch: 100 });
    await waitFor(() => raw.frames.some((f) => f.type === 'ack' && f.id === 'serve-1'));
    const deliveries = () => raw.frames.filter((f) => f.type === 'deliver');
    /** A ping answered means the gateway wrote everything it had for this socket before it. */
    const roundTrip = async () => {
      const before = raw.frames.filter((f) => f.type === 'pong').length;
      raw.send({ type: 'ping' });
      await waitFor(() => raw.frames.filter((f) => f.type === 'pong').length > before);
    };

    const sent: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const m = createMessage({
        source: 'test',
        destination: 'jobs',
        payload: i,
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      });
      sent.push(m.id);
      await hub.send(m);
    }
    await waitFor(() => arrived === TOTAL, { message: () => `${arrived}/${TOTAL} at the gateway` });
    await roundTrip();
    await roundTrip();
    // Every message is at the gateway, yet only a window's worth went out.
    expect(deliveries()).toHaveLength(WINDOW);

    // One ack frees one slot: exactly one more delivery, the next in line.
    const first = deliveries()[0]!;
    raw.send({ type: 'ack', seq: first.seq });
    await waitFor(() => deliveries().length === WINDOW + 1);
    await roundTrip();
    expect(deliveries()).toHaveLength(WINDOW + 1);

    // Ack as they come: the rest flow through, never more than N unacked at once.
    const acked = new Set<number>([first.seq as number]);
    await waitFor(
      () => {
        const out = deliveries();
        const unacked = out.filter((f) => !acked.has(f.seq as number));
        expect(unacked.length).toBeLessThanOrEqual(WINDOW);
        for (const f of unacked) {
          acked.add(f.seq as number);
          raw.send({ type: 'ack', seq: f.seq });
        }
        return out.length === TOTAL && acked.size === TOTAL;
      },
      { message: () => `${deliveries().length}/${TOTAL} delivered` },
    );
    await roundTrip();
    const ids = deliveries().map((f) => (f.envelope as Frame).id as string);
    expect(ids).toHaveLength(TOTAL); // none twice
    expect(new Set(ids)).toEqual(new Set(sent)); // none lost
    raw.ws.close();
  });
});
