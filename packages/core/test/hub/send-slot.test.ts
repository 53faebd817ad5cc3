import { createHub, type SendResult } from '@hub/core';
import type { UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import { afterEach, expect, it } from 'vitest';
import { msg, quiet, TestAdapter } from './helpers.js';

const hubs: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.allSettled(hubs.splice(0).map((h) => h.close()));
});

/** An adapter that breaks the contract the way plain JavaScript adapters do: send returns a bare value. */
class BareValueAdapter extends TestAdapter {
  override send(_envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    return { protocol: 'bare' } as unknown as Promise<SendResult>;
  }
}

it('a send slot comes back even when an adapter returns a bare value instead of a promise', async () => {
  const hub = createHub({
    name: 'slots',
    logger: quiet,
    maxConcurrentMessages: 2,
    overload: 'reject',
    adapters: [new BareValueAdapter({ name: 'bare' })],
  });
  hubs.push(hub);
  await hub.start();
  // With 2 slots, a leaked slot per send would make the third send HUB_OVERLOADED.
  for (let i = 0; i < 5; i++) {
    const r = await hub.send(msg());
    expect(r).toMatchObject({ success: true, protocol: 'bare', adapter: 'bare' });
  }
});

it('a send slot comes back when the adapter throws synchronously, with the error typed', async () => {
  class Throwing extends TestAdapter {
    override send(): Promise<SendResult> {
      throw new Error('boom');
    }
  }
  const hub = createHub({
    name: 'slots2',
    logger: quiet,
    maxConcurrentMessages: 1,
    overload: 'reject',
    adapters: [new Throwing({ name: 'thrower' })],
  });
  hubs.push(hub);
  await hub.start();
  for (let i = 0; i < 3; i++) {
    await expect(hub.send(msg())).rejects.toMatchObject({ code: expect.stringMatching(/^HUB_/) });
  }
  // still one free slot: not HUB_OVERLOADED
  await expect(hub.send(msg())).rejects.not.toMatchObject({ code: 'HUB_OVERLOADED' });
});
