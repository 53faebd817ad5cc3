import type { AdapterContext, InboundDelivery, SubscriptionSpec } from '@hub/core';
import {
  createMessage,
  type DeliveryGuarantee,
  type Priority,
  type UnifiedMessage,
} from '@hub/protocol';
import type { RedisAdapter } from '../src/index.js';

let seq = 0;
/** A key prefix no other test uses. */
export const uniquePrefix = (name: string) => `t${process.pid}x${++seq}x${name}`;

export interface TestContext extends AdapterContext {
  readonly errors: Error[];
  readonly warnings: string[];
}

export function context(instanceId: string): TestContext {
  const errors: Error[] = [];
  const warnings: string[] = [];
  return {
    hubName: 'test',
    instanceId,
    errors,
    warnings,
    logger: {
      debug() {},
      info() {},
      warn: (m) => warnings.push(m),
      error: (m) => warnings.push(m),
    },
    reportError: (e) => errors.push(e),
    reportState: () => {},
  };
}

/** Poll `cond` until true; fail with `describe()` after the deadline. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  describe: () => string | Promise<string>,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${await describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export type Handler = (d: InboundDelivery) => void | Promise<void>;

export interface Recorder {
  readonly deliveries: InboundDelivery[];
  readonly rejected: Array<{ error: Error; raw: unknown }>;
  spec(partial?: Partial<SubscriptionSpec>): SubscriptionSpec;
  ids(): string[];
}

/** A spec whose deliver records and then runs `handler` (default: ack). */
export function recorder(address: string, handler: Handler = (d) => d.ack()): Recorder {
  const deliveries: InboundDelivery[] = [];
  const rejected: Array<{ error: Error; raw: unknown }> = [];
  return {
    deliveries,
    rejected,
    ids: () => deliveries.map((d) => d.envelope.id),
    spec: (partial = {}) => ({
      kind: 'endpoint',
      address,
      group: address,
      prefetch: 16,
      maxDeliveries: 5,
      deliver: (d) => {
        deliveries.push(d);
        Promise.resolve(handler(d)).catch(() => {});
      },
      reject: (error, raw) => rejected.push({ error, raw }),
      ...partial,
    }),
  };
}

export function message(
  destination: string,
  payload: unknown,
  extra: {
    priority?: Priority;
    guarantee?: DeliveryGuarantee;
    partitionKey?: string;
    id?: string;
  } = {},
): UnifiedMessage {
  return createMessage({
    source: 'test',
    destination,
    payload,
    ...(extra.priority === undefined ? {} : { priority: extra.priority }),
    deliveryGuarantee: extra.guarantee ?? 'at-least-once',
    ...(extra.partitionKey === undefined ? {} : { partitionKey: extra.partitionKey }),
    ...(extra.id === undefined ? {} : { id: extra.id }),
  });
}

export async function connected(adapter: RedisAdapter, instanceId: string): Promise<TestContext> {
  const ctx = context(instanceId);
  await adapter.connect(ctx);
  return ctx;
}
