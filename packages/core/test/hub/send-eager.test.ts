import { createHub, memory } from '@hub/core';
import { afterEach, expect, it } from 'vitest';
import { msg, quiet, TestAdapter, waitFor } from './helpers.js';

const hubs: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(hubs.splice(0).map((h) => h.close()));
});

it('sendEager returns the result itself when the in-process transport accepts at once, accounted as send', async () => {
  const hub = createHub({
    name: 'eager',
    logger: quiet,
    maxConcurrentMessages: 1,
    overload: 'reject',
    adapters: [memory()],
  });
  hubs.push(hub);
  const got: unknown[] = [];
  await hub.onMessage('ep', (m) => {
    got.push(m.payload);
  });
  await hub.start();
  // One slot: a slot not given back at once would make the second send HUB_OVERLOADED.
  for (let i = 0; i < 3; i++) {
    const m = msg({ payload: i, deliveryGuarantee: 'best-effort' });
    const r = hub.sendEager(m);
    expect(r).not.toBeInstanceOf(Promise);
    expect(r).toMatchObject({ success: true, messageId: m.id, adapter: 'memory' });
  }
  const atLeastOnce = hub.sendEager(msg({ payload: 3 }));
  expect(atLeastOnce).not.toBeInstanceOf(Promise);
  await waitFor(() => got.length === 4, 'four deliveries');
  expect(got).toEqual([0, 1, 2, 3]);
  const metrics = hub.metrics();
  expect(metrics.adapters.memory).toMatchObject({ sent: 4, failed: 0, inFlight: 0 });
  expect(metrics.inFlight).toBe(0);
});

it('sendEager returns the promise of send for an asynchronous transport, a refusal or a replaced send', async () => {
  const adapter = new TestAdapter({ name: 'async' });
  const hub = createHub({ name: 'eager-async', logger: quiet, adapters: [adapter] });
  hubs.push(hub);
  await hub.start();
  const m = msg();
  const pending = hub.sendEager(m);
  expect(pending).toBeInstanceOf(Promise);
  await expect(pending).resolves.toMatchObject({
    success: true,
    messageId: m.id,
    adapter: 'async',
  });
  expect(adapter.sent.map((e) => e.id)).toEqual([m.id]);

  // Invalid input: a rejected promise naming the field, never a throw.
  const invalid = hub.sendEager({ ...msg(), destination: '' });
  expect(invalid).toBeInstanceOf(Promise);
  await expect(invalid).rejects.toMatchObject({ code: 'HUB_INVALID_MESSAGE' });

  // A transport failure is the failure send reports.
  adapter.failAll = true;
  await expect(hub.sendEager(msg())).rejects.toMatchObject({
    code: expect.stringMatching(/^HUB_/),
  });
});

it('sendEager goes through an adapter send that was replaced (a wrapper or a spy)', async () => {
  const hub = createHub({ name: 'eager-wrapped', logger: quiet, adapters: [memory()] });
  hubs.push(hub);
  await hub.onMessage('ep', () => {});
  await hub.start();
  const adapter = hub.adapters.get('memory')!;
  const original = adapter.send.bind(adapter);
  let calls = 0;
  adapter.send = (env) => {
    calls++;
    return original(env);
  };
  const r = hub.sendEager(msg({ deliveryGuarantee: 'best-effort' }));
  expect(r).toBeInstanceOf(Promise);
  await expect(r).resolves.toMatchObject({ success: true });
  expect(calls).toBe(1);
});

it('sendEager goes through a hub send that was replaced (a wrapper or a spy), as a gateway calling send did', async () => {
  const hub = createHub({ name: 'eager-hub-wrapped', logger: quiet, adapters: [memory()] });
  hubs.push(hub);
  const got: unknown[] = [];
  await hub.onMessage('ep', (m) => {
    got.push(m.payload);
  });
  await hub.start();
  const original = hub.send.bind(hub);
  const seen: string[] = [];
  hub.send = (m) => {
    seen.push(m.id);
    return original(m);
  };
  const m = msg({ payload: 'wrapped', deliveryGuarantee: 'best-effort' });
  const r = hub.sendEager(m);
  await expect(Promise.resolve(r)).resolves.toMatchObject({ success: true, messageId: m.id });
  expect(seen).toEqual([m.id]);
  await waitFor(() => got.length === 1, 'the delivery');
  expect(hub.metrics().adapters.memory).toMatchObject({ sent: 1, inFlight: 0 });
});
