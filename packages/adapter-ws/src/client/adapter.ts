import {
  type AdapterCapabilities,
  type AdapterContext,
  AdapterError,
  type AdapterFactory,
  BaseAdapter,
  backoffDelay,
  type InboundDelivery,
  type NackOptions,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
} from '@hub/core';
import {
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { CloseCode, WsErrorCode } from '../protocol/codes.js';
import {
  type ClientFrame,
  decodeFrames,
  encodeFrame,
  FEATURES,
  Feature,
  FrameBatcher,
  PROTOCOL_VERSION,
  type ServerFrame,
  SUBPROTOCOL,
  serverFrameOf,
} from '../protocol/frames.js';
import {
  checkClientOptions,
  type WebSocketConstructor,
  type WebSocketLike,
  type WsClientOptions,
} from './options.js';
import { SettledRing } from './settled-ring.js';

const OPEN = 1;
/** Codes of error frames that say the same send will fail again. */
const FINAL = new Set<string>([
  ErrorCode.INVALID_MESSAGE,
  ErrorCode.GUARANTEE_UNSUPPORTED,
  ErrorCode.AUTH_FAILED,
  WsErrorCode.FORBIDDEN,
  WsErrorCode.BAD_FRAME,
  'HUB_INVALID_PATTERN',
]);

/**
 * A frame sent and not yet confirmed by the server: resent after a reconnect.
 * It keeps the frame, not its text: encoding again on the rare resend is
 * cheaper than keeping every in-flight message's text alive (a flood's
 * in-flight set would outlive young-generation collections and be copied).
 */
interface Outgoing {
  readonly frame: ClientFrame;
  readonly deadline: number;
  readonly promise: Promise<SendResult>;
  resolve(result: SendResult): void;
  reject(err: Error): void;
}

interface ClientSub {
  readonly spec: SubscriptionSpec;
  /** The serve / subscribe frame that (re)creates it on a new session. */
  open: ClientFrame;
}

/**
 * The client role: an adapter whose broker is a hub server reached over one
 * WebSocket. Sends wait for the server's confirmation and are resent with
 * the same ids after a reconnect; served endpoints and subscriptions are
 * restored; deliveries are settled by ack/nack frames.
 */
export class WsClientAdapter extends BaseAdapter {
  readonly name: string;
  /**
   * `durableTopics` is the server's: its welcome says whether its hub routes
   * events asking for more than best-effort, and a new object is set then
   * (the hub reads capabilities as data, on every route decision).
   */
  get capabilities(): AdapterCapabilities {
    return this.caps;
  }
  private caps: AdapterCapabilities = CAPABILITIES;

  private readonly url: string;
  private readonly WS: WebSocketConstructor;
  private readonly maxOutbox: number;
  private readonly options: WsClientOptions;
  private socket: WebSocketLike | undefined;
  /** True between the welcome and the disconnect. */
  private live = false;
  private session: string | undefined;
  /** Bumped when the server starts a new session: settlements of older deliveries are void. */
  private epoch = 0;
  private readonly outbox = new Map<string, Outgoing>();
  private readonly subs = new Map<string, ClientSub>();
  /** ack/nack frames made while disconnected, sent if the session resumes. */
  private settlements: string[] = [];
  /** Highest delivery seq received in this session (they arrive in seq order). */
  private received = 0;
  /** Deliveries of this session handed to the hub and not settled yet. */
  private processing = new Set<number>();
  /**
   * Recent settlements of this session: an ack lost with the old link is
   * sent again when the server, resuming, says it still waits for it.
   */
  private readonly recentSettled = new SettledRing(RECENT_SETTLED);
  private nextId = 0;
  private attempt = 0;
  private lastHeard = 0;
  private pingEveryMs = 15_000;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private loop: ReturnType<typeof setInterval> | undefined;
  private closing = false;
  private corked = false;
  /**
   * Set from a welcome that lists the `batch` feature: frames of one turn then
   * leave as one `batch` frame. Tied to the socket it was made for.
   */
  private batcher: FrameBatcher | undefined;
  private firstWelcome: { resolve(): void; reject(err: Error): void } | undefined;
  private stats = { reconnects: 0, resumed: 0, resyncs: 0, framesIn: 0, framesOut: 0 };

  constructor(options: WsClientOptions) {
    super();
    checkClientOptions(options);
    this.options = options;
    this.name = options.name ?? 'ws';
    this.url = options.token
      ? `${options.url}${options.url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(options.token)}`
      : options.url;
    const WS =
      options.WebSocket ??
      (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket ??
      undefined;
    if (WS === undefined) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub:ws] wsClient option "WebSocket" is required where there is no global WebSocket (Node < 22: import wsClient from "@hub/adapter-ws")',
      );
    }
    this.WS = WS;
    this.maxOutbox = options.maxOutbox ?? 10_000;
  }

  protected doConnect(_ctx: AdapterContext): Promise<void> {
    this.closing = false;
    return new Promise<void>((resolve, reject) => {
      this.firstWelcome = { resolve, reject };
      this.open();
    });
  }

  private open(): void {
    this.reconnectTimer = undefined;
    if (this.closing) return;
    let ws: WebSocketLike;
    try {
      ws = new this.WS(this.url, [SUBPROTOCOL]);
    } catch (err) {
      this.disconnect(CloseCode.HANDSHAKE_FAILED, `cannot open a WebSocket: ${String(err)}`);
      return;
    }
    this.socket = ws;
    // A link that opens but never gets to the welcome (stalled, half dead) is
    // given up and retried, like one that fails outright.
    const timeoutMs = this.options.connectTimeoutMs ?? 10_000;
    this.handshakeTimer = setTimeout(() => {
      this.handshakeTimer = undefined;
      if (this.socket === ws && !this.live) {
        this.disconnect(CloseCode.HANDSHAKE_FAILED, `no welcome within ${timeoutMs} ms`);
      }
    }, timeoutMs);
    ws.onopen = () => {
      this.lastHeard = Date.now();
      const hello: ClientFrame = { type: 'hello', v: PROTOCOL_VERSION, features: [...FEATURES] };
      // A hub that opens protected envelopes gets its deliveries sealed, end to end.
      if (this.adapterContext.opensProtection === true) hello.sealed = true;
      if (this.session !== undefined) {
        hello.session = this.session;
        hello.last = this.received;
      }
      this.write(ws, encodeFrame(hello));
    };
    ws.onmessage = (event) => {
      if (this.socket !== ws) return;
      this.lastHeard = Date.now();
      this.stats.framesIn++;
      let objs: Array<Record<string, unknown>>;
      try {
        objs = decodeFrames(String(event.data));
      } catch (err) {
        this.fail('receive', err);
        return;
      }
      for (const obj of objs) {
        let frame: ServerFrame;
        try {
          frame = serverFrameOf(obj);
        } catch (err) {
          this.fail('receive', err);
          continue;
        }
        this.onFrame(ws, frame);
        if (this.socket !== ws) return;
      }
    };
    ws.onclose = (event) => {
      if (this.socket === ws) this.disconnect(event.code, event.reason || 'closed');
    };
    ws.onerror = () => {
      // a close event follows; the reason is in it
    };
  }

  /** Every server frame goes through this one switch. */
  private onFrame(ws: WebSocketLike, frame: ServerFrame): void {
    switch (frame.type) {
      case 'welcome':
        this.welcome(ws, frame);
        return;
      case 'ack':
        this.confirmed(frame.id);
        return;
      case 'acks':
        for (const id of frame.ids) this.confirmed(id);
        return;
      case 'error': {
        if (frame.id === undefined) {
          if (frame.code === WsErrorCode.RESYNC) this.stats.resyncs++;
          this.fail('session', new HubError(frame.code, frame.message));
          return;
        }
        const out = this.outbox.get(frame.id);
        if (out === undefined) return;
        this.outbox.delete(frame.id);
        out.reject(
          new AdapterError(this.name, frame.message.replace(/^\[[^\]]*\]\s*/, ''), {
            code: frame.code,
            retryable: !FINAL.has(frame.code),
          }),
        );
        return;
      }
      case 'deliver':
        this.deliver(frame);
        return;
      case 'pong':
        return;
    }
  }

  private confirmed(id: string): void {
    const out = this.outbox.get(id);
    if (out === undefined) return;
    this.outbox.delete(id);
    out.resolve(SENT);
  }

  private welcome(ws: WebSocketLike, frame: Extract<ServerFrame, { type: 'welcome' }>): void {
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    const resumed = frame.resumed && frame.session === this.session;
    this.session = frame.session;
    this.live = true;
    this.caps = frame.durableTopics === true ? DURABLE_CAPABILITIES : CAPABILITIES;
    this.batcher = frame.features?.includes(Feature.BATCH)
      ? new FrameBatcher(
          (text) => {
            if (this.socket !== ws || ws.readyState !== OPEN) return; // resent on the next link
            ws.send(text);
            this.stats.framesOut++;
          },
          undefined,
          // room for non-ASCII text (up to 3 UTF-8 bytes per unit) under the server's limit
          Math.max(1, Math.min(BATCH_CHARS, Math.floor((frame.maxPayload ?? 1_048_576) / 3))),
        )
      : undefined;
    this.attempt = 0;
    this.pingEveryMs = this.options.pingIntervalMs ?? (frame.pingIntervalMs || 15_000);
    if (resumed) {
      this.stats.resumed++;
      for (const text of this.settlements) this.write(ws, text);
      const unacked = frame.unacked ?? [];
      const settled = this.recentSettled.find(unacked);
      for (const seq of unacked) {
        if (this.processing.has(seq)) continue; // its settlement comes when the handler is done
        // forgotten: ask for it again rather than leave the server waiting
        const again = settled.has(seq)
          ? (settled.get(seq) ?? ackText(seq))
          : encodeFrame({ type: 'nack', seq, reason: 'lost on reconnect' });
        this.write(ws, again);
      }
    } else {
      this.epoch++;
      this.received = 0;
      this.processing.clear();
      this.recentSettled.clear();
      // A new session holds nothing of ours: serve and subscribe again.
      for (const sub of this.subs.values()) this.write(ws, encodeFrame(sub.open));
    }
    this.settlements = [];
    // Unconfirmed frames again, same ids, in the order they were first sent.
    for (const out of this.outbox.values()) this.write(ws, encodeFrame(out.frame));
    this.startLoop();
    const first = this.firstWelcome;
    this.firstWelcome = undefined;
    first?.resolve();
    if (this.state === 'degraded') this.setState('ready');
  }

  private deliver(frame: Extract<ServerFrame, { type: 'deliver' }>): void {
    const { seq } = frame;
    if (seq <= this.received) return; // sent again though we have it: settled or being handled
    this.received = seq;
    const sub = this.subs.get(frame.sub);
    if (sub === undefined) {
      // closed here meanwhile: give it back so the server hands it to someone else
      this.settle(
        this.epoch,
        seq,
        encodeFrame({ type: 'nack', seq, reason: 'subscription closed' }),
      );
      return;
    }
    this.processing.add(seq);
    sub.spec.deliver(new Delivery(this.settleFn, frame.envelope, frame.attempt, seq, this.epoch));
  }

  /** `settle`, bound once: every delivery of this adapter shares it. */
  private readonly settleFn = (epoch: number, seq: number, nack: string | undefined): void =>
    this.settle(epoch, seq, nack);

  /**
   * Settle delivery `seq` of session `epoch`: an ack, or a nack with `nack`
   * as its frame's text (`ACK` for a plain ack).
   */
  private settle(epoch: number, seq: number, nack: string | undefined): void {
    if (epoch !== this.epoch) return; // that session is gone: the server has released it
    const text = nack ?? ackText(seq);
    this.processing.delete(seq);
    // A plain ack is remembered as its seq only (its text is made again if a
    // resume asks): no string per delivery kept alive across collections.
    this.recentSettled.add(seq, nack);
    if (this.live && this.socket) this.write(this.socket, text, true);
    else this.settlements.push(text);
  }

  /** Write a frame; `lazy` for one nobody waits on (see FrameBatcher). */
  private write(ws: WebSocketLike, text: string, lazy = false): void {
    if (ws.readyState !== OPEN) return;
    if (this.batcher !== undefined && this.live) {
      this.batcher.push(text, lazy);
      return;
    }
    if (!this.corked) this.cork(ws);
    ws.send(text);
    this.stats.framesOut++;
  }

  /**
   * On Node (`ws`), frames written in one turn of the event loop leave in one
   * write instead of a system call each. Browsers batch on their own.
   */
  private cork(ws: WebSocketLike): void {
    const raw = (ws as { _socket?: { cork(): void; uncork(): void } })._socket;
    const later = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
    if (raw === undefined || later === undefined) return;
    this.corked = true;
    raw.cork();
    later(() => {
      this.corked = false;
      raw.uncork();
    });
  }

  /** Send a frame and wait for the server's ack (kept and resent across reconnects). */
  private request(id: string, frame: ClientFrame): Promise<SendResult> {
    // encoded now even while disconnected: a payload the codec refuses fails this send at once
    const text = encodeFrame(frame);
    const existing = this.outbox.get(id);
    if (existing !== undefined) return existing.promise;
    if (this.outbox.size >= this.maxOutbox) {
      return Promise.reject(
        new AdapterError(this.name, `outbox full (${this.maxOutbox} frames wait for the server)`, {
          code: ErrorCode.OVERLOADED,
          retryable: false,
        }),
      );
    }
    let resolve!: (result: SendResult) => void;
    let reject!: (err: Error) => void;
    const promise = new Promise<SendResult>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const timeout = this.adapterContext.sendTimeoutMs ?? 30_000;
    this.outbox.set(id, { frame, deadline: Date.now() + timeout, promise, resolve, reject });
    if (this.live && this.socket) this.write(this.socket, text);
    return promise;
  }

  protected doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    return this.request(
      envelope.id,
      envelope.kind === 'message'
        ? { type: 'message', id: envelope.id, envelope }
        : { type: 'event', id: envelope.id, envelope },
    );
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    const sub = `s${++this.nextId}`;
    const open: ClientFrame =
      spec.kind === 'endpoint'
        ? {
            type: 'serve',
            id: `~${sub}`,
            sub,
            address: spec.address,
            prefetch: spec.prefetch,
            ...(spec.guarantees === undefined ? {} : { guarantees: [...spec.guarantees] }),
          }
        : {
            type: 'subscribe',
            id: `~${sub}`,
            sub,
            pattern: spec.address,
            prefetch: spec.prefetch,
            ...(spec.group === undefined ? {} : { group: spec.group }),
            ...(spec.startFrom === undefined ? {} : { startFrom: spec.startFrom }),
          };
    const entry: ClientSub = { spec, open };
    this.subs.set(sub, entry);
    try {
      await this.request(open.id, open);
    } catch (err) {
      this.subs.delete(sub);
      throw err;
    }
    if (open.type === 'subscribe' && open.startFrom !== undefined) {
      // Subscribing again on a new session continues where the group left
      // off: the first start position again would skip or repeat events.
      const { startFrom: _first, ...again } = open;
      entry.open = again;
    }
    return {
      close: async () => {
        if (!this.subs.delete(sub)) return;
        if (!this.live) return; // the server drops it with the session, or we never get back
        const id = `~${sub}~close`;
        const frame: ClientFrame =
          spec.kind === 'endpoint'
            ? { type: 'unserve', id, sub }
            : { type: 'unsubscribe', id, sub };
        // Not awaited: deliveries for it that cross the unsubscribe are nacked
        // back (see deliver), and a server that is gone never answers.
        this.request(id, frame).catch(() => {});
      },
    };
  }

  /** One loop while connected: liveness (ping, dead-server check) and send deadlines. */
  private startLoop(): void {
    if (this.loop !== undefined) return;
    const every = Math.min(this.pingEveryMs, 1_000);
    let sinceping = 0;
    /** The last ping of the current link and when it left. */
    let pinged: { ws: WebSocketLike; at: number } | undefined;
    this.loop = setInterval(() => {
      const now = Date.now();
      for (const [id, out] of this.outbox) {
        if (out.deadline > now) break; // in send order: the rest are younger
        this.outbox.delete(id);
        out.reject(
          new AdapterError(this.name, `no confirmation from the server within the send timeout`, {
            code: ErrorCode.TIMEOUT,
          }),
        );
      }
      const ws = this.socket;
      if (!this.live || ws === undefined) return;
      if (now - this.lastHeard > 2 * this.pingEveryMs) {
        this.disconnect(CloseCode.DEAD_PEER, 'server silent for two ping intervals');
        return;
      }
      sinceping += every;
      if (sinceping >= this.pingEveryMs) {
        sinceping = 0;
        // Nothing heard since the previous ping left, a whole interval ago: a
        // dead link is dropped within two intervals of going silent, as the
        // server does with its clients (the answer comes just after a ping,
        // so the silence check above alone would take up to three).
        if (pinged?.ws === ws && this.lastHeard < pinged.at) {
          this.disconnect(CloseCode.DEAD_PEER, 'no answer to a ping within one interval');
          return;
        }
        pinged = { ws, at: now };
        this.write(ws, PING);
      }
    }, every);
    (this.loop as { unref?: () => void }).unref?.();
  }

  /** The one way a connection ends, whoever ended it; reconnects unless closing. */
  private disconnect(code: number, reason: string): void {
    const ws = this.socket;
    // a clean close still sends what this turn wrote (settlements, say); a lost link drops it
    // (unconfirmed frames are in the outbox, settlements are asked for again on resume)
    if (code === CloseCode.NORMAL) this.batcher?.flush();
    else this.batcher?.clear();
    this.batcher = undefined;
    this.socket = undefined;
    this.live = false;
    if (this.handshakeTimer !== undefined) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    if (ws !== undefined) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      // closing a socket still connecting makes it report an error: keep a listener
      ws.onerror = () => {};
      const terminate = (ws as { terminate?: () => void }).terminate;
      if (code === CloseCode.DEAD_PEER && terminate) terminate.call(ws);
      else if (ws.readyState <= OPEN) {
        try {
          ws.close(code >= 3000 || code === 1000 ? code : 1000, reason.slice(0, 120));
        } catch {
          // already closing
        }
      }
    }
    if (this.closing) return;
    const first = this.firstWelcome;
    if (first !== undefined) {
      this.firstWelcome = undefined;
      first.reject(
        new AdapterError(this.name, `connection to ${this.options.url} failed: ${code} ${reason}`),
      );
      return;
    }
    this.fail(
      'connection',
      new AdapterError(this.name, `connection lost (${code} ${reason}); reconnecting`),
    );
    this.setState('degraded');
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.reconnectTimer !== undefined) return;
    this.stats.reconnects++;
    const delay = backoffDelay(++this.attempt, {
      initialDelayMs: 100,
      maxDelayMs: 5_000,
      ...this.options.reconnect,
    });
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }

  protected override healthDetail(): Record<string, unknown> {
    return {
      connected: this.live,
      session: this.session,
      outbox: this.outbox.size,
      bufferedBytes: this.socket?.bufferedAmount ?? 0,
      ...this.stats,
    };
  }

  protected async doClose(): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    if (this.loop !== undefined) clearInterval(this.loop);
    this.loop = undefined;
    const closed = new HubError(ErrorCode.CLOSED, `[hub:${this.name}] adapter closed`);
    for (const out of this.outbox.values()) out.reject(closed);
    this.outbox.clear();
    this.disconnect(CloseCode.NORMAL, 'client closing');
  }
}

/** The ack frame of delivery `seq` (what encodeFrame makes of `{ type: 'ack', seq }`). */
const ackText = (seq: number): string => `{"type":"ack","seq":${seq}}`;

/**
 * One delivery handed to the hub: its settlement becomes an ack or nack
 * frame for `seq`, void once the session it came in is gone. One object per
 * delivery, its methods on the prototype (no closures per delivery).
 */
class Delivery implements InboundDelivery {
  constructor(
    private readonly settle: (epoch: number, seq: number, nack: string | undefined) => void,
    readonly envelope: Envelope,
    readonly attempt: number,
    private readonly seq: number,
    private readonly epoch: number,
  ) {}

  ack(): void {
    this.settle(this.epoch, this.seq, undefined);
  }

  nack(options?: NackOptions): void {
    const seq = this.seq;
    this.settle(
      this.epoch,
      seq,
      encodeFrame(
        options?.reason === undefined
          ? { type: 'nack', seq }
          : { type: 'nack', seq, reason: options.reason },
      ),
    );
  }

  // No dead-letter store on this side: a final nack asks the server's hub to
  // dead-letter it at once (a server that does not know `final` retries it).
  async deadLetter(reason: string): Promise<void> {
    const seq = this.seq;
    this.settle(this.epoch, seq, encodeFrame({ type: 'nack', seq, reason, final: true }));
  }
}

const CAPABILITIES: AdapterCapabilities = Object.freeze({
  guarantees: Object.freeze([
    DeliveryGuarantee.BEST_EFFORT,
    DeliveryGuarantee.AT_LEAST_ONCE,
    DeliveryGuarantee.EXACTLY_ONCE,
    DeliveryGuarantee.ORDERED,
  ]),
  persistent: false,
  ordered: true,
  broadcast: true,
  patterns: true,
  consumerGroups: true,
});
const DURABLE_CAPABILITIES: AdapterCapabilities = Object.freeze({
  ...CAPABILITIES,
  durableTopics: true,
});

/** Largest batch in UTF-16 units: big enough to amortise a frame, small enough to interleave. */
const BATCH_CHARS = 65_536;
/** Settlements remembered for a resume: far above any window, so a lost ack is always found. */
const RECENT_SETTLED = 4_096;
const SENT: SendResult = Object.freeze({ protocol: 'ws' });
const PING = encodeFrame({ type: 'ping' });

/** Create a WebSocket client adapter (platform `WebSocket`, or `options.WebSocket`). */
export function wsClient(options: WsClientOptions): WsClientAdapter {
  return new WsClientAdapter(options);
}

/** Factory for config-driven setups: `createHub({ adapters: [wsAdapter], websocketConfig: { url } })`. */
export const wsAdapter: AdapterFactory<WsClientOptions, WsClientAdapter> = {
  name: 'ws',
  configKey: 'websocketConfig',
  // a missing config is refused by the option check, naming "url"
  create: (config) => wsClient(config ?? ({} as WsClientOptions)),
};

declare module '@hub/core' {
  interface HubAdapters {
    ws: WsClientAdapter;
  }
}
