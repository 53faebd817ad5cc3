import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, STATUS_CODES } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import {
  type AccessVerb,
  attachIdentity,
  DeadLetterError,
  type Hub,
  handOverPayload,
  isLoopbackHost,
  matchTopic,
  runAs,
  type TopicStart,
} from '@hub/core';
import { type Envelope, ErrorCode, HubError, type UnifiedEvent } from '@hub/protocol';
import { type RawData, type WebSocket, WebSocketServer } from 'ws';
import { CloseCode, UpgradeStatus, WsErrorCode } from '../protocol/codes.js';
import {
  CLOUDEVENTS_SUBPROTOCOL,
  type ClientFrame,
  clientFrameOf,
  decodeFrames,
  FEATURES,
  Feature,
  FrameError,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
} from '../protocol/frames.js';
import { serveCloudEvents } from './cloudevents.js';
import { Connection, identityOf } from './connection.js';
import { ServedEndpoint } from './endpoint.js';
import {
  emptyMetrics,
  type WsConnectionFigures,
  type WsGatewayInspection,
  type WsGatewayMetrics,
} from './metrics.js';
import {
  type ResolvedServerOptions,
  resolveServerOptions,
  type WsIdentity,
  type WsServerOptions,
} from './options.js';
import { type PendingDelivery, Session, type SessionSub, type TopicSub } from './session.js';

type Verb = 'send' | 'serve' | 'subscribe';

/**
 * The server role: a gateway attached to a hub. It does not route: each
 * connection's frames become calls on the hub (send, publish, onMessage for an
 * endpoint the client serves, subscribe for a topic it wants), and the hub's
 * deliveries become frames settled by the client's acks.
 */
export class WsGateway implements AsyncDisposable {
  readonly options: ResolvedServerOptions;
  private readonly hub: Hub;
  private readonly wss: WebSocketServer;
  private readonly server: Server | import('node:https').Server;
  private readonly ownServer: boolean;
  private readonly conns = new Set<Connection>();
  private readonly perIp = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();
  private readonly endpoints = new Map<string, ServedEndpoint>();
  private readonly stats = emptyMetrics();
  private readonly pending = new Set<Promise<void>>();
  private liveness: ReturnType<typeof setInterval> | undefined;
  private closing: Promise<void> | undefined;
  private readonly removeHealthSource: () => void;

  constructor(options: WsServerOptions) {
    this.options = resolveServerOptions(options);
    this.hub = this.options.hub;
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.options.maxPayload,
      perMessageDeflate: false,
      handleProtocols: (offered) =>
        offered.has(SUBPROTOCOL)
          ? SUBPROTOCOL
          : offered.has(CLOUDEVENTS_SUBPROTOCOL)
            ? CLOUDEVENTS_SUBPROTOCOL
            : false,
    });
    this.ownServer = this.options.server === undefined;
    this.server =
      this.options.server ??
      createServer((_req, res) => {
        res.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
        res.end('WebSocket upgrade required\n');
      });
    this.server.on('upgrade', this.onUpgrade);
    if (this.hub.metrics().components[this.options.name] !== undefined) {
      this.server.off('upgrade', this.onUpgrade);
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:ws] wsServer option "name": this hub already has a gateway named "${this.options.name}"; give each its own`,
      );
    }
    this.removeHealthSource = this.hub.addHealthSource(this.options.name, {
      health: () => ({
        healthy: this.closing === undefined,
        detail: { ...this.metrics(), perConnection: this.inspect(HEALTH_CONNECTIONS) },
      }),
      metrics: () => flatten(this.metrics()),
    });
  }

  /** Start listening (standalone) and the liveness loop. */
  async listen(): Promise<this> {
    if (this.ownServer && !this.server.listening) {
      await new Promise<void>((resolve, reject) => {
        this.server.once('error', reject);
        this.server.listen(this.options.port, this.options.host, () => {
          this.server.off('error', reject);
          resolve();
        });
      });
    }
    this.liveness ??= setInterval(this.checkLiveness, this.options.pingIntervalMs);
    this.liveness.unref?.();
    if (this.server.listening) this.warnIfExposed();
    else this.server.once('listening', () => this.warnIfExposed());
    return this;
  }

  /**
   * Start-up warnings for a gateway other machines can reach: without a
   * token or an authenticate hook anyone there may connect, and over plain
   * HTTP (not an https.Server) tokens and frames travel in the clear.
   */
  private warnIfExposed(): void {
    const address = (this.server.address() as AddressInfo | null)?.address;
    if (address === undefined || isLoopbackHost(address)) return;
    const where = `[hub:ws] gateway "${this.options.name}" listens on ${address}, not a loopback address`;
    if (this.options.tokens === undefined && this.options.authenticate === undefined) {
      this.hub.logger.warn(
        `${where}, without authentication: anyone who reaches it may connect (set tokens or authenticate)`,
      );
    }
    if (!('setSecureContext' in this.server)) {
      this.hub.logger.warn(
        `${where}, over plain HTTP: tokens and frames travel unencrypted (mount it on an https.Server)`,
      );
    }
  }

  /** The port the gateway listens on (the mounted server's port when mounted). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  /** `ws://host:port/path` for loopback use and tests. */
  get url(): string {
    const addr = this.server.address() as AddressInfo | null;
    const host = addr?.address.includes(':') ? `[${addr.address}]` : (addr?.address ?? '127.0.0.1');
    return `ws://${host}:${addr?.port ?? 0}${this.options.path}`;
  }

  metrics(): WsGatewayMetrics {
    let buffered = 0;
    for (const c of this.conns) buffered += c.socket.bufferedAmount;
    return {
      ...this.stats,
      refused: { ...this.stats.refused },
      cut: { ...this.stats.cut },
      connections: this.conns.size,
      sessions: this.sessions.size,
      bufferedBytes: buffered,
    };
  }

  /**
   * The open connections with their own figures (identity, frames and bytes
   * each way, buffered bytes, unsettled deliveries), most buffered first, at
   * most `limit` of them. Per-connection figures stay out of the hub's
   * metrics on purpose: one series per connection would grow without bound.
   */
  inspect(limit = 100): WsGatewayInspection {
    const max = Math.max(0, Math.floor(limit));
    // The most buffered `max`, kept sorted while walking the set once: a
    // health check of a gateway with many connections builds only those.
    const top: Array<{ conn: Connection; buffered: number }> = [];
    for (const conn of this.conns) {
      const buffered = conn.socket.bufferedAmount;
      if (top.length === max && (max === 0 || top[max - 1]!.buffered >= buffered)) continue;
      let i = top.length;
      while (i > 0 && top[i - 1]!.buffered < buffered) i--;
      top.splice(i, 0, { conn, buffered });
      if (top.length > max) top.pop();
    }
    const connections = top.map(
      ({ conn: c, buffered }): WsConnectionFigures => ({
        identity: identityOf(c),
        ip: c.ip,
        session: c.session?.id,
        protocol: c.socket.protocol,
        connectedAt: c.connectedAt,
        framesIn: c.framesIn,
        framesOut: c.framesOut,
        bytesIn: c.bytesIn,
        bytesOut: c.bytesOut,
        bufferedBytes: buffered,
        unacked: c.session?.link === c ? c.session.unacked.size : 0,
      }),
    );
    return { total: this.conns.size, omitted: this.conns.size - connections.length, connections };
  }

  // ─── the upgrade: every refusal before the 101 ─────────────────────────

  private readonly onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => {});
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== this.options.path) {
      // mounted beside other upgrade handlers: theirs to answer
      if (this.server.listenerCount('upgrade') > 1) return;
      this.stats.refused.path++;
      refuse(socket, UpgradeStatus.NOT_FOUND);
      return;
    }
    if (this.closing) {
      refuse(socket, UpgradeStatus.TOO_MANY);
      return;
    }
    const origin = req.headers.origin;
    const allowed = this.options.allowedOrigins;
    const ip = req.socket.remoteAddress ?? '';
    if (origin !== undefined && allowed !== undefined && !allowed.includes(origin)) {
      this.stats.refused.origin++;
      this.audit({
        kind: 'refused',
        address: url.pathname,
        rule: 'allowedOrigins',
        code: ErrorCode.FORBIDDEN,
        reason: `WebSocket upgrade from ${ip} refused: origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`,
      });
      refuse(socket, UpgradeStatus.FORBIDDEN_ORIGIN);
      return;
    }
    const perIp = (this.perIp.get(ip) ?? 0) >= this.options.maxConnectionsPerIp;
    if (perIp || this.conns.size >= this.options.maxConnections) {
      this.stats.refused.limit++;
      const rule = perIp ? 'maxConnectionsPerIp' : 'maxConnections';
      this.audit({
        kind: 'rate-limit',
        address: url.pathname,
        rule,
        code: ErrorCode.OVERLOADED,
        reason: `WebSocket upgrade from ${ip} refused: over ${rule} (${this.options[rule]})`,
      });
      refuse(socket, UpgradeStatus.TOO_MANY);
      return;
    }
    if (!this.tokenOk(req, url)) {
      this.stats.refused.auth++;
      this.auditAuth(req, ip, 'missing or unknown token');
      refuse(socket, UpgradeStatus.UNAUTHORIZED);
      return;
    }
    const authenticate = this.options.authenticate;
    if (authenticate === undefined) {
      this.wss.handleUpgrade(req, socket, head, (ws) => this.onConnection(ws, ip, undefined, url));
      return;
    }
    Promise.resolve()
      .then(() => authenticate(req))
      .then(
        (identity) => {
          if (identity == null) throw new Error('refused');
          if (socket.destroyed) return;
          this.wss.handleUpgrade(req, socket, head, (ws) =>
            this.onConnection(ws, ip, identity, url),
          );
        },
        () => {
          throw new Error('refused');
        },
      )
      .catch(() => {
        this.stats.refused.auth++;
        this.auditAuth(req, ip, 'refused by the authenticate hook');
        refuse(socket, UpgradeStatus.UNAUTHORIZED);
      });
  };

  /** A refused upgrade, in the hub's audit log when it has security. */
  private auditAuth(req: IncomingMessage, ip: string, why: string): void {
    this.audit({
      kind: 'auth',
      address: new URL(req.url ?? '/', 'http://x').pathname,
      rule: this.options.authenticate === undefined ? 'tokens' : 'authenticate',
      code: ErrorCode.AUTH_FAILED,
      reason: `WebSocket upgrade from ${ip} ${why}`,
    });
  }

  /** A refusal of this gateway's own (before the hub sees anything), in the hub's audit sink. */
  private audit(event: Parameters<NonNullable<Hub['security']>['report']>[0]): void {
    this.hub.security?.report(event);
  }

  private tokenOk(req: IncomingMessage, url: URL): boolean {
    const tokens = this.options.tokens;
    if (tokens === undefined) return true;
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ')
      ? header.slice(7)
      : (url.searchParams.get('access_token') ?? '');
    const g = Buffer.from(given);
    return tokens.some((t) => {
      const b = Buffer.from(t);
      return b.length === g.length && timingSafeEqual(b, g);
    });
  }

  // ─── connections ───────────────────────────────────────────────────────

  private onConnection(
    ws: WebSocket,
    ip: string,
    identity: WsIdentity | undefined,
    url: URL,
  ): void {
    const conn = new Connection(ws, ip, identity, this.options, this.stats, this.onGone);
    this.conns.add(conn);
    this.perIp.set(ip, (this.perIp.get(ip) ?? 0) + 1);
    this.stats.accepted++;
    conn.helloTimer = setTimeout(() => {
      this.stats.cut.handshake++;
      conn.disconnect(CloseCode.HANDSHAKE_FAILED, 'no hello within the handshake timeout');
    }, this.options.handshakeTimeoutMs);
    ws.on('message', (data: RawData, isBinary: boolean) => this.onData(conn, data, isBinary));
    if (ws.protocol === CLOUDEVENTS_SUBPROTOCOL) {
      serveCloudEvents(
        this.hub,
        conn,
        url,
        (verb, address, kind) => this.allowed(conn, verb, address, undefined, kind),
        () => {
          this.stats.errorFrames++;
        },
      );
    }
  }

  private readonly onGone = (conn: Connection, code: number): void => {
    this.conns.delete(conn);
    const n = (this.perIp.get(conn.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(conn.ip);
    else this.perIp.set(conn.ip, n);
    const session = conn.session;
    if (session === undefined || session.link !== conn) return;
    session.detach();
    if (this.closing) return;
    // Replaced by a resume on a new connection: the session goes on there at once.
    if (code !== CloseCode.SESSION_REPLACED) this.park(session);
    if (code === CloseCode.NORMAL) {
      // the client closed on purpose: it is not coming back for this session
      this.background(this.expire(session));
      return;
    }
    session.expireTimer = setTimeout(() => {
      this.background(this.expire(session));
    }, this.options.resumeWindowMs);
    session.expireTimer.unref?.();
  };

  private onData(conn: Connection, data: RawData, isBinary: boolean): void {
    conn.alive = true;
    const open = !conn.closed;
    if (!conn.admit()) {
      if (open) {
        // Cut just now (close 1008): frames after the cut are dropped unrecorded.
        this.audit({
          kind: 'rate-limit',
          identity: identityOf(conn),
          rule: 'rateLimit',
          code: ErrorCode.OVERLOADED,
          reason: `WebSocket connection from ${conn.ip} cut with 1008: over ${this.options.rateLimit} frames/s (burst ${this.options.rateBurst})`,
        });
      }
      return;
    }
    const size = Array.isArray(data)
      ? data.reduce((n, b) => n + b.length, 0)
      : (data as Buffer).byteLength;
    this.stats.framesIn++;
    this.stats.bytesIn += size;
    conn.framesIn++;
    conn.bytesIn += size;
    if (isBinary) {
      conn.disconnect(CloseCode.UNSUPPORTED_DATA, 'binary frames are not part of the protocol');
      return;
    }
    if (conn.onText !== undefined) {
      conn.onText(data.toString());
      return;
    }
    let objs: Array<Record<string, unknown>>;
    try {
      objs = decodeFrames(data.toString());
    } catch (err) {
      this.refuseFrame(conn, undefined, err);
      return;
    }
    // every frame of a batch counts against the rate limit (the first was taken above)
    if (objs.length > 1 && !conn.admit(objs.length - 1)) return;
    for (const obj of objs) {
      let frame: ClientFrame;
      try {
        frame = clientFrameOf(obj);
      } catch (err) {
        const e = err as FrameError;
        this.refuseFrame(conn, e.frameId, e);
        continue;
      }
      this.onFrame(conn, frame);
      if (conn.closed) return;
    }
  }

  /** Every client frame goes through this one switch. */
  private onFrame(conn: Connection, frame: ClientFrame): void {
    const session = conn.session;
    if (frame.type === 'hello') {
      this.hello(conn, frame);
      return;
    }
    if (session === undefined) {
      this.stats.cut.handshake++;
      conn.disconnect(CloseCode.HANDSHAKE_FAILED, 'the first frame must be hello');
      return;
    }
    switch (frame.type) {
      case 'message':
      case 'event': {
        const env = frame.envelope;
        const address = env.kind === 'message' ? env.destination : env.topic;
        if (!this.allowed(conn, 'send', address, frame.id, env.kind, env.id)) return;
        const security = this.hub.security;
        if (security?.opensProtection === true) {
          // A client hub with protection sealed it: verified and opened here
          // (the hub seals it again for its own transport).
          security.openFromClient(env).then(
            (opened) => this.accept(conn, frame.id, opened),
            (err: unknown) => this.refuseFrame(conn, frame.id, err),
          );
        } else {
          // Parsed from this frame's text and held by nothing else here (a
          // client's resend is another frame, parsed again): the hub's
          // in-process transport may take its payload without copying it.
          this.accept(conn, frame.id, handOverPayload(env));
        }
        return;
      }
      case 'serve':
        if (!this.allowed(conn, 'serve', frame.address, frame.id)) return;
        this.serve(conn, session, frame);
        return;
      case 'subscribe':
        if (!this.allowed(conn, 'subscribe', frame.pattern, frame.id)) return;
        this.subscribe(conn, session, frame);
        return;
      case 'unserve':
      case 'unsubscribe':
        // Nothing more reaches the client from here on; the hub-side
        // unsubscribe (a transport may take a while to leave) goes on behind.
        this.background(this.unsubscribe(session, frame.sub));
        conn.send({ type: 'ack', id: frame.id });
        return;
      case 'ack':
        session.settle(frame.seq, undefined);
        return;
      case 'nack':
        session.settle(
          frame.seq,
          frame.final === true
            ? // the client's hub refuses it for good: dead-lettered here once, not redelivered
              new DeadLetterError(
                `[hub:ws] client dead-lettered: ${frame.reason ?? 'no reason given'}`,
              )
            : new HubError(
                ErrorCode.HANDLER_FAILED,
                `[hub:ws] client nacked: ${frame.reason ?? 'no reason given'}`,
              ),
        );
        return;
      case 'ping':
        conn.send({ type: 'pong' });
        return;
    }
  }

  /** Hand a client's envelope to the hub, as the connection's identity; confirm or refuse the frame. */
  private accept(conn: Connection, frameId: string, env: Envelope): void {
    // The hub's security decides with this connection's identity, and stamps
    // it; a hub without security reads no identity (a mark per message saved).
    if (this.hub.security !== undefined) attachIdentity(env, identityOf(conn));
    const sent =
      env.kind === 'message' ? this.hub.send(env) : this.hub.publish(env as UnifiedEvent);
    sent.then(
      () => conn.confirm(frameId),
      (err: unknown) => this.refuseFrame(conn, frameId, err),
    );
  }

  private hello(conn: Connection, frame: Extract<ClientFrame, { type: 'hello' }>): void {
    if (conn.session !== undefined) {
      this.refuseFrame(conn, undefined, new FrameError('a second hello on one connection'));
      return;
    }
    if (frame.v !== PROTOCOL_VERSION) {
      conn.send({
        type: 'error',
        code: WsErrorCode.BAD_FRAME,
        message: `[hub:ws] protocol version ${frame.v} is not supported; this server speaks ${PROTOCOL_VERSION}`,
      });
      this.stats.cut.handshake++;
      conn.disconnect(CloseCode.HANDSHAKE_FAILED, 'unsupported protocol version');
      return;
    }
    if (conn.helloTimer !== undefined) clearTimeout(conn.helloTimer);
    conn.helloTimer = undefined;
    let session = frame.session === undefined ? undefined : this.sessions.get(frame.session);
    const resumed = session !== undefined;
    if (session === undefined) {
      if (frame.session !== undefined) {
        // Never a silent gap: the client learns that what it missed is gone.
        this.stats.resyncs++;
        conn.send({
          type: 'error',
          code: WsErrorCode.RESYNC,
          message: `[hub:ws] session ${frame.session} is unknown or expired: what was sent to it meanwhile is lost; serve and subscribe again`,
        });
      }
      session = new Session(randomUUID(), this.options.window);
      this.sessions.set(session.id, session);
    } else {
      this.stats.resumed++;
      const previous = session.link as Connection | undefined;
      previous?.disconnect(CloseCode.SESSION_REPLACED, 'session resumed on another connection');
    }
    conn.session = session;
    conn.sealed = frame.sealed === true;
    const last = resumed ? (frame.last ?? 0) : 0;
    conn.send({
      type: 'welcome',
      v: PROTOCOL_VERSION,
      session: session.id,
      resumed,
      window: this.options.window,
      pingIntervalMs: this.options.pingIntervalMs,
      ...(resumed ? { unacked: session.receivedUnsettled(last) } : {}),
      features: [...FEATURES],
      maxPayload: this.options.maxPayload,
      durableTopics: this.durableTopics(),
    });
    if (frame.features?.includes(Feature.BATCH)) conn.enableBatching();
    session.attach(conn, last);
    if (resumed) this.unpark(conn, session);
  }

  private serve(
    conn: Connection,
    session: Session,
    frame: Extract<ClientFrame, { type: 'serve' }>,
  ): void {
    if (session.subs.has(frame.sub)) {
      conn.send({ type: 'ack', id: frame.id }); // a resent serve: already in place
      return;
    }
    let endpoint = this.endpoints.get(frame.address);
    if (endpoint === undefined) {
      endpoint = runAs(
        identityOf(conn),
        () =>
          new ServedEndpoint(
            this.hub,
            frame.address,
            this.options.endpointConcurrency,
            frame.guarantees,
          ),
      );
      this.endpoints.set(frame.address, endpoint);
    }
    const ep = endpoint;
    session.subs.set(frame.sub, {
      kind: 'endpoint',
      endpoint: ep,
      prefetch: frame.prefetch ?? this.options.window,
      inFlight: 0,
    });
    ep.ready.then(
      () => {
        ep.add(session, frame.sub);
        conn.send({ type: 'ack', id: frame.id });
      },
      (err: unknown) => {
        session.subs.delete(frame.sub);
        if (this.endpoints.get(frame.address) === ep) this.endpoints.delete(frame.address);
        this.refuseFrame(conn, frame.id, err);
      },
    );
  }

  private subscribe(
    conn: Connection,
    session: Session,
    frame: Extract<ClientFrame, { type: 'subscribe' }>,
  ): void {
    if (session.subs.has(frame.sub)) {
      conn.send({ type: 'ack', id: frame.id });
      return;
    }
    const sub = frame.sub;
    const prefetch = Math.min(frame.prefetch ?? this.options.window, this.options.window);
    const kept =
      frame.group !== undefined && this.durableTopics()
        ? { group: frame.group, startFrom: frame.startFrom, parked: false }
        : undefined;
    const topic: TopicSub & SessionSub = {
      kind: 'topic',
      pattern: frame.pattern,
      off: Promise.resolve(async () => {}),
      opening: 0,
      kept,
      prefetch,
      inFlight: 0,
    };
    session.subs.set(sub, topic);
    this.openTopic(conn, session, sub, topic, frame.group, frame.startFrom);
    topic.off.then(
      () => conn.send({ type: 'ack', id: frame.id }),
      (err: unknown) => {
        session.subs.delete(sub);
        this.refuseFrame(conn, frame.id, err);
      },
    );
  }

  /** The hub subscription behind a client's topic subscription (again, on a resume of a parked one). */
  private openTopic(
    conn: Connection,
    session: Session,
    subId: string,
    topic: TopicSub & SessionSub,
    group: string | undefined,
    startFrom: TopicStart | undefined,
  ): void {
    const opening = ++topic.opening;
    topic.off = runAs(identityOf(conn), () =>
      this.hub.subscribe(
        topic.pattern,
        (event, ctx) => {
          // Sealed for clients that open it themselves only when the hub has
          // protection; otherwise no extra step per delivery (as for endpoints).
          const security = this.hub.security;
          if (security?.opensProtection !== true) {
            return this.offerTopic(session, subId, topic, opening, event, undefined, ctx.attempt);
          }
          return security
            .forClients(event)
            .then(({ plain, sealed }) =>
              this.offerTopic(session, subId, topic, opening, plain, sealed, ctx.attempt),
            );
        },
        {
          concurrency: topic.prefetch,
          ...(group === undefined ? {} : { group }),
          ...(startFrom === undefined ? {} : { startFrom }),
        },
      ),
    );
  }

  /** One delivery of a client's topic subscription, settled when the client settles it. */
  private offerTopic(
    session: Session,
    subId: string,
    topic: TopicSub & SessionSub,
    opening: number,
    envelope: Envelope,
    sealed: Envelope | undefined,
    attempt: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const p: PendingDelivery = {
        envelope,
        sealed,
        attempt,
        endpoint: undefined,
        sub: subId,
        seq: 0,
        resolve,
        reject,
      };
      if (session.expired || session.subs.get(subId) !== topic) {
        reject(new HubError(ErrorCode.CLOSED, `[hub:ws] subscription ${subId} is closed`));
      } else if (topic.opening !== opening || topic.kept?.parked === true) {
        // this hub subscription is closing: the delivery goes back to the group
        this.handBack([p], session);
      } else {
        session.offer(p);
      }
    });
  }

  /**
   * The client is away: each kept subscription's hub subscription closes, so
   * the group's transport takes back what this session held and gives no
   * more to it. A member of the group elsewhere (the same client on another
   * gateway) gets them; a resume here reopens the subscription.
   */
  private park(session: Session): void {
    for (const [subId, sub] of session.subs) {
      if (sub.kind !== 'topic' || sub.kept === undefined || sub.kept.parked) continue;
      sub.kept.parked = true;
      // Where the group left off from now on, never the first start position again.
      sub.kept.startFrom = undefined;
      this.background(sub.off.then((off) => off()).catch(() => {}));
      this.handBack(session.takeSub(subId), session);
    }
  }

  /** Reopen the kept subscriptions a resumed session parked. */
  private unpark(conn: Connection, session: Session): void {
    for (const [subId, sub] of session.subs) {
      if (sub.kind !== 'topic' || sub.kept?.parked !== true) continue;
      sub.kept.parked = false;
      this.openTopic(conn, session, subId, sub, sub.kept.group, undefined);
      sub.off.catch((err: unknown) => {
        if (session.expired || session.link !== conn) return;
        // Not silent: the client hears why, and its next connection starts a
        // new session (HUB_WS_RESYNC) on which it subscribes again.
        this.refuseFrame(conn, undefined, err);
        conn.disconnect(CloseCode.GOING_AWAY, 'a durable subscription could not be reopened');
        this.background(this.expire(session));
      });
    }
  }

  /**
   * Fail deliveries so the hub hands them back to their transport. After the
   * hub subscription began closing (a turn of the event loop later): a
   * failure seen while it still runs would be retried here instead, and one
   * on its last attempt dead-lettered.
   */
  private handBack(held: PendingDelivery[], session: Session, why = 'lost its link'): void {
    if (held.length === 0) return;
    const error = new HubError(
      ErrorCode.CLOSED,
      `[hub:ws] session ${session.id} ${why}: delivery handed back to the transport`,
    );
    setImmediate(() => {
      for (const p of held) p.reject(error);
    });
  }

  private async unsubscribe(session: Session, subId: string): Promise<void> {
    const sub = session.subs.get(subId);
    if (sub === undefined) return;
    session.subs.delete(subId);
    if (sub.kind === 'topic') {
      const stop = sub.off.then((off) => off()).catch(() => {});
      const error = new HubError(ErrorCode.CLOSED, `[hub:ws] subscription ${subId} is closed`);
      for (const p of session.dropWaiting(subId)) p.reject(error);
      await stop;
      return;
    }
    await this.leave(sub.endpoint, session, []);
  }

  /**
   * Whether this hub can route events asking for more than best-effort (a
   * transport with durable topics): the welcome tells the client, whose hub
   * then sends them here instead of refusing them itself.
   */
  private durableTopics(): boolean {
    return this.hub.adapterRegistry
      .list()
      .some(
        ({ adapter }) =>
          adapter.capabilities.broadcast && adapter.capabilities.durableTopics === true,
      );
  }

  /** Work that outlives the frame that started it; `close` waits for it. */
  private background(work: Promise<void>): void {
    this.pending.add(work);
    work
      .catch((err: unknown) => this.hub.logger.warn(`[hub:ws] unsubscribe failed: ${String(err)}`))
      .finally(() => this.pending.delete(work));
  }

  private async leave(
    endpoint: ServedEndpoint,
    session: Session,
    held: PendingDelivery[],
  ): Promise<void> {
    const closing = endpoint.remove(session, held);
    if (endpoint.size === 0 && this.endpoints.get(endpoint.address) === endpoint) {
      this.endpoints.delete(endpoint.address);
    }
    await closing;
  }

  /**
   * A session whose client did not come back in time (or closed on purpose):
   * everything it held goes back to the hub — to another client serving the
   * endpoint, or to the hub's transport for redelivery.
   */
  private async expire(session: Session): Promise<void> {
    if (session.expired) return;
    session.expired = true;
    if (session.expireTimer !== undefined) clearTimeout(session.expireTimer);
    this.sessions.delete(session.id);
    const closed = new HubError(ErrorCode.CLOSED, `[hub:ws] session ${session.id} expired`);
    // Deliveries it held, by endpoint; topic deliveries end with the session
    // (back to their transport, which redelivers those it keeps for a group).
    const byEndpoint = new Map<ServedEndpoint, PendingDelivery[]>();
    const topics: PendingDelivery[] = [];
    for (const p of session.takeAll()) {
      if (p.endpoint === undefined) topics.push(p);
      else byEndpoint.set(p.endpoint, [...(byEndpoint.get(p.endpoint) ?? []), p]);
    }
    const work: Promise<void>[] = [];
    for (const sub of session.subs.values()) {
      if (sub.kind === 'topic') {
        work.push(sub.off.then((off) => off()).catch(() => {}));
      } else {
        work.push(this.leave(sub.endpoint, session, byEndpoint.get(sub.endpoint) ?? []));
        byEndpoint.delete(sub.endpoint);
      }
    }
    session.subs.clear();
    this.handBack(topics, session, 'expired');
    // Endpoints it had stopped serving while deliveries were still with it.
    for (const [endpoint, held] of byEndpoint) {
      for (const p of held) {
        if (endpoint.size > 0) endpoint.dispatch(p);
        else p.reject(closed);
      }
    }
    await Promise.all(work);
  }

  private allowed(
    conn: Connection,
    verb: Verb,
    address: string,
    id: string | undefined,
    kind: 'message' | 'event' = 'message',
    messageId?: string,
  ): boolean {
    const list = conn.identity?.allow?.[verb];
    let refusal: unknown;
    if (list !== undefined && !list.some((p) => matchTopic(p, address))) {
      refusal = new HubError(
        WsErrorCode.FORBIDDEN,
        `[hub:ws] ${conn.identity?.id ?? 'this connection'} may not ${verb} "${address}"`,
      );
      this.reportForbidden(
        conn,
        verb === 'send' && kind === 'event' ? 'publish' : verb,
        address,
        messageId,
      );
    } else if (verb !== 'send' && this.hub.security !== undefined) {
      // The hub's policy decides too, for this connection's identity (sends
      // are checked by the hub itself, with the identity attached).
      const security = this.hub.security;
      try {
        runAs(identityOf(conn), () => security.checkConsume(verb, address));
      } catch (err) {
        refusal = err;
      }
    }
    if (refusal === undefined) return true;
    if (conn.onText !== undefined) {
      this.stats.errorFrames++; // CloudEvents has no error frame: counted only
      return false;
    }
    this.refuseFrame(conn, id, refusal);
    return false;
  }

  /**
   * A refusal by the connection's identity limits: counted (`forbidden`), and
   * in the hub's audit sink when it has security (which logs it when no sink
   * is set), else in the hub's log. The hub's own policy audits its refusals.
   */
  private reportForbidden(
    conn: Connection,
    verb: AccessVerb,
    address: string,
    id: string | undefined,
  ): void {
    this.stats.forbidden++;
    const identity = identityOf(conn);
    const reason = `WebSocket connection from ${conn.ip} as ${identity} may not ${verb} "${address}" (its identity's allow list)`;
    const security = this.hub.security;
    if (security !== undefined) {
      security.report({
        kind: 'refused',
        identity,
        verb,
        address,
        ...(id === undefined ? {} : { messageId: id }),
        rule: `allow.${verb === 'publish' ? 'send' : verb}`,
        code: WsErrorCode.FORBIDDEN,
        reason,
      });
      return;
    }
    this.hub.logger.warn(`[hub:ws] refused: ${reason}`, {
      gateway: this.options.name,
      identity,
      verb,
      address,
      code: WsErrorCode.FORBIDDEN,
      ...(id === undefined ? {} : { frameId: id }),
    });
  }

  private refuseFrame(conn: Connection, id: string | undefined, err: unknown): void {
    this.stats.errorFrames++;
    const e = err instanceof HubError ? err : undefined;
    conn.send({
      type: 'error',
      ...(id === undefined ? {} : { id }),
      code: e?.code ?? ErrorCode.ADAPTER_FAILED,
      message: err instanceof Error ? err.message : String(err),
    });
  }

  /** One loop: a peer that did not answer the previous ping is terminated. */
  private readonly checkLiveness = (): void => {
    for (const conn of this.conns) {
      if (!conn.alive) {
        this.stats.cut.dead++;
        conn.disconnect(CloseCode.DEAD_PEER, 'no pong within two ping intervals');
        continue;
      }
      conn.alive = false;
      conn.socket.ping();
    }
  };

  /**
   * Stop accepting, close every connection (1001), hand every held delivery
   * back to the hub and unsubscribe. Idempotent. A mounted server stays yours.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.liveness !== undefined) clearInterval(this.liveness);
      this.server.off('upgrade', this.onUpgrade);
      for (const conn of [...this.conns]) conn.disconnect(CloseCode.GOING_AWAY, 'server closing');
      await Promise.all([...this.sessions.values()].map((s) => this.expire(s)));
      await Promise.all([...this.endpoints.values()].map((e) => e.close()));
      await Promise.allSettled([...this.pending]);
      this.endpoints.clear();
      this.wss.close();
      this.removeHealthSource();
      if (this.ownServer) {
        await new Promise<void>((resolve) => {
          this.server.close(() => resolve());
          (this.server as Server).closeAllConnections?.();
        });
      }
    })();
    return this.closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Connections listed in the gateway's health detail (the most buffered first). */
const HEALTH_CONNECTIONS = 20;

/** `{ refused: { auth: 1 } }` → `{ refusedAuth: 1 }`: the flat figures the hub's metrics take. */
function flatten(m: WsGatewayMetrics): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(m)) {
    if (typeof value === 'number') out[key] = value;
    else {
      for (const [k, v] of Object.entries(value as Record<string, number>)) {
        out[`${key}${k[0]!.toUpperCase()}${k.slice(1)}`] = v;
      }
    }
  }
  return out;
}

function refuse(socket: Duplex, status: number): void {
  if (socket.destroyed) return;
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
  );
}

/**
 * Attach a WebSocket gateway to `options.hub`, listening on `options.port`
 * or mounted on `options.server` at `options.path`. Resolves once it listens.
 */
export async function wsServer(options: WsServerOptions): Promise<WsGateway> {
  const gateway = new WsGateway(options);
  try {
    return await gateway.listen();
  } catch (err) {
    await gateway.close();
    throw err;
  }
}
