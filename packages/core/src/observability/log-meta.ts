/**
 * The fields every log line about a message carries: its id, and the trace
 * id when the envelope has a valid `traceparent`. Never headers or payload:
 * those may hold credentials or personal data.
 */
import { type Envelope, isValidTraceparent } from '@hub/protocol';

export interface MessageLogMeta {
  messageId: string;
  traceId?: string;
  [key: string]: unknown;
}

export function messageMeta(
  env: Pick<Envelope, 'id' | 'traceparent'>,
  extra?: Record<string, unknown>,
): MessageLogMeta {
  const meta: MessageLogMeta = { messageId: env.id, ...extra };
  if (isValidTraceparent(env.traceparent)) meta.traceId = env.traceparent.slice(3, 35);
  return meta;
}
