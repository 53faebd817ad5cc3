import { DeliveryGuarantee, MessageType, Priority } from './enums.js';
import { newId } from './id.js';
import { ENVELOPE_VERSION, type Headers, type UnifiedEvent, type UnifiedMessage } from './types.js';

export interface CreateMessageInput<T> {
  source: string;
  destination: string;
  /** Message type; `type` is accepted as a shorter alias. */
  messageType?: MessageType;
  type?: MessageType;
  payload: T;
  /** @default Priority.NORMAL */
  priority?: Priority;
  /** @default DeliveryGuarantee.AT_LEAST_ONCE */
  deliveryGuarantee?: DeliveryGuarantee;
  headers?: Headers;
  correlationId?: string;
  replyTo?: string;
  partitionKey?: string;
  /** Time to live in ms; sets `expiresAt = timestamp + ttlMs`. */
  ttlMs?: number;
  expiresAt?: number;
  traceparent?: string;
  /** Override the generated id (e.g. to retry an uncertain send with the same id). */
  id?: string;
  timestamp?: number;
}

/** Build a message with defaults: new id, now, NORMAL priority, at-least-once. */
export function createMessage<T>(input: CreateMessageInput<T>): UnifiedMessage<T> {
  const timestamp = input.timestamp ?? Date.now();
  const msg: UnifiedMessage<T> = {
    kind: 'message',
    version: ENVELOPE_VERSION,
    id: input.id ?? newId(),
    timestamp,
    source: input.source,
    destination: input.destination,
    type: input.messageType ?? input.type ?? MessageType.REQUEST,
    priority: input.priority ?? Priority.NORMAL,
    deliveryGuarantee: input.deliveryGuarantee ?? DeliveryGuarantee.AT_LEAST_ONCE,
    headers: input.headers ?? {},
    payload: input.payload,
    attempt: 1,
  };
  if (input.correlationId !== undefined) msg.correlationId = input.correlationId;
  if (input.replyTo !== undefined) msg.replyTo = input.replyTo;
  if (input.partitionKey !== undefined) msg.partitionKey = input.partitionKey;
  if (input.ttlMs !== undefined) {
    msg.ttlMs = input.ttlMs;
    msg.expiresAt = timestamp + input.ttlMs;
  }
  if (input.expiresAt !== undefined) msg.expiresAt = input.expiresAt;
  if (input.traceparent !== undefined) msg.traceparent = input.traceparent;
  return msg;
}

export interface CreateEventInput<T> {
  source: string;
  /** Event type; `type` is accepted as a shorter alias. */
  eventType?: string;
  type?: string;
  topic: string;
  data: T;
  headers?: Headers;
  priority?: Priority;
  ttlMs?: number;
  expiresAt?: number;
  traceparent?: string;
  id?: string;
  timestamp?: number;
}

/** Build an event with a new id and the current time. */
export function createEvent<T>(input: CreateEventInput<T>): UnifiedEvent<T> {
  const timestamp = input.timestamp ?? Date.now();
  const ev: UnifiedEvent<T> = {
    kind: 'event',
    version: ENVELOPE_VERSION,
    id: input.id ?? newId(),
    timestamp,
    source: input.source,
    type: input.eventType ?? input.type ?? input.topic,
    topic: input.topic,
    data: input.data,
    headers: input.headers ?? {},
  };
  if (input.priority !== undefined) ev.priority = input.priority;
  if (input.ttlMs !== undefined) ev.expiresAt = timestamp + input.ttlMs;
  if (input.expiresAt !== undefined) ev.expiresAt = input.expiresAt;
  if (input.traceparent !== undefined) ev.traceparent = input.traceparent;
  return ev;
}

export interface CreateReplyInput<T> {
  /** Who replies; defaults to the request's destination. */
  source?: string;
  payload: T;
  messageType?: MessageType;
  type?: MessageType;
  headers?: Headers;
}

/**
 * Build the reply to `request`: addressed to its `replyTo` (or its source),
 * correlated by the request id, same guarantee and priority, trace carried on.
 */
export function createReply<T>(
  request: UnifiedMessage<unknown>,
  input: CreateReplyInput<T>,
): UnifiedMessage<T> {
  // One literal, in createMessage's field order (a reply is on the path of every request).
  const reply: UnifiedMessage<T> = {
    kind: 'message',
    version: ENVELOPE_VERSION,
    id: newId(),
    timestamp: Date.now(),
    source: input.source ?? request.destination,
    destination: request.replyTo ?? request.source,
    type: input.messageType ?? input.type ?? MessageType.RESPONSE,
    priority: request.priority ?? Priority.NORMAL,
    deliveryGuarantee: request.deliveryGuarantee ?? DeliveryGuarantee.AT_LEAST_ONCE,
    headers: input.headers ?? {},
    payload: input.payload,
    attempt: 1,
    correlationId: request.correlationId ?? request.id,
  };
  if (request.traceparent !== undefined) reply.traceparent = request.traceparent;
  return reply;
}
