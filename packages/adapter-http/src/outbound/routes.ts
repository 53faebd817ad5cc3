/**
 * The route table: from a destination (messages) or topic (events), exact or
 * a pattern (`*` one segment, `**` any), to the URL, method and body mapping
 * of one HTTP call. Exact entries win; among patterns, the first listed.
 */
import { TopicMatcher } from '@hub/core';
import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { bareHost, isPrivateAddress } from '../safety.js';

/** What the request body is. */
export type BodyMapping =
  /** The whole envelope as Hub JSON (what a Hub HTTP endpoint reads). */
  | 'envelope'
  /** The payload (messages) or data (events) alone, as JSON; bytes as octet-stream. */
  | 'payload'
  /** CloudEvents 1.0 binary mode: attributes in `ce-*` headers, data as the body. */
  | 'cloudevents-binary'
  /** CloudEvents 1.0 structured mode: one `application/cloudevents+json` document. */
  | 'cloudevents-structured';

export type HttpMethod = 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface HttpRoute {
  /** Destination or topic: exact, or a pattern with `*` / `**`. */
  match: string;
  /** Absolute `http:` or `https:` URL the call goes to. */
  url: string;
  /** @default 'POST' */
  method?: HttpMethod;
  /** @default 'envelope' */
  body?: BodyMapping;
  /** Extra request headers (an API key, say). */
  headers?: Record<string, string>;
  /** Apply to messages, events or both. @default both */
  kind?: 'message' | 'event';
  /**
   * Whether a repeat of this call has the effect of one, so it may be
   * pipelined (sent on a connection before the previous answer is in). PUT
   * and DELETE are idempotent by HTTP's definition. POST and PATCH are not,
   * unless the receiver dedups by the `Idempotency-Key` every call carries
   * (a Hub endpoint does): say so with `idempotent: true`.
   * @default true for PUT and DELETE, false for POST and PATCH
   */
  idempotent?: boolean;
}

export interface CompiledRoute {
  readonly match: string;
  readonly url: URL;
  /** `protocol//host:port`: the key of the connection pool. */
  readonly origin: string;
  /** Path and query, as the request line carries them. */
  readonly path: string;
  readonly method: HttpMethod;
  readonly body: BodyMapping;
  readonly headers: Readonly<Record<string, string>>;
  readonly kind: 'message' | 'event' | undefined;
  /** May be pipelined: a repeat has the effect of one. */
  readonly idempotent: boolean;
}

const METHODS: readonly string[] = ['POST', 'PUT', 'PATCH', 'DELETE'];
/** Idempotent by RFC 9110 (9.2.2) among the methods a route may use. */
const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['PUT', 'DELETE']);
const MAPPINGS: readonly string[] = [
  'envelope',
  'payload',
  'cloudevents-binary',
  'cloudevents-structured',
];

function invalid(field: string, rule: string, value: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:http] option "${field}" must be ${rule} (got ${JSON.stringify(value)})`,
  );
}

/** Check one route and resolve its URL; `allowPrivate` lets literal private IPs through. */
export function compileRoute(
  route: HttpRoute,
  index: number,
  allowPrivate: boolean,
): CompiledRoute {
  const at = `routes[${index}]`;
  if (typeof route !== 'object' || route === null) throw invalid(at, 'an object', route);
  if (typeof route.match !== 'string' || route.match.length === 0) {
    throw invalid(`${at}.match`, 'a non-empty destination or topic pattern', route.match);
  }
  let url: URL;
  try {
    url = new URL(route.url);
  } catch {
    throw invalid(`${at}.url`, 'an absolute http: or https: URL', route.url);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${at}.url`, 'an absolute http: or https: URL', route.url);
  }
  if (url.username || url.password) {
    throw invalid(`${at}.url`, 'a URL without credentials (use headers)', url.origin);
  }
  if (!allowPrivate && isPrivateAddress(bareHost(url.hostname))) {
    throw invalid(
      `${at}.url`,
      'a public address (set allowPrivateNetwork to reach private or loopback hosts)',
      route.url,
    );
  }
  const method = route.method ?? 'POST';
  if (!METHODS.includes(method)) throw invalid(`${at}.method`, METHODS.join(', '), method);
  const body = route.body ?? 'envelope';
  if (!MAPPINGS.includes(body)) throw invalid(`${at}.body`, MAPPINGS.join(', '), body);
  if (route.kind !== undefined && route.kind !== 'message' && route.kind !== 'event') {
    throw invalid(`${at}.kind`, "'message' or 'event'", route.kind);
  }
  if (route.idempotent !== undefined && typeof route.idempotent !== 'boolean') {
    throw invalid(`${at}.idempotent`, 'true or false', route.idempotent);
  }
  const headers = route.headers ?? {};
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw invalid(`${at}.headers.${k}`, 'a string', v);
  }
  return {
    match: route.match,
    url,
    origin: url.origin,
    path: `${url.pathname}${url.search}`,
    method,
    body,
    headers,
    kind: route.kind,
    idempotent: route.idempotent ?? IDEMPOTENT_METHODS.has(method),
  };
}

export class RouteTable {
  private readonly exact = new Map<string, CompiledRoute[]>();
  private readonly patterns = new TopicMatcher<{ route: CompiledRoute; order: number }>();

  constructor(readonly routes: readonly CompiledRoute[]) {
    routes.forEach((route, order) => {
      if (route.match.includes('*') || route.match.includes('#')) {
        this.patterns.add(route.match, { route, order });
      } else {
        const list = this.exact.get(route.match) ?? [];
        list.push(route);
        this.exact.set(route.match, list);
      }
    });
  }

  /** The route for `envelope`, or undefined when none matches. */
  find(envelope: Envelope): CompiledRoute | undefined {
    const address = envelope.kind === 'event' ? envelope.topic : envelope.destination;
    const fits = (r: CompiledRoute) => r.kind === undefined || r.kind === envelope.kind;
    const exact = this.exact.get(address)?.find(fits);
    if (exact) return exact;
    let best: { route: CompiledRoute; order: number } | undefined;
    this.patterns.forEachMatch(address, (entry) => {
      if (fits(entry.route) && (!best || entry.order < best.order)) best = entry;
    });
    return best?.route;
  }
}
