import {
  createEvent,
  createHub,
  createMessage,
  ErrorCode,
  type Hub,
  HubError,
  handOverPayload,
  jsonCodec,
  memory,
  type UnifiedMessage,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, quiet, waitFor } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});
function hubWith(shareObjects?: boolean): Hub {
  const hub = createHub({
    logger: quiet,
    adapters: [memory(shareObjects === undefined ? {} : { shareObjects })],
  });
  hubs.push(hub);
  return hub;
}
const msg = (
  payload: unknown,
  deliveryGuarantee: 'best-effort' | 'at-least-once' = 'at-least-once',
) => createMessage({ source: 'test', destination: 'ep', payload, deliveryGuarantee });

class Point {
  constructor(
    readonly x: number,
    readonly y: number,
  ) {}
}

/** What the JSON codec (every wire transport) says about a payload: the error it throws, or undefined. */
function wireError(payload: unknown): HubError | undefined {
  try {
    jsonCodec.encode(msg(payload));
    return undefined;
  } catch (err) {
    return err as HubError;
  }
}

/**
 * Two subscribers of `t.*`, each pushing its own index into the event's
 * `data.list` and keeping the data it got: a shared object shows as both pushes.
 */
async function twoSubscribersThatPush(hub: Hub): Promise<Array<{ list: number[] }>> {
  const got: Array<{ list: number[] }> = [];
  for (let i = 0; i < 2; i++) {
    await hub.subscribe('t.*', (e) => {
      const d = e.data as { list: number[] };
      d.list.push(i);
      got.push(d);
    });
  }
  return got;
}

describe('memory() behaves like the wire by default', () => {
  const refused: Array<[string, unknown]> = [
    ['a Map', { m: new Map([[1, 2]]) }],
    ['a Set', { s: new Set([1]) }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', { list: [1, Number.POSITIVE_INFINITY] }],
    ['a function', { f: () => 1 }],
    ['a class instance', { p: new Point(1, 2) }],
    ['too large', { s: 'x'.repeat(2_000_000) }],
  ];
  for (const [what, payload] of refused) {
    it(`refuses ${what} with the error the JSON codec gives`, async () => {
      const hub = hubWith();
      await hub.onMessage('ep', () => undefined);
      const expected = wireError(payload);
      expect(expected).toBeInstanceOf(HubError);
      for (const g of ['best-effort', 'at-least-once'] as const) {
        const err = (await hub.send(msg(payload, g)).catch((e: unknown) => e)) as HubError;
        expect(err).toBeInstanceOf(HubError);
        expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
        expect(err.code).toBe(expected!.code);
        expect(err.message).toBe(expected!.message);
      }
      // Events are held to the same rules.
      const evErr = (await hub
        .publish(createEvent({ source: 'test', topic: 't.x', data: payload }))
        .catch((e: unknown) => e)) as HubError;
      expect(evErr.code).toBe(ErrorCode.INVALID_MESSAGE);
    });
  }

  for (const guarantee of ['best-effort', 'at-least-once'] as const) {
    it(`the handler gets a copy it cannot share with the sender (${guarantee})`, async () => {
      const hub = hubWith();
      const got: UnifiedMessage[] = [];
      await hub.onMessage('ep', (m) => {
        got.push(m);
        (m.payload as { list: number[] }).list.push(99);
        (m.headers as Record<string, string>).h = 'changed';
      });
      const payload = {
        list: [1, 2],
        when: new Date(1_700_000_000_000),
        bytes: new Uint8Array([1, 2, 3]),
        big: 12345678901234567890n,
        nested: { a: { b: 'c' } },
      };
      const sent = createMessage({
        source: 'test',
        destination: 'ep',
        payload,
        headers: { h: 'original' },
        deliveryGuarantee: guarantee,
      });
      await hub.send(sent);
      await waitFor(() => got.length === 1, 'delivered');
      const p = got[0]!.payload as typeof payload;
      expect(p).not.toBe(payload);
      expect(payload.list).toEqual([1, 2]);
      expect(sent.headers).toEqual({ h: 'original' });
      // Date, Uint8Array and bigint survive as the JSON codec carries them.
      expect(p.when).toBeInstanceOf(Date);
      expect(p.when).not.toBe(payload.when);
      expect(p.when.getTime()).toBe(1_700_000_000_000);
      expect(p.bytes).toBeInstanceOf(Uint8Array);
      expect(p.bytes).not.toBe(payload.bytes);
      expect([...p.bytes]).toEqual([1, 2, 3]);
      expect(p.big).toBe(12345678901234567890n);
      expect(p.nested).toEqual({ a: { b: 'c' } });
      expect(p.nested).not.toBe(payload.nested);
      // The same as a wire round trip gives.
      const wire = jsonCodec.decode(jsonCodec.encode(sent)) as UnifiedMessage;
      expect({ ...p, list: [1, 2] }).toEqual(wire.payload);
    });
  }

  it('a change the sender makes after send does not reach a queued message', async () => {
    const hub = hubWith();
    const gate = deferred();
    const seen: number[] = [];
    await hub.onMessage(
      'ep',
      async (m) => {
        await gate.promise;
        seen.push((m.payload as { n: number }).n);
      },
      { concurrency: 1 },
    );
    const payload = { n: 0 };
    for (let i = 0; i < 3; i++) {
      payload.n = i;
      await hub.send(msg(payload));
    }
    gate.resolve();
    await waitFor(() => seen.length === 3, 'all handled');
    expect(seen).toEqual([0, 1, 2]);
  });

  it('each subscriber of an event gets its own copy', async () => {
    const hub = hubWith();
    const got = await twoSubscribersThatPush(hub);
    await hub.publish(createEvent({ source: 'test', topic: 't.a', data: { list: [0] } }));
    await waitFor(() => got.length === 2, 'both delivered');
    expect(got[0]).not.toBe(got[1]);
    expect(got.map((d) => d.list.length)).toEqual([2, 2]);
  });

  it('a payload handed over (handOverPayload) is taken as is, once; envelope and headers are still copied', async () => {
    const hub = hubWith();
    const got: UnifiedMessage[] = [];
    await hub.onMessage('ep', (m) => {
      got.push(m);
      (m.headers as Record<string, string>).h = 'changed';
    });
    const payload = { list: [1, 2], nested: { a: 'b' } };
    const sent = createMessage({
      source: 'test',
      destination: 'ep',
      payload,
      headers: { h: 'original' },
      deliveryGuarantee: 'best-effort',
    });
    await hub.send(handOverPayload(sent));
    await waitFor(() => got.length === 1, 'delivered');
    expect(got[0]!.payload).toBe(payload);
    expect(got[0]).not.toBe(sent);
    expect(sent.headers).toEqual({ h: 'original' });
    // The mark was used up: the same envelope sent again is copied as usual.
    await hub.send(sent);
    await waitFor(() => got.length === 2, 'delivered again');
    expect(got[1]!.payload).not.toBe(payload);
    expect(got[1]!.payload).toEqual(payload);
  });

  it('a payload handed over and broadcast to two adapters, one retried: the retry sends it as it was sent', async () => {
    let failures = 1;
    const b = memory({
      name: 'b',
      faults: { failSend: () => failures-- > 0 },
    });
    const hub = createHub({
      logger: quiet,
      adapters: [memory({ name: 'a' }), b],
      routes: [{ match: 'ep', strategy: 'broadcast', adapters: ['a', 'b'] }],
      sendRetry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 10 },
    });
    hubs.push(hub);
    const seen: number[][] = [];
    await hub.onMessage('ep', (m) => {
      const list = (m.payload as { list: number[] }).list;
      seen.push([...list]);
      list.push(99);
    });
    await hub.send(handOverPayload(msg({ list: [1] }, 'best-effort')));
    await waitFor(() => seen.length === 2, 'delivered by both adapters');
    expect(seen).toEqual([[1], [1]]);
  });

  it('a payload handed over is still checked as the wire checks it', async () => {
    const hub = hubWith();
    await hub.onMessage('ep', () => undefined);
    await hub.subscribe('t.*', () => undefined);
    const payload = { n: Number.NaN };
    const expected = wireError(payload)!;
    for (const g of ['best-effort', 'at-least-once'] as const) {
      const err = (await hub
        .send(handOverPayload(msg(payload, g)))
        .catch((e: unknown) => e)) as HubError;
      expect(err.code).toBe(ErrorCode.INVALID_MESSAGE);
      expect(err.message).toBe(expected.message);
    }
    const evErr = (await hub
      .publish(handOverPayload(createEvent({ source: 'test', topic: 't.x', data: payload })))
      .catch((e: unknown) => e)) as HubError;
    expect(evErr.code).toBe(ErrorCode.INVALID_MESSAGE);
  });

  it('a message handed over that the broker keeps (at-least-once): the handler gets a copy, the kept one stays as sent', async () => {
    const hub = hubWith();
    const got: unknown[] = [];
    await hub.onMessage('ep', (m) => {
      got.push(m.payload);
      (m.payload as { list: number[] }).list.push(99);
    });
    const payload = { list: [1] };
    await hub.send(handOverPayload(msg(payload, 'at-least-once')));
    await waitFor(() => got.length === 1, 'delivered');
    expect(got[0]).not.toBe(payload);
    expect(payload.list).toEqual([1]);
  });

  it('each subscriber of an event handed over gets its own copy', async () => {
    const hub = hubWith();
    const got = await twoSubscribersThatPush(hub);
    const data = { list: [0] };
    await hub.publish(handOverPayload(createEvent({ source: 'test', topic: 't.a', data })));
    await waitFor(() => got.length === 2, 'both delivered');
    expect(got[0]).not.toBe(got[1]);
    expect(got.map((d) => d.list.length)).toEqual([2, 2]);
  });

  it('memory({ shareObjects: true }) hands the sender’s payload over as is', async () => {
    const hub = hubWith(true);
    const got: unknown[] = [];
    await hub.onMessage('ep', (m) => {
      got.push(m.payload);
    });
    const payload = { m: new Map([[1, 2]]) };
    await hub.send(msg(payload));
    await waitFor(() => got.length === 1, 'delivered');
    expect(got[0]).toBe(payload);
  });

  it('shareObjects must be a boolean', () => {
    expect(() => memory({ shareObjects: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ code: ErrorCode.INVALID_CONFIG }),
    );
  });
});
