import type { Envelope } from '@hub/protocol';

/**
 * Types shared by the router, the delivery layer and the hub. They live below
 * all three so that the lower layers never import from the hub's folder;
 * `hub/types.ts` re-exports them as part of the public API.
 */

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

/**
 * A step on the way out (before routing) or in (before the handler).
 * Return the envelope (changed or not) to continue, or `null` on the way in
 * to drop it (it is acknowledged). Throwing on the way out rejects the send;
 * on the way in it dead-letters the message with the error as reason.
 * Auth, tracing, compression and encryption plug in here.
 */
export interface Middleware {
  readonly name: string;
  outbound?(envelope: Envelope): Envelope | Promise<Envelope>;
  inbound?(envelope: Envelope, context: InboundContext): Envelope | null | Promise<Envelope | null>;
}

/** Where an arrived envelope is going, for inbound middleware that keeps state per consumer. */
export interface InboundContext {
  /** 1 on the transport's first delivery of this entry; more on its redeliveries. */
  readonly attempt: number;
  /**
   * The consumer it arrived for, stable for the life of the subscription:
   * `endpoint:<id>` for an endpoint, `topic#<n>:<pattern>` for a topic
   * subscription (each subscription of a hub has its own, as each receives
   * its own copy of an event).
   */
  readonly consumer: string;
}
