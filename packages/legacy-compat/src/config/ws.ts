/**
 * Legacy WebSocket settings → the options of @hub/adapter-ws: `wsClient()`
 * options (read by the `wsAdapter` factory from the hub config's `websocketConfig`)
 * when the legacy settings connected somewhere, or `wsServer()` options
 * without `hub` when they listened. The output holds only options the adapter
 * knows, because the adapter refuses any other with HUB_INVALID_CONFIG. Only
 * types are imported: the result is plain data.
 */
import type { WsClientOptions, WsServerOptions } from '@hub/adapter-ws';
import type { BackoffOptions } from '@hub/core';
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

/** `wsServer()` options without `hub`: pass them as `wsServer({ hub, ...options })`. */
export type WsServerConfig = Omit<WsServerOptions, 'hub'>;

/** Whether legacy settings connected to a server (`client`) or listened (`server`). */
export type WsRole = 'client' | 'server';

export interface MigrateWsOptions extends MigrateOptions {
  /**
   * What the legacy settings were. @default from the settings: a URL, a token,
   * handshake headers or reconnect settings make a client; an HTTP server,
   * a backlog, client verification, allowed origins, a wildcard host
   * (`0.0.0.0`) or port 0 make a server; otherwise a legacy ConnectionConfig
   * (it has `protocol`, `pool_size` or `connection_params`) is a client and
   * bare `host`/`port` options (ws ServerOptions, `websockets.serve`) are a server
   */
  role?: WsRole;
}

/** The migrated options for the role the legacy settings had, and what was left behind. */
export type WsMigration =
  | ({ role: 'client' } & Migration<WsClientOptions>)
  | ({ role: 'server' } & Migration<WsServerConfig>);

/** Every option `wsClient()` takes; the compiler keeps this in step with WsClientOptions. */
const CLIENT_OPTIONS: { readonly [K in keyof Required<WsClientOptions>]: true } = {
  url: true,
  token: true,
  WebSocket: true,
  name: true,
  reconnect: true,
  maxOutbox: true,
  connectTimeoutMs: true,
  pingIntervalMs: true,
};
/** Every option `wsServer()` takes besides `hub`; the compiler keeps this in step with WsServerOptions. */
const SERVER_OPTIONS: { readonly [K in keyof Required<WsServerConfig>]: true } = {
  name: true,
  port: true,
  host: true,
  server: true,
  path: true,
  tokens: true,
  authenticate: true,
  allowedOrigins: true,
  maxPayload: true,
  window: true,
  endpointConcurrency: true,
  rateLimit: true,
  rateBurst: true,
  maxBufferedBytes: true,
  maxConnections: true,
  maxConnectionsPerIp: true,
  pingIntervalMs: true,
  handshakeTimeoutMs: true,
  resumeWindowMs: true,
};
export const WS_CLIENT_OPTIONS: readonly string[] = Object.freeze(Object.keys(CLIENT_OPTIONS));
export const WS_SERVER_OPTIONS: readonly string[] = Object.freeze(Object.keys(SERVER_OPTIONS));

/** Server tuning options a config may already carry under the adapter's names; passed through. */
const SERVER_TUNING = [
  'window',
  'endpointConcurrency',
  'rateLimit',
  'rateBurst',
  'maxBufferedBytes',
  'maxConnectionsPerIp',
  'resumeWindowMs',
] as const satisfies readonly (keyof WsServerConfig)[];

const BACKOFF_KEYS = [
  'initialDelayMs',
  'maxDelayMs',
  'factor',
  'jitter',
] as const satisfies readonly (keyof BackoffOptions)[];

const TLS_KEYS = new Set([
  'ca',
  'cert',
  'key',
  'pfx',
  'passphrase',
  'rejectUnauthorized',
  'servername',
  'checkServerIdentity',
]);

/** Options that mean nothing to either role of the adapter. */
const WHY: Record<string, string> = {
  protocol: 'implied: these are the WebSocket settings',
  poolSize: 'a WebSocket connection is not pooled',
  clientTracking: 'the gateway tracks its own connections',
  verifyClient:
    'a function of another signature does not migrate; decide in wsServer `authenticate(request)` (or list `tokens`)',
  handleProtocols: 'the adapter speaks its own subprotocols (hub.v1, cloudevents.json)',
  skipUtf8Validation: 'the hub validates every frame it decodes',
  autoPong: 'the adapter answers pings itself',
  allowSynchronousEvents: 'the adapter owns its event loop behaviour',
  followRedirects: 'an endpoint that moves should be reconfigured, not followed',
  maxRedirects: 'an endpoint that moves should be reconfigured, not followed',
  pingTimeout:
    'the adapter takes a peer that missed a ping interval (client: two) for dead on its own',
  closeTimeout: 'the adapter closes with its own drain deadline (hub drainTimeoutMs)',
  maxQueue: 'the hub applies backpressure with maxConcurrentMessages',
  readLimit: 'the adapter reads frames whole, bounded by maxPayload',
  writeLimit: 'the gateway cuts a connection past maxBufferedBytes; a write pause does not migrate',
  userAgentHeader: 'the adapter sends no extra handshake headers',
  serverHeader: 'the gateway sends no extra handshake headers',
  logger: 'pass a `logger` to the hub',
  protocolVersion: 'the adapter speaks WebSocket version 13 only',
  compression:
    'the adapter never negotiates permessage-deflate (its frames are small JSON; compression costs more than it saves)',
  protocols: 'the adapter speaks its own subprotocols (hub.v1, cloudevents.json)',
};

/** Options of the other role, by the role they were dropped from. */
const NOT_FOR: Record<WsRole, Record<string, string>> = {
  client: {
    maxPayload: 'the server bounds frames (wsServer maxPayload)',
    tls: "the client uses Node's TLS defaults; pass a `WebSocket` class that sets these",
    headers:
      'a browser WebSocket cannot send headers, so the client sends none; a bearer token travels as `token`',
    origin: 'a browser WebSocket sets Origin itself; the Node client sends none',
    host: 'the URL names the host',
    port: 'the URL names the port',
    path: 'the URL names the path',
    secure: "the URL's scheme (ws:// or wss://) decides TLS",
  },
  server: {
    secure: 'serve TLS from an https.Server of your own, passed as `server`',
    tls: 'serve TLS from an https.Server of your own, passed as `server`',
    noServer: 'the gateway listens on `port` or mounts on `server` (your http.Server)',
    backlog:
      'the gateway listens with the default backlog; listen an http.Server yourself and pass it as `server`',
    headers: 'a client option; the gateway reads the token from Authorization or access_token',
    origin: 'a client option; list accepted origins in `allowedOrigins`',
  },
};

/** One legacy option, validated and converted, with the name it had in the legacy config. */
interface Field {
  option: string;
  value: unknown;
}

/** Neutral meaning → the legacy option that gave it. */
type Parsed = Map<string, Field>;

/** Meanings that only a client has, or only a server has: they decide the role. */
const CLIENT_HINTS = [
  'url',
  'token',
  'headers',
  'origin',
  'reconnect',
  'maxOutbox',
  'WebSocket',
  'connectTimeoutMs',
];
const SERVER_HINTS = [
  'server',
  'noServer',
  'backlog',
  'tokens',
  'allowedOrigins',
  'authenticate',
  'maxConnections',
  'handshakeTimeoutMs',
  ...SERVER_TUNING,
];

interface Acc {
  parsed: Parsed;
  dropped: DroppedOption[];
  /** The input looked like a legacy ConnectionConfig (`protocol`, `pool_size`, `connection_params`). */
  connectionConfig: boolean;
}

function positive(option: string, v: unknown, scale = 1): number {
  const n = num(v);
  if (n === undefined || !(n > 0)) throw badOption(WHAT, option, 'must be a number > 0', v);
  return n * scale;
}

function text(option: string, v: unknown): string {
  if (typeof v !== 'string' || v === '') throw badOption(WHAT, option, 'must be a string', v);
  return v;
}

function strings(option: string, v: unknown): string[] {
  const list = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : undefined;
  if (list === undefined || list.some((x) => typeof x !== 'string')) {
    throw badOption(WHAT, option, 'must be a list of strings', v);
  }
  return (list as string[]).filter((x) => x !== '');
}

const set = (acc: Acc, meaning: string, option: string, value: unknown) =>
  acc.parsed.set(meaning, { option, value });

function setBackoff(acc: Acc, option: string, key: keyof BackoffOptions, value: unknown): void {
  const prev = acc.parsed.get('reconnect');
  const backoff = { ...(prev?.value as BackoffOptions | undefined), [key]: value };
  set(acc, 'reconnect', prev?.option ?? option, backoff);
}

/** `Authorization: Bearer <t>` becomes the token; other headers stay headers (and are reported). */
function setHeaders(acc: Acc, option: string, v: unknown): void {
  if (!isRecord(v)) throw badOption(WHAT, option, 'must be an object', v);
  const rest: Record<string, unknown> = { ...(acc.parsed.get('headers')?.value as object) };
  for (const [name, value] of Object.entries(v)) {
    const bearer =
      name.toLowerCase() === 'authorization' && typeof value === 'string'
        ? /^Bearer\s+(\S+)$/i.exec(value)
        : null;
    if (bearer) set(acc, 'token', `${option}.${name}`, bearer[1]);
    else rest[name] = value;
  }
  if (Object.keys(rest).length > 0) set(acc, 'headers', option, rest);
}

function option(acc: Acc, prefix: string, rawKey: string, v: unknown): void {
  const name = `${prefix}${rawKey}`;
  const key = camel(rawKey);
  if (v === undefined) return;
  switch (key) {
    case 'url':
    case 'address':
    case 'uri':
      if (typeof v !== 'string' || !/^wss?:\/\/[^/?#]/.test(v)) {
        throw badOption(WHAT, name, 'must be a ws:// or wss:// URL', v);
      }
      set(acc, 'url', name, v);
      return;
    case 'host':
    case 'hostname':
      set(acc, 'host', name, text(name, v));
      return;
    case 'port': {
      const p = num(v);
      if (p === undefined || !Number.isInteger(p) || p < 0 || p > 65_535) {
        throw badOption(WHAT, name, 'must be a port number 0..65535', v);
      }
      set(acc, 'port', name, p);
      return;
    }
    case 'path':
    case 'resource': {
      const p = text(name, v);
      set(acc, 'path', name, p.startsWith('/') ? p : `/${p}`);
      return;
    }
    case 'tls':
    case 'ssl':
    case 'secure':
    case 'useSsl': {
      if (isRecord(v)) {
        set(acc, 'secure', name, true);
        for (const k of Object.keys(v)) option(acc, `${name}.`, k, v[k]);
        return;
      }
      const b = bool(v);
      // A Python SSLContext or other object stands for TLS on.
      if (b === undefined && (v === null || typeof v !== 'object')) {
        throw badOption(WHAT, name, 'must be a boolean or TLS options', v);
      }
      if (b === false) return;
      set(acc, 'secure', name, true);
      if (b === undefined) set(acc, 'tls', name, v);
      return;
    }
    case 'token':
    case 'accessToken':
    case 'authToken':
      set(acc, 'token', name, text(name, v));
      return;
    case 'tokens':
      set(acc, 'tokens', name, strings(name, v));
      return;
    case 'headers':
    case 'extraHeaders':
    case 'additionalHeaders':
      setHeaders(acc, name, v);
      return;
    case 'origin':
      set(acc, 'origin', name, v);
      return;
    case 'origins':
    case 'allowedOrigins':
      // websockets' `origins` may list None (no Origin header): such clients are always allowed.
      set(
        acc,
        'allowedOrigins',
        name,
        strings(
          name,
          (Array.isArray(v) ? v : [v]).filter((o) => o !== null),
        ),
      );
      return;
    case 'pingInterval':
    case 'pingIntervalMs':
      if (v === null || v === false || v === 0) {
        acc.dropped.push({
          option: name,
          reason: 'the adapter always pings: that is how it finds a dead peer',
        });
        return;
      }
      set(acc, 'pingIntervalMs', name, positive(name, v, key === 'pingInterval' ? 1000 : 1));
      return;
    case 'handshakeTimeout':
    case 'connectTimeoutMs':
      set(acc, 'connectTimeoutMs', name, positive(name, v));
      return;
    case 'handshakeTimeoutMs':
      set(acc, 'handshakeTimeoutMs', name, positive(name, v));
      return;
    case 'openTimeout':
      set(acc, 'openTimeout', name, positive(name, v, 1000));
      return;
    case 'maxPayload':
    case 'maxSize':
    case 'maxMessageSize':
      if (v === null || v === 0) {
        acc.dropped.push({
          option: name,
          reason: 'the gateway always bounds frames (maxPayload, default 1 MiB)',
        });
        return;
      }
      set(acc, 'maxPayload', name, positive(name, v));
      return;
    case 'perMessageDeflate':
    case 'compression':
      // Off is what the adapter does anyway: nothing is lost.
      if (v !== null && bool(v) !== false)
        acc.dropped.push({ option: name, reason: WHY.compression! });
      return;
    case 'protocols':
    case 'subprotocols':
      acc.dropped.push({ option: name, reason: WHY.protocols! });
      return;
    case 'server':
      if (!isRecord(v) || typeof v.listen !== 'function') {
        throw badOption(WHAT, name, 'must be an http.Server or https.Server', v);
      }
      set(acc, 'server', name, v);
      return;
    case 'noServer':
    case 'backlog':
      set(acc, key, name, v);
      return;
    case 'maxConnections':
    case 'maxClients':
      set(acc, 'maxConnections', name, positive(name, v));
      return;
    case 'authenticate':
    case 'WebSocket':
      if (typeof v !== 'function') throw badOption(WHAT, name, 'must be a function', v);
      set(acc, key, name, v);
      return;
    case 'name':
      set(acc, 'name', name, text(name, v));
      return;
    case 'reconnect':
      if (isRecord(v)) {
        for (const k of Object.keys(v)) {
          const bk = camel(k) as keyof BackoffOptions;
          if ((BACKOFF_KEYS as readonly string[]).includes(bk)) setBackoff(acc, name, bk, v[k]);
          else acc.dropped.push({ option: `${name}.${k}`, reason: 'not a backoff option' });
        }
        return;
      }
      if (bool(v) === false) {
        acc.dropped.push({
          option: name,
          reason: 'the client always reconnects, resending what the server had not confirmed',
        });
      }
      return;
    case 'reconnection':
      if (bool(v) === false) option(acc, prefix, 'reconnect', false);
      return;
    case 'reconnectionDelay':
    case 'minReconnectionDelay':
      setBackoff(acc, name, 'initialDelayMs', positive(name, v));
      return;
    case 'reconnectionDelayMax':
    case 'maxReconnectionDelay':
      setBackoff(acc, name, 'maxDelayMs', positive(name, v));
      return;
    case 'reconnectionDelayGrowFactor':
      setBackoff(acc, name, 'factor', positive(name, v));
      return;
    case 'maxOutbox':
    case 'maxEnqueuedMessages':
      set(acc, 'maxOutbox', name, positive(name, v));
      return;
    case 'connectionParams':
    case 'options':
      if (!isRecord(v)) throw badOption(WHAT, name, 'must be an object', v);
      for (const k of Object.keys(v)) option(acc, `${name}.`, k, v[k]);
      return;
  }
  if ((SERVER_TUNING as readonly string[]).includes(key)) {
    set(acc, key, name, positive(name, v));
    return;
  }
  if (TLS_KEYS.has(key)) {
    const prev = acc.parsed.get('tls');
    set(acc, 'tls', prev?.option ?? name, {
      ...(isRecord(prev?.value) ? prev.value : {}),
      [key]: v,
    });
    return;
  }
  acc.dropped.push({ option: name, reason: WHY[key] ?? 'no WebSocket adapter option means this' });
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

function roleOf(acc: Acc): WsRole {
  const p = acc.parsed;
  const client = CLIENT_HINTS.find((k) => p.has(k));
  let server = SERVER_HINTS.find((k) => p.has(k));
  if (server === undefined && WILDCARD_HOSTS.has(p.get('host')?.value as string)) server = 'host';
  if (server === undefined && p.get('port')?.value === 0) server = 'port';
  if (client !== undefined && server !== undefined) {
    throw badOption(
      WHAT,
      p.get(client)!.option,
      `is a client option but \`${p.get(server)!.option}\` is a server option; pass { role: 'client' } or { role: 'server' }`,
      p.get(client)!.value,
    );
  }
  if (client !== undefined) return 'client';
  if (server !== undefined) return 'server';
  return acc.connectionConfig ? 'client' : 'server';
}

/** Move `meaning` out of the parsed options: its value, or undefined. */
function take<T>(p: Parsed, meaning: string): T | undefined {
  const f = p.get(meaning);
  p.delete(meaning);
  return f?.value as T | undefined;
}

function leftOver(acc: Acc, role: WsRole): void {
  const other = role === 'client' ? 'server' : 'client';
  for (const [meaning, f] of acc.parsed) {
    acc.dropped.push({
      option: f.option,
      reason:
        NOT_FOR[role][meaning] ??
        `a ${other} option; these settings migrate to a WebSocket ${role}`,
    });
  }
}

function urlOf(acc: Acc): string {
  const p = acc.parsed;
  const url = take<string>(p, 'url');
  // With a URL, host/port/path/ssl are reported as named by it (see NOT_FOR.client).
  if (url !== undefined) return url;
  const host = take<string>(p, 'host');
  if (host === undefined) {
    throw badOption(
      WHAT,
      p.get('port')?.option ?? 'url',
      'belongs to a WebSocket client, which needs a ws:// URL or a host to connect to',
      p.get('port')?.value,
    );
  }
  const port = take<number>(p, 'port');
  const path = take<string>(p, 'path') ?? '/';
  const secure = take<boolean>(p, 'secure') === true;
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `${secure ? 'wss' : 'ws'}://${h}${port === undefined ? '' : `:${port}`}${path}`;
}

/** The first of two options meaning the same; the second, when both are given, is reported. */
function oneOf(acc: Acc, first: string, second: string): number | undefined {
  const a = acc.parsed.get(first);
  const b = acc.parsed.get(second);
  take(acc.parsed, first);
  take(acc.parsed, second);
  if (a !== undefined && b !== undefined) {
    acc.dropped.push({ option: b.option, reason: `\`${a.option}\` gives the same timeout` });
  }
  return (a ?? b)?.value as number | undefined;
}

function client(acc: Acc): WsClientOptions {
  const p = acc.parsed;
  const out: WsClientOptions = { url: urlOf(acc) };
  const token = take<string>(p, 'token');
  if (token !== undefined) out.token = token;
  const timeout = oneOf(acc, 'connectTimeoutMs', 'openTimeout');
  if (timeout !== undefined) out.connectTimeoutMs = timeout;
  const ping = take<number>(p, 'pingIntervalMs');
  if (ping !== undefined) out.pingIntervalMs = ping;
  const reconnect = take<BackoffOptions>(p, 'reconnect');
  if (reconnect !== undefined) out.reconnect = reconnect;
  const maxOutbox = take<number>(p, 'maxOutbox');
  if (maxOutbox !== undefined) out.maxOutbox = maxOutbox;
  const name = take<string>(p, 'name');
  if (name !== undefined) out.name = name;
  const WebSocket = take<WsClientOptions['WebSocket']>(p, 'WebSocket');
  if (WebSocket !== undefined) out.WebSocket = WebSocket;
  return out;
}

function server(acc: Acc): WsServerConfig {
  const p = acc.parsed;
  const out: WsServerConfig = {};
  const same = ['name', 'port', 'host', 'path', 'server', 'tokens', 'authenticate'] as const;
  for (const k of same) {
    const v = take<never>(p, k);
    if (v !== undefined) out[k] = v;
  }
  const numbers = ['maxPayload', 'maxConnections', 'pingIntervalMs', ...SERVER_TUNING] as const;
  for (const k of numbers) {
    const v = take<number>(p, k);
    if (v !== undefined) out[k] = v;
  }
  const opening = oneOf(acc, 'handshakeTimeoutMs', 'openTimeout');
  if (opening !== undefined) out.handshakeTimeoutMs = opening;
  const origins = take<string[]>(p, 'allowedOrigins');
  if (origins !== undefined) out.allowedOrigins = origins;
  return out;
}

/**
 * Legacy WebSocket settings (`ws` ServerOptions or ClientOptions, a Python
 * `websockets`-style dict, a legacy ConnectionConfig with `host`, `port`,
 * `path`, `ssl` and `connection_params`, or a `ws://` URL; snake_case or
 * camelCase) → `wsClient()` options or `wsServer()` options without `hub`,
 * with every option left behind and why.
 * @throws HubError `HUB_INVALID_CONFIG` naming an option whose value is unusable.
 */
export function planWsMigration(
  input: unknown,
  options: Pick<MigrateWsOptions, 'role'> = {},
): WsMigration {
  const acc: Acc = { parsed: new Map(), dropped: [], connectionConfig: false };
  if (typeof input === 'string') option(acc, '', 'url', input);
  else if (isRecord(input)) {
    acc.connectionConfig = Object.keys(input).some((k) =>
      ['protocol', 'poolSize', 'connectionParams'].includes(camel(k)),
    );
    for (const k of Object.keys(input)) option(acc, '', k, input[k]);
  } else throw badOption(WHAT, 'config', 'must be a ws:// URL or an options object', input);
  const role = options.role ?? roleOf(acc);
  if (role !== 'client' && role !== 'server') {
    throw badOption(WHAT, 'role', "must be 'client' or 'server'", role);
  }
  if (role === 'client') {
    const out = client(acc);
    leftOver(acc, role);
    return { role, options: out, dropped: acc.dropped };
  }
  const out = server(acc);
  leftOver(acc, role);
  return { role, options: out, dropped: acc.dropped };
}

/**
 * Legacy WebSocket settings → options of @hub/adapter-ws: for a client, what
 * `wsClient(options)` takes (and the `wsAdapter` factory reads from the hub
 * config's `websocketConfig`); for a server, what to pass as `wsServer({ hub, ...options })`.
 * Reports what it left behind through `onDropped` (default: a warning). See planWsMigration.
 * @throws HubError `HUB_INVALID_CONFIG` naming an option whose value is unusable.
 */
export function migrateWsConfig(
  input: unknown,
  options: MigrateWsOptions & { role: 'client' },
): WsClientOptions;
export function migrateWsConfig(
  input: unknown,
  options: MigrateWsOptions & { role: 'server' },
): WsServerConfig;
export function migrateWsConfig(
  input: unknown,
  options?: MigrateWsOptions,
): WsClientOptions | WsServerConfig;
export function migrateWsConfig(
  input: unknown,
  options: MigrateWsOptions = {},
): WsClientOptions | WsServerConfig {
  const m = planWsMigration(input, options);
  reportDropped(WHAT, m, options);
  return m.options;
}
