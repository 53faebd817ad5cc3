/** One envelope as an HTTP request: body by the route's mapping, and the headers every call carries. */
import { type Envelope, jsonCodec, toCloudEventHttp } from '@hub/protocol';
import { signatureHeaders } from '../signature.js';
import type { CompiledRoute } from './routes.js';

export interface OutboundRequest {
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array;
}

const JSON_TYPE = 'application/json';

function mapBody(route: CompiledRoute, envelope: Envelope): OutboundRequest {
  switch (route.body) {
    case 'envelope':
      return { headers: { 'content-type': JSON_TYPE }, body: jsonCodec.encode(envelope) };
    case 'payload': {
      const value = envelope.kind === 'message' ? envelope.payload : envelope.data;
      if (value instanceof Uint8Array) {
        return { headers: { 'content-type': 'application/octet-stream' }, body: value };
      }
      return { headers: { 'content-type': JSON_TYPE }, body: JSON.stringify(value ?? null) };
    }
    case 'cloudevents-binary':
      return toCloudEventHttp(envelope, 'binary');
    case 'cloudevents-structured':
      return toCloudEventHttp(envelope, 'structured');
  }
}

export interface RequestSecrets {
  readonly signingKey: Buffer | undefined;
  readonly bearerToken: string | undefined;
}

/**
 * The message id is the `Idempotency-Key` (and the signature's `webhook-id`),
 * so a retried call is recognisably the same one; `traceparent` and
 * `tracestate` carry the trace on.
 */
export function buildRequest(
  route: CompiledRoute,
  envelope: Envelope,
  secrets: RequestSecrets,
): OutboundRequest {
  const mapped = mapBody(route, envelope);
  const headers: Record<string, string> = {
    ...route.headers,
    ...mapped.headers,
    'idempotency-key': envelope.id,
  };
  if (envelope.traceparent !== undefined) {
    headers.traceparent = envelope.traceparent;
    // W3C tracestate rides beside it (the hub keeps it in the envelope's headers).
    const state = envelope.headers.tracestate;
    if (state !== undefined && state !== '') headers.tracestate = state;
  }
  if (secrets.bearerToken !== undefined) headers.authorization = `Bearer ${secrets.bearerToken}`;
  if (secrets.signingKey !== undefined) {
    Object.assign(headers, signatureHeaders(secrets.signingKey, envelope.id, mapped.body));
  }
  return { headers, body: mapped.body };
}
