import net from 'node:net';
import { waitFor } from '@hub/adapter-test-suite';
import type { Hub } from '@hub/core';
import { createMessage, DeliveryGuarantee, ErrorCode, type HubError } from '@hub/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WsErrorCode, wsServer } from '../src/index.js';
import { startClient, startServer, track } from './helpers.js';

/**
 * A TCP front for the gateway whose behaviour the test switches: `forward`
 * links new connections to the gateway; `holdReplies` keeps forwarding what
 * the client sends but holds back what the server answers (its acks stay in
 * kernel buffers, as on a link that dies after the write); `stall` holds
 * both ways (what the client sends never arrives); `refuse` accepts
 * and drops each connection at once, noting when it came (a reconnect
 * attempt). `cut` resets every open link.
 */
async function startFront(targetPort: number) {
  let mode: 'forward' | 'holdReplies' | 'stall' | 'refuse' = 'forward';
  const links = new Set<{ client: net.Socket; upstream: net.Socket }>();
  const attempts: number[] = [];
  let onAttempt: ((n: number) => void) | undefined;
  const server = net.createServer((client) => {
    client.on('error', () => {});
    if (mode === 'refuse') {
      attempts.push(performance.now());
      onAttempt?.(attempts.length);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    upstream.on('error', () => {});
    const link = { client, upstream };
    links.add(link);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.pipe(upstream);
    upstream.pipe(client);
    if (mode === 'holdReplies' || mode === 'stall') upstream.pause();
    if (mode === 'stall') client.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as net.AddressInfo).port;
  const front = {
    port,
    attempts,
    set onAttempt(fn: ((n: number) => void) | undefined) {
      onAttempt = fn;
    },
    setMode(next: typeof mode) {
      mode = next;
      for (const l of links) {
        if (next === 'holdReplies' || next === 'stall') l.upstream.pause();
        else l.upstream.resume();
        if (next === 'stall') l.client.pause();
        else l.client.resume();
      }
    },
    cut() {
      for (const l of [...links]) {
        links.delete(l);
        l.client.resetAndDestroy();
        l.upstream.resetAndDestroy();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        front.cut();
        server.close(() => resolve());
      }),
  };
  return track(front);
}

const order = (n: number, guarantee: DeliveryGuarantee = DeliveryGuarantee.EXACTLY_ONCE) =>
  createMessage({
    source: 'client',
    destination: 'orders',
    payload: n,
    deliveryGuarantee: guarantee,
  });

/** Send `count` messages from `client` without waiting; resolves to their ids and outcomes. */
function sendMany(client: Hub, from: number, count: number) {
  const msgs = Array.from({ length: count }, (_, i) => order(from + i));
  const outcomes = msgs.map((m) => client.send(m).then(() => 'ok' as const));
  return { ids: msgs.map((m) => m.id), all: Promise.all(outcomes) };
}

describe('client outbox: unconfirmed frames are resent after a reconnect with the same ids', () => {
  it.each([
    ['the socket is cut', 'cut'],
    ['the gateway is restarted', 'restart'],
  ] as const)(
    'an exactly-once endpoint handles each message once when %s mid-run',
    async (_, fault) => {
      const { hub, gateway } = await startServer({ resumeWindowMs: 30_000 });
      const port = gateway.port;
      const calls = new Map<string, number>();
      await hub.onMessage(
        'orders',
        (m) => {
          calls.set(m.id, (calls.get(m.id) ?? 0) + 1);
        },
        { guarantees: [DeliveryGuarantee.EXACTLY_ONCE] },
      );
      const front = await startFront(port);
      const client = await startClient(`ws://127.0.0.1:${front.port}/`, {
        connectTimeoutMs: 2_000,
      });
      const adapter = client.adapters.get('ws')!;

      // 1. confirmed before any fault
      const a = sendMany(client, 0, 50);
      await a.all;
      // 2. handled by the server, but its confirmations never reach the client
      front.setMode('holdReplies');
      const b = sendMany(client, 50, 50);
      await waitFor(() => b.ids.every((id) => calls.has(id)), {
        message: () => `${calls.size}/100 handled`,
      });
      expect(adapter.health().detail?.outbox).toBe(50); // all 50 wait for a confirmation
      // 3. written by the client, never read by the server
      front.setMode('stall');
      const c = sendMany(client, 100, 50);
      await waitFor(() => adapter.health().detail?.outbox === 100);
      // 4. the fault
      front.cut();
      if (fault === 'restart') {
        await gateway.close();
        track(await wsServer({ hub, port, resumeWindowMs: 30_000 }));
      }
      await waitFor(() => adapter.health().detail?.connected === false);
      expect(c.ids.some((id) => calls.has(id))).toBe(false);
      // 5. the link works again: the client reconnects and resends its outbox
      front.setMode('forward');
      await Promise.all([b.all, c.all]);
      const ids = [...a.ids, ...b.ids, ...c.ids];
      await waitFor(() => ids.every((id) => calls.has(id)), {
        message: () => `${calls.size}/150 handled`,
      });
      const twice = ids.filter((id) => calls.get(id) !== 1);
      expect(twice, 'handled more than once').toEqual([]);
      expect(calls.size).toBe(150);
      // the 50 handled but unconfirmed went again with their ids: the server hub dropped them as duplicates
      expect(hub.metrics().totals.duplicates).toBeGreaterThanOrEqual(50);
      expect(adapter.health().detail?.outbox).toBe(0);
    },
  );
});

describe('client outbox bound', () => {
  it('a send over maxOutbox is refused with HUB_OVERLOADED; every send it accepted arrives', async () => {
    const { hub, gateway } = await startServer();
    const got = new Set<string>();
    await hub.onMessage('orders', (m) => {
      got.add(m.id);
    });
    const front = await startFront(gateway.port);
    const client = await startClient(`ws://127.0.0.1:${front.port}/`, { maxOutbox: 5 });
    const adapter = client.adapters.get('ws')!;
    front.setMode('holdReplies'); // nothing gets confirmed: the outbox fills up
    const accepted = Array.from({ length: 5 }, (_, i) => order(i, DeliveryGuarantee.AT_LEAST_ONCE));
    const pending = accepted.map((m) => client.send(m));
    await waitFor(() => adapter.health().detail?.outbox === 5);
    const over = await client.send(order(99, DeliveryGuarantee.AT_LEAST_ONCE)).then(
      () => undefined,
      (err: HubError) => err,
    );
    expect(over?.code).toBe(ErrorCode.OVERLOADED);
    expect(adapter.health().detail?.outbox).toBe(5); // the refused one took no slot
    front.setMode('forward');
    await Promise.all(pending);
    await waitFor(() => accepted.every((m) => got.has(m.id)));
    expect(got.size).toBe(5);
    // room again once confirmed
    await client.send(order(100, DeliveryGuarantee.AT_LEAST_ONCE));
  });
});

describe('reconnect backoff', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('delays grow exponentially to the cap and are jittered (seeded random), against a port that refuses', async () => {
    const { gateway } = await startServer();
    const front = await startFront(gateway.port);
    const INITIAL = 100;
    const CAP = 1_500;
    // How late a reconnect may come on a loaded machine (detecting the drop,
    // the timer, the TCP connect): generous, and still below what a missing
    // cap or a missing jitter would make it.
    const SLACK = 1_000;
    const client = await startClient(`ws://127.0.0.1:${front.port}/`, {
      reconnect: { initialDelayMs: INITIAL, maxDelayMs: CAP },
    });
    // The jitter draws from Math.random: near 1 gives each full delay, 0 none at all.
    let draw = 0.999;
    vi.spyOn(Math, 'random').mockImplementation(() => draw);
    // attempts 1–6 with full delays, the 7th with none, the 8th full again
    front.onAttempt = (n) => {
      draw = n === 6 ? 0 : 0.999;
    };
    front.setMode('refuse');
    const cutAt = performance.now();
    front.cut();
    await waitFor(() => front.attempts.length >= 8, {
      timeoutMs: 30_000,
      message: () => `${front.attempts.length} attempts`,
    });
    const times = [cutAt, ...front.attempts.slice(0, 8)];
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    const full = (k: number) => 0.999 * Math.min(CAP, INITIAL * 2 ** (k - 1));
    const expected = [1, 2, 3, 4, 5, 6, 7, 8].map((k) => (k === 7 ? 0 : full(k)));
    const report = `gaps ${gaps.map((g) => Math.round(g)).join(', ')} ms; expected at least ${expected.map((e) => Math.round(e)).join(', ')}`;
    for (let k = 0; k < 8; k++) {
      // never earlier than the delay drawn (a timer may fire a millisecond early)
      expect(gaps[k]!, report).toBeGreaterThanOrEqual(expected[k]! - 2);
      // capped: at most the cap plus slack (uncapped, the 6th and 8th would wait 3.2 s and 12.8 s)
      expect(gaps[k]!, report).toBeLessThan(CAP + SLACK);
    }
    // jittered: the attempt after a zero draw comes without the capped wait
    expect(gaps[6]!, report).toBeLessThan(SLACK);
    vi.restoreAllMocks();
    front.onAttempt = undefined;
    front.setMode('forward');
    const adapter = client.adapters.get('ws')!;
    await waitFor(() => adapter.health().detail?.connected === true);
  });
});

describe('served endpoints after a resync', () => {
  it('an endpoint the client served is served again on the new session', async () => {
    const { hub, gateway } = await startServer({ resumeWindowMs: 200 });
    const front = await startFront(gateway.port);
    const client = await startClient(`ws://127.0.0.1:${front.port}/`);
    const errors: HubError[] = [];
    client.on('error', (e) => errors.push(e as HubError));
    await client.onMessage('tasks', (m) => ({ done: m.payload }));
    const ask = (n: number, timeoutMs: number) =>
      hub
        .request(createMessage({ source: 's', destination: 'tasks', payload: n }), { timeoutMs })
        .then((r) => r.payload);
    expect(await ask(1, 5_000)).toEqual({ done: 1 });
    // away for longer than the resume window: the session and its serve are gone
    front.setMode('refuse');
    front.cut();
    await waitFor(() => gateway.metrics().sessions === 0);
    front.setMode('forward');
    await waitFor(() => errors.some((e) => e.code === WsErrorCode.RESYNC), {
      message: () => `errors: ${errors.map((e) => e.code).join(',')}`,
    });
    // the endpoint is back: a request from the server hub reaches the client's handler
    const reply = await waitFor(() => ask(2, 1_000).catch(() => undefined), {
      message: 'the endpoint served again',
    });
    expect(reply).toEqual({ done: 2 });
  });
});
