import type { DeliveryGuarantee, UnifiedEvent, UnifiedMessage } from '@hub/protocol';

/** Transport names. Values are adapter names (or aliases of one, e.g. both Redis modes → `redis`). */
export const ProtocolType = {
  IN_MEMORY: 'memory',
  REDIS_PUBSUB: 'redis-pubsub',
  REDIS_STREAMS: 'redis-streams',
  WEBSOCKET: 'websocket',
  HTTP: 'http',
  CUSTOM: 'custom',
} as const;
export type ProtocolType = (typeof ProtocolType)[keyof typeof ProtocolType];

/** How the router picks among adapters. See docs/architecture.md#routing. */
export const RoutingStrategy = {
  /** Capable, healthy, circuit closed; lowest observed latency first; fails over. */
  AUTOMATIC: 'automatic',
  /** Only the adapters the rule names, in order; no fallback beyond them. */
  PROTOCOL_SPECIFIC: 'protocol-specific',
  /** Rotate among capable, healthy adapters. */
  ROUND_ROBIN: 'round-robin',
  /** The first available adapter in the rule's order; the next while its circuit is open. */
  FAILOVER: 'failover',
  /** Every capable, healthy adapter gets the envelope. */
  BROADCAST: 'broadcast',
} as const;
export type RoutingStrategy = (typeof RoutingStrategy)[keyof typeof RoutingStrategy];

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

/** Outcome of one send. `send` rejects on failure; `sendMessage` resolves with `success: false`. */
export interface MessageResult {
  success: boolean;
  messageId: string;
  /** Transport detail, e.g. `memory`, `redis-streams`. */
  protocol: string;
  /** Registered adapter name. */
  adapter: string;
  latencyMs: number;
  error?: Error;
  /** With the broadcast strategy: one result per adapter. */
  results?: MessageResult[];
}

/** Given to every handler. */
export interface HandlerContext {
  /** 1-based attempt of this delivery (redeliveries and retries raise it). */
  readonly attempt: number;
  /** Adapter the envelope arrived on. */
  readonly adapter: string;
  /** Reply to the message's `replyTo` (request/reply); returning a value from the handler does the same. */
  reply<R>(payload: R): Promise<void>;
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
}

export type Unsubscribe = () => Promise<void>;

/** Required guarantee of an envelope for routing: events are best-effort fan-out. */
export type RequiredGuarantee = DeliveryGuarantee;
