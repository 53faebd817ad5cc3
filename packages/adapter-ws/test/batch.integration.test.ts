import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage, type UnifiedMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { CloseCode, encodeFrame, WsErrorCode } from '../src/index.js';
import { startClient, startServer } from './helpers.js';
import { rawSession } from './raw.js';

const messageFrame = (m: UnifiedMessage) =>
  JSON.parse(encodeFrame({ type: 'message', id: m.id, envelope: m })) as Record<string, unknown>;

/** Every frame id a server frame confirms (an ack, an acks, or either inside a batch). */
function confirmedIds(frames: Array<Record<string, unknown>>): string[] {
  const out: string[] = [];
  for (const f of frames) {
    if (f.type === 'batch') out.push(...confirmedIds(f.frames as Array<Record<string, unknown>>));
    else if (f.type === 'ack') out.push(f.id as string);
    else if (f.type === 'acks') out.push(...(f.ids as string[]));
  }
  return out;
}

function deliveries(frames: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return frames.flatMap((f) =>
    f.type === 'batch'
      ? deliveries(f.frames as Array<Record<string, unknown>>)
      : f.type === 'deliver'
        ? [f]
        : [],
  );
}

function errorsIn(frames: Array<Record<string, unknown>>): Array<Record<string, unknown>> {
  return frames.flatMap((f) =>
    f.type === 'batch'
      ? errorsIn(f.frames as Array<Record<string, unknown>>)
      : f.type === 'error'
        ? [f]
        : [],
  );
}

describe('batch frames (the negotiated batch feature)', () => {
  it('our client sends the frames of one turn as one batch frame, and every send is confirmed', async () => {
    const { hub, gateway } = await startServer();
    const got: unknown[] = [];
    await hub.onMessage('batch.in', (m) => {
      got.push(m.payload);
    });
    const client = await startClient(gateway.url);
    const before = gateway.metrics().framesIn;
    // 200 sends in one turn: one frame each without batching
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        client.send(createMessage({ source: 'c', destination: 'batch.in', payload: i })),
      ),
    );
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(gateway.metrics().framesIn - before).toBeLessThanOrEqual(3);
  });

  it('the server batches only for a client that listed the feature; one that did not (written before it) never sees a batch', async () => {
    const { hub, gateway } = await startServer();
    const old = await rawSession(gateway.url);
    const neu = await rawSession(gateway.url, { features: ['batch'] });
    await waitFor(() => old.frames.length >= 1 && neu.frames.length >= 1);
    expect(old.frames[0]).toMatchObject({ type: 'welcome', features: ['batch'] });
    for (const s of [old, neu])
      s.send({ type: 'subscribe', id: 'c1', sub: 's1', pattern: 'batch.news' });
    await waitFor(
      () => confirmedIds(old.frames).includes('c1') && confirmedIds(neu.frames).includes('c1'),
    );
    // events published in one turn reach each client in that turn
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        hub.publish(createEvent({ source: 'srv', topic: 'batch.news', data: i })),
      ),
    );
    await waitFor(
      () => deliveries(old.frames).length === 20 && deliveries(neu.frames).length === 20,
    );
    expect(deliveries(neu.frames).map((d) => (d.envelope as { data: number }).data)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    expect(old.frames.some((f) => f.type === 'batch')).toBe(false);
    expect(neu.frames.some((f) => f.type === 'batch')).toBe(true);
    old.ws.terminate();
    neu.ws.terminate();
  });

  it('a bad frame inside a batch is refused by its id while the others go through', async () => {
    const { hub, gateway } = await startServer();
    const got: unknown[] = [];
    await hub.onMessage('batch.mixed', (m) => {
      got.push(m.payload);
    });
    const raw = await rawSession(gateway.url, { features: ['batch'] });
    await waitFor(() => raw.frames.length >= 1);
    const a = createMessage({ source: 'raw', destination: 'batch.mixed', payload: 'a' });
    const c = createMessage({ source: 'raw', destination: 'batch.mixed', payload: 'c' });
    raw.send({
      type: 'batch',
      frames: [
        messageFrame(a),
        { type: 'message', id: 'bad-1', envelope: { kind: 'message' } },
        messageFrame(c),
      ],
    });
    await waitFor(() => confirmedIds(raw.frames).length >= 2 && errorsIn(raw.frames).length >= 1);
    expect(got).toEqual(['a', 'c']);
    expect(confirmedIds(raw.frames).sort()).toEqual([a.id, c.id].sort());
    expect(errorsIn(raw.frames)).toMatchObject([
      { type: 'error', id: 'bad-1', code: 'HUB_INVALID_MESSAGE' },
    ]);
    // a malformed batch is one error frame naming the field; the connection carries on
    raw.send({ type: 'batch', frames: [] });
    await waitFor(() => errorsIn(raw.frames).length >= 2);
    expect(errorsIn(raw.frames)[1]).toMatchObject({
      code: WsErrorCode.BAD_FRAME,
      message: expect.stringMatching(/'frames'/),
    });
    raw.send({ type: 'ping' });
    await waitFor(() => raw.frames.some((f) => f.type === 'pong'));
    raw.ws.terminate();
  });

  it('every frame of a batch counts against the rate limit', async () => {
    const { gateway } = await startServer({ rateLimit: 1, rateBurst: 5 });
    const raw = await rawSession(gateway.url, { features: ['batch'] });
    await waitFor(() => raw.frames.length >= 1);
    raw.send({ type: 'batch', frames: Array.from({ length: 10 }, () => ({ type: 'ping' })) });
    expect((await raw.closed).code).toBe(CloseCode.POLICY_VIOLATION);
    expect(gateway.metrics().cut.rate).toBe(1);
  });
});
