import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startTcpProxy, type TcpProxy, waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee, type HubError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { type WebSocketConstructor, WsErrorCode } from '../src/index.js';
import { startClient, startServer, track } from './helpers.js';

/** A client hub reaching the gateway through a TCP proxy that can cut or stall its link. */
async function throughProxy(
  port: number,
  clientOptions: Parameters<typeof startClient>[1] = {},
): Promise<{ proxy: TcpProxy; client: Hub; errors: HubError[] }> {
  const proxy = track(await startTcpProxy({ targetPort: port }));
  const client = await startClient(`ws://127.0.0.1:${proxy.port}/`, {
    connectTimeoutMs: 500,
    ...clientOptions,
  });
  const errors: HubError[] = [];
  client.on('error', (e) => errors.push(e as HubError));
  return { proxy, client, errors };
}

const publishAll = async (hub: Hub, from: number, to: number) => {
  for (let i = from; i < to; i++) {
    await hub.publish(createEvent({ source: 's', topic: 'feed.tick', data: i }));
  }
};

describe('R13 resume', () => {
  it('a client back within the window gets exactly what it missed, in order', async () => {
    const { hub, gateway } = await startServer({ resumeWindowMs: 30_000 });
    const { proxy, client } = await throughProxy(gateway.port);
    const got: number[] = [];
    await client.subscribe('feed.*', (e) => {
      got.push(e.data as number);
    });
    await publishAll(hub, 0, 50);
    await waitFor(() => got.length === 50);
    // The link drops and the way back is blocked while the server publishes more.
    proxy.stall();
    proxy.cut();
    await waitFor(() => gateway.metrics().connections === 0);
    await publishAll(hub, 50, 150);
    expect(got.length).toBe(50);
    proxy.resume();
    await waitFor(() => got.length >= 150, { message: () => `${got.length}/150 received` });
    expect(got).toEqual(Array.from({ length: 150 }, (_, i) => i));
    expect(gateway.metrics().resumed).toBeGreaterThanOrEqual(1);
  });

  it('a client back too late is told to resync with a typed error, and its subscriptions come back', async () => {
    const { hub, gateway } = await startServer({ resumeWindowMs: 200 });
    const { proxy, client, errors } = await throughProxy(gateway.port);
    const got: number[] = [];
    await client.subscribe('feed.*', (e) => {
      got.push(e.data as number);
    });
    proxy.stall();
    proxy.cut();
    await waitFor(() => gateway.metrics().connections === 0);
    await publishAll(hub, 0, 10);
    await waitFor(() => gateway.metrics().sessions === 0); // expired
    proxy.resume();
    await waitFor(() => errors.some((e) => e.code === WsErrorCode.RESYNC), {
      message: () => `errors: ${errors.map((e) => e.code).join(',')}`,
    });
    // subscribed again on the new session: what is published now arrives
    await waitFor(async () => {
      await publishAll(hub, 100, 101);
      return got.includes(100);
    });
    expect(got.filter((n) => n < 10)).toEqual([]); // the gap is reported, never papered over
  });

  it('a message a vanished client served and never acked goes to another client serving it', async () => {
    const { hub, gateway } = await startServer({ resumeWindowMs: 30_000 });
    const { proxy, client: a } = await throughProxy(gateway.port);
    const b = await startClient(gateway.url, {}, 'b');
    const heldByA: string[] = [];
    const doneByB: string[] = [];
    await a.onMessage('jobs', (m) => {
      heldByA.push(m.id);
      return new Promise(() => {}); // never finishes: the client dies holding it
    });
    await b.onMessage('jobs', (m) => {
      doneByB.push(m.id);
    });
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const m = createMessage({
        source: 's',
        destination: 'jobs',
        payload: i,
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      });
      ids.push(m.id);
      await hub.send(m);
    }
    await waitFor(() => heldByA.length > 0 && heldByA.length + doneByB.length >= 20);
    proxy.stall();
    proxy.cut();
    await waitFor(() => ids.every((id) => doneByB.includes(id)), {
      message: () => `b did ${doneByB.length}/20 (a held ${heldByA.length})`,
    });
  });
});

describe('clean close', () => {
  it('a client that closes on purpose ends its session at once: what it held goes back to the hub', async () => {
    const { hub, gateway } = await startServer({ resumeWindowMs: 60_000 });
    const leaving = await startClient(gateway.url, {}, 'leaving');
    let held = 0;
    await leaving.onMessage('handover', () => {
      held++;
      return new Promise(() => {}); // still running when its hub closes
    });
    const m = createMessage({
      source: 's',
      destination: 'handover',
      payload: 1,
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    });
    await hub.send(m);
    await waitFor(() => held === 1);
    await leaving.close({ drainTimeoutMs: 0 });
    await waitFor(() => gateway.metrics().sessions === 0, { timeoutMs: 5_000 });
    const next = await startClient(gateway.url, {}, 'next');
    const got: string[] = [];
    await next.onMessage('handover', (x) => {
      got.push(x.id);
    });
    // well before the hub's drain timeout (10 s) would have let it go
    await waitFor(() => got.includes(m.id), { timeoutMs: 5_000 });
  });
});

/**
 * How late timers ran while `work` ran, in ms: the test process hosts both
 * ends, so this is the scheduling slack a detection time may honestly carry
 * on a loaded machine.
 */
async function withLag<T>(work: () => Promise<T>): Promise<{ value: T; lagMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  try {
    const value = await work();
    return { value, lagMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

describe('liveness over a stalled link (no FIN, no RST): each side on its own', () => {
  const INTERVAL = 400;
  // What a detection time may carry besides the intervals and the measured
  // timer lateness: the 5 ms polls below, the kernel handing bytes on.
  const SLACK = 100;

  it('the gateway terminates a client that stopped answering within two ping intervals', async () => {
    const { gateway } = await startServer({ pingIntervalMs: INTERVAL });
    // the client would take a minute to notice: whatever is detected here is the gateway's doing
    const { proxy, client } = await throughProxy(gateway.port, { pingIntervalMs: 60_000 });
    const adapter = client.adapters.get('ws')!;
    const { value: elapsed, lagMs } = await withLag(async () => {
      const stalledAt = performance.now();
      proxy.stall();
      await waitFor(() => gateway.metrics().cut.dead >= 1, { intervalMs: 5, timeoutMs: 10_000 });
      return performance.now() - stalledAt;
    });
    // A ping unanswered for one interval, checked every interval: at most two after the stall.
    expect(
      elapsed,
      `detected after ${Math.round(elapsed)} ms (timers up to ${Math.round(lagMs)} ms late)`,
    ).toBeLessThanOrEqual(2 * INTERVAL + lagMs + SLACK);
    expect(gateway.metrics().connections).toBe(0);
    expect(adapter.health().detail?.connected).toBe(true); // the client has not noticed yet
    const before = adapter.health().detail?.reconnects as number;
    proxy.resume();
    await waitFor(() => (adapter.health().detail?.reconnects as number) > before);
    await waitFor(() => adapter.health().detail?.connected === true);
  });

  it('the client drops a gateway that stopped answering within two ping intervals, and reconnects', async () => {
    // the gateway would take a minute to notice: whatever is detected here is the client's doing
    const { gateway } = await startServer({ pingIntervalMs: 60_000 });
    // The worst moment to stall: just after the answer to a ping came in (the
    // link then looks alive for longest). A WebSocket class that sees every
    // frame before the client does stalls the link right there.
    let stallAfterPong: (() => void) | undefined;
    class Watched extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols);
        this.addEventListener('message', (e) => {
          if (stallAfterPong !== undefined && String(e.data).includes('"pong"')) {
            stallAfterPong();
            stallAfterPong = undefined;
          }
        });
      }
    }
    const { proxy, client } = await throughProxy(gateway.port, {
      pingIntervalMs: INTERVAL,
      WebSocket: Watched as unknown as WebSocketConstructor,
    });
    const adapter = client.adapters.get('ws')!;
    let droppedAt: number | undefined;
    client.on('error', (e) => {
      if (droppedAt === undefined && /ping/.test((e as Error).message)) {
        droppedAt = performance.now();
      }
    });
    const { value: elapsed, lagMs } = await withLag(async () => {
      let stalledAt = 0;
      stallAfterPong = () => {
        stalledAt = performance.now();
        proxy.stall();
      };
      await waitFor(() => droppedAt !== undefined, { intervalMs: 5, timeoutMs: 10_000 });
      return droppedAt! - stalledAt;
    });
    // Its next ping goes unanswered; the one after finds that out: two
    // intervals. (Counting silence alone, checked every interval, took three.)
    expect(
      elapsed,
      `detected after ${Math.round(elapsed)} ms (timers up to ${Math.round(lagMs)} ms late)`,
    ).toBeLessThanOrEqual(2 * INTERVAL + lagMs + SLACK);
    expect(adapter.health().detail?.connected).toBe(false);
    expect(gateway.metrics().cut.dead).toBe(0); // the gateway has not noticed
    proxy.resume();
    await waitFor(() => adapter.health().detail?.connected === true);
  });
});
