import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import { type Hub, rejectUnknownOptions } from '@hub/core';
import { checkPositive, optionError } from '../protocol/options.js';

/** Who a connection is, and what it may do. Returned by `authenticate`. */
export interface WsIdentity {
  /** Shown in logs and metrics. */
  readonly id: string;
  /**
   * Topic-style patterns (`orders.*`, `**`) of the addresses this identity may
   * use; a missing list allows everything. A refusal is an `error` frame with
   * code `HUB_WS_FORBIDDEN`; the connection carries on.
   */
  readonly allow?: {
    /** Destinations of messages and topics of events it may send. */
    readonly send?: readonly string[];
    /** Endpoints it may serve. */
    readonly serve?: readonly string[];
    /** Topic patterns it may subscribe to (the pattern itself must match one of these). */
    readonly subscribe?: readonly string[];
  };
}

export interface WsServerOptions {
  /** The hub every connection becomes a participant of. */
  hub: Hub;
  /**
   * Name the gateway reports under in the hub's `health()`, `metrics()` and
   * `prometheus()` (`hub_ws_connections`, …); give each gateway of one hub its own.
   * @default 'ws'
   */
  name?: string;
  /** Listen on this port (0: any free port). Ignored when `server` is given. */
  port?: number;
  /** Interface to listen on with `port`. @default '127.0.0.1' */
  host?: string;
  /**
   * Mount on an existing `http.Server` (or `https.Server` for TLS) beside its
   * other routes: only upgrades to `path` are taken. The server is yours to
   * listen and close.
   */
  server?: HttpServer | HttpsServer;
  /** URL path that accepts upgrades. @default '/' */
  path?: string;
  /**
   * Shared secrets: an upgrade must carry one as `Authorization: Bearer <token>`
   * or as the `access_token` query parameter (browsers cannot set headers).
   * Refused with 401 before the upgrade. @default none (no token needed)
   */
  tokens?: readonly string[];
  /**
   * Decide who the upgrade is from, before the 101: return an identity, or
   * null/undefined to refuse with 401 (a throw refuses too). Runs after the
   * token check. @default every upgrade is anonymous, allowed everything
   */
  authenticate?: (
    request: IncomingMessage,
  ) => WsIdentity | null | undefined | Promise<WsIdentity | null | undefined>;
  /**
   * Origins (`https://app.example.com`) a browser may connect from; others get
   * 403 before the upgrade. A request without an Origin header (not a browser)
   * is allowed. @default any origin
   */
  allowedOrigins?: readonly string[];
  /** Largest frame in bytes; one byte more closes the connection with 1009. @default 1_048_576 */
  maxPayload?: number;
  /** Unacknowledged deliveries per connection; the next waits for an ack. @default 128 */
  window?: number;
  /** Handlers running at once per served endpoint (all its clients together). @default 256 */
  endpointConcurrency?: number;
  /** Frames per second a connection may send on average; over it closes with 1008. @default 2_000 */
  rateLimit?: number;
  /** Frames a connection may send in a burst above `rateLimit`. @default 4_000 */
  rateBurst?: number;
  /** Bytes queued for a connection that does not read; over it the connection is cut. @default 8_388_608 */
  maxBufferedBytes?: number;
  /** Most connections at once; more get 503 before the upgrade. @default 10_000 */
  maxConnections?: number;
  /** Most connections at once from one remote address; more get 503. @default 256 */
  maxConnectionsPerIp?: number;
  /** A ping this often; a peer that has not answered the previous one is terminated. @default 15_000 */
  pingIntervalMs?: number;
  /** A connection must send `hello` within this long. @default 10_000 */
  handshakeTimeoutMs?: number;
  /**
   * How long a disconnected client's session (its subscriptions, served
   * endpoints and unacknowledged deliveries) waits for it to come back.
   * Later, its deliveries go back to the hub and a resume is refused with
   * `HUB_WS_RESYNC`. @default 30_000
   */
  resumeWindowMs?: number;
}

export type ResolvedServerOptions = Required<
  Omit<WsServerOptions, 'server' | 'port' | 'authenticate' | 'tokens' | 'allowedOrigins'>
> &
  Pick<WsServerOptions, 'server' | 'port' | 'authenticate' | 'tokens' | 'allowedOrigins'>;

const POSITIVE: readonly (keyof WsServerOptions)[] = [
  'maxPayload',
  'window',
  'endpointConcurrency',
  'rateLimit',
  'rateBurst',
  'maxBufferedBytes',
  'maxConnections',
  'maxConnectionsPerIp',
  'pingIntervalMs',
  'handshakeTimeoutMs',
  'resumeWindowMs',
];

const KNOWN: readonly (keyof WsServerOptions)[] = [
  'hub',
  'name',
  'port',
  'host',
  'server',
  'path',
  'tokens',
  'authenticate',
  'allowedOrigins',
  ...POSITIVE,
];

const invalid = (field: string, rule: string, value: unknown) =>
  optionError('wsServer', field, rule, value);

/** Check every option (naming the field) and fill in the defaults. */
export function resolveServerOptions(options: WsServerOptions): ResolvedServerOptions {
  if (typeof options !== 'object' || options === null)
    throw invalid('options', 'an object', options);
  rejectUnknownOptions('wsServer', options, KNOWN);
  if (typeof options.hub?.onMessage !== 'function') throw invalid('hub', 'a Hub', options.hub);
  if (options.server === undefined && options.port === undefined) {
    throw invalid('port', 'a port number when no server is given', options.port);
  }
  if (
    options.port !== undefined &&
    (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535)
  ) {
    throw invalid('port', 'an integer 0-65535', options.port);
  }
  if (
    options.path !== undefined &&
    (typeof options.path !== 'string' || !options.path.startsWith('/'))
  ) {
    throw invalid('path', 'a string starting with "/"', options.path);
  }
  checkPositive('wsServer', options, POSITIVE);
  for (const key of ['tokens', 'allowedOrigins'] as const) {
    const v = options[key];
    if (
      v !== undefined &&
      (!Array.isArray(v) || v.some((x) => typeof x !== 'string' || x === ''))
    ) {
      throw invalid(key, 'an array of non-empty strings', v);
    }
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    throw invalid('authenticate', 'a function', options.authenticate);
  }
  if (
    options.name !== undefined &&
    (typeof options.name !== 'string' || !/^[a-z][a-z0-9_]*$/i.test(options.name))
  ) {
    throw invalid('name', 'a name of letters, digits and _', options.name);
  }
  return {
    name: 'ws',
    host: '127.0.0.1',
    path: '/',
    maxPayload: 1_048_576,
    window: 128,
    endpointConcurrency: 256,
    rateLimit: 2_000,
    rateBurst: 4_000,
    maxBufferedBytes: 8_388_608,
    maxConnections: 10_000,
    maxConnectionsPerIp: 256,
    pingIntervalMs: 15_000,
    handshakeTimeoutMs: 10_000,
    resumeWindowMs: 30_000,
    ...stripUndefined(options),
  } as ResolvedServerOptions;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o))
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
