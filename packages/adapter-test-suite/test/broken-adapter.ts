import type {
  AdapterCapabilities,
  AdapterContext,
  DeadLetterEntry,
  DeadLetterReader,
  InboundDelivery,
  MemoryAdapter,
  ProtocolAdapter,
  SendResult,
  Subscription,
  SubscriptionSpec,
} from '@hub/core';
import type { UnifiedEvent, UnifiedMessage } from '@hub/protocol';

/** Hooks to break a memory adapter in one precise way. */
export interface Breakage {
  send?: (
    env: UnifiedMessage | UnifiedEvent,
    next: () => Promise<SendResult>,
  ) => Promise<SendResult>;
  deliver?: (d: InboundDelivery, next: (d: InboundDelivery) => void) => void;
  subscribed?: () => void;
  /** Rewrite what the adapter is asked for (e.g. ignore `prefetch`). */
  spec?: (spec: SubscriptionSpec) => SubscriptionSpec;
  close?: (next: () => Promise<void>) => Promise<void>;
  capabilities?: Partial<AdapterCapabilities>;
}

/** A memory adapter with a deliberate defect: the suite must catch it. */
export class BrokenAdapter implements ProtocolAdapter, DeadLetterReader {
  constructor(
    private readonly inner: MemoryAdapter,
    private readonly breakage: Breakage,
    readonly name = 'broken',
  ) {}
  get capabilities(): AdapterCapabilities {
    return { ...this.inner.capabilities, ...this.breakage.capabilities };
  }
  connect(ctx: AdapterContext): Promise<void> {
    return this.inner.connect(ctx);
  }
  sendUnbroken(env: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    return this.inner.send(env);
  }
  send(env: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const next = () => this.inner.send(env);
    return this.breakage.send ? this.breakage.send(env, next) : next();
  }
  subscribe(asked: SubscriptionSpec): Promise<Subscription> {
    this.breakage.subscribed?.();
    const spec = this.breakage.spec ? this.breakage.spec(asked) : asked;
    const hook = this.breakage.deliver;
    return this.inner.subscribe(
      hook ? { ...spec, deliver: (d) => hook(d, (x) => spec.deliver(x)) } : spec,
    );
  }
  health() {
    return this.inner.health();
  }
  close(): Promise<void> {
    const next = () => this.inner.close();
    return this.breakage.close ? this.breakage.close(next) : next();
  }
  readDeadLetters(address: string, limit?: number): Promise<DeadLetterEntry[]> {
    return this.inner.readDeadLetters(address, limit);
  }
}
