/**
 * The Node entry: the gateway (server role) and the client adapter over `ws`.
 * Browsers import `@hub/adapter-ws/client` instead.
 */
import { type AdapterFactory, checkTlsOptions, type TlsClientOptions } from '@hub/core';
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
export type {
  WsConnectionFigures,
  WsGatewayInspection,
  WsGatewayMetrics,
} from './server/metrics.js';
export type { WsIdentity, WsServerOptions } from './server/options.js';

/** Options of the Node client: the browser's, and TLS for `wss://`. */
export interface WsNodeClientOptions extends WsClientOptions {
  /**
   * TLS of a `wss://` URL: a private CA, a client certificate (passed to
   * `ws`). The server's certificate is always checked. Not used with your
   * own `WebSocket` class. @default the system's CAs
   */
  tls?: TlsClientOptions;
}

/** Create a WebSocket client adapter; on Node it uses `ws` unless `options.WebSocket` is given. */
export function wsClient(options: WsNodeClientOptions): WsClientAdapter {
  const { tls, ...rest } = options ?? ({} as WsNodeClientOptions);
  checkTlsOptions('ws', 'tls', tls);
  const Base = WebSocket;
  const Socket =
    tls === undefined
      ? Base
      : class extends Base {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols, tls as ConstructorParameters<typeof Base>[2]);
          }
        };
  return new WsClientAdapter({
    WebSocket: Socket as unknown as WebSocketConstructor,
    ...rest,
  });
}

/** Factory for config-driven setups: `createHub({ adapters: [wsAdapter], websocketConfig: { url } })`. */
export const wsAdapter: AdapterFactory<WsClientOptions, WsClientAdapter> = {
  name: 'ws',
  configKey: 'websocketConfig',
  // a missing config is refused by the option check, naming "url"
  create: (config) => wsClient(config ?? ({} as WsClientOptions)),
};
