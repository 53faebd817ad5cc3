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
