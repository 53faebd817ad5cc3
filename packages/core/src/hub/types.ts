import type { DeliveryGuarantee, UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import type { TopicStart } from '../adapter/contract.js';
import type { HandlerContext, ProtocolType } from '../common/types.js';

export {
  type HandlerContext,
  type MessageResult,
  ProtocolType,
  RoutingStrategy,
} from '../common/types.js';

export type HubState = 'idle' | 'starting' | 'running' | 'closing' | 'closed';

/**
 * Connection settings for one transport (the shape existing configs use).
 * Each adapter documents which fields it reads.
 */
export interface ConnectionConfig {
  protocol?: ProtocolType | (string & {});
  url?: string;
  host?: string;
  port?: number;
  username?: string;
  password?: string;
  db?: number;
  tls?: boolean | Record<string, unknown>;
  poolSize?: number;
  connectionParams?: Record<string, unknown>;
  [key: string]: unknown;
}

export type MessageHandler<T = unknown> = (
  message: UnifiedMessage<T>,
  ctx: HandlerContext,
) => unknown | Promise<unknown>;
export type EventHandler<T = unknown> = (
  event: UnifiedEvent<T>,
  ctx: HandlerContext,
) => unknown | Promise<unknown>;

export interface ConsumeOptions {
  /** Handlers running at once for this subscription. @default 16 */
  concurrency?: number;
  /**
   * Unsettled deliveries the adapter may hand over at once: the read batch of
   * a networked transport (Redis reads up to this many entries per round trip).
   * @default max(concurrency * 8, 128)
   */
  prefetch?: number;
  /** Attempts before the message is dead-lettered. @default hub `maxDeliveries` (5) */
  maxDeliveries?: number;
  /** Listen on this adapter only. @default every registered adapter */
  adapter?: string;
  /** Consumer group. Endpoints: @default the endpoint id. Topics: @default none (each subscriber gets every event). */
  group?: string;
  /** Fail an attempt whose handler runs longer than this. @default no limit */
  handlerTimeoutMs?: number;
  /**
   * Endpoints: the only guarantees senders use for this endpoint, so an
   * adapter may skip the machinery of the others (e.g. Redis stream readers
   * for a best-effort-only endpoint). A message with another guarantee may
   * then not be received. @default every guarantee
   */
  guarantees?: readonly DeliveryGuarantee[];
}

export interface SubscribeOptions extends ConsumeOptions {
  /** Replay matching events from this hub's history before live ones. */
  replay?: boolean | { sinceMs?: number; limit?: number };
  /**
   * Events kept by a transport with durable topics (published with a
   * guarantee above best-effort): where this subscription's group starts.
   * See `SubscriptionSpec.startFrom`. @default 'last'
   */
  startFrom?: TopicStart;
}

export type Unsubscribe = () => Promise<void>;

/** Required guarantee of an envelope for routing: events are best-effort fan-out. */
export type RequiredGuarantee = DeliveryGuarantee;
