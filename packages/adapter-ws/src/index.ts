/**
 * The Node entry: the gateway (server role) and the client adapter over `ws`.
 * Browsers import `@hub/adapter-ws/client` instead.
 */
import type { AdapterFactory } from '@hub/core';
import { WebSocket } from 'ws';
import { WsClientAdapter } from './client/adapter.js';
import type { WebSocketConstructor, WsClientOptions } from './client/options.js';

export {
  CLOUDEVENTS_SUBPROTOCOL,
  type ClientFrame,
  CloseCode,
  encodeFrame,
  FrameError,
  PROTOCOL_VERSION,
  parseClientFrame,
  parseServerFrame,
  type ServerFrame,
  SUBPROTOCOL,
  type WebSocketConstructor,
  type WebSocketLike,
  WsClientAdapter,
  type WsClientOptions,
  WsErrorCode,
} from './client/index.js';
export { UpgradeStatus } from './protocol/codes.js';
export { WsGateway, wsServer } from './server/gateway.js';
export type { WsGatewayMetrics } from './server/metrics.js';
export type { WsIdentity, WsServerOptions } from './server/options.js';

/** Create a WebSocket client adapter; on Node it uses `ws` unless `options.WebSocket` is given. */
export function wsClient(options: WsClientOptions): WsClientAdapter {
  return new WsClientAdapter({
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    ...options,
  });
}

/** Factory for config-driven setups: `createHub({ adapters: [wsAdapter], websocketConfig: { url } })`. */
export const wsAdapter: AdapterFactory<WsClientOptions, WsClientAdapter> = {
  name: 'ws',
  configKey: 'websocketConfig',
  // a missing config is refused by the option check, naming "url"
  create: (config) => wsClient(config ?? ({} as WsClientOptions)),
};
