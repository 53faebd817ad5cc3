import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@hub/adapter-test-suite';
import { createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { encodeFrame } from '../src/index.js';
import { startClient, track } from './helpers.js';

/**
 * A server from the protocol document (no features) that, on the resume,
 * says it still waits for settlements the client already sent on the old
 * link, and for one seq the client never saw.
 */
describe('settlements lost with the link', () => {
  it('a resumed client sends again the ack or nack the server still waits for, and nacks a seq it never saw', async () => {
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
    track({ close: () => new Promise<void>((r) => wss.close(() => r())) });
    await once(wss, 'listening');
    const links: Array<Array<Record<string, unknown>>> = [];
    let sub: string | undefined;
    wss.on('connection', (ws) => {
      const seen: Array<Record<string, unknown>> = [];
      links.push(seen);
      const first = links.length === 1;
      ws.on('message', (d) => {
        const frame = JSON.parse(String(d)) as Record<string, unknown>;
        seen.push(frame);
        if (frame.type === 'hello') {
          ws.send(
            JSON.stringify({
              type: 'welcome',
              v: 1,
              session: 'sess-1',
              resumed: !first,
              window: 16,
              pingIntervalMs: 15_000,
              // on the resume: 1 (acked) and 2 (nacked) were settled on the old
              // link but never arrived; 9 was never delivered to this client
              ...(first ? {} : { unacked: [1, 2, 9] }),
            }),
          );
        } else if (frame.type === 'serve') {
          sub = frame.sub as string;
          ws.send(JSON.stringify({ type: 'ack', id: frame.id }));
          for (const [seq, payload] of [
            [1, 'ok'],
            [2, 'refuse'],
          ] as const) {
            const m = createMessage({ source: 's', destination: 'lost.acks', payload });
            ws.send(encodeFrame({ type: 'deliver', seq, sub, attempt: 1, envelope: m }));
          }
        }
      });
    });
    const { port } = wss.address() as AddressInfo;
    const client = await startClient(`ws://127.0.0.1:${port}/`);
    const handled: unknown[] = [];
    await client.onMessage(
      'lost.acks',
      (m) => {
        handled.push(m.payload);
        if (m.payload === 'refuse') throw new Error('not now');
      },
      { maxDeliveries: 1 },
    );
    const settlements = (frames: Array<Record<string, unknown>>) =>
      frames.filter((f) => f.type === 'ack' || f.type === 'nack');
    await waitFor(() => settlements(links[0] ?? []).length >= 2, { timeoutMs: 20_000 });
    const before = settlements(links[0]!);
    expect(before).toContainEqual({ type: 'ack', seq: 1 });
    const nack = before.find((f) => f.seq === 2);
    expect(nack?.type).toBe('nack');
    // the link drops (not a clean close): the client resumes on a new one
    for (const ws of wss.clients) ws.terminate();
    await waitFor(() => settlements(links[1] ?? []).length >= 3, { timeoutMs: 20_000 });
    const after = settlements(links[1]!);
    expect(links[1]![0]).toMatchObject({ type: 'hello', session: 'sess-1', last: 2 });
    expect(after).toContainEqual({ type: 'ack', seq: 1 });
    // the same nack as before, word for word
    expect(after.find((f) => f.seq === 2)).toEqual(nack);
    expect(after).toContainEqual({ type: 'nack', seq: 9, reason: 'lost on reconnect' });
    // nothing handled twice: the resume sent settlements, not deliveries
    expect(handled).toEqual(['ok', 'refuse']);
  });
});
