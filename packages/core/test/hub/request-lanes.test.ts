import { createMessage, createReply, ErrorCode, type HubError } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { RequestReply } from '../../src/hub/request-reply.js';
import type { MessageResult } from '../../src/hub/types.js';
import { quiet, timerCount } from './helpers.js';

/** A RequestReply whose sends go nowhere: the test answers (or not) by hand. */
function setup() {
  const sent: ReturnType<typeof createMessage>[] = [];
  const late = { n: 0 };
  const rr = new RequestReply({
    instanceId: 'lanes-test',
    logger: quiet,
    timeoutMs: 60_000,
    serve: async () => async () => {},
    sendRequest: (message) => {
      sent.push(message);
      return Promise.resolve({} as MessageResult);
    },
    sendReply: () => Promise.resolve({} as MessageResult),
    lateReply: () => {
      late.n++;
    },
  });
  return { rr, sent, late };
}

const request = () => createMessage({ source: 'a', destination: 'b', payload: 1 });

/** Until `n` requests were handed to the transport (the first waits for the inbox). */
async function sentCount(sent: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 1_000 && sent.length < n; i++) await new Promise((r) => setImmediate(r));
  expect(sent.length).toBe(n);
}

const made: RequestReply[] = [];
afterEach(() => {
  for (const rr of made.splice(0)) rr.rejectAll(new Error('test over'));
});

describe('request lanes (deadline bookkeeping)', () => {
  it('answers behind one slow request do not pile up, and the slow one still fails at its deadline', async () => {
    const { rr, sent, late } = setup();
    made.push(rr);
    const t0 = performance.now();
    const slow = rr.request(request(), 2_000).catch((e: unknown) => e as HubError);
    await sentCount(sent, 1);
    for (let i = 0; i < 2_000; i++) {
      const p = rr.request(request(), 2_000);
      rr.answer(createReply(sent.at(-1)!, { payload: i }));
      expect((await p).payload).toBe(i);
      // The slow request is the only one waiting: the lane keeps at most 2 × 1 + 32 more.
      expect(rr.held).toBeLessThanOrEqual(2 * 1 + 32 + 1);
    }
    const err = await slow;
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_999);
    expect(rr.waiting).toBe(0);
    expect(rr.held).toBe(0);
    // Its reply, arriving now, is late: dropped and counted.
    rr.answer(createReply(sent[0]!, { payload: 'late' }));
    expect(late.n).toBe(1);
  });

  it('a request answered twice resolves once; the second answer counts as late', async () => {
    const { rr, sent, late } = setup();
    made.push(rr);
    const p = rr.request(request(), 1_000);
    await sentCount(sent, 1);
    const reply = createReply(sent[0]!, { payload: 'x' });
    rr.answer(reply);
    rr.answer(reply);
    expect((await p).payload).toBe('x');
    expect(late.n).toBe(1);
  });

  it('timeouts of mixed lengths each fail at their own deadline; no timer is left behind', async () => {
    const { rr } = setup();
    made.push(rr);
    const before = timerCount();
    const t0 = performance.now();
    const took: Record<number, number> = {};
    await Promise.all(
      [120, 40, 80, 40, 120].map((ms) =>
        rr.request(request(), ms).catch((e: unknown) => {
          expect((e as HubError).code).toBe(ErrorCode.TIMEOUT);
          took[ms] = Math.max(took[ms] ?? 0, performance.now() - t0);
        }),
      ),
    );
    for (const ms of [40, 80, 120]) expect(took[ms]).toBeGreaterThanOrEqual(ms - 1);
    expect(rr.waiting).toBe(0);
    expect(timerCount()).toBeLessThanOrEqual(before);
  });

  it('the table of waiting requests drops answered ones in bulk: bounded, and an answered id can be asked again', async () => {
    const { rr, sent, late } = setup();
    made.push(rr);
    const slow = rr.request(request(), 60_000).catch((e: unknown) => e as HubError);
    await sentCount(sent, 1);
    const reused = request();
    for (let i = 0; i < 1_000; i++) {
      // The same message (same correlationId) again and again: each once the previous was answered.
      const p = rr.request(i % 2 === 0 ? reused : request(), 60_000);
      // Refused while one with its correlationId waits.
      if (i % 2 === 0) {
        await expect(rr.request(reused, 60_000)).rejects.toMatchObject({
          code: ErrorCode.INVALID_MESSAGE,
        });
      }
      rr.answer(createReply(sent.at(-1)!, { payload: i }));
      expect((await p).payload).toBe(i);
      expect(rr.waiting).toBe(1);
      // One request waits: at most 2 × 1 + 32 entries, answered ones included, and this one.
      expect(rr.tableSize).toBeLessThanOrEqual(2 * 1 + 32 + 1);
    }
    // An answer to an answered request is late, though its entry may still be in the table.
    rr.answer(createReply(sent.at(-1)!, { payload: 'again' }));
    expect(late.n).toBe(1);
    rr.rejectAll(new Error('closing'));
    expect(await slow).toMatchObject({ message: 'closing' });
    expect(rr.waiting).toBe(0);
    expect(rr.tableSize).toBe(0);
  });

  it('a second request under a waiting id is refused, with any timeout; the waiting one keeps its reply and deadline', async () => {
    const { rr, sent, late } = setup();
    made.push(rr);
    const before = timerCount();
    const t0 = performance.now();
    const m = request();
    const first = rr.request(m, 60).catch((e: unknown) => e as HubError);
    await sentCount(sent, 1);
    // Refused under its own timeout, another (a lane made for it), and an invalid one (refused as waiting first).
    for (const ms of [60, 90, -1]) {
      await expect(rr.request(m, ms)).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
    }
    await expect(rr.request(request(), -1)).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
    });
    expect(sent.length).toBe(1);
    expect(rr.waiting).toBe(1);
    expect(await first).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
    expect(rr.waiting).toBe(0);
    expect(rr.held).toBe(0);
    expect(timerCount()).toBeLessThanOrEqual(before);
    // Its reply, arriving now, is late; the id can be asked again and answered.
    rr.answer(createReply(sent[0]!, { payload: 'late' }));
    expect(late.n).toBe(1);
    const again = rr.request(m, 1_000);
    await sentCount(sent, 2);
    rr.answer(createReply(sent[1]!, { payload: 'ok' }));
    expect((await again).payload).toBe('ok');
  });

  it('a timeout whose lane emptied gets a new lane: the next request with it still fails at its deadline', async () => {
    const { rr } = setup();
    made.push(rr);
    const before = timerCount();
    // The lane of 30 ms empties (its one request times out) and leaves the map;
    // the request after it, with the same timeout, must land in a lane the
    // timer sweeps, not in the one remembered from before.
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      const err = await rr.request(request(), 30).catch((e: unknown) => e as HubError);
      expect(err).toMatchObject({ code: ErrorCode.TIMEOUT });
      expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
      expect(rr.held).toBe(0);
    }
    // After rejectAll (the hub closing) as well.
    const p = rr.request(request(), 30).catch((e: unknown) => e as Error);
    rr.rejectAll(new Error('closing'));
    expect(await p).toMatchObject({ message: 'closing' });
    const err = await rr.request(request(), 30).catch((e: unknown) => e as HubError);
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(rr.waiting).toBe(0);
    expect(timerCount()).toBeLessThanOrEqual(before);
  });
});
