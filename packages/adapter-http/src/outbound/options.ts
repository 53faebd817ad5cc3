import { checkTlsOptions, rejectUnknownOptions, type TlsClientOptions } from '@hub/core';
import { DeliveryGuarantee, ErrorCode, HubError } from '@hub/protocol';
import type { Dispatcher } from 'undici';
import { secretKey } from '../signature.js';
import { type CompiledRoute, compileRoute, type HttpRoute } from './routes.js';

export interface HttpAdapterOptions {
  /** Adapter name; several HTTP adapters in one hub need distinct names. @default 'http' */
  name?: string;
  /** Where each destination or topic goes. */
  routes: readonly HttpRoute[];
  /**
   * Guarantees declared to the router. An HTTP call is acknowledged by the
   * receiver's 2xx; at-least-once holds when the receiver has accepted the
   * message durably by then, exactly-once when it also dedups by the
   * `Idempotency-Key` (a Hub endpoint does). Narrow it for receivers that do not.
   * @default ['best-effort', 'at-least-once', 'exactly-once']
   */
  guarantees?: readonly DeliveryGuarantee[];
  /** Connections per origin. @default 16 */
  connections?: number;
  /**
   * Requests in flight per connection for idempotent calls (a route's
   * `idempotent`: PUT and DELETE, or a POST whose receiver dedups by
   * `Idempotency-Key`). Above 1 they get a pool of their own; other calls
   * are never pipelined. @default 1 (no pipelining)
   */
  pipelining?: number;
  /** TCP + TLS connect deadline. @default 5_000 */
  connectTimeoutMs?: number;
  /** Deadline for the response headers. @default the hub's send timeout (30_000) */
  headersTimeoutMs?: number;
  /** Deadline between two chunks of the response body. @default 30_000 */
  bodyTimeoutMs?: number;
  /** Idle keep-alive sockets are closed after this. @default 4_000 */
  keepAliveTimeoutMs?: number;
  /** Longest `Retry-After` honoured (a 429/503 holds that origin this long at most). @default 30_000 */
  maxRetryAfterMs?: number;
  /** A response body over this many bytes fails the send (the socket is dropped). @default 1_048_576 */
  maxResponseBytes?: number;
  /** Follow 3xx redirects (each hop is checked like a route). @default false */
  followRedirects?: boolean;
  /** Most hops followed when `followRedirects`. @default 3 */
  maxRedirects?: number;
  /** Allow loopback, private and link-local targets. @default false */
  allowPrivateNetwork?: boolean;
  /** Sign every request (Standard Webhooks: `whsec_<base64>` or any string). @default none */
  signingSecret?: string;
  /** Sent as `Authorization: Bearer <token>`. @default none */
  bearerToken?: string;
  /** Dead letters kept per address (refused 4xx sends). @default 1_000 */
  maxDeadLetters?: number;
  /** Your own undici dispatcher (an Agent, a MockAgent); not closed by the adapter. @default a Pool per origin */
  dispatcher?: Dispatcher;
  /**
   * TLS of `https://` routes: a private CA, a client certificate (passed to
   * undici's `connect`). The server's certificate is always checked. Not used
   * with your own `dispatcher`. @default the system's CAs
   */
  tls?: TlsClientOptions;
}

export interface ResolvedOptions {
  readonly name: string;
  readonly routes: readonly CompiledRoute[];
  readonly guarantees: readonly DeliveryGuarantee[];
  readonly connections: number;
  readonly pipelining: number;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number | undefined;
  readonly bodyTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxRetryAfterMs: number;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
  readonly allowPrivateNetwork: boolean;
  readonly signingKey: Buffer | undefined;
  readonly bearerToken: string | undefined;
  readonly maxDeadLetters: number;
  readonly dispatcher: Dispatcher | undefined;
  readonly tls: TlsClientOptions | undefined;
}

const KNOWN = {
  name: true,
  routes: true,
  guarantees: true,
  connections: true,
  pipelining: true,
  connectTimeoutMs: true,
  headersTimeoutMs: true,
  bodyTimeoutMs: true,
  keepAliveTimeoutMs: true,
  maxRetryAfterMs: true,
  maxResponseBytes: true,
  followRedirects: true,
  maxRedirects: true,
  allowPrivateNetwork: true,
  signingSecret: true,
  bearerToken: true,
  maxDeadLetters: true,
  dispatcher: true,
  tls: true,
} satisfies Record<keyof HttpAdapterOptions, true>;

const GUARANTEES: readonly string[] = [
  DeliveryGuarantee.BEST_EFFORT,
  DeliveryGuarantee.AT_LEAST_ONCE,
  DeliveryGuarantee.EXACTLY_ONCE,
];

function int(
  opts: HttpAdapterOptions,
  field: keyof HttpAdapterOptions,
  dflt: number,
  min = 0,
): number {
  const v = opts[field] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:http] option "${field}" must be an integer >= ${min} (got ${String(v)})`,
    );
  }
  return v;
}

export function resolveOptions(opts: HttpAdapterOptions): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      '[hub:http] options must be an object with "routes"',
    );
  }
  rejectUnknownOptions('http', opts as unknown as Record<string, unknown>, Object.keys(KNOWN));
  if (!Array.isArray(opts.routes)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:http] option "routes" must be an array of { match, url } (got ${typeof opts.routes})`,
    );
  }
  const allowPrivateNetwork = opts.allowPrivateNetwork === true;
  const guarantees = opts.guarantees ?? GUARANTEES;
  if (!Array.isArray(guarantees) || guarantees.some((g) => !GUARANTEES.includes(g))) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:http] option "guarantees" must list some of ${GUARANTEES.join(', ')} (HTTP keeps no order across calls)`,
    );
  }
  const name = opts.name ?? 'http';
  if (typeof name !== 'string' || name.length === 0) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      '[hub:http] option "name" must be a non-empty string',
    );
  }
  const followRedirects = opts.followRedirects === true;
  checkTlsOptions('http', 'tls', opts.tls);
  return {
    tls: opts.tls,
    name,
    routes: opts.routes.map((r, i) => compileRoute(r, i, allowPrivateNetwork)),
    guarantees: Object.freeze([...guarantees]),
    connections: int(opts, 'connections', 16, 1),
    pipelining: int(opts, 'pipelining', 1, 1),
    connectTimeoutMs: int(opts, 'connectTimeoutMs', 5_000, 1),
    headersTimeoutMs:
      opts.headersTimeoutMs === undefined ? undefined : int(opts, 'headersTimeoutMs', 0, 1),
    bodyTimeoutMs: int(opts, 'bodyTimeoutMs', 30_000, 1),
    keepAliveTimeoutMs: int(opts, 'keepAliveTimeoutMs', 4_000, 1),
    maxRetryAfterMs: int(opts, 'maxRetryAfterMs', 30_000),
    maxResponseBytes: int(opts, 'maxResponseBytes', 1_048_576, 0),
    maxRedirects: followRedirects ? int(opts, 'maxRedirects', 3, 1) : 0,
    allowPrivateNetwork,
    signingKey:
      opts.signingSecret === undefined ? undefined : secretKey(opts.signingSecret, 'signingSecret'),
    bearerToken: opts.bearerToken,
    maxDeadLetters: int(opts, 'maxDeadLetters', 1_000),
    dispatcher: opts.dispatcher,
  };
}
