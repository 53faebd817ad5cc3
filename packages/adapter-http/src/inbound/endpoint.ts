import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attachIdentity, handOverPayload, isLoopbackHost, type MessageResult } from '@hub/core';
import {
  type Envelope,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import {
  verify as verifySignature,
  WEBHOOK_ID,
  WEBHOOK_SIGNATURE,
  WEBHOOK_TIMESTAMP,
} from '../signature.js';
import { BodyRefused, readBody } from './body.js';
import { openApiDocument } from './openapi.js';
import {
  type HttpEndpointOptions,
  knownToken,
  type ResolvedEndpointOptions,
  resolveEndpointOptions,
} from './options.js';
import { type Parsed, parseBody } from './parse.js';
import {
  type Problem,
  problem,
  problemFromError,
  sendAccepted,
  sendJson,
  sendProblem,
} from './problem.js';
import { RateLimiter } from './rate-limit.js';
import { openStream, type StreamRegistry } from './sse.js';
import { TtlSet } from './ttl-set.js';

/** A framework's "not mine" callback: an unknown path goes on to the next handler. */
export type Next = (err?: unknown) => void;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';
const MAX_IDEMPOTENCY_KEYS = 100_000;

/**
 * The inbound HTTP endpoint: any HTTP client sends into a hub. It is a
 * gateway, not an adapter: an accepted POST becomes `hub.send` /
 * `hub.publish` / `hub.request` on its hub, which routes it like any other
 * send, and `202` means the hub accepted it under the requested guarantee.
 */
export class HttpEndpoint implements AsyncDisposable {
  private readonly opts: ResolvedEndpointOptions;
  private readonly limiter: RateLimiter | undefined;
  /** Signed request ids seen within the tolerance window: replays. */
  private readonly seenWebhooks: TtlSet;
  /** Accepted (or being accepted) message ids: a retried POST is not sent twice. */
  private readonly accepted: TtlSet<Promise<MessageResult>>;
  private readonly streams: StreamRegistry = { open: new Set() };
  private readonly statusCounts = new Map<number, number>();
  private ownServer: Server | undefined;
  /** The identity the token, the verify hook or the webhook signature resolved for a request. */
  private readonly identities = new WeakMap<IncomingMessage, string>();
  /** Tokens or a verify hook configured: only then does a request wait for the check. */
  private readonly checksAuth: boolean;
  /** The hub has a security policy: only then is the sender's identity attached to what it sends. */
  private readonly tagsIdentity: boolean;
  private closed = false;

  constructor(options: HttpEndpointOptions) {
    this.opts = resolveEndpointOptions(options);
    const r = this.opts.rateLimit;
    this.limiter =
      r && new RateLimiter(r.requestsPerSecond, r.burst ?? Math.ceil(r.requestsPerSecond));
    this.seenWebhooks = new TtlSet(this.opts.webhookToleranceSec * 2000, MAX_IDEMPOTENCY_KEYS);
    this.accepted = new TtlSet(this.opts.idempotencyWindowMs, MAX_IDEMPOTENCY_KEYS);
    this.checksAuth = this.opts.bearerTokens !== undefined || this.opts.verify !== undefined;
    this.tagsIdentity = this.opts.hub.security !== undefined;
    const counts = this.statusCounts;
    // One listener function for every response (no closure per request).
    this.countStatus = function (this: ServerResponse) {
      counts.set(this.statusCode, (counts.get(this.statusCode) ?? 0) + 1);
    };
    const mountedOn = this.opts.server;
    if (mountedOn) {
      mountedOn.on('request', this.mounted);
      if (mountedOn.listening) this.warnIfExposed();
      else mountedOn.once('listening', () => this.warnIfExposed());
    }
  }

  private readonly countStatus: (this: ServerResponse) => void;

  /** On a server we share, a path outside ours belongs to the server's other listeners. */
  private readonly mounted = (req: IncomingMessage, res: ServerResponse): void =>
    this.handler(req, res, leaveAlone);

  /** A `(req, res, next?)` handler for `http.createServer`, Express, Connect and the like. */
  readonly handler = (req: IncomingMessage, res: ServerResponse, next?: Next): void => {
    res.on('finish', this.countStatus);
    try {
      const pending = this.handle(req, res, next);
      if (pending instanceof Promise) pending.catch((err: unknown) => failed(res, err));
    } catch (err) {
      failed(res, err);
    }
  };

  /** The standalone server (or the one given) and its URL. */
  get server(): Server | undefined {
    return this.opts.server ?? this.ownServer;
  }

  get url(): string {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new HubError(ErrorCode.NOT_STARTED, '[hub:http-endpoint] not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const scheme =
      this.server !== undefined && 'setSecureContext' in this.server ? 'https' : 'http';
    return `${scheme}://${host}:${address.port}${this.opts.basePath}`;
  }

  /** Start the standalone server; resolves with its base URL. */
  async listen(): Promise<string> {
    if (this.opts.server) return this.url;
    if (this.ownServer === undefined) {
      const server = createServer({
        headersTimeout: this.opts.headersTimeoutMs,
        requestTimeout: this.opts.requestTimeoutMs,
        // How often Node checks the two deadlines above: often enough that a
        // slowloris client is cut off near its deadline, not 30 s later.
        connectionsCheckingInterval: Math.min(1_000, Math.ceil(this.opts.headersTimeoutMs / 2)),
        keepAliveTimeout: 5_000,
        insecureHTTPParser: false,
      });
      server.on('request', this.handler);
      this.ownServer = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.opts.port, this.opts.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.warnIfExposed();
    }
    return this.url;
  }

  /**
   * Start-up warnings for an endpoint other machines can reach: without a
   * bearer token, a verify hook or webhook signatures anyone there may send
   * into the hub, and over plain HTTP credentials travel in the clear.
   */
  private warnIfExposed(): void {
    const server = this.server;
    const address = (server?.address() as AddressInfo | null | undefined)?.address;
    if (server === undefined || address === undefined || isLoopbackHost(address)) return;
    const where = `[hub:http-endpoint] listens on ${address}, not a loopback address`;
    const o = this.opts;
    if (o.bearerTokens === undefined && o.verify === undefined && o.webhookKeys === undefined) {
      o.hub.logger.warn(
        `${where}, without authentication: anyone who reaches it may send into the hub (set bearerTokens, verify or webhookSecrets)`,
      );
    }
    if (!('setSecureContext' in server)) {
      o.hub.logger.warn(
        `${where}, over plain HTTP: tokens and bodies travel unencrypted (mount it on an https.Server or behind a TLS proxy)`,
      );
    }
  }

  /** Stop: SSE streams end, the standalone server stops (a mounted one is left running, the handler removed). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const stream of [...this.streams.open]) await stream.close();
    if (this.opts.server) {
      this.opts.server.off('request', this.mounted);
      return;
    }
    const server = this.ownServer;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Route one request; a promise only when the answer waits for something. */
  private handle(req: IncomingMessage, res: ServerResponse, next?: Next): Promise<void> | void {
    // The path without a URL parse per request: only the stream reads the query.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const pathname = q < 0 ? target : target.slice(0, q);
    const base = this.opts.basePath;
    if (base !== '' && pathname !== base && !pathname.startsWith(`${base}/`)) {
      return this.notFound(req, res, next);
    }
    const path = pathname.slice(base.length) || '/';
    const method = req.method ?? 'GET';
    // Probes stay open: a load balancer checks them without credentials.
    if (path === '/health/live' && method === 'GET') return sendJson(res, 200, { status: 'ok' });
    if (path === '/health/ready' && method === 'GET') return this.ready(res);
    if (this.closed)
      return sendProblem(res, problem(503, ErrorCode.CLOSED, 'the endpoint is closing'));
    const limited = this.rateLimited(req);
    if (limited !== undefined) return this.refuse(req, res, limited, method, path);
    if (this.checksAuth) {
      return this.unauthorized(req).then((refused) =>
        refused === undefined
          ? this.route(req, res, method, path, target, next)
          : this.refuse(req, res, refused, method, path),
      );
    }
    return this.route(req, res, method, path, target, next);
  }

  private route(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    path: string,
    target: string,
    next?: Next,
  ): Promise<void> | void {
    if (method === 'POST') {
      switch (path) {
        case '/messages':
          return this.post(req, res, 'message');
        case '/events':
          return this.post(req, res, 'event');
        case '/request':
          return this.post(req, res, 'request');
      }
    } else if (method === 'GET') {
      switch (path) {
        case '/metrics':
          res.writeHead(200, { 'content-type': PROMETHEUS_TEXT });
          res.end(this.opts.hub.prometheus() + this.ownMetrics());
          return;
        case '/openapi.json':
          return sendJson(res, 200, openApiDocument(this.opts.basePath));
        case '/stream':
          return openStream(
            this.opts.hub,
            this.streams,
            this.opts.maxStreams,
            new URL(target, 'http://endpoint'),
            req,
            res,
            this.identities.get(req) ?? 'anonymous',
          );
      }
    }
    if (
      ['/metrics', '/openapi.json', '/stream', '/messages', '/events', '/request'].includes(path)
    ) {
      return sendProblem(
        res,
        problem(405, ErrorCode.INVALID_MESSAGE, `${method} is not allowed on ${path}`, 'method'),
      );
    }
    return this.notFound(req, res, next);
  }

  private notFound(req: IncomingMessage, res: ServerResponse, next?: Next): void {
    if (next) {
      next();
      return;
    }
    sendProblem(
      res,
      problem(404, ErrorCode.NO_ROUTE, `no such path: ${req.method} ${req.url}`, 'path'),
    );
  }

  private ready(res: ServerResponse): void {
    const health = this.opts.hub.health();
    const ok = !this.closed && (health.hubStatus === 'healthy' || health.hubStatus === 'degraded');
    sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready', hub: health.hubStatus });
  }

  /** A refusal by the rate limit or the credentials check: reported to the hub's security, then answered. */
  private refuse(
    req: IncomingMessage,
    res: ServerResponse,
    refused: Problem,
    method: string,
    path: string,
  ): void {
    const limited = refused.status === 429;
    this.opts.hub.security?.report({
      kind: limited ? 'rate-limit' : 'auth',
      address: path,
      // The option that decided: a token check names the header, the verify hook nothing.
      rule: limited ? 'rateLimit' : refused.field === 'authorization' ? 'bearerTokens' : 'verify',
      code: refused.code,
      reason: `HTTP ${method} ${path} from ${req.socket.remoteAddress ?? 'unknown'}: ${refused.detail}`,
    });
    this.refuseUnread(req, res, refused);
  }

  /** Refuse before reading a body: the connection closes, so unread bytes are never parsed. */
  private refuseUnread(req: IncomingMessage, res: ServerResponse, p: Problem): void {
    const unread = req.method !== 'GET' && req.method !== 'HEAD' && !req.complete;
    sendProblem(res, p, unread);
    if (unread) endAfterResponse(req, res);
  }

  private rateLimited(req: IncomingMessage): Problem | undefined {
    if (this.limiter === undefined) return undefined;
    const key = this.opts.rateLimit?.key?.(req) ?? req.socket.remoteAddress ?? 'unknown';
    const wait = this.limiter.take(key);
    if (wait === 0) return undefined;
    return {
      ...problem(
        429,
        ErrorCode.OVERLOADED,
        `rate limit of ${this.opts.rateLimit!.requestsPerSecond}/s exceeded`,
      ),
      retryAfter: wait,
    };
  }

  private async unauthorized(req: IncomingMessage): Promise<Problem | undefined> {
    const tokens = this.opts.bearerTokens;
    if (tokens !== undefined) {
      const auth = req.headers.authorization ?? '';
      const token = auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined;
      const known = token === undefined ? undefined : knownToken(tokens, token);
      if (known === undefined) {
        return problem(
          401,
          ErrorCode.AUTH_FAILED,
          'missing or unknown bearer token',
          'authorization',
        );
      }
      if (known.identity !== undefined) this.identities.set(req, known.identity);
    }
    if (this.opts.verify !== undefined) {
      let ok = false;
      try {
        const verdict = await this.opts.verify(req);
        if (typeof verdict === 'object' && verdict !== null && typeof verdict.id === 'string') {
          this.identities.set(req, verdict.id);
          ok = true;
        } else ok = verdict === true;
      } catch {
        ok = false;
      }
      if (!ok)
        return problem(401, ErrorCode.AUTH_FAILED, 'the request was refused by the verify hook');
    }
    return undefined;
  }

  /** A request refused before it reached the hub, in the hub's audit sink. */
  private audit(req: IncomingMessage, kind: 'auth' | 'refused', p: Problem, rule: string): void {
    const security = this.opts.hub.security;
    if (security === undefined) return;
    const identity = this.identities.get(req);
    const id = req.headers[WEBHOOK_ID];
    const messageId = Array.isArray(id) ? id[0] : id;
    const path = (req.url ?? '/').split('?')[0]!;
    security.report({
      kind,
      ...(identity === undefined ? {} : { identity }),
      address: path.slice(this.opts.basePath.length) || '/',
      ...(messageId === undefined ? {} : { messageId: messageId.slice(0, 200) }),
      rule,
      code: p.code,
      reason: `HTTP ${req.method} ${path} from ${req.socket.remoteAddress ?? 'unknown'}: ${p.detail}`,
    });
  }

  private signatureProblem(req: IncomingMessage, body: Buffer): Problem | undefined {
    const keys = this.opts.webhookKeys;
    if (keys === undefined) return undefined;
    const one = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const id = one(WEBHOOK_ID);
    const input = {
      id,
      timestamp: one(WEBHOOK_TIMESTAMP),
      signature: one(WEBHOOK_SIGNATURE),
      body,
    };
    // The sender whose secret made the signature (a mismatch tries the next one).
    let failure: ReturnType<typeof verifySignature> = 'mismatch';
    let sender: string | undefined;
    for (const group of keys) {
      failure = verifySignature(group.keys, input, this.opts.webhookToleranceSec);
      sender = group.identity;
      if (failure !== 'mismatch') break;
    }
    if (failure === undefined && this.seenWebhooks.get(id!) !== undefined) {
      return problem(
        401,
        ErrorCode.AUTH_FAILED,
        `webhook id ${id} was already received (a replay)`,
        WEBHOOK_ID,
      );
    }
    if (failure !== undefined) {
      const field =
        failure === 'stale'
          ? WEBHOOK_TIMESTAMP
          : failure === 'missing'
            ? WEBHOOK_ID
            : WEBHOOK_SIGNATURE;
      return problem(401, ErrorCode.AUTH_FAILED, `webhook signature refused: ${failure}`, field);
    }
    this.seenWebhooks.set(id!, true);
    if (sender !== undefined && !this.identities.has(req)) this.identities.set(req, sender);
    return undefined;
  }

  /**
   * A POST: the body is read under the limit, then `received` goes on in the
   * body's 'end' event. The common case (one message, no protection) answers
   * in that same event when the hub accepts the message synchronously (the
   * in-process transport), else from the send's own settlement: no async
   * frame and no promise of its own.
   */
  private post(
    req: IncomingMessage,
    res: ServerResponse,
    what: 'message' | 'event' | 'request',
  ): void {
    readBody(req, this.opts.maxBodyBytes, (body) => {
      try {
        const pending = this.received(req, res, what, body);
        if (pending !== undefined) pending.catch((err: unknown) => failed(res, err));
      } catch (err) {
        failed(res, err);
      }
    });
  }

  /** The body is in: refusals, the signature, the parse; then on to the hub. */
  private received(
    req: IncomingMessage,
    res: ServerResponse,
    what: 'message' | 'event' | 'request',
    body: Buffer | BodyRefused,
  ): Promise<void> | undefined {
    if (body instanceof BodyRefused) {
      this.audit(req, 'refused', body.problem, 'maxBodyBytes');
      this.refuseUnread(req, res, body.problem);
      return undefined;
    }
    const badSignature = this.signatureProblem(req, body);
    if (badSignature) {
      this.audit(req, 'auth', badSignature, 'webhook-signature');
      sendProblem(res, badSignature);
      return undefined;
    }
    let parsed: Parsed;
    try {
      parsed = parseBody(req.headers, body, what === 'event' ? 'event' : 'message');
    } catch (err) {
      sendProblem(res, problemFromError(err));
      return undefined;
    }
    const security = this.opts.hub.security;
    if (security?.opensProtection === true) {
      // A sending hub with protection sealed them: verified and opened here
      // (the hub seals them again for its own transport); a failure is audited.
      return Promise.all(parsed.envelopes.map((env) => security.openFromClient(env))).then(
        (opened) => this.deliver(req, res, what, opened, parsed.batch, false, false),
        (err: unknown) => sendProblem(res, problemFromError(err)),
      );
    }
    return this.deliver(
      req,
      res,
      what,
      parsed.envelopes,
      parsed.batch,
      parsed.minted === true,
      parsed.ownPayloads === true,
    );
  }

  /**
   * Hand the envelopes to the hub and answer. `minted`: the one envelope's
   * id was made by this endpoint, so no earlier request can hold it in the
   * idempotency window (it is recorded there all the same). `ownPayloads`:
   * the payloads came out of this request's body and nothing else holds them.
   */
  private deliver(
    req: IncomingMessage,
    res: ServerResponse,
    what: 'message' | 'event' | 'request',
    envelopes: Envelope[],
    batch: boolean,
    minted: boolean,
    ownPayloads: boolean,
  ): Promise<void> | undefined {
    // The hub's security decides with the identity the token, the verify hook
    // or the webhook signature resolved (only a hub with a security policy reads it).
    if (this.tagsIdentity) {
      const identity = this.identities.get(req) ?? 'anonymous';
      for (const env of envelopes) attachIdentity(env, identity);
    }
    if (what === 'request') {
      if (batch) {
        sendProblem(
          res,
          problem(400, ErrorCode.INVALID_MESSAGE, 'a request is one message, not a batch', 'body'),
        );
        return undefined;
      }
      return this.request(req, res, envelopes[0] as UnifiedMessage);
    }
    // Sent once and their payloads never touched again here: the hub's
    // in-process transport may take them without copying (requests are left
    // to the request path's own rules).
    if (ownPayloads) for (const env of envelopes) handOverPayload(env);
    if (batch) return this.deliverBatch(res, envelopes);
    // The common case, without a batch's bookkeeping: answered when the send settles.
    const env = envelopes[0]!;
    if (this.opts.idempotencyWindowMs === 0) {
      const sending = this.sendEager(env);
      if (!(sending instanceof Promise)) {
        answer(res, env.id, minted);
        return undefined;
      }
      sending.then(
        () => answer(res, env.id, minted),
        (err: unknown) => failed(res, err),
      );
      return undefined;
    }
    const now = Date.now();
    const seen = minted ? undefined : this.accepted.get(env.id, now);
    if (seen !== undefined) {
      // A repeat within the window: the first send's outcome, not a second send.
      seen.then(
        () => {
          this.remember(env.id, seen);
          answer(res, env.id);
        },
        (err: unknown) => {
          this.forget(env.id, seen);
          failed(res, err);
        },
      );
      return undefined;
    }
    const sent = this.sendEager(env);
    if (!(sent instanceof Promise)) {
      // Accepted already (the in-process transport): the window holds the
      // shared settled promise at once, and the 202 goes out in this turn.
      if (minted) this.accepted.add(env.id, ACCEPTED, now);
      else this.accepted.set(env.id, ACCEPTED, now);
      answer(res, env.id, minted);
      return undefined;
    }
    const sending = sent;
    // An id made here is new to the window: it is queued there, not looked up.
    const entry = minted
      ? this.accepted.add(env.id, sending, now)
      : this.accepted.set(env.id, sending, now);
    sending.then(
      () => {
        // The shared settled promise for the rest of the window (see `remember`).
        this.accepted.settle(entry, sending, ACCEPTED);
        answer(res, env.id, minted);
      },
      (err: unknown) => {
        this.forget(env.id, sending);
        failed(res, err);
      },
    );
    return undefined;
  }

  /**
   * `send`, with a message the hub accepted synchronously answered by its
   * result itself (`Hub.sendEager`): the 202 needs no promise, closures or
   * microtask of its own.
   */
  private sendEager(env: Envelope): MessageResult | Promise<MessageResult> {
    return env.kind === 'event'
      ? this.opts.hub.publish(env as UnifiedEvent)
      : this.opts.hub.sendEager(env as UnifiedMessage);
  }

  private send(env: Envelope): Promise<MessageResult> {
    const hub = this.opts.hub;
    return env.kind === 'event'
      ? hub.publish(env as UnifiedEvent)
      : hub.send(env as UnifiedMessage);
  }

  private async deliverBatch(res: ServerResponse, envelopes: Envelope[]): Promise<void> {
    const sendings = envelopes.map((env) => this.accept(env));
    const results = await Promise.allSettled(sendings);
    for (const [i, r] of results.entries()) {
      if (r.status === 'rejected') this.forget(envelopes[i]!.id, sendings[i]!);
      else this.remember(envelopes[i]!.id, sendings[i]!);
    }
    const failed = results.flatMap((r, index) =>
      r.status === 'rejected' ? [{ index, error: r.reason as unknown }] : [],
    );
    if (failed.length === 0) {
      return sendJson(res, 202, { accepted: true, ids: envelopes.map((e) => e.id) });
    }
    const first = problemFromError(failed[0]!.error);
    first.extra = {
      accepted: results.flatMap((r, i) => (r.status === 'fulfilled' ? [envelopes[i]!.id] : [])),
      failed: failed.map(({ index, error }) => {
        const p = problemFromError(error);
        return {
          index,
          id: envelopes[index]!.id,
          code: p.code,
          detail: p.detail,
          ...(p.field === undefined ? {} : { field: p.field }),
        };
      }),
    };
    sendProblem(res, first);
  }

  /**
   * Send once per id within the idempotency window; a repeat gets the first
   * outcome. The caller awaits the result and calls `forget` when it failed.
   */
  private accept(env: Envelope): Promise<MessageResult> {
    if (this.opts.idempotencyWindowMs === 0) return this.send(env);
    const seen = this.accepted.get(env.id);
    if (seen !== undefined) return seen;
    const sending = this.send(env);
    this.accepted.set(env.id, sending);
    return sending;
  }

  /**
   * An accepted id keeps a shared settled promise for the rest of the window,
   * not its own send's promise and result: those die young, and a window of
   * many thousand ids holds one small entry each.
   */
  private remember(id: string, sending: Promise<MessageResult>): void {
    this.accepted.replace(id, sending, ACCEPTED);
  }

  /** A failed send must not block the client's retry with the same id (unless a newer send holds it). */
  private forget(id: string, sending: Promise<MessageResult>): void {
    if (this.accepted.get(id) === sending) this.accepted.delete(id);
  }

  private async request(
    req: IncomingMessage,
    res: ServerResponse,
    message: UnifiedMessage,
  ): Promise<void> {
    const asked = Number(req.headers['hub-timeout-ms']);
    const timeoutMs =
      Number.isInteger(asked) && asked > 0
        ? Math.min(asked, this.opts.replyTimeoutMs)
        : this.opts.replyTimeoutMs;
    let reply: UnifiedMessage;
    try {
      reply = await this.opts.hub.request(message, { timeoutMs });
    } catch (err) {
      return sendProblem(res, problemFromError(err));
    }
    const headers: Record<string, string> = {
      'hub-message-id': reply.id,
      'hub-correlation-id': reply.correlationId ?? message.id,
    };
    if (reply.traceparent !== undefined) headers.traceparent = reply.traceparent;
    const payload = reply.payload;
    if (payload instanceof Uint8Array) {
      res.writeHead(200, {
        ...headers,
        'content-type': 'application/octet-stream',
        'content-length': payload.byteLength,
      });
      res.end(payload);
      return;
    }
    sendJson(res, 200, payload ?? null, headers);
  }

  /** Request counts by status, in the Prometheus text format, after the hub's own metrics. */
  private ownMetrics(): string {
    const name = 'hub_http_endpoint_responses_total';
    let out = `# HELP ${name} Responses of the HTTP endpoint by status\n# TYPE ${name} counter\n`;
    for (const [status, count] of [...this.statusCounts].sort((a, b) => a[0] - b[0])) {
      out += `${name}{status="${status}"} ${count}\n`;
    }
    const streams = 'hub_http_endpoint_streams';
    out += `# HELP ${streams} Open Server-Sent Events streams\n# TYPE ${streams} gauge\n${streams} ${this.streams.open.size}\n`;
    return out;
  }
}

/**
 * After a refused request whose body was not read: half-close once the
 * answer is out (the client reads it before it sees the close), and drop the
 * socket if the client keeps it open. The body is never read into memory.
 */
function endAfterResponse(req: IncomingMessage, res: ServerResponse): void {
  res.once('finish', () => {
    const socket = req.socket;
    socket.end();
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
}

const leaveAlone: Next = () => {};

/** What a repeated id within the window gets once its first send was accepted. */
const ACCEPTED: Promise<MessageResult> = Promise.resolve({
  success: true,
  messageId: '',
  protocol: 'http',
  adapter: '',
  latencyMs: 0,
});

/**
 * 202 for an accepted id (`minted`: made by this endpoint); a failure to
 * write it is answered as any handler failure.
 */
function answer(res: ServerResponse, id: string, minted = false): void {
  try {
    sendAccepted(res, id, minted);
  } catch (err) {
    failed(res, err);
  }
}

/** A handler that threw or rejected: a problem answer, or a dropped socket when one was under way. */
function failed(res: ServerResponse, err: unknown): void {
  sendProblem(res, problemFromError(err));
}

/** Create the inbound endpoint; call `listen()` for a standalone server, or mount `handler`. */
export function httpEndpoint(options: HttpEndpointOptions): HttpEndpoint {
  return new HttpEndpoint(options);
}

/** Create and start a standalone endpoint on `options.port` (0 picks a free port). */
export async function httpServer(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const endpoint = new HttpEndpoint(options);
  await endpoint.listen();
  return endpoint;
}
