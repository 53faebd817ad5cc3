import { type BackoffOptions, rejectUnknownOptions } from '@hub/core';
import { checkPositive, optionError } from '../protocol/options.js';

/** The part of the WHATWG `WebSocket` the client uses (the browser's, Node 22's, or `ws`'s). */
export interface WebSocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: never) => void) | null;
}

export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
) => WebSocketLike;

export interface WsClientOptions {
  /** Server URL, `ws://` or `wss://`, with the gateway's path. */
  url: string;
  /**
   * Token for the server's check, sent as the `access_token` query parameter
   * (a browser WebSocket cannot set headers). Use `wss://` so it travels
   * encrypted. @default none
   */
  token?: string;
  /**
   * The WebSocket class. @default `globalThis.WebSocket` (browsers, Node 22+);
   * the package's main entry passes `ws` on Node
   */
  WebSocket?: WebSocketConstructor;
  /** Adapter name the hub registers it under. @default 'ws' */
  name?: string;
  /** Reconnect delays: capped exponential backoff with full jitter. @default { initialDelayMs: 100, maxDelayMs: 5_000 } */
  reconnect?: BackoffOptions;
  /**
   * Most sent frames (messages, events) kept until the server confirms them;
   * they are resent with the same ids after a reconnect. A send over it is
   * refused with `HUB_OVERLOADED`. @default 10_000
   */
  maxOutbox?: number;
  /** The first connection must be welcomed within this long. @default 10_000 */
  connectTimeoutMs?: number;
  /**
   * Ping this often; a server that has not answered a ping when the next is
   * due is taken for dead (a stalled link is dropped within two intervals)
   * and the client reconnects. @default the interval the server announces (15 s by default)
   */
  pingIntervalMs?: number;
}

const KNOWN: readonly (keyof WsClientOptions)[] = [
  'url',
  'token',
  'WebSocket',
  'name',
  'reconnect',
  'maxOutbox',
  'connectTimeoutMs',
  'pingIntervalMs',
];

const invalid = (field: string, rule: string, value: unknown) =>
  optionError('wsClient', field, rule, value);

/** Check every option, naming the field. */
export function checkClientOptions(options: WsClientOptions): void {
  if (typeof options !== 'object' || options === null)
    throw invalid('options', 'an object', options);
  rejectUnknownOptions('wsClient', options, KNOWN);
  if (typeof options.url !== 'string' || !/^wss?:\/\//.test(options.url)) {
    throw invalid('url', 'a ws:// or wss:// URL', options.url);
  }
  checkPositive('wsClient', options, ['maxOutbox', 'connectTimeoutMs', 'pingIntervalMs']);
  if (options.token !== undefined && typeof options.token !== 'string') {
    throw invalid('token', 'a string', options.token);
  }
  if (options.WebSocket !== undefined && typeof options.WebSocket !== 'function') {
    throw invalid('WebSocket', 'a WebSocket class', options.WebSocket);
  }
}
