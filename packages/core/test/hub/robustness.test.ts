import { createHub, type Hub, memory } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { deferred, msg, quiet, recordingLogger, TestAdapter, waitFor } from './helpers.js';

// Findings of a review for failures that reach the process or stick forever.
const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close({ drainTimeoutMs: 50 })));
});

describe('robustness', () => {
  it('a request that times out while its send is still under way rejects the caller only', async () => {
    const adapter = new TestAdapter({ name: 'slow' });
    const gate = deferred();
    adapter.gate = gate.promise;
    const hub = createHub({ adapters: [adapter], logger: quiet });
    hubs.push(hub);
    await hub.start();
    const pending = hub.request(msg({ destination: 'nobody' }), { timeoutMs: 20 });
    // Without a handler on the reply promise until the send settles, the timer's
    // rejection would be unhandled here and vitest would fail the run.
    await new Promise((r) => setTimeout(r, 60));
    gate.resolve();
    await expect(pending).rejects.toMatchObject({ code: 'HUB_TIMEOUT' });
  });

  it('a failed inbox subscription does not fail every later request', async () => {
    const adapter = memory();
    const subscribe = adapter.subscribe.bind(adapter);
    let failNext = true;
    adapter.subscribe = (spec) => {
      if (failNext && spec.address.startsWith('_inbox.')) {
        failNext = false;
        return Promise.reject(new Error('transient'));
      }
      return subscribe(spec);
    };
    const hub = createHub({ adapters: [adapter], logger: quiet });
    hubs.push(hub);
    await hub.start();
    await hub.onMessage('echo', (m) => m.payload);
    await expect(
      hub.request(msg({ destination: 'echo', payload: 1 }), { timeoutMs: 2_000 }),
    ).rejects.toThrow(/transient/);
    const reply = await hub.request(msg({ destination: 'echo', payload: 2 }), { timeoutMs: 5_000 });
    expect(reply.payload).toBe(2);
  });

  it('start() again after a failed activation subscribes what was left out', async () => {
    const adapter = memory();
    const subscribe = adapter.subscribe.bind(adapter);
    let failNext = true;
    adapter.subscribe = (spec) => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('subscribe refused once'));
      }
      return subscribe(spec);
    };
    const hub = createHub({ adapters: [adapter], logger: quiet });
    hubs.push(hub);
    const got: unknown[] = [];
    await hub.onMessage('late', (m) => void got.push(m.payload));
    await expect(hub.start()).rejects.toThrow(/subscribe refused once/);
    await hub.start();
    await hub.send(msg({ destination: 'late', payload: 'x' }));
    await waitFor(() => got.length === 1, 'the handler receives after the second start');
  });

  it('a throwing deadLetter listener is logged, the process and the hub go on', async () => {
    const log = recordingLogger();
    const hub = createHub({ logger: log, retry: { initialDelayMs: 1 } });
    hubs.push(hub);
    hub.on('deadLetter', () => {
      throw new Error('listener bug');
    });
    await hub.start();
    await hub.onMessage(
      'poison',
      () => {
        throw new Error('always');
      },
      { maxDeliveries: 1 },
    );
    await hub.send(msg({ destination: 'poison' }));
    await waitFor(() => hub.metrics().totals.deadLettered === 1, 'dead-lettered');
    await waitFor(
      () => log.lines.some((l) => l.message.includes('"deadLetter" listener threw')),
      'logged',
    );
  });
});
