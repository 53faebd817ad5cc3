import {
  type ConsumerHost,
  type Envelope,
  type InboundDelivery,
  MemoryDedupStore,
  ReceivePipeline,
} from '@hub/core';
import { expect, it } from 'vitest';
import { deferred, msg, quiet } from '../hub/helpers.js';

/** A Pub/Sub-like delivery: left unsettled it is gone for good. */
function lostIfUnsettled(envelope: Envelope): InboundDelivery & { acks: number } {
  return {
    envelope,
    attempt: 1,
    redeliverable: false,
    acks: 0,
    ack() {
      this.acks++;
    },
    nack() {},
    deadLetter: async () => {},
  };
}

function consumer(
  handler: (env: Envelope) => unknown,
  host: Partial<ConsumerHost> = {},
  concurrency = 1,
): ReceivePipeline {
  return new ReceivePipeline(
    {
      logger: quiet,
      observer: {
        delivered() {},
        acked() {},
        failed() {},
        retried() {},
        deadLettered() {},
        duplicate() {},
        expired() {},
      },
      dedup: new MemoryDedupStore(),
      dedupWindowMs: 60_000,
      dedupLeaseMs: 30_000,
      retryBackoff: { initialDelayMs: 5, maxDelayMs: 5 },
      reply: async () => {},
      inbound: undefined,
      ...host,
    },
    {
      kind: 'endpoint',
      address: 'ep',
      handler: handler as never,
      concurrency,
      maxDeliveries: 3,
      handlerTimeoutMs: undefined,
    },
  );
}

it('draining still runs queued deliveries that cannot be redelivered', async () => {
  const busy = deferred<void>();
  const handled: string[] = [];
  const con = consumer(async (env) => {
    handled.push(env.id);
    if (handled.length === 1) await busy.promise;
  });
  const ds = Array.from({ length: 5 }, () => lostIfUnsettled(msg()));
  for (const d of ds) con.accept(d, 'pubsub');
  const drained = con.drain(5_000);
  busy.resolve();
  await drained;
  expect(handled).toHaveLength(5);
  expect(ds.map((d) => d.acks)).toEqual([1, 1, 1, 1, 1]);
});

it('draining waits for deliveries still inside async inbound middleware', async () => {
  const gate = deferred<void>();
  const handled: string[] = [];
  const con = consumer(
    (env) => {
      handled.push(env.id);
    },
    {
      inbound: async (env) => {
        await gate.promise;
        return env;
      },
    },
  );
  const d = lostIfUnsettled(msg());
  con.accept(d, 'pubsub');
  const drained = con.drain(5_000);
  gate.resolve();
  await drained;
  expect(handled).toEqual([d.envelope.id]);
});

it('a delivery that cannot be redelivered keeps its retry while draining', async () => {
  let calls = 0;
  const con = consumer(() => {
    calls++;
    if (calls === 1) throw new Error('first attempt fails');
  });
  const d = lostIfUnsettled(msg());
  con.accept(d, 'pubsub');
  await con.drain(5_000);
  expect(calls).toBe(2);
  expect(d.acks).toBe(1);
});
