import { hash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { type Hub, rejectUnknownOptions } from '@hub/core';
import { ErrorCode, HubError } from '@hub/protocol';
import { secretKey } from '../signature.js';

export interface HttpEndpointOptions {
  /** The hub that accepted messages and events go into. */
  hub: Hub;
  /** Port of the standalone server (`listen()`); 0 picks a free one. @default 0 */
  port?: number;
  /** Interface of the standalone server. @default '127.0.0.1' */
  host?: string;
  /** Mount on your own server instead of creating one (its timeouts are yours). */
  server?: Server;
  /** Prefix of every path, e.g. `/hub`. @default '' */
  basePath?: string;
  /** Largest request body; larger ones get 413 without being read. @default 1_048_576 */
  maxBodyBytes?: number;
  /** Standalone server: the request headers must arrive within this (slowloris). @default 10_000 */
  headersTimeoutMs?: number;
  /** Standalone server: the whole request must arrive within this. @default 30_000 */
  requestTimeoutMs?: number;
  /** `POST /request`: how long to wait for the reply before 504 (a `hub-timeout-ms` header may ask for less). @default 30_000 */
  replyTimeoutMs?: number;
  /**
   * Accepted bearer tokens (`Authorization: Bearer …`). A token given as
   * `{ token, identity }` accepts its requests as that identity (for the
   * hub's security policy, as the verify hook's `{ id }` does); a plain
   * string accepts them as `anonymous`. @default none: no token needed
   */
  bearerTokens?: readonly (string | BearerToken)[];
  /**
   * Your own check of each request (after the token check); false or a throw
   * answers 401. Returning `{ id }` accepts the request as that identity: the
   * hub's security (`createHub({ security })`) then decides what it may send
   * and stamps it on the envelopes (others are sent as `anonymous`).
   */
  verify?: (req: IncomingMessage) => boolean | { id: string } | Promise<boolean | { id: string }>;
  /**
   * Require Standard Webhooks signatures made with one of these secrets
   * (`whsec_…`). Keyed by sender (`{ 'partner.acme': 'whsec_…' }`, or a list
   * of secrets per sender during a rotation), a request signed with a
   * sender's secret is accepted as that sender's identity unless the token or
   * the verify hook named one; a plain list accepts them as `anonymous`.
   * @default none
   */
  webhookSecrets?: readonly string[] | Readonly<Record<string, string | readonly string[]>>;
  /** Signed requests older or newer than this are refused; ids seen within it are replays. @default 300 */
  webhookToleranceSec?: number;
  /** Requests a second per client, with bursts up to `burst`; past it, 429 with Retry-After. @default none */
  rateLimit?: { requestsPerSecond: number; burst?: number; key?: (req: IncomingMessage) => string };
  /** A repeated message id (Idempotency-Key) within this window is answered 202 again, not sent again. @default 600_000 */
  idempotencyWindowMs?: number;
  /** Most SSE streams open at once. @default 1_000 */
  maxStreams?: number;
}

/** A bearer token and the identity its requests are accepted as. */
export interface BearerToken {
  token: string;
  identity: string;
}

/** A known token, kept as its SHA-256 digest so every comparison takes the same time. */
export interface ResolvedToken {
  readonly digest: Buffer;
  readonly identity: string | undefined;
}

/** The webhook keys of one sender (no identity: the plain list of secrets). */
export interface WebhookSender {
  readonly identity: string | undefined;
  readonly keys: readonly Buffer[];
}

export interface ResolvedEndpointOptions {
  readonly hub: Hub;
  readonly port: number;
  readonly host: string;
  readonly server: Server | undefined;
  readonly basePath: string;
  readonly maxBodyBytes: number;
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly replyTimeoutMs: number;
  readonly bearerTokens: readonly ResolvedToken[] | undefined;
  readonly verify: HttpEndpointOptions['verify'];
  readonly webhookKeys: readonly WebhookSender[] | undefined;
  readonly webhookToleranceSec: number;
  readonly rateLimit: HttpEndpointOptions['rateLimit'];
  readonly idempotencyWindowMs: number;
  readonly maxStreams: number;
}

const KNOWN = {
  hub: true,
  port: true,
  host: true,
  server: true,
  basePath: true,
  maxBodyBytes: true,
  headersTimeoutMs: true,
  requestTimeoutMs: true,
  replyTimeoutMs: true,
  bearerTokens: true,
  verify: true,
  webhookSecrets: true,
  webhookToleranceSec: true,
  rateLimit: true,
  idempotencyWindowMs: true,
  maxStreams: true,
} satisfies Record<keyof HttpEndpointOptions, true>;

function bad(field: string, rule: string, value: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:http-endpoint] option "${field}" must be ${rule} (got ${String(value)})`,
  );
}

function num(
  o: HttpEndpointOptions,
  field: keyof HttpEndpointOptions,
  dflt: number,
  min: number,
): number {
  const v = o[field] ?? dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min)
    throw bad(field, `an integer >= ${min}`, v);
  return v;
}

export function resolveEndpointOptions(o: HttpEndpointOptions): ResolvedEndpointOptions {
  if (typeof o !== 'object' || o === null) throw bad('options', 'an object with "hub"', o);
  rejectUnknownOptions('httpEndpoint', o, Object.keys(KNOWN));
  if (typeof o.hub?.send !== 'function') throw bad('hub', 'a Hub (createHub())', o.hub);
  const basePath = (o.basePath ?? '').replace(/\/+$/, '');
  if (basePath !== '' && !basePath.startsWith('/'))
    throw bad('basePath', 'a path starting with "/"', basePath);
  if (o.verify !== undefined && typeof o.verify !== 'function')
    throw bad('verify', 'a function', o.verify);
  if (o.rateLimit !== undefined) {
    const r = o.rateLimit;
    if (!(typeof r.requestsPerSecond === 'number' && r.requestsPerSecond > 0)) {
      throw bad('rateLimit.requestsPerSecond', 'a number > 0', r.requestsPerSecond);
    }
    if (r.burst !== undefined && !(Number.isInteger(r.burst) && r.burst >= 1)) {
      throw bad('rateLimit.burst', 'an integer >= 1', r.burst);
    }
  }
  return {
    hub: o.hub,
    port: num(o, 'port', 0, 0),
    host: o.host ?? '127.0.0.1',
    server: o.server,
    basePath,
    maxBodyBytes: num(o, 'maxBodyBytes', 1_048_576, 1),
    headersTimeoutMs: num(o, 'headersTimeoutMs', 10_000, 1),
    requestTimeoutMs: num(o, 'requestTimeoutMs', 30_000, 1),
    replyTimeoutMs: num(o, 'replyTimeoutMs', 30_000, 1),
    bearerTokens: o.bearerTokens === undefined ? undefined : resolveTokens(o.bearerTokens),
    verify: o.verify,
    webhookKeys: o.webhookSecrets === undefined ? undefined : resolveSenders(o.webhookSecrets),
    webhookToleranceSec: num(o, 'webhookToleranceSec', 300, 1),
    rateLimit: o.rateLimit,
    idempotencyWindowMs: num(o, 'idempotencyWindowMs', 600_000, 0),
    maxStreams: num(o, 'maxStreams', 1_000, 0),
  };
}

/** One-shot SHA-256 (cheaper than a Hash object, once per request with tokens). */
const sha256 = (token: string): Buffer => hash('sha256', token, 'buffer');

const nonEmpty = (v: unknown): v is string => typeof v === 'string' && v !== '';

function resolveTokens(tokens: unknown): ResolvedToken[] {
  const rule = 'an array of non-empty strings or { token, identity } objects of non-empty strings';
  // The value itself is never shown in the error: it holds secrets.
  if (!Array.isArray(tokens)) throw bad('bearerTokens', rule, typeof tokens);
  return tokens.map((t: unknown, i) => {
    if (nonEmpty(t)) return { digest: sha256(t), identity: undefined };
    const { token, identity } = (t ?? {}) as Partial<BearerToken>;
    if (typeof t !== 'object' || !nonEmpty(token) || !nonEmpty(identity)) {
      throw bad(`bearerTokens[${i}]`, rule, typeof t);
    }
    return { digest: sha256(token), identity };
  });
}

function resolveSenders(secrets: unknown): WebhookSender[] {
  if (Array.isArray(secrets)) {
    return [
      {
        identity: undefined,
        keys: secrets.map((s: string, i) => secretKey(s, `webhookSecrets[${i}]`)),
      },
    ];
  }
  if (typeof secrets !== 'object' || secrets === null) {
    throw bad(
      'webhookSecrets',
      'an array of secrets or a record of secrets by sender',
      typeof secrets,
    );
  }
  return Object.entries(secrets).map(([identity, given]: [string, unknown]) => {
    const list: unknown[] = Array.isArray(given) ? given : [given];
    if (identity === '' || list.length === 0) {
      throw bad(
        `webhookSecrets.${identity}`,
        'a secret or a non-empty list of secrets of a named sender',
        list.length,
      );
    }
    return {
      identity,
      keys: list.map((s, i) =>
        secretKey(
          s as string,
          Array.isArray(given) ? `webhookSecrets.${identity}[${i}]` : `webhookSecrets.${identity}`,
        ),
      ),
    };
  });
}

/**
 * The known token `given` is, compared in constant time: digests of equal
 * length, every token compared, so the time says nothing about how much of a
 * guess was right.
 */
export function knownToken(
  tokens: readonly ResolvedToken[],
  given: string,
): ResolvedToken | undefined {
  const digest = sha256(given);
  let found: ResolvedToken | undefined;
  for (const t of tokens) if (timingSafeEqual(t.digest, digest) && found === undefined) found = t;
  return found;
}
