/**
 * Legacy WebSocket settings → one plain, documented options object. No
 * WebSocket adapter ships with this release of Hub, so this is the shape the
 * migration promises: a ws adapter reads it from `websocketConfig`, and
 * until one is installed the hub carries it without acting on it.
 */
import {
  badOption,
  bool,
  camel,
  type DroppedOption,
  isRecord,
  type MigrateOptions,
  type Migration,
  num,
  reportDropped,
} from './report.js';

const WHAT = 'migrateWsConfig';

/** WebSocket settings as migrated from `ws` server/client options or a legacy ConnectionConfig. */
export interface WsOptions {
  /** `server` when the legacy settings listened (a port and no URL), `client` when they connected to a URL. */
  mode: 'server' | 'client';
  /** Endpoint to connect to (client). @default undefined */
  url?: string;
  /** Interface to listen on (server) or host to connect to. @default undefined */
  host?: string;
  /** Port to listen on (server) or connect to. @default undefined */
  port?: number;
  /** HTTP path of the endpoint. @default undefined (any path for a server) */
  path?: string;
  /** Largest frame accepted, in bytes (`ws` `maxPayload`, `websockets` `max_size`). @default undefined (the adapter's default) */
  maxPayload?: number;
  /** permessage-deflate: on, off, or its `ws` options. @default undefined (the adapter's default) */
  perMessageDeflate?: boolean | Record<string, unknown>;
  /** Opening handshake deadline, ms. @default undefined */
  handshakeTimeoutMs?: number;
  /** Keep-alive ping interval, ms (`ping_interval` seconds converted). @default undefined */
  pingIntervalMs?: number;
  /** Subprotocols offered (client) or accepted (server). @default undefined */
  protocols?: string[];
  /** Extra handshake headers (client), `Origin` included. @default undefined */
  headers?: Record<string, string>;
  /** TLS: on, or options such as `ca`, `cert`, `key`, `rejectUnauthorized`. @default undefined */
  tls?: boolean | Record<string, unknown>;
  /** Listen backlog (server). @default undefined */
  backlog?: number;
}

const WHY: Record<string, string> = {
  protocol: 'implied: these are the WebSocket settings',
  poolSize: 'a WebSocket connection is not pooled',
  server: 'an HTTP server object does not migrate; hand it to the ws adapter directly',
  noServer: 'an HTTP server object does not migrate; hand it to the ws adapter directly',
  clientTracking: 'the adapter tracks its own connections',
  verifyClient: 'a function does not migrate; authenticate in the adapter or in hub middleware',
  handleProtocols: 'a function does not migrate; list accepted subprotocols in `protocols`',
  skipUtf8Validation: 'the hub validates every envelope it decodes',
  autoPong: 'the adapter answers pings itself',
  allowSynchronousEvents: 'the adapter owns its event loop behaviour',
  followRedirects: 'an endpoint that moves should be reconfigured, not followed',
  maxRedirects: 'an endpoint that moves should be reconfigured, not followed',
  pingTimeout: 'the adapter declares a peer dead after missed pings on its own schedule',
  closeTimeout: 'the adapter closes with its own drain deadline (hub drainTimeoutMs)',
  maxQueue: 'the hub applies backpressure with maxConcurrentMessages',
};

const TLS_KEYS = new Set(['ca', 'cert', 'key', 'rejectUnauthorized', 'servername', 'passphrase']);

interface Acc {
  out: Partial<WsOptions>;
  dropped: DroppedOption[];
}

function positive(option: string, v: unknown, scale = 1): number {
  const n = num(v);
  if (n === undefined || n < 0) throw badOption(WHAT, option, 'must be a number >= 0', v);
  return n * scale;
}

function option(acc: Acc, prefix: string, rawKey: string, v: unknown): void {
  const name = `${prefix}${rawKey}`;
  const key = camel(rawKey);
  const out = acc.out;
  if (v === undefined) return;
  switch (key) {
    case 'url':
    case 'address':
    case 'uri':
      if (typeof v !== 'string' || !/^wss?:\/\//.test(v)) {
        throw badOption(WHAT, name, 'must be a ws:// or wss:// URL', v);
      }
      out.url = v;
      return;
    case 'host':
      if (typeof v !== 'string') throw badOption(WHAT, name, 'must be a string', v);
      out.host = v;
      return;
    case 'port': {
      const p = num(v);
      if (p === undefined || !Number.isInteger(p) || p < 0 || p > 65_535) {
        throw badOption(WHAT, name, 'must be a port number 0..65535', v);
      }
      out.port = p;
      return;
    }
    case 'path':
      if (typeof v !== 'string') throw badOption(WHAT, name, 'must be a string', v);
      out.path = v;
      return;
    case 'maxPayload':
    case 'maxSize':
    case 'maxMessageSize':
      out.maxPayload = positive(name, v);
      return;
    case 'perMessageDeflate':
    case 'compression':
      out.perMessageDeflate = isRecord(v) ? v : v === 'deflate' ? true : (bool(v) ?? false);
      return;
    case 'handshakeTimeout':
    case 'openTimeout':
      out.handshakeTimeoutMs = positive(name, v, key === 'openTimeout' ? 1000 : 1);
      return;
    case 'pingInterval':
      out.pingIntervalMs = positive(name, v, 1000);
      return;
    case 'pingIntervalMs':
      out.pingIntervalMs = positive(name, v);
      return;
    case 'protocols':
    case 'subprotocols':
    case 'protocolVersion':
      if (key === 'protocolVersion') break;
      out.protocols = (Array.isArray(v) ? v : [v]).map(String);
      return;
    case 'headers':
      if (!isRecord(v)) throw badOption(WHAT, name, 'must be an object', v);
      out.headers = { ...out.headers, ...(v as Record<string, string>) };
      return;
    case 'origin':
      out.headers = { ...out.headers, Origin: String(v) };
      return;
    case 'tls':
    case 'ssl':
      out.tls = isRecord(v) ? v : (bool(v) ?? false);
      return;
    case 'backlog':
      out.backlog = positive(name, v);
      return;
    case 'connectionParams':
    case 'options':
      if (!isRecord(v)) throw badOption(WHAT, name, 'must be an object', v);
      for (const k of Object.keys(v)) option(acc, `${name}.`, k, v[k]);
      return;
  }
  if (TLS_KEYS.has(key)) {
    out.tls = { ...(isRecord(out.tls) ? out.tls : {}), [key]: v };
    return;
  }
  acc.dropped.push({ option: name, reason: WHY[key] ?? 'no WebSocket option means this' });
}

/**
 * Legacy WebSocket settings (`ws` ServerOptions or ClientOptions, a Python
 * `websockets`-style dict, or a legacy ConnectionConfig with
 * `connection_params`) → {@link WsOptions}, with every option left behind and why.
 * @throws HubError `HUB_INVALID_CONFIG` naming an option whose value is unusable.
 */
export function planWsMigration(input: unknown): Migration<WsOptions> {
  const acc: Acc = { out: {}, dropped: [] };
  if (typeof input === 'string') option(acc, '', 'url', input);
  else if (isRecord(input)) for (const k of Object.keys(input)) option(acc, '', k, input[k]);
  else throw badOption(WHAT, 'config', 'must be a ws:// URL or an options object', input);
  const mode = acc.out.url !== undefined ? 'client' : 'server';
  if (acc.out.tls === false) delete acc.out.tls;
  return { options: { mode, ...acc.out }, dropped: acc.dropped };
}

/** Legacy WebSocket settings → {@link WsOptions}; reports what it left behind through `onDropped`. */
export function migrateWsConfig(input: unknown, options?: MigrateOptions): WsOptions {
  const m = planWsMigration(input);
  reportDropped(WHAT, m, options);
  return m.options;
}
