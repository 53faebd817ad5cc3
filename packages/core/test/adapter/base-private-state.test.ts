import {
  type AdapterCapabilities,
  type AdapterContext,
  BaseAdapter,
  createHub,
  createMessage,
  type InboundDelivery,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
  silentLogger,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../hub/helpers.js';

/**
 * An adapter whose own fields use the names a transport naturally picks
 * (`ctx`, `stats`, `subs`): the base's state must not share them.
 */
class ClashingAdapter extends BaseAdapter {
  readonly name = 'clashing';
  readonly capabilities: AdapterCapabilities = {
    guarantees: ['best-effort'],
    persistent: false,
    ordered: false,
    broadcast: false,
    patterns: false,
    consumerGroups: false,
  };
  /** The transport's own connection context, not the hub's. */
  ctx = { server: 'nats://127.0.0.1:1', connected: false };
  /** The transport's own statistics. */
  stats = { bytesOut: 0 };
  /** Subscriptions by address. */
  subs = new Map<string, SubscriptionSpec>();
  hubName = '';

  protected async doConnect(ctx: AdapterContext): Promise<void> {
    this.ctx.connected = true;
    this.hubName = this.adapterContext.hubName;
    expect(this.adapterContext).toBe(ctx);
  }
  protected async doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    this.stats.bytesOut += JSON.stringify(envelope).length;
    const spec = envelope.kind === 'message' ? this.subs.get(envelope.destination) : undefined;
    const delivery: InboundDelivery = {
      envelope,
      attempt: 1,
      ack() {},
      nack() {},
      async deadLetter() {},
    };
    queueMicrotask(() => spec?.deliver(delivery));
    return {};
  }
  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    this.subs.set(spec.address, spec);
    return { close: async () => void this.subs.delete(spec.address) };
  }
  protected async doClose(): Promise<void> {
    this.ctx.connected = false;
  }
}

describe('BaseAdapter keeps its state in #private fields', () => {
  it('a subclass with its own ctx, stats and subs fields still works end to end', async () => {
    const adapter = new ClashingAdapter();
    const hub = createHub({ name: 'clash', logger: silentLogger, adapters: [adapter] });
    await hub.start();
    expect(adapter.ctx.connected).toBe(true);
    expect(adapter.hubName).toBe('clash');
    const got: unknown[] = [];
    await hub.onMessage('clash.in', (m) => void got.push(m.payload));
    expect(adapter.subs.size).toBe(1);
    await hub.send(
      createMessage({
        source: 't',
        destination: 'clash.in',
        payload: 7,
        deliveryGuarantee: 'best-effort',
      }),
    );
    await waitFor(() => got.length === 1, 'the message');
    expect(got).toEqual([7]);
    expect(adapter.stats.bytesOut).toBeGreaterThan(0);
    expect(adapter.health().detail).toMatchObject({ sent: 1, sendFailures: 0, subscriptions: 1 });
    await hub.close();
    // close() closed the subscription (the subclass's own map) before doClose
    expect(adapter.subs.size).toBe(0);
    expect(adapter.ctx.connected).toBe(false);
    expect(adapter.state).toBe('closed');
  });
});
