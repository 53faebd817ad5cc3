import {
  createEvent,
  createMessage,
  type DeliveryGuarantee,
  type Priority,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type {
  AdapterContext,
  InboundDelivery,
  Subscription,
  SubscriptionSpec,
} from '../../src/adapter/contract.js';
import {
  type MemoryAdapter,
  type MemoryAdapterOptions,
  memory,
} from '../../src/adapters/memory.js';
import { silentLogger } from '../../src/logger.js';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface TestContext extends AdapterContext {
  readonly errors: Error[];
}

export function context(instanceId = 'i1'): TestContext {
  const errors: Error[] = [];
  return {
    hubName: 'test',
    instanceId,
    logger: silentLogger,
    reportError: (e) => {
      errors.push(e);
    },
    reportState: () => {},
    errors,
  };
}

/** A connected adapter plus its context; every adapter made here is closed by `closeAll`. */
export async function open(
  opts: MemoryAdapterOptions = {},
  opened: MemoryAdapter[] = [],
): Promise<{ adapter: MemoryAdapter; ctx: TestContext }> {
  const adapter = memory(opts);
  const ctx = context();
  await adapter.connect(ctx);
  opened.push(adapter);
  return { adapter, ctx };
}

export async function closeAll(opened: MemoryAdapter[]): Promise<void> {
  await Promise.allSettled(opened.splice(0).map((a) => a.close()));
}

/** Poll until `cond` holds; generous deadline, never a fixed sleep for correctness. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Let every already-possible delivery happen: the adapter delivers in
 * microtask drains (falling back to setImmediate), so a few macrotask turns
 * flush them. Used to show that something is NOT delivered.
 */
export async function settleTurns(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

export function msg(
  destination: string,
  payload: unknown,
  opts: {
    guarantee?: DeliveryGuarantee;
    priority?: Priority;
    partitionKey?: string;
    id?: string;
  } = {},
): UnifiedMessage {
  return createMessage({
    source: 'tester',
    destination,
    type: 'task',
    payload,
    deliveryGuarantee: opts.guarantee ?? 'at-least-once',
    priority: opts.priority ?? 2,
    ...(opts.partitionKey === undefined ? {} : { partitionKey: opts.partitionKey }),
    ...(opts.id === undefined ? {} : { id: opts.id }),
  });
}

export function evt(topic: string, data: unknown): UnifiedEvent {
  return createEvent({ source: 'tester', topic, data });
}

export interface Collector {
  readonly got: InboundDelivery[];
  readonly sub: Subscription;
  payloads(): unknown[];
}

/** Subscribe and record every delivery; `onDeliver` decides how to settle (default: ack at once). */
export async function collect(
  adapter: MemoryAdapter,
  spec: Partial<SubscriptionSpec> & Pick<SubscriptionSpec, 'kind' | 'address'>,
  onDeliver: (d: InboundDelivery) => void = (d) => {
    d.ack();
  },
): Promise<Collector> {
  const got: InboundDelivery[] = [];
  const sub = await adapter.subscribe({
    prefetch: 100,
    maxDeliveries: 5,
    reject: () => {},
    ...spec,
    deliver: (d) => {
      got.push(d);
      onDeliver(d);
    },
  });
  return {
    got,
    sub,
    payloads: () =>
      got.map((d) => (d.envelope.kind === 'message' ? d.envelope.payload : d.envelope.data)),
  };
}
