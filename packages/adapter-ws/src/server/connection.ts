import type { WebSocket } from 'ws';
import { CloseCode } from '../protocol/codes.js';
import { encodeFrame, FrameBatcher, type ServerFrame } from '../protocol/frames.js';
import type { WsGatewayMetrics } from './metrics.js';
import type { WsIdentity } from './options.js';
import type { PendingDelivery, Session, SessionLink } from './session.js';

/** Codes after which the socket is dropped at once instead of closed politely. */
const TERMINATE = new Set<number>([CloseCode.DEAD_PEER, CloseCode.SLOW_CONSUMER]);

export interface ConnectionLimits {
  readonly rateLimit: number;
  readonly rateBurst: number;
  readonly maxBufferedBytes: number;
  readonly maxPayload: number;
}

/**
 * One open WebSocket on the server: writes (with the send-buffer cap), the
 * rate limit, liveness, and the one way out (`disconnect`, with a code and a
 * reason), which tells the gateway once.
 */
export class Connection implements SessionLink {
  session: Session | undefined;
  /** Answered the last ping (or sent anything) since the liveness loop last looked. */
  alive = true;
  closed = false;
  helloTimer: ReturnType<typeof setTimeout> | undefined;
  /** The client asked (in hello) for deliveries sealed with the hub's protection. */
  sealed = false;
  /** Set for a connection speaking another subprotocol: its text frames go here instead. */
  onText: ((text: string) => void) | undefined;
  private tokens: number;
  /** This turn wrote already (its backlog is measured; without batching, the socket is corked). */
  private turnStarted = false;
  private confirmations: string[] = [];
  /**
   * Set once the client listed the `batch` feature in its hello: frames of
   * one turn then leave as one `batch` frame, acks of the turn among them.
   */
  private batcher: FrameBatcher | undefined;
  /** Bytes queued when this turn's first frame was written. */
  private backlog = 0;
  private refilledAt = Date.now();
  /** This connection's own figures (the gateway's totals count them too). */
  readonly connectedAt = Date.now();
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    readonly socket: WebSocket,
    readonly ip: string,
    readonly identity: WsIdentity | undefined,
    private readonly limits: ConnectionLimits,
    private readonly stats: WsGatewayMetrics,
    private readonly onGone: (conn: Connection, code: number, reason: string) => void,
  ) {
    this.tokens = limits.rateBurst;
    socket.on('pong', () => {
      this.alive = true;
    });
    socket.on('close', (code, reason) =>
      this.disconnect(code, reason.toString() || 'closed by peer'),
    );
    // ws reports protocol violations (unmasked frames, bad UTF-8, oversize) here
    // and closes the socket itself with the matching code.
    socket.on('error', () => {});
  }

  /**
   * Take `frames` tokens for inbound frames (each frame of a batch counts);
   * false (and the connection cut with 1008) when over the rate.
   */
  admit(frames = 1): boolean {
    if (this.closed) return false; // frames still arriving after the cut are dropped
    const now = Date.now();
    const { rateLimit, rateBurst } = this.limits;
    this.tokens = Math.min(rateBurst, this.tokens + ((now - this.refilledAt) * rateLimit) / 1000);
    this.refilledAt = now;
    this.tokens -= frames;
    if (this.tokens >= 0) return true;
    this.stats.cut.rate++;
    this.disconnect(CloseCode.POLICY_VIOLATION, 'rate limit exceeded');
    return false;
  }

  /** Write one frame; false when the connection is closed or was cut for a full send buffer. */
  send(frame: ServerFrame): boolean {
    return this.write(encodeFrame(frame));
  }

  /** The client listed the `batch` feature: from now on a turn's frames leave as one. */
  enableBatching(): void {
    if (this.batcher !== undefined) return;
    // Room for the wrapper and for non-ASCII text (up to 3 UTF-8 bytes per unit).
    const maxChars = Math.max(1, Math.min(BATCH_CHARS, Math.floor(this.limits.maxPayload / 3)));
    this.batcher = new FrameBatcher(
      (text) => this.writeNow(text),
      () => {
        this.flushConfirmations();
        this.turnStarted = false; // the turn ends with this flush: the next write measures the backlog again
      },
      maxChars,
    );
  }

  /**
   * Confirm frame `id`. Confirmations made in one turn leave as one `acks`
   * frame (inside the turn's batch when batching): in a flood they would
   * double the frame count.
   */
  confirm(id: string): void {
    if (this.closed) return;
    this.confirmations.push(id);
    if (this.confirmations.length > 1) return;
    if (this.batcher !== undefined) this.batcher.schedule();
    else setImmediate(this.flushConfirmations);
  }

  private readonly flushConfirmations = (): void => {
    const ids = this.confirmations;
    if (ids.length === 0) return;
    this.confirmations = [];
    if (ids.length === 1) this.send({ type: 'ack', id: ids[0]! });
    else this.send({ type: 'acks', ids });
  };

  /** Write a text frame of another subprotocol (CloudEvents). */
  sendText(text: string): boolean {
    return this.write(text);
  }

  deliver(p: PendingDelivery): boolean {
    return this.send({
      type: 'deliver',
      seq: p.seq,
      sub: p.sub,
      attempt: p.attempt,
      envelope: this.sealed && p.sealed !== undefined ? p.sealed : p.envelope,
    });
  }

  private write(text: string): boolean {
    if (this.closed) return false;
    const batcher = this.batcher;
    if (batcher === undefined) this.cork();
    else if (!this.turnStarted) {
      // the first write of this turn: what is queued now is from earlier turns
      this.turnStarted = true;
      this.backlog = this.socket.bufferedAmount;
    }
    // What is still queued from earlier turns: a burst written in this one
    // is no sign of a peer that stopped reading.
    if (this.backlog > this.limits.maxBufferedBytes) {
      this.stats.cut.slow++;
      this.disconnect(CloseCode.SLOW_CONSUMER, 'send buffer over its cap: the peer is not reading');
      return false;
    }
    if (batcher === undefined) this.writeNow(text);
    else batcher.push(text);
    return true;
  }

  /** One WebSocket frame onto the socket. */
  private writeNow(text: string): void {
    if (this.closed) return;
    // Encoded to UTF-8 once, here: given the string, ws would measure it and
    // the socket encode it again. Its length is the bytes on the wire, so
    // non-ASCII text counts as sent.
    const data = Buffer.from(text);
    this.socket.send(data, TEXT);
    const bytes = data.length;
    this.stats.framesOut++;
    this.stats.bytesOut += bytes;
    this.framesOut++;
    this.bytesOut += bytes;
  }

  /**
   * Frames written in one turn of the event loop leave in one write: ws writes
   * each frame on its own, and a system call per frame is the ceiling of a flood.
   * (A batching connection needs none of this: its turn is one frame.)
   */
  private cork(): void {
    if (this.turnStarted) return;
    this.backlog = this.socket.bufferedAmount;
    const raw = (this.socket as unknown as { _socket?: { cork(): void; uncork(): void } })._socket;
    if (raw === undefined) return;
    this.turnStarted = true;
    raw.cork();
    setImmediate(() => {
      this.turnStarted = false;
      raw.uncork();
    });
  }

  /** The one way a connection ends. Idempotent; the gateway hears of it once. */
  disconnect(code: number, reason: string): void {
    if (this.closed) return;
    // what this turn wrote still leaves before a polite close (an error frame, say)
    if (TERMINATE.has(code)) this.batcher?.clear();
    else this.batcher?.flush();
    this.closed = true;
    if (this.helloTimer !== undefined) clearTimeout(this.helloTimer);
    if (TERMINATE.has(code)) {
      this.socket.terminate();
    } else if (this.socket.readyState === this.socket.OPEN) {
      // close codes 4000-4999 are ours; ws refuses to send 1005/1006 and the like
      const wire = code >= 3000 || [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011].includes(code);
      this.socket.close(wire ? code : CloseCode.NORMAL, reason.slice(0, 120));
      // a peer that never answers the close must not hold the descriptor
      setTimeout(() => this.socket.terminate(), 2_000).unref();
    }
    this.onGone(this, code, reason);
  }
}

/** Send options of a text frame given as UTF-8 bytes. */
const TEXT = { binary: false } as const;

/** Largest outbound batch in UTF-16 units: big enough to amortise a frame, small enough to interleave. */
const BATCH_CHARS = 65_536;

/** The identity a connection acts as in the hub's security: its authenticated id, or `anonymous`. */
export function identityOf(conn: Connection): string {
  return conn.identity?.id ?? 'anonymous';
}
