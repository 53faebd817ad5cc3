import type { DeliveryGuarantee, MessageType, Priority } from './enums.js';

/** The envelope format version this build writes and reads. */
export const ENVELOPE_VERSION = 1 as const;
export type EnvelopeVersion = typeof ENVELOPE_VERSION;

/** String headers carried with every envelope (tracing, auth, app metadata). */
export type Headers = Record<string, string>;

/** A point-to-point message addressed to an endpoint (`destination`). */
export interface UnifiedMessage<T = unknown> {
  /** Discriminator on the wire. */
  kind: 'message';
  /** Envelope format version. */
  version: EnvelopeVersion;
  /** Unique id (nanoid, 21 chars by default); the dedup key under exactly-once. */
  id: string;
  /** Creation time, milliseconds since the Unix epoch. */
  timestamp: number;
  /** Sender id. */
  source: string;
  /** Endpoint id that should handle this message. */
  destination: string;
  type: MessageType;
  priority: Priority;
  deliveryGuarantee: DeliveryGuarantee;
  headers: Headers;
  payload: T;
  /** Id of the request this message answers, or a conversation id. */
  correlationId?: string;
  /** Endpoint the reply should go to. */
  replyTo?: string;
  /** FIFO key under the `ordered` guarantee (default: destination). */
  partitionKey?: string;
  /** Time to live in ms, as given at creation (informative; `expiresAt` is authoritative). */
  ttlMs?: number;
  /** Absolute expiry, ms since epoch; a message past it is dropped, never delivered. */
  expiresAt?: number;
  /** Delivery attempt, 1-based; the receiving side raises it on each redelivery. */
  attempt: number;
  /** W3C trace context. */
  traceparent?: string;
}

/** A published event, fanned out to every subscriber of a matching topic pattern. */
export interface UnifiedEvent<T = unknown> {
  kind: 'event';
  version: EnvelopeVersion;
  id: string;
  timestamp: number;
  source: string;
  /** Event type, e.g. `user_registered`. */
  type: string;
  /** Dot-separated topic, e.g. `orders.eu.created`. */
  topic: string;
  data: T;
  headers: Headers;
  priority?: Priority;
  /**
   * What the publisher asks of every subscribing group. Absent means
   * best-effort (Pub/Sub-like fan-out, nothing kept). A stronger guarantee is
   * published only through a transport with durable topics
   * (`capabilities.durableTopics`), else refused with HUB_GUARANTEE_UNSUPPORTED.
   */
  deliveryGuarantee?: DeliveryGuarantee;
  /** Absolute expiry, ms since epoch. */
  expiresAt?: number;
  traceparent?: string;
}

export type Envelope<T = unknown> = UnifiedMessage<T> | UnifiedEvent<T>;

export const isMessage = (e: Envelope): e is UnifiedMessage => e.kind === 'message';
export const isEvent = (e: Envelope): e is UnifiedEvent => e.kind === 'event';
