import { createHub, type Subscription, type SubscriptionSpec } from '@hub/core';
import { afterEach, expect, it } from 'vitest';
import { msg, quiet, TestAdapter } from './helpers.js';

const hubs: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(hubs.splice(0).map((h) => h.close()));
});

/** Records the order of pause / close calls; its pause misbehaves as asked. */
class PausingAdapter extends TestAdapter {
  readonly calls: string[] = [];
  pauseMode: 'ok' | 'throw' | 'hang' = 'ok';
  protected override async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    const inner = await super.doSubscribe(spec);
    return {
      pause: () => {
        this.calls.push('pause');
        if (this.pauseMode === 'throw') throw new Error('pause broke');
        if (this.pauseMode === 'hang') return new Promise<void>(() => {});
        return Promise.resolve();
      },
      close: async () => {
        this.calls.push('close');
        await inner.close();
      },
    };
  }
}

async function setup(mode: PausingAdapter['pauseMode']) {
  const adapter = new PausingAdapter({ name: 'p' });
  adapter.pauseMode = mode;
  const hub = createHub({ name: `pause-${mode}`, logger: quiet, adapters: [adapter] });
  hubs.push(hub);
  await hub.start();
  const off = await hub.onMessage('ep', () => {});
  return { adapter, hub, off };
}

it('unsubscribing pauses the transport subscription before it is closed', async () => {
  const { adapter, off } = await setup('ok');
  await off();
  expect(adapter.calls).toEqual(['pause', 'close']);
});

it('a pause that throws synchronously neither breaks unsubscribe nor close', async () => {
  const { adapter, hub, off } = await setup('throw');
  await expect(off()).resolves.toBeUndefined();
  expect(adapter.calls).toEqual(['pause', 'close']);
  await hub.onMessage('ep2', () => {});
  await expect(hub.close()).resolves.toBeUndefined();
  expect(adapter.health().state).toBe('closed');
});

it('a pause that never settles is given up on: close still completes', async () => {
  const { adapter, hub } = await setup('hang');
  await expect(hub.close({ drainTimeoutMs: 50 })).resolves.toBeUndefined();
  expect(adapter.calls).toEqual(['pause', 'close']);
});

it('pause and drain share one budget: close({ drainTimeoutMs }) is not twice as long', async () => {
  const { hub } = await setup('hang');
  await hub.onMessage('busy', () => new Promise<void>(() => {}));
  await hub.send(msg({ destination: 'busy' }));
  const t0 = Date.now();
  await hub.close({ drainTimeoutMs: 3_000 });
  // A hung pause (3 s) followed by a full drain (3 s more) took ~6 s before.
  expect(Date.now() - t0).toBeLessThan(4_500);
});
