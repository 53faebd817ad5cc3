/**
 * Every code the WebSocket transport uses, in one place: close codes (RFC 6455
 * and our 4xxx range), the HTTP statuses of a refused upgrade, and the error
 * codes of `error` frames beyond the core's `ErrorCode`s.
 */

/** Close codes sent by either side. */
export const CloseCode = {
  /** A clean close (client or server shutting down). */
  NORMAL: 1000,
  /** The server is going away (gateway closing). */
  GOING_AWAY: 1001,
  /** A frame broke the frame protocol (unknown type, bad field, bad JSON). */
  PROTOCOL_ERROR: 1002,
  /** A binary frame: the protocol is JSON text only. */
  UNSUPPORTED_DATA: 1003,
  /** A text frame whose content is not what the subprotocol carries (not UTF-8, not a CloudEvent). */
  INVALID_DATA: 1007,
  /** Frames arrived faster than the rate limit allows. */
  POLICY_VIOLATION: 1008,
  /** A frame over `maxPayload`. */
  MESSAGE_TOO_BIG: 1009,
  /** The peer did not answer pings within two intervals (set locally, never on the wire). */
  DEAD_PEER: 4000,
  /** Another connection resumed this session. */
  SESSION_REPLACED: 4001,
  /** No `hello` within the handshake timeout, or a second `hello`. */
  HANDSHAKE_FAILED: 4002,
  /** The peer stopped reading and its send buffer passed the cap. */
  SLOW_CONSUMER: 4003,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** HTTP statuses of an upgrade refused before the 101. */
export const UpgradeStatus = {
  UNAUTHORIZED: 401,
  FORBIDDEN_ORIGIN: 403,
  NOT_FOUND: 404,
  BAD_SUBPROTOCOL: 426,
  TOO_MANY: 503,
} as const;

/** Error codes carried by `error` frames, beside the core's `ErrorCode` values. */
export const WsErrorCode = {
  /** The session to resume is unknown or expired: the client must resync (what it missed is gone). */
  RESYNC: 'HUB_WS_RESYNC',
  /** A frame broke the frame protocol. */
  BAD_FRAME: 'HUB_WS_BAD_FRAME',
  /** The identity may not send to, serve or subscribe to that address. */
  FORBIDDEN: 'HUB_WS_FORBIDDEN',
} as const;
export type WsErrorCode = (typeof WsErrorCode)[keyof typeof WsErrorCode];
