import {
  type DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type { Logger } from '../logger.js';

/** What an adapter honours natively, end to end. The core reads this data; it never uses instanceof. */
export interface AdapterCapabilities {
  /** Guarantees the transport honours end to end (with the core's help for dedup and ordering lanes). */
  readonly guarantees: readonly DeliveryGuarantee[];
  /** Accepted messages survive a restart of either side. */
  readonly persistent: boolean;
  /** FIFO per partition key is kept by the transport. */
  readonly ordered: boolean;
  /** One send reaches every subscriber of a topic. */
  readonly broadcast: boolean;
  /**
   * Events may ask for more than best-effort (`deliveryGuarantee` on the
   * event): the transport keeps each event until every subscribing group has
   * processed it (acks, redelivery, DLQ), as it does for messages, within
   * `guarantees`. Without it only best-effort events are routed to the
   * transport; a stronger one is refused with HUB_GUARANTEE_UNSUPPORTED.
   * @default false
   */
  readonly durableTopics?: boolean;
  /** Wildcard topic subscriptions. */
  readonly patterns: boolean;
  /** Several instances of one endpoint share its messages. */
  readonly consumerGroups: boolean;
  /**
   * Largest encoded envelope the transport accepts, in bytes. The hub refuses
   * a larger envelope (its JSON-encoded size) with `HUB_INVALID_MESSAGE`
   * before calling `send`. It reads this on every send, so an adapter that
   * learns the limit at connect (a NATS server announces `max_payload`) sets
   * it in `connect`, before that resolves: assign a new `capabilities` object
   * (or serve it from a getter). @default no limit beyond the protocol's own
   */
  readonly maxPayloadBytes?: number;
}

/** Handed to an adapter at connect time. */
export interface AdapterContext {
  /** Name of the hub that owns the adapter. */
  readonly hubName: string;
  /** Unique id of this hub instance; use it as the consumer name. */
  readonly instanceId: string;
  readonly logger: Logger;
  /**
   * The hub verifies and decrypts protected envelopes on arrival
   * (`security.protection`): a link whose far side is a gateway may ask for
   * its deliveries sealed, end to end. @default false
   */
  readonly opensProtection?: boolean;
  /**
   * A send must settle within this many ms: the adapter enforces it (client
   * command timeouts), so the hub adds no timer per message. @default 30_000
   */
  readonly sendTimeoutMs?: number;
  /** Report an asynchronous failure (lost connection, failed background read). Never throws. */
  reportError(error: Error): void;
  /**
   * Report a change of `health().state` (a link lost or back) the moment it
   * happens: the hub re-reads `health()` and reroutes at once instead of at
   * its next interval check. `BaseAdapter` calls it from `setState`. Never throws.
   */
  reportState(state: AdapterState): void;
}

/**
 * Optional parts an adapter has, declared as data (the core reads this, never
 * `typeof adapter.method`). An adapter that declares nothing is read the old
 * way for now: the method's presence counts as declared.
 */
export interface AdapterFeatures {
  /** The adapter keeps a dead-letter queue and implements {@link DeadLetterReader}. */
  readonly deadLetters?: boolean;
}

/** Settles one inbound delivery. Exactly one of ack / nack / deadLetter takes effect. */
export interface InboundDelivery<E extends Envelope = Envelope> {
  readonly envelope: E;
  /** 1-based delivery attempt as the transport counts it (redeliveries raise it). */
  readonly attempt: number;
  /** Done: the transport forgets the message. */
  ack(): void | Promise<void>;
  /** Give the message back so it is redelivered (here or to another instance). */
  nack(options?: NackOptions): void | Promise<void>;
  /**
   * Move the message to the dead-letter queue with `reason`, then ack it.
   * The DLQ write happens before the ack, so a crash in between yields a
   * duplicate in the DLQ, never a loss. `attempts` is the number of handler
   * attempts the core made (retries happen in the core, so it can exceed the
   * transport's own delivery count); record it when given.
   */
  deadLetter(reason: string, attempts?: number): Promise<void>;
  /**
   * False when a delivery left unsettled is gone for good (Pub/Sub): a
   * consumer that is draining then still runs it instead of handing it back.
   * @default true
   */
  readonly redeliverable?: boolean;
}

export interface NackOptions {
  reason?: string;
  /** Redeliver no sooner than this. @default 0 */
  delayMs?: number;
}

/** Called by the adapter for each inbound envelope of one subscription. */
export type DeliverFn = (delivery: InboundDelivery) => void;

/** Called by the adapter when an inbound entry cannot be decoded (after it has dead-lettered it if it can). */
export type RejectFn = (error: Error, raw?: unknown) => void;

export interface SubscriptionSpec {
  /**
   * `endpoint`: point-to-point; instances with the same `group` share the work.
   * `topic`: events whose topic matches `address` (a pattern, see docs/architecture.md, "Addressing").
   */
  readonly kind: 'endpoint' | 'topic';
  /** Endpoint id, or topic pattern. */
  readonly address: string;
  /**
   * Consumer group. Endpoints: the endpoint id. Topics: undefined means this
   * subscriber gets every event (fan-out); a name makes instances share.
   */
  readonly group?: string;
  /**
   * Endpoints: the only guarantees senders use for this address (a hint; the
   * hub's request inbox is best-effort only). An adapter may skip the machinery
   * of the others. Undefined: every guarantee.
   */
  readonly guarantees?: readonly DeliveryGuarantee[];
  /**
   * Topics on a transport with durable topics: where the subscription's group
   * starts reading kept events. `'last'` (the default): where the group left
   * off; a group new to a topic starts at the subscription for topics that
   * exist, at their beginning for topics that appear later. `'now'`: only
   * events kept from now on. `{ id }`: after that transport entry id.
   * `{ time }`: events kept at or after that time (ms since epoch).
   */
  readonly startFrom?: TopicStart;
  /** Most unsettled deliveries the adapter may hand over at once (flow control). */
  readonly prefetch: number;
  /** Dead-letter after this many attempts (the core decides; adapters may use it for their own loops). */
  readonly maxDeliveries: number;
  /** Called for each inbound delivery. */
  readonly deliver: DeliverFn;
  /** Called for each inbound entry that could not be decoded. */
  readonly reject: RejectFn;
}

/** Where a topic subscription's group starts reading kept events (`SubscriptionSpec.startFrom`). */
export type TopicStart = 'last' | 'now' | { readonly id: string } | { readonly time: number };

export interface Subscription {
  /** Stop receiving; unsettled deliveries are released for redelivery. Idempotent. */
  close(): Promise<void>;
  /**
   * Optional. Stop taking NEW work before a graceful close, so that other
   * instances get what would have come here, while what already reached this
   * instance is still delivered (e.g. leave a work-sharing set, stop claiming
   * group events). The hub calls it, then drains the handlers, then `close()`.
   * Transports whose undelivered messages are redelivered anyway (stream
   * consumer groups, the memory broker) need not implement it.
   */
  pause?(): Promise<void>;
}

export interface SendResult {
  /** Transport detail, e.g. `redis-streams` or `redis-pubsub`; defaults to the adapter name. */
  readonly protocol?: string;
  /** Broker-side id, e.g. a stream entry id. */
  readonly brokerId?: string;
}

export type AdapterState =
  | 'idle'
  | 'connecting'
  | 'ready'
  | 'degraded'
  | 'closing'
  | 'closed'
  | 'failed';

export interface AdapterHealth {
  readonly state: AdapterState;
  /** True when the adapter can take sends now. */
  readonly healthy: boolean;
  readonly detail?: Record<string, unknown>;
  readonly lastError?: string;
}

/** The contract every transport implements. */
export interface ProtocolAdapter {
  /** `memory`, `redis`, `ws`, `http`, or a custom name. */
  readonly name: string;
  readonly capabilities: AdapterCapabilities;
  connect(ctx: AdapterContext): Promise<void>;
  /** Resolve once the transport has accepted the envelope (persisted, for persistent adapters). */
  send(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult>;
  subscribe(spec: SubscriptionSpec): Promise<Subscription>;
  health(): AdapterHealth;
  /** Idempotent. */
  close(): Promise<void>;
  /** Optional parts this adapter has (see {@link AdapterFeatures}). @default none declared */
  readonly features?: AdapterFeatures;
  /** Optional: richer asynchronous health (stream lengths, lag, DLQ sizes). */
  inspect?(): Promise<Record<string, unknown>>;
  /**
   * Optional: messages this adapter has accepted and not yet seen handled,
   * as far as it knows without a round trip (queued and unacknowledged
   * deliveries, a stream group's last known lag). Synchronous and cheap: the
   * router reads it to send less to a transport that falls behind, and the
   * metrics expose it as `adapter_backlog`.
   */
  backlog?(): number;
}

/** One entry of a dead-letter queue. */
export interface DeadLetterEntry {
  readonly envelope: UnifiedMessage | UnifiedEvent;
  readonly reason: string;
  /** Attempts made before it was dead-lettered. */
  readonly attempts: number;
  /** ms since epoch. */
  readonly deadLetteredAt: number;
}

/** Optional part: adapters that keep a DLQ let the hub and tests read it (declare `features.deadLetters`). */
export interface DeadLetterReader {
  readDeadLetters(address: string, limit?: number): Promise<DeadLetterEntry[]>;
}

/**
 * The adapter's dead-letter reader when it declares `features.deadLetters`
 * (or, declaring no features at all, has `readDeadLetters`); else undefined.
 */
export function deadLetterReader(adapter: ProtocolAdapter): DeadLetterReader | undefined {
  const reader = adapter as ProtocolAdapter & Partial<DeadLetterReader>;
  const declared = adapter.features?.deadLetters;
  if (declared === false) return undefined;
  if (typeof reader.readDeadLetters !== 'function') {
    if (declared === undefined) return undefined;
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:${adapter.name}] features.deadLetters is declared, but readDeadLetters is not a method`,
    );
  }
  return reader as DeadLetterReader;
}
