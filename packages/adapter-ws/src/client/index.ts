/**
 * The browser-safe entry: the client adapter over the platform `WebSocket`
 * (or one you pass), and the frame protocol. No Node-only import.
 */

export { CloseCode, WsErrorCode } from '../protocol/codes.js';
export {
  CLOUDEVENTS_SUBPROTOCOL,
  type ClientFrame,
  encodeFrame,
  FrameError,
  PROTOCOL_VERSION,
  parseClientFrame,
  parseServerFrame,
  type ServerFrame,
  SUBPROTOCOL,
} from '../protocol/frames.js';
export { WsClientAdapter, wsAdapter, wsClient } from './adapter.js';
export type { WebSocketConstructor, WebSocketLike, WsClientOptions } from './options.js';
