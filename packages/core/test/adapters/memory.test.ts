import { ErrorCode, HubError, type UnifiedMessage } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import type { InboundDelivery } from '../../src/adapter/contract.js';
import { createMemoryBroker, type MemoryAdapter, memory } from '../../src/adapters/memory.js';
import {
  closeAll,
  collect,
  evt,
  msg,
  mulberry32,
  open,
  settleTurns,
  waitFor,
} from './memory-helpers.js';

const opened: MemoryAdapter[] = [];
afterEach(() => closeAll(opened));

const payloadOf = (d: InboundDelivery): unknown =>
  d.envelope.kind === 'message' ? d.envelope.payload : d.envelope.data;

describe('memory adapter: shape', () => {
  it('declares its capabilities and name', () => {
    const a = memory();
    expect(a.name).toBe('memory');
    expect(memory({ name: 'mem2' }).name).toBe('mem2');
    expect(a.capabilities).toMatchObject({
      persistent: false,
      ordered: true,
      broadcast: true,
      patterns: true,
      consumerGroups: true,
    });
    expect([...a.capabilities.guarantees].sort()).toEqual(
      ['at-least-once', 'best-effort', 'exactly-once', 'ordered'].sort(),
    );
  });

  it('rejects bad options and bad subscriptions with typed errors naming the field', async () => {
    expect(() => memory({ maxQueueLength: 0 })).toThrow(/maxQueueLength/);
    expect(() => memory({ faults: { drop: 2 } })).toThrow(/faults\.drop/);
    const broker = createMemoryBroker();
    expect(() => memory({ broker, maxQueueLength: 5 })).toThrow(/createMemoryBroker/);
    expect(() => memory({ broker: { ...broker } })).toThrow(/createMemoryBroker/);
    const { adapter } = await open({}, opened);
    await expect(
      adapter.subscribe({
        kind: 'endpoint',
        address: 'x',
        prefetch: 0,
        maxDeliveries: 3,
        deliver: () => {},
        reject: () => {},
      }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_CONFIG, message: /prefetch/ });
    await expect(
      adapter.subscribe({
        kind: 'topic',
        address: 'a.b*',
        prefetch: 1,
        maxDeliveries: 3,
        deliver: () => {},
        reject: () => {},
      }),
    ).rejects.toMatchObject({ code: 'HUB_INVALID_PATTERN' });
    await expect(adapter.send(null as unknown as UnifiedMessage)).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE,
    });
    await expect(
      adapter.send({ ...msg('x', 1), kind: 'bogus' } as unknown as UnifiedMessage),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_MESSAGE, message: /kind/ });
  });

  it('delivers a shallow copy with attempt set, never the sender object', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'w' });
    const m = msg('w', { deep: true });
    m.headers = { h: 'v' };
    const result = await adapter.send(m);
    expect(result.protocol).toBe('memory');
    await waitFor(() => c.got.length === 1, 'delivery');
    const d = c.got[0] as InboundDelivery;
    expect(d.envelope).not.toBe(m);
    expect(d.envelope).toEqual(m);
    expect(d.attempt).toBe(1);
    expect((d.envelope as UnifiedMessage).attempt).toBe(1);
  });

  it('never delivers synchronously inside send, and a handler that sends does not recurse', async () => {
    const { adapter } = await open({}, opened);
    let inSend = false;
    let reentered = false;
    let count = 0;
    const total = 20_000;
    await adapter.subscribe({
      kind: 'endpoint',
      address: 'loop',
      prefetch: 10,
      maxDeliveries: 3,
      reject: () => {},
      deliver: (d) => {
        if (inSend) reentered = true;
        d.ack();
        count++;
        if (count < total) {
          inSend = true;
          void adapter.send(msg('loop', count));
          inSend = false;
        }
      },
    });
    inSend = true;
    void adapter.send(msg('loop', 0));
    inSend = false;
    await waitFor(() => count === total, 'the self-feeding chain to finish');
    expect(reentered).toBe(false);
  });
});

describe('memory adapter: endpoints and groups', () => {
  it('competing consumers share: each message handled by exactly one instance', async () => {
    const { adapter } = await open({}, opened);
    const consumers = await Promise.all(
      [0, 1, 2].map(() => collect(adapter, { kind: 'endpoint', address: 'worker', prefetch: 4 })),
    );
    const n = 3000;
    await Promise.all(Array.from({ length: n }, (_, i) => adapter.send(msg('worker', i))));
    await waitFor(() => consumers.reduce((s, c) => s + c.got.length, 0) >= n, 'all deliveries');
    await settleTurns();
    const all = consumers.flatMap((c) => c.payloads()) as number[];
    expect(all.length).toBe(n);
    expect(new Set(all).size).toBe(n);
    for (const c of consumers) expect(c.got.length).toBeGreaterThan(0);
  });

  it('two groups of one endpoint each receive everything; nothing leaks across destinations', async () => {
    const { adapter } = await open({}, opened);
    const g1a = await collect(adapter, { kind: 'endpoint', address: 'orders', group: 'billing' });
    const g1b = await collect(adapter, { kind: 'endpoint', address: 'orders', group: 'billing' });
    const g2 = await collect(adapter, { kind: 'endpoint', address: 'orders', group: 'shipping' });
    const other = await collect(adapter, { kind: 'endpoint', address: 'payments' });
    for (let i = 0; i < 200; i++) await adapter.send(msg('orders', i));
    await adapter.send(msg('payments', 'p'));
    await waitFor(
      () => g1a.got.length + g1b.got.length === 200 && g2.got.length === 200,
      'both groups',
    );
    await waitFor(() => other.got.length === 1, 'payments');
    await settleTurns();
    expect(new Set([...g1a.payloads(), ...g1b.payloads()]).size).toBe(200);
    expect(g2.payloads()).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(other.payloads()).toEqual(['p']);
  });

  it('several hubs share one broker: instances in different adapters compete', async () => {
    const broker = createMemoryBroker();
    const { adapter: a } = await open({ broker }, opened);
    const { adapter: b } = await open({ broker, name: 'memory-b' }, opened);
    const ca = await collect(a, { kind: 'endpoint', address: 'svc', prefetch: 1 });
    const cb = await collect(b, { kind: 'endpoint', address: 'svc', prefetch: 1 });
    for (let i = 0; i < 100; i++) await a.send(msg('svc', i));
    await waitFor(() => ca.got.length + cb.got.length === 100, 'all');
    expect(ca.got.length).toBeGreaterThan(0);
    expect(cb.got.length).toBeGreaterThan(0);
    expect(new Set([...ca.payloads(), ...cb.payloads()]).size).toBe(100);
    // Private brokers are isolated.
    const { adapter: p } = await open({}, opened);
    await expect(p.send(msg('svc', 'private', { guarantee: 'best-effort' }))).rejects.toMatchObject(
      {
        code: 'HUB_NO_RECEIVER',
      },
    );
    await settleTurns();
    expect(ca.got.length + cb.got.length).toBe(100);
    expect(p.health().detail?.droppedNoConsumer).toBe(1);
  });

  it('best-effort with no consumer fails with HUB_NO_RECEIVER and is counted; at-least-once waits for a consumer', async () => {
    const { adapter } = await open({}, opened);
    // The broker knows nobody got it: the send says so instead of succeeding.
    await expect(
      adapter.send(msg('nobody', 'lost', { guarantee: 'best-effort' })),
    ).rejects.toMatchObject({
      code: 'HUB_NO_RECEIVER',
      message: expect.stringContaining('"nobody": no receiver'),
    });
    expect(adapter.health().detail).toMatchObject({ droppedNoConsumer: 1, dropped: 1 });
    await adapter.send(msg('later', 'kept-1'));
    await adapter.send(msg('later', 'kept-2', { guarantee: 'exactly-once' }));
    expect(adapter.health().detail).toMatchObject({ queued: 2 });
    // The first consumer to come takes the backlog, whatever its group name.
    const c = await collect(adapter, { kind: 'endpoint', address: 'later', group: 'workers' });
    await waitFor(() => c.got.length === 2, 'backlog');
    expect(c.payloads()).toEqual(['kept-1', 'kept-2']);
    expect(adapter.health().detail).toMatchObject({ queued: 0, inflight: 0, groups: 1 });
  });

  it('a refused send is counted and recorded as any BaseAdapter records it; a routing crash is final', async () => {
    const { adapter } = await open({}, opened);
    await expect(
      adapter.send(msg('nobody', 1, { guarantee: 'best-effort' })),
    ).rejects.toMatchObject({ code: 'HUB_NO_RECEIVER' });
    expect(adapter.health().lastError).toMatch(/"nobody": no receiver/);
    // What the broker throws (not returns) while routing is a bug: not worth a retry.
    await collect(adapter, { kind: 'topic', address: 'orders.*' });
    const topicless = { ...evt('x', 1), topic: 42 } as unknown as UnifiedMessage;
    await expect(adapter.send(topicless)).rejects.toMatchObject({
      code: ErrorCode.ADAPTER_FAILED,
      retryable: false,
      message: expect.stringMatching(/^\[hub:memory\] send failed: /),
    });
    expect(adapter.health().detail).toMatchObject({ sent: 0, sendFailures: 2 });
  });
});

describe('memory adapter: topics', () => {
  it('fans out to every matching pattern, shares within a named group, leaks nothing', async () => {
    const { adapter } = await open({}, opened);
    const star = await collect(adapter, { kind: 'topic', address: 'orders.*' });
    const globstar = await collect(adapter, { kind: 'topic', address: 'orders.**' });
    const hash = await collect(adapter, { kind: 'topic', address: '#' });
    const exact = await collect(adapter, { kind: 'topic', address: 'orders.eu.created' });
    const users = await collect(adapter, { kind: 'topic', address: 'users.*' });
    const shared1 = await collect(adapter, { kind: 'topic', address: 'orders.*', group: 'audit' });
    const shared2 = await collect(adapter, { kind: 'topic', address: 'orders.*', group: 'audit' });
    const topics = [
      'orders',
      'orders.eu',
      'orders.us',
      'orders.eu.created',
      'users.signup',
      'misc',
    ];
    for (const t of topics) await adapter.send(evt(t, t));
    await waitFor(() => hash.got.length === topics.length, 'catch-all');
    await settleTurns();
    expect(star.payloads()).toEqual(['orders.eu', 'orders.us']);
    expect(globstar.payloads()).toEqual(['orders', 'orders.eu', 'orders.us', 'orders.eu.created']);
    expect(hash.payloads()).toEqual(topics);
    expect(exact.payloads()).toEqual(['orders.eu.created']);
    expect(users.payloads()).toEqual(['users.signup']);
    expect([...shared1.payloads(), ...shared2.payloads()].sort()).toEqual([
      'orders.eu',
      'orders.us',
    ]);
    // Each subscriber has its own copy.
    expect(star.got[0]?.envelope).not.toBe(hash.got[1]?.envelope);
  });

  it('an event nobody matches is counted, and a closed private subscription stops receiving', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'topic', address: 'a.*' });
    await adapter.send(evt('b.x', 1));
    await adapter.send(evt('a.x', 2));
    await waitFor(() => c.got.length === 1, 'a.x');
    expect(adapter.health().detail?.eventsUnmatched).toBe(1);
    await c.sub.close();
    await adapter.send(evt('a.y', 3));
    await settleTurns();
    expect(c.payloads()).toEqual([2]);
    expect(adapter.health().detail?.groups).toBe(0);
  });
});

describe('memory adapter: flow control and settling', () => {
  it('prefetch 1: the next message waits for the ack, then arrives promptly', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'fc', prefetch: 1 }, () => {});
    await adapter.send(msg('fc', 1));
    await adapter.send(msg('fc', 2));
    await waitFor(() => c.got.length === 1, 'first');
    await settleTurns(10);
    expect(c.got.length).toBe(1);
    expect(adapter.health().detail).toMatchObject({ inflight: 1, queued: 1 });
    c.got[0]?.ack();
    await waitFor(() => c.got.length === 2, 'second after ack');
    expect(c.payloads()).toEqual([1, 2]);
  });

  it('first settle wins; ack and nack return void (no promise)', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 's' }, () => {});
    await adapter.send(msg('s', 1));
    await waitFor(() => c.got.length === 1, 'delivery');
    const d = c.got[0] as InboundDelivery;
    expect(d.ack()).toBeUndefined();
    expect(d.nack()).toBeUndefined();
    await d.deadLetter('late');
    await settleTurns();
    expect(c.got.length).toBe(1);
    expect(await adapter.readDeadLetters('s')).toEqual([]);
    expect(adapter.health().detail).toMatchObject({ inflight: 0, queued: 0 });
  });

  it('nack redelivers with attempt + 1 (envelope too)', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'n' }, (d) => {
      if (d.attempt < 3) d.nack();
      else d.ack();
    });
    await adapter.send(msg('n', 'x'));
    await waitFor(() => c.got.length === 3, 'three attempts');
    await settleTurns();
    expect(c.got.map((d) => d.attempt)).toEqual([1, 2, 3]);
    expect(c.got.map((d) => (d.envelope as UnifiedMessage).attempt)).toEqual([1, 2, 3]);
    expect(adapter.health().detail).toMatchObject({ inflight: 0, queued: 0 });
  });

  it('a nacked message goes to the front of its priority level', async () => {
    const { adapter } = await open({}, opened);
    let nacked = false;
    const c = await collect(adapter, { kind: 'endpoint', address: 'front', prefetch: 1 }, (d) => {
      if (payloadOf(d) === 'a' && !nacked) {
        nacked = true;
        d.nack();
      } else d.ack();
    });
    await Promise.all(['a', 'b', 'c'].map((p) => adapter.send(msg('front', p))));
    await waitFor(() => c.got.length === 4, 'all');
    expect(c.payloads()).toEqual(['a', 'a', 'b', 'c']);
  });

  it('nack with delayMs redelivers no sooner than the delay', async () => {
    const { adapter } = await open({}, opened);
    let nackedAt = 0;
    let redeliveredAt = 0;
    const c = await collect(adapter, { kind: 'endpoint', address: 'nd' }, (d) => {
      if (d.attempt === 1) {
        nackedAt = performance.now();
        d.nack({ delayMs: 80 });
      } else {
        redeliveredAt = performance.now();
        d.ack();
      }
    });
    await adapter.send(msg('nd', 1));
    await waitFor(() => c.got.length === 1, 'first');
    await settleTurns(5);
    expect(c.got.length).toBe(1);
    expect(adapter.health().detail).toMatchObject({ delayed: 1, inflight: 0 });
    await waitFor(() => c.got.length === 2, 'delayed redelivery');
    // timers may fire a hair early, never much earlier
    expect(redeliveredAt - nackedAt).toBeGreaterThanOrEqual(75);
    expect(c.got[1]?.attempt).toBe(2);
    expect(adapter.health().detail).toMatchObject({ delayed: 0 });
  });

  it('deadLetter lands in readDeadLetters with reason and attempts, then frees the slot', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'poison', prefetch: 1 }, (d) => {
      if (d.attempt < 3) d.nack();
      else void d.deadLetter(`bad payload ${String(payloadOf(d))}`);
    });
    const m1 = msg('poison', 1);
    const m2 = msg('poison', 2);
    await adapter.send(m1);
    await adapter.send(m2);
    await waitFor(() => c.got.length === 6, 'six attempts');
    const dl = await adapter.readDeadLetters('poison');
    expect(dl.map((e) => [e.envelope.id, e.reason, e.attempts])).toEqual([
      [m1.id, 'bad payload 1', 3],
      [m2.id, 'bad payload 2', 3],
    ]);
    expect(typeof dl[0]?.deadLetteredAt).toBe('number');
    // The core retries locally and passes its own count; the DLQ records it.
    const c2 = await collect(adapter, { kind: 'endpoint', address: 'poison2' }, (d) => {
      void d.deadLetter('core gave up', 7);
    });
    await adapter.send(msg('poison2', 1));
    await waitFor(() => c2.got.length === 1, 'poison2');
    await waitFor(() => adapter.health().detail?.deadLetters === 3, 'third dead letter');
    expect((await adapter.readDeadLetters('poison2'))[0]?.attempts).toBe(7);
    expect(await adapter.readDeadLetters('poison', 1)).toHaveLength(1);
    expect(await adapter.readDeadLetters('poison', 0)).toEqual([]);
    expect(await adapter.readDeadLetters('poison', Number.NaN)).toEqual([]);
    expect(await adapter.readDeadLetters('elsewhere')).toEqual([]);
    expect(adapter.health().detail).toMatchObject({ deadLetters: 3, inflight: 0, queued: 0 });
  });

  it('the dead-letter queue is bounded: oldest dropped and counted', async () => {
    const { adapter } = await open({ maxDeadLetters: 3 }, opened);
    await collect(adapter, { kind: 'endpoint', address: 'dlq' }, (d) => {
      void d.deadLetter('no');
    });
    for (let i = 0; i < 5; i++) await adapter.send(msg('dlq', i));
    await waitFor(() => adapter.health().detail?.deadLettersDropped === 2, 'dlq trimming');
    const dl = await adapter.readDeadLetters('dlq');
    expect(dl.map((e) => (e.envelope as UnifiedMessage).payload)).toEqual([2, 3, 4]);
  });

  it('a deliver callback that throws is reported, retried, then dead-lettered at maxDeliveries', async () => {
    const { adapter, ctx } = await open({}, opened);
    let calls = 0;
    await adapter.subscribe({
      kind: 'endpoint',
      address: 'boom',
      prefetch: 1,
      maxDeliveries: 3,
      reject: () => {},
      deliver: () => {
        calls++;
        throw new Error('kaput');
      },
    });
    await adapter.send(msg('boom', 1));
    await waitFor(() => calls === 3, 'three calls');
    await waitFor(() => adapter.health().detail?.deadLetters === 1, 'dead letter');
    const [entry] = await adapter.readDeadLetters('boom');
    expect(entry?.reason).toMatch(/kaput/);
    expect(ctx.errors.length).toBe(3);
  });

  it('closing a subscription requeues its unsettled deliveries to another consumer; its late settles are ignored', async () => {
    const { adapter } = await open({}, opened);
    const first = await collect(
      adapter,
      { kind: 'endpoint', address: 'cl', prefetch: 5 },
      () => {},
    );
    for (let i = 0; i < 5; i++) await adapter.send(msg('cl', i));
    await waitFor(() => first.got.length === 5, 'held by first');
    const second = await collect(
      adapter,
      { kind: 'endpoint', address: 'cl', prefetch: 10 },
      () => {},
    );
    await first.sub.close();
    await first.sub.close(); // idempotent
    await waitFor(() => second.got.length === 5, 'requeued to second');
    expect(second.payloads()).toEqual([0, 1, 2, 3, 4]);
    expect(second.got.map((d) => d.attempt)).toEqual([2, 2, 2, 2, 2]);
    // The closed subscription's settles change nothing.
    for (const d of first.got) d.ack();
    (first.got[0] as InboundDelivery).nack();
    await settleTurns();
    expect(adapter.health().detail).toMatchObject({ inflight: 5, queued: 0 });
    for (const d of second.got) d.ack();
    expect(adapter.health().detail).toMatchObject({ inflight: 0, queued: 0 });
    await adapter.send(msg('cl', 'after'));
    await waitFor(() => second.got.length === 6, 'new message to second only');
    expect(first.got.length).toBe(5);
  });
});

describe('memory adapter: churn', () => {
  it('subscribers come and go mid-stream (some close inside their handler): every message ends acked, nothing left', async () => {
    const { adapter } = await open({}, opened);
    const rnd = mulberry32(77);
    const acked = new Map<unknown, number>();
    const subs = new Set<{ close(): Promise<void> }>();
    const subscribe = async (): Promise<void> => {
      let handled = 0;
      const c = await collect(adapter, { kind: 'endpoint', address: 'churn', prefetch: 4 }, (d) => {
        handled++;
        const settle = (): void => {
          acked.set(payloadOf(d), (acked.get(payloadOf(d)) ?? 0) + 1);
          d.ack();
        };
        if (rnd() < 0.5) settle();
        else setTimeout(settle, Math.floor(rnd() * 3));
        // now and then a consumer quits from inside its own handler
        if (handled === 7) void c.sub.close().then(() => subs.delete(c.sub));
      });
      subs.add(c.sub);
    };
    for (let i = 0; i < 3; i++) await subscribe();
    const n = 2000;
    for (let i = 0; i < n; i++) {
      await adapter.send(msg('churn', i));
      if (i % 50 === 0) {
        const victim = [...subs][Math.floor(rnd() * subs.size)];
        if (victim !== undefined) {
          subs.delete(victim);
          await victim.close();
        }
        await subscribe();
      }
    }
    await waitFor(() => acked.size === n, 'every message acked', 30_000);
    // Acks from closed subscriptions are ignored, so what counts is the adapter's view.
    await waitFor(() => adapter.health().detail?.inflight === 0, 'nothing in flight');
    expect(adapter.health().detail?.queued).toBe(0);
    await Promise.all([...subs].map((s) => s.close()));
  });
});

describe('memory adapter: ordering and priorities', () => {
  it('ordered: 1,000 messages over 16 keys with 2 consumers and random ack delays keep per-key order', async () => {
    const { adapter } = await open({}, opened);
    const rnd = mulberry32(1234);
    const seen = new Map<string, number[]>();
    const inflightPerKey = new Map<string, number>();
    let maxPerKey = 0;
    let received = 0;
    const handler = (d: InboundDelivery): void => {
      const m = d.envelope as UnifiedMessage<{ key: string; seq: number }>;
      const key = m.payload.key;
      const now = (inflightPerKey.get(key) ?? 0) + 1;
      inflightPerKey.set(key, now);
      maxPerKey = Math.max(maxPerKey, now);
      const list = seen.get(key) ?? [];
      list.push(m.payload.seq);
      seen.set(key, list);
      received++;
      setTimeout(
        () => {
          inflightPerKey.set(key, (inflightPerKey.get(key) ?? 1) - 1);
          d.ack();
        },
        Math.floor(rnd() * 3),
      );
    };
    const subA = await collect(adapter, { kind: 'endpoint', address: 'ord', prefetch: 8 }, handler);
    const subB = await collect(adapter, { kind: 'endpoint', address: 'ord', prefetch: 8 }, handler);
    const n = 1000;
    const sent = new Map<string, number[]>();
    for (let i = 0; i < n; i++) {
      const key = `k${i % 16}`;
      const seq = (sent.get(key) ?? []).length;
      sent.set(key, [...(sent.get(key) ?? []), seq]);
      // mixed priorities must not break per-key order
      await adapter.send(
        msg(
          'ord',
          { key, seq },
          { guarantee: 'ordered', partitionKey: key, priority: (1 + (i % 5)) as 1 },
        ),
      );
    }
    await waitFor(() => received === n, `${n} ordered deliveries`, 30_000);
    await waitFor(() => adapter.health().detail?.inflight === 0, 'all acked');
    expect(maxPerKey).toBe(1);
    for (const [key, seqs] of sent) expect(seen.get(key), key).toEqual(seqs);
    expect(subA.got.length).toBeGreaterThan(0);
    expect(subB.got.length).toBeGreaterThan(0);
  });

  it('ordered: a nacked head is redelivered before the next message of its key; the default key is the destination', async () => {
    const { adapter } = await open({}, opened);
    let nacks = 0;
    const c = await collect(adapter, { kind: 'endpoint', address: 'oq', prefetch: 10 }, (d) => {
      // settle later, so without lanes the rest would overtake the head
      setTimeout(() => {
        if (payloadOf(d) === 0 && nacks < 2) {
          nacks++;
          d.nack();
        } else d.ack();
      }, 1);
    });
    // all queued before the first drain, so the lane (not send timing) keeps the order
    await Promise.all(
      [0, 1, 2, 3].map((i) => adapter.send(msg('oq', i, { guarantee: 'ordered' }))),
    );
    await waitFor(() => c.got.length === 6, 'all');
    expect(c.payloads()).toEqual([0, 0, 0, 1, 2, 3]);
  });

  it('ordered: a dead-lettered head releases the next of its key', async () => {
    const { adapter } = await open({}, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'od' }, (d) => {
      setTimeout(() => {
        if (payloadOf(d) === 0) void d.deadLetter('skip');
        else d.ack();
      }, 1);
    });
    await Promise.all(
      [0, 1, 2].map((i) => adapter.send(msg('od', i, { guarantee: 'ordered', partitionKey: 'k' }))),
    );
    await waitFor(() => c.got.length === 3, 'all');
    expect(c.payloads()).toEqual([0, 1, 2]);
    await waitFor(() => adapter.health().detail?.inflight === 0, 'settled');
    expect((await adapter.readDeadLetters('od')).length).toBe(1);
  });

  it('under backlog higher priority goes first, and the starvation guard lets the lowest progress', async () => {
    const broker = createMemoryBroker({ starvationLimit: 4 });
    const { adapter } = await open({ broker }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'prio', prefetch: 1 }, () => {});
    await adapter.send(msg('prio', 'blocker', { priority: 3 }));
    await waitFor(() => c.got.length === 1, 'blocker in flight');
    for (let i = 0; i < 3; i++) await adapter.send(msg('prio', `low${i}`, { priority: 1 }));
    for (let i = 0; i < 3; i++) await adapter.send(msg('prio', `normal${i}`, { priority: 2 }));
    for (let i = 0; i < 12; i++) await adapter.send(msg('prio', `critical${i}`, { priority: 5 }));
    // Ack one at a time and record the order of the backlog.
    for (let k = 1; k <= 18; k++) {
      c.got[k - 1]?.ack();
      await waitFor(() => c.got.length === k + 1, `delivery ${k + 1}`);
    }
    const order = c.payloads().slice(1) as string[];
    expect(order.slice(0, 5)).toEqual(['critical0', 'critical1', 'critical2', 'critical3', 'low0']);
    expect(order.indexOf('low0')).toBeLessThan(order.indexOf('critical11'));
    const normals = order.filter((p) => p.startsWith('normal'));
    expect(normals).toEqual(['normal0', 'normal1', 'normal2']);
    expect(order.indexOf('normal0')).toBeGreaterThan(order.indexOf('critical11'));
  });
});

describe('memory adapter: bounds', () => {
  it('a full group drops best-effort (counted) and rejects at-least-once with HUB_OVERLOADED', async () => {
    const { adapter } = await open({ maxQueueLength: 10 }, opened);
    const c = await collect(adapter, { kind: 'endpoint', address: 'cap', prefetch: 1 }, () => {});
    await adapter.send(msg('cap', 'inflight'));
    await waitFor(() => c.got.length === 1, 'first in flight');
    for (let i = 0; i < 10; i++) await adapter.send(msg('cap', i));
    for (let i = 0; i < 5; i++)
      await adapter.send(msg('cap', `be${i}`, { guarantee: 'best-effort' }));
    expect(adapter.health().detail).toMatchObject({ droppedOverflow: 5, dropped: 5, queued: 10 });
    const err = await adapter
      .send(msg('cap', 'x', { guarantee: 'exactly-once' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HubError);
    expect(err).toMatchObject({ code: ErrorCode.OVERLOADED });
    expect((err as Error).message).toMatch(/"cap"/);
    await expect(adapter.send(msg('cap', 'y', { guarantee: 'ordered' }))).rejects.toMatchObject({
      code: ErrorCode.OVERLOADED,
    });
    // Draining frees room again.
    c.got[0]?.ack();
    await waitFor(() => c.got.length === 2, 'next');
    await expect(adapter.send(msg('cap', 'room'))).resolves.toBeDefined();
  });

  it('events over the cap are dropped per subscriber and counted', async () => {
    const { adapter } = await open({ maxQueueLength: 2 }, opened);
    const c = await collect(adapter, { kind: 'topic', address: 't', prefetch: 1 }, () => {});
    for (let i = 0; i < 5; i++) await adapter.send(evt('t', i));
    await waitFor(() => c.got.length === 1, 'first');
    expect(adapter.health().detail?.droppedOverflow).toBeGreaterThanOrEqual(2);
    expect(adapter.health().detail?.queued).toBeLessThanOrEqual(2);
  });
});

describe('memory adapter: inspect', () => {
  it('reports per-address groups, queues and dead letters', async () => {
    const { adapter } = await open({}, opened);
    await collect(adapter, { kind: 'endpoint', address: 'ep', group: 'g1', prefetch: 1 }, () => {});
    await collect(adapter, { kind: 'topic', address: 'news.*' });
    await adapter.send(msg('ep', 1));
    await adapter.send(msg('ep', 2));
    await waitFor(() => adapter.health().detail?.inflight === 1, 'one in flight');
    const info = await adapter.inspect();
    expect(info).toMatchObject({
      adapter: 'memory',
      endpoints: { ep: { g1: { consumers: 1, queued: 1, inflight: 1, delayed: 0 } } },
      topics: { 'news.*': { subscribers: 1 } },
    });
  });
});
