import {
  type AdapterCapabilities,
  AdapterError,
  BaseAdapter,
  createEvent,
  ErrorCode,
  type SendResult,
  type Subscription,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { msg } from '../hub/helpers.js';

const CAPS: AdapterCapabilities = {
  guarantees: ['best-effort', 'at-least-once', 'ordered'],
  persistent: true,
  ordered: true,
  broadcast: true,
  patterns: true,
  consumerGroups: true,
};

/** A transport with three ways to send: it supplies each, the base chooses. */
class ThreeWays extends BaseAdapter {
  readonly name = 'three-ways';
  readonly capabilities = CAPS;
  readonly calls: string[] = [];
  refuse: unknown;
  protected async doConnect(): Promise<void> {}
  protected override doSendEvent(event: UnifiedEvent): Promise<SendResult> {
    this.calls.push(`event ${event.topic}`);
    return this.refuse === undefined
      ? Promise.resolve({ protocol: 'pubsub' })
      : Promise.reject(this.refuse);
  }
  protected override doSendBestEffort(message: UnifiedMessage): SendResult {
    // accepted synchronously: returned as is, no promise of its own
    this.calls.push(`best-effort ${message.destination}`);
    return { protocol: 'pubsub' };
  }
  protected doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    this.calls.push(`kept ${envelope.kind === 'message' ? envelope.deliveryGuarantee : 'event'}`);
    return Promise.resolve({ protocol: 'stream', brokerId: '1-0' });
  }
  protected override classifySendError(err: unknown): unknown {
    return err === 'NOPERM'
      ? new AdapterError(this.name, 'send failed: not permitted', {
          code: ErrorCode.AUTH_FAILED,
          retryable: false,
        })
      : err;
  }
  protected async doSubscribe(): Promise<Subscription> {
    return { close: async () => {} };
  }
  protected async doClose(): Promise<void> {}
}

describe('BaseAdapter owns the dispatch', () => {
  it('events, best-effort and kept messages each reach the method the adapter supplies; all are counted', async () => {
    const a = new ThreeWays();
    const results = [
      await a.send(createEvent({ source: 't', topic: 'orders.created', data: 1 })),
      await a.send(msg({ destination: 'be', deliveryGuarantee: 'best-effort' })),
      await a.send(msg({ deliveryGuarantee: 'at-least-once' })),
      await a.send(msg({ deliveryGuarantee: 'ordered', partitionKey: 'k' })),
    ];
    expect(a.calls).toEqual([
      'event orders.created',
      'best-effort be',
      'kept at-least-once',
      'kept ordered',
    ]);
    expect(results.map((r) => r.protocol)).toEqual(['pubsub', 'pubsub', 'stream', 'stream']);
    expect(a.health().detail).toMatchObject({ sent: 4, sendFailures: 0 });
  });

  it("a failure is read by the adapter's classifySendError, then counted and wrapped", async () => {
    const a = new ThreeWays();
    a.refuse = 'NOPERM';
    const event = createEvent({ source: 't', topic: 'orders.created', data: 1 });
    await expect(a.send(event)).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      retryable: false,
    });
    a.refuse = new Error('socket closed');
    await expect(a.send(event)).rejects.toMatchObject({
      code: ErrorCode.ADAPTER_FAILED,
      retryable: true,
      message: '[hub:three-ways] send failed: socket closed',
    });
    expect(a.health().detail).toMatchObject({ sent: 0, sendFailures: 2 });
  });

  it('refuses what is not an envelope, or of an unknown kind, before any template method', async () => {
    const a = new ThreeWays();
    const bad = [null, 'a string', { ...msg({}), kind: 'bogus' }];
    for (const envelope of bad) {
      await expect(a.send(envelope as unknown as UnifiedMessage)).rejects.toMatchObject({
        code: ErrorCode.INVALID_MESSAGE,
        message:
          envelope === null || typeof envelope !== 'object' ? /envelope must be an object/ : /kind/,
      });
    }
    expect(a.calls).toEqual([]);
    expect(a.health().detail).toMatchObject({ sent: 0, sendFailures: 3 });
  });

  it('a result returned as is resolves every send it answers, through one settled promise', async () => {
    const a = new ThreeWays();
    const shared: SendResult = Object.freeze({ protocol: 'sync' });
    class Sync extends ThreeWays {
      protected override doSendBestEffort(): SendResult {
        return shared;
      }
    }
    const s = new Sync();
    const first = s.send(msg({ destination: 'x', deliveryGuarantee: 'best-effort' }));
    const second = s.send(msg({ destination: 'y', deliveryGuarantee: 'best-effort' }));
    expect(second).toBe(first);
    await expect(first).resolves.toBe(shared);
    // a fresh result object each time still resolves to that object
    const r1 = await a.send(msg({ destination: 'a', deliveryGuarantee: 'best-effort' }));
    const r2 = await a.send(msg({ destination: 'b', deliveryGuarantee: 'best-effort' }));
    expect(r1).not.toBe(r2);
    expect(s.health().detail).toMatchObject({ sent: 2, sendFailures: 0 });
  });
});
