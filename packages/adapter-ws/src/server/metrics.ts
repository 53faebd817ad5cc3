/** Counters of one gateway, for `gateway.metrics()` and the hub's health. */
export interface WsGatewayMetrics {
  /** Connections open now. */
  connections: number;
  /** Sessions held now (live, or waiting for their client to resume). */
  sessions: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Upgrades refused before the 101, by reason. */
  refused: { auth: number; origin: number; limit: number; path: number };
  /** Connections closed by the server, by reason. */
  cut: { rate: number; slow: number; dead: number; handshake: number };
  /** Bytes queued on all sockets now, not yet written to the network. */
  bufferedBytes: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Frames answered with an error frame (bad frame, refused send, forbidden). */
  errorFrames: number;
  /** Sends, serves and subscriptions refused by the connection's identity limits (`allow`). */
  forbidden: number;
  /** Sessions resumed / told to resync. */
  resumed: number;
  resyncs: number;
}

/** One open connection as `gateway.inspect()` and the gateway's health detail list it. */
export interface WsConnectionFigures {
  /** The identity the authenticate hook returned, or `anonymous`. */
  identity: string;
  /** Remote address. */
  ip: string;
  /** Session id, once the client said hello. */
  session: string | undefined;
  /** The negotiated subprotocol (`hub.v1`, `cloudevents.json`). */
  protocol: string;
  /** When the upgrade completed (ms since the epoch). */
  connectedAt: number;
  /** WebSocket messages and their payload bytes (UTF-8), both ways. */
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Bytes queued on this socket now, not yet written to the network. */
  bufferedBytes: number;
  /** Deliveries handed to this connection's session and not settled yet. */
  unacked: number;
}

/**
 * `gateway.inspect()`: the open connections, those with the most buffered
 * bytes first (a peer that stops reading shows at the top), at most `limit`
 * of them so a gateway with many connections answers in bounded size.
 */
export interface WsGatewayInspection {
  /** Connections open now (listed or not). */
  total: number;
  /** Open connections left out of `connections` by the limit. */
  omitted: number;
  connections: WsConnectionFigures[];
}

export function emptyMetrics(): WsGatewayMetrics {
  return {
    connections: 0,
    sessions: 0,
    accepted: 0,
    refused: { auth: 0, origin: 0, limit: 0, path: 0 },
    cut: { rate: 0, slow: 0, dead: 0, handshake: 0 },
    bufferedBytes: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    errorFrames: 0,
    forbidden: 0,
    resumed: 0,
    resyncs: 0,
  };
}
