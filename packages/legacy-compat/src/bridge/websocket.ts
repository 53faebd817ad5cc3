/**
 * A legacy WebSocket endpoint as a bridge route: one client connection,
 * reconnected with backoff until the bridge closes. Text frames in are legacy
 * messages; legacy messages out are sent as text frames. Best-effort, as a
 * WebSocket is: a frame the link drops while down is not resent.
 */
import { ErrorCode, HubError } from '@hub/protocol';
import WebSocket from 'ws';
import type { BridgeContext } from './context.js';
import type { RouteStats } from './stats.js';

export interface WsEndpoint {
  /** `ws://` or `wss://` URL of the legacy endpoint. */
  url: string;
  /** Subprotocols offered. @default none */
  protocols?: string[];
  /** Extra handshake headers (auth). @default none */
  headers?: Record<string, string>;
}

export class WsLink {
  private socket: WebSocket | undefined;
  private opened!: () => void;
  /** Resolves at the first open or the first failure, so a bridge start never hangs on a dead endpoint. */
  readonly ready = new Promise<void>((resolve) => {
    this.opened = resolve;
  });
  readonly done: Promise<void>;

  constructor(
    private readonly ctx: BridgeContext,
    private readonly endpoint: WsEndpoint,
    private readonly stats: RouteStats,
    private readonly onText?: (text: string) => void,
  ) {
    this.done = this.run();
  }

  /** One connection at a time; on close, back off and connect again, until the bridge closes. */
  private async run(): Promise<void> {
    for (let attempt = 1; !this.ctx.closed; attempt++) {
      const failure = await new Promise<unknown>((resolve) => {
        const ws = new WebSocket(this.endpoint.url, this.endpoint.protocols ?? [], {
          headers: this.endpoint.headers ?? {},
        });
        this.socket = ws;
        let error: unknown;
        ws.on('open', () => {
          attempt = 0;
          this.opened();
        });
        ws.on('message', (data, isBinary) => {
          if (!isBinary) this.onText?.(data.toString());
        });
        ws.on('error', (err) => {
          error = err;
        });
        ws.on('close', (code) => resolve(error ?? new Error(`closed with code ${code}`)));
      });
      this.socket = undefined;
      if (this.ctx.closed) break;
      this.opened();
      if (!(await this.ctx.readFailed(failure, this.stats, 'WebSocket', attempt))) break;
    }
  }

  /** Send one text frame; rejects (so the hub retries the delivery) when the link is down. */
  send(text: string): Promise<void> {
    const ws = this.socket;
    if (ws === undefined || ws.readyState !== WebSocket.OPEN) {
      return Promise.reject(
        new HubError(
          ErrorCode.CONNECTION_FAILED,
          `[hub:legacy] WebSocket ${this.endpoint.url} is not connected`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      ws.send(text, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Close the connection (the bridge is closing: run() then ends). */
  close(): void {
    this.socket?.close(1001, 'bridge closing');
  }
}
