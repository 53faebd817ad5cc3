import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { SUBPROTOCOL, type WsConnectionFigures } from '../src/index.js';
import { startServer } from './helpers.js';

type Frame = Record<string, unknown>;

/** A plain `ws` client that counts what it sends and receives, as the gateway should. */
async function countingClient(url: string) {
  const ws = new WebSocket(url, [SUBPROTOCOL]);
  const frames: Frame[] = [];
  const mine = { framesOut: 0, bytesOut: 0, framesIn: 0, bytesIn: 0 };
  ws.on('message', (data: Buffer) => {
    mine.framesIn++;
    mine.bytesIn += data.length;
    frames.push(JSON.parse(data.toString('utf8')));
  });
  ws.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const send = (frame: Frame) => {
    const text = JSON.stringify(frame);
    mine.framesOut++;
    mine.bytesOut += Buffer.byteLength(text);
    ws.send(text);
  };
  /** A ping answered: the gateway has read (and counted) everything sent before it. */
  const settle = async () => {
    const before = frames.filter((f) => f.type === 'pong').length;
    send({ type: 'ping' });
    await waitFor(() => frames.filter((f) => f.type === 'pong').length > before);
  };
  send({ type: 'hello', v: 1 });
  await waitFor(() => frames.some((f) => f.type === 'welcome'));
  return { ws, frames, mine, send, settle };
}

describe('per-connection figures', () => {
  it('inspect() and the health detail list each connection with its identity, frames, UTF-8 bytes, buffered bytes and unacked', async () => {
    const { hub, gateway } = await startServer({
      authenticate: (req) => ({
        id: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'nobody',
      }),
    });
    const inbox: unknown[] = [];
    await hub.onMessage('inbox', (m) => {
      inbox.push(m.payload);
    });
    const alice = await countingClient(`${gateway.url}?user=alice`);
    const bob = await countingClient(`${gateway.url}?user=bob`);

    // alice: a subscription, a delivery with non-ASCII text, a message sent with some too
    alice.send({ type: 'subscribe', id: 'sub-1', sub: 's1', pattern: 'news.*' });
    await waitFor(() => alice.frames.some((f) => f.type === 'ack' && f.id === 'sub-1'));
    await hub.publish(
      createEvent({ source: 'desk', topic: 'news.fr', data: 'déjà vu ✓ – ünïcödé' }),
    );
    const deliver = await waitFor(() => alice.frames.find((f) => f.type === 'deliver'));
    const byName = (name: string) =>
      gateway.inspect().connections.find((c) => c.identity === name) as WsConnectionFigures;
    expect(byName('alice').unacked).toBe(1);
    alice.send({ type: 'ack', seq: deliver.seq });
    const message = createMessage({ source: 'alice', destination: 'inbox', payload: 'grüße 👋' });
    alice.send({ type: 'message', id: message.id, envelope: message });
    await waitFor(() => alice.frames.some((f) => f.type === 'ack' && f.id === message.id));
    await alice.settle();
    // bob: only a ping and its pong
    await bob.settle();
    expect(inbox).toEqual(['grüße 👋']);

    await waitFor(() => gateway.metrics().bufferedBytes === 0);
    const a = byName('alice');
    const b = byName('bob');
    // what each client counted on its side of the wire, to the byte
    for (const [seen, client] of [
      [a, alice],
      [b, bob],
    ] as const) {
      expect(seen).toMatchObject({
        framesIn: client.mine.framesOut,
        bytesIn: client.mine.bytesOut,
        framesOut: client.mine.framesIn,
        bytesOut: client.mine.bytesIn,
        bufferedBytes: 0,
        unacked: 0,
        protocol: SUBPROTOCOL,
        ip: '127.0.0.1',
      });
      expect(typeof seen.session).toBe('string');
      expect(seen.connectedAt).toBeLessThanOrEqual(Date.now());
    }
    // the totals are the sum of the connections (no other connection was open)
    const totals = gateway.metrics();
    expect(totals.bytesIn).toBe(a.bytesIn + b.bytesIn);
    expect(totals.bytesOut).toBe(a.bytesOut + b.bytesOut);
    expect(totals.framesIn).toBe(a.framesIn + b.framesIn);
    expect(totals.framesOut).toBe(a.framesOut + b.framesOut);
    // non-ASCII text counted in UTF-8 bytes, not UTF-16 units
    expect(a.bytesOut).toBeGreaterThan(
      alice.frames.reduce((n, f) => n + JSON.stringify(f).length, 0),
    );

    // bounded: a limit lists that many and says how many it left out
    expect(gateway.inspect(1)).toMatchObject({ total: 2, omitted: 1 });
    expect(gateway.inspect(1).connections).toHaveLength(1);
    const detail = hub.health().components.ws?.detail as {
      perConnection: { total: number; connections: WsConnectionFigures[] };
    };
    expect(detail.perConnection.total).toBe(2);
    expect(detail.perConnection.connections.map((c) => c.identity).sort()).toEqual([
      'alice',
      'bob',
    ]);

    bob.ws.close();
    await waitFor(() => gateway.inspect().total === 1);
    expect(gateway.inspect().connections[0]?.identity).toBe('alice');
    alice.ws.close();
  });

  it('lists the most buffered connections first, so a limit keeps a peer that stopped reading in view', async () => {
    const { hub, gateway } = await startServer({
      maxBufferedBytes: 256 * 1024 * 1024,
      authenticate: (req) => ({
        id: new URL(req.url ?? '/', 'http://x').searchParams.get('user') ?? 'nobody',
      }),
    });
    const idle = await Promise.all(
      ['idle-1', 'idle-2', 'idle-3'].map((u) => countingClient(`${gateway.url}?user=${u}`)),
    );
    const slow = await countingClient(`${gateway.url}?user=slow`);
    slow.send({ type: 'subscribe', id: 'sub-1', sub: 's1', pattern: 'bulk.*' });
    await waitFor(() => slow.frames.some((f) => f.type === 'ack' && f.id === 'sub-1'));
    // it stops reading: what the gateway writes piles up in its send buffer
    (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const big = 'x'.repeat(256 * 1024);
    for (let i = 0; i < 100; i++) {
      await hub.publish(createEvent({ source: 's', topic: 'bulk.data', data: big }));
    }
    await waitFor(() => (gateway.inspect().connections[0]?.bufferedBytes ?? 0) > 0, {
      message: () => JSON.stringify(gateway.inspect().connections.map((c) => c.bufferedBytes)),
    });
    const first = gateway.inspect(1);
    expect(first.total).toBe(4);
    expect(first.omitted).toBe(3);
    expect(first.connections[0]?.identity).toBe('slow');
    const all = gateway.inspect().connections;
    expect(
      all
        .map((c) => c.identity)
        .slice(1)
        .sort(),
    ).toEqual(['idle-1', 'idle-2', 'idle-3']);
    expect(all.slice(1).every((c) => c.bufferedBytes === 0)).toBe(true);
    expect(gateway.inspect(0)).toEqual({ total: 4, omitted: 4, connections: [] });
    slow.ws.terminate();
    for (const c of idle) c.ws.close();
  });
});
