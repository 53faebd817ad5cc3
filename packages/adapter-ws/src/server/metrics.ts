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
