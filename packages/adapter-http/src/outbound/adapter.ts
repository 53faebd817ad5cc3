import {
  type AdapterCapabilities,
  type AdapterContext,
  AdapterError,
  type AdapterFactory,
  BaseAdapter,
  type DeadLetterEntry,
  type DeadLetterReader,
  type InboundDelivery,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
} from '@hub/core';
import {
  createReply,
  type Envelope,
  ErrorCode,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { type Dispatcher, Pool } from 'undici';
import { bareHost, isPrivateAddress, publicOnlyLookup } from '../safety.js';
import { classifyClientError, HttpStatusError, retryAfterMs } from './errors.js';
import { type HttpAdapterOptions, type ResolvedOptions, resolveOptions } from './options.js';
import { buildRequest } from './request.js';
import { checkDeclaredLength, parseReply, readCapped, readExcerpt } from './response.js';
import { RouteTable } from './routes.js';

/** A reply read from a response body, handed to the requester's inbox. Nothing to settle. */
class ReplyDelivery implements InboundDelivery {
  readonly attempt = 1;
  readonly redeliverable = false;
  constructor(readonly envelope: UnifiedMessage) {}
  ack(): void {}
  nack(): void {}
  deadLetter(): Promise<void> {
    return Promise.resolve();
  }
}

interface Target {
  origin: string;
  path: string;
  url: string;
}

const REDIRECTS = new Set([307, 308]);
/** Statuses whose body is a reply (202 Accepted and 204 No Content carry none). */
const NO_REPLY = new Set([202, 204]);

/**
 * The outbound HTTP transport: each envelope becomes one call to the URL its
 * route names, over an undici `Pool` per origin. The receiver's 2xx is the
 * acknowledgement; a failure is classified once (see errors.ts) and the hub
 * retries, backs off and fails over. A response body to a request becomes
 * its reply. Nothing arrives over it otherwise: inbound HTTP is the
 * `httpEndpoint` gateway's job.
 */
export class HttpAdapter extends BaseAdapter implements DeadLetterReader {
  readonly name: string;
  readonly capabilities: AdapterCapabilities;
  private readonly opts: ResolvedOptions;
  private readonly table: RouteTable;
  /** Pools by origin, and by `idempotent:origin` for pipelined calls (see `dispatcher`). */
  private readonly pools = new Map<string, Dispatcher>();
  /** Origin → time before which no call goes out (a Retry-After it sent). */
  private readonly holds = new Map<string, number>();
  /** Endpoint subscriptions by address: request inboxes receive replies. */
  private readonly inboxes = new Map<string, Set<SubscriptionSpec>>();
  private readonly deadLetters = new Map<string, DeadLetterEntry[]>();
  private headersTimeoutMs = 30_000;

  constructor(options: HttpAdapterOptions) {
    super();
    this.opts = resolveOptions(options);
    this.name = this.opts.name;
    this.table = new RouteTable(this.opts.routes);
    this.capabilities = Object.freeze({
      guarantees: this.opts.guarantees,
      persistent: false,
      ordered: false,
      broadcast: true,
      patterns: false,
      consumerGroups: false,
    });
  }

  protected async doConnect(ctx: AdapterContext): Promise<void> {
    // Pools open lazily, per origin, on the first call.
    this.headersTimeoutMs = this.opts.headersTimeoutMs ?? ctx.sendTimeoutMs ?? 30_000;
  }

  protected async doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const route = this.table.find(envelope);
    if (route === undefined) {
      const address = envelope.kind === 'event' ? envelope.topic : envelope.destination;
      throw new AdapterError(this.name, `no route for ${envelope.kind} "${address}"`, {
        code: ErrorCode.NO_ROUTE,
        retryable: false,
      });
    }
    const request = buildRequest(route, envelope, this.opts);
    let target: Target = { origin: route.origin, path: route.path, url: route.url.href };
    for (let hop = 0; ; hop++) {
      if (this.holds.size > 0) await this.waitForHold(target.origin);
      let res: Dispatcher.ResponseData;
      try {
        res = await this.dispatcher(target.origin, route.idempotent).request({
          origin: target.origin,
          path: target.path,
          method: route.method,
          headers: request.headers,
          body: request.body,
          // undici pipelines a request only when it is idempotent (by default GET
          // and HEAD) and not blocking (by default HEAD): the route says which.
          idempotent: route.idempotent,
          blocking: !route.idempotent,
          headersTimeout: this.headersTimeoutMs,
          bodyTimeout: this.opts.bodyTimeoutMs,
        });
      } catch (err) {
        throw classifyClientError(this.name, target.url, err);
      }
      const status = res.statusCode;
      if (status >= 200 && status < 300) {
        try {
          return await this.accepted(envelope, res);
        } catch (err) {
          // A reply body that stalls or breaks off: the call went through, its
          // outcome is unknown (undici's body timeout, a reset), like a lost answer.
          throw classifyClientError(this.name, target.url, err);
        }
      }
      if (REDIRECTS.has(status) && hop < this.opts.maxRedirects) {
        const location = res.headers.location;
        await res.body.dump();
        target = this.redirectTarget(target, Array.isArray(location) ? location[0] : location);
        continue;
      }
      throw await this.refused(envelope, target, res);
    }
  }

  private async accepted(envelope: Envelope, res: Dispatcher.ResponseData): Promise<SendResult> {
    const result: SendResult = { protocol: 'http', brokerId: String(res.statusCode) };
    const specs =
      envelope.kind === 'message' && envelope.replyTo !== undefined && !NO_REPLY.has(res.statusCode)
        ? this.inboxes.get(envelope.replyTo)
        : undefined;
    if (specs === undefined || specs.size === 0) {
      // Nobody waits for a reply: the body is drained, never held (at most
      // maxResponseBytes are read; past that the socket is dropped).
      checkDeclaredLength(this.name, res.headers['content-length'], this.opts.maxResponseBytes);
      await res.body.dump({ limit: this.opts.maxResponseBytes });
      return result;
    }
    const bytes = await readCapped(
      this.name,
      res.body,
      this.opts.maxResponseBytes,
      res.headers['content-length'],
    );
    if (bytes.length > 0) {
      const reply = createReply(envelope as UnifiedMessage, {
        payload: parseReply(bytes, res.headers['content-type']),
      });
      // One handover: a best-effort inbox has exactly one subscriber per hub.
      const spec = specs.values().next().value as SubscriptionSpec;
      spec.deliver(new ReplyDelivery(reply));
    }
    return result;
  }

  /** A non-2xx answer: hold the origin on Retry-After, dead-letter a final refusal, and say why. */
  private async refused(
    envelope: UnifiedMessage | UnifiedEvent,
    target: Target,
    res: Dispatcher.ResponseData,
  ): Promise<HttpStatusError> {
    const status = res.statusCode;
    if (status === 429 || status === 503) {
      const wait = retryAfterMs(res.headers['retry-after']);
      if (wait !== undefined && wait > 0) {
        this.holds.set(target.origin, Date.now() + Math.min(wait, this.opts.maxRetryAfterMs));
      }
    }
    const error = new HttpStatusError(this.name, status, target.url, await readExcerpt(res.body));
    if (!error.retryable) this.addDeadLetter(envelope, `HTTP ${status}: ${error.bodyExcerpt}`);
    return error;
  }

  private redirectTarget(from: Target, location: string | undefined): Target {
    let url: URL;
    try {
      url = new URL(location ?? '', from.url);
    } catch {
      throw new AdapterError(this.name, `redirect from ${from.url} has a bad Location`, {
        retryable: false,
      });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new AdapterError(this.name, `redirect to ${url.protocol} refused`, {
        retryable: false,
      });
    }
    if (!this.opts.allowPrivateNetwork && isPrivateAddress(bareHost(url.hostname))) {
      throw new AdapterError(
        this.name,
        `redirect to ${url.origin} refused: a private or loopback address (allowPrivateNetwork is false)`,
        { retryable: false },
      );
    }
    return { origin: url.origin, path: `${url.pathname}${url.search}`, url: url.href };
  }

  /** A Retry-After the origin sent holds every call to it until then. */
  private async waitForHold(origin: string): Promise<void> {
    const until = this.holds.get(origin);
    if (until === undefined) return;
    const wait = until - Date.now();
    if (wait <= 0) {
      this.holds.delete(origin);
      return;
    }
    await new Promise<void>((resolve) => setTimeout(resolve, wait).unref());
  }

  /**
   * The pool for calls to `origin`. With `pipelining` above 1, idempotent
   * calls get a pool of their own that pipelines, and the others one that
   * does not: undici fills a pipelining connection before opening another,
   * so a POST there would wait behind the calls in front of it (it may not
   * be pipelined) while other connections sit unopened.
   */
  private dispatcher(origin: string, idempotent: boolean): Dispatcher {
    if (this.opts.dispatcher !== undefined) return this.opts.dispatcher;
    const pipelined = idempotent && this.opts.pipelining > 1;
    const key = pipelined ? `idempotent:${origin}` : origin;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      const o = this.opts;
      const created = new Pool(origin, {
        connections: o.connections,
        pipelining: pipelined ? o.pipelining : 1,
        keepAliveTimeout: o.keepAliveTimeoutMs,
        connect: {
          ...(o.tls as object | undefined),
          timeout: o.connectTimeoutMs,
          ...(o.allowPrivateNetwork ? {} : { lookup: publicOnlyLookup }),
        },
      });
      created.on('connectionError', () => {
        // Each failed request reports its own error; the pool reconnects on the next one.
      });
      pool = created;
      this.pools.set(key, pool);
    }
    return pool;
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    // Only endpoint subscriptions matter here: a request's inbox receives the
    // response body as its reply. Events and messages sent over HTTP by
    // others arrive through an `httpEndpoint`, not through this client.
    if (spec.kind !== 'endpoint') return { close: async () => {} };
    let specs = this.inboxes.get(spec.address);
    if (specs === undefined) {
      specs = new Set();
      this.inboxes.set(spec.address, specs);
    }
    specs.add(spec);
    return {
      close: async () => {
        specs.delete(spec);
        if (specs.size === 0 && this.inboxes.get(spec.address) === specs) {
          this.inboxes.delete(spec.address);
        }
      },
    };
  }

  private addDeadLetter(envelope: UnifiedMessage | UnifiedEvent, reason: string): void {
    const address = envelope.kind === 'event' ? envelope.topic : envelope.destination;
    const list = this.deadLetters.get(address) ?? [];
    list.push({ envelope, reason, attempts: 1, deadLetteredAt: Date.now() });
    if (list.length > this.opts.maxDeadLetters) list.shift();
    this.deadLetters.set(address, list);
  }

  async readDeadLetters(address: string, limit = 100): Promise<DeadLetterEntry[]> {
    return (this.deadLetters.get(address) ?? []).slice(-limit);
  }

  protected override healthDetail(): Record<string, unknown> {
    const origins = new Set<string>();
    for (const key of this.pools.keys()) origins.add(key.replace(/^idempotent:/, ''));
    return { origins: origins.size, pools: this.pools.size, heldOrigins: this.holds.size };
  }

  protected async doClose(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(pools.map((p) => p.destroy()));
  }
}

/** Create an outbound HTTP adapter. */
export function http(options: HttpAdapterOptions): HttpAdapter {
  return new HttpAdapter(options);
}

/** Factory for config-driven setups: `createHub({ adapters: [httpAdapter], adapterConfig: { http: { routes } } })`. */
export const httpAdapter: AdapterFactory<HttpAdapterOptions, HttpAdapter> = {
  name: 'http',
  create: (config) => http(config ?? { routes: [] }),
};

declare module '@hub/core' {
  interface HubAdapters {
    http: HttpAdapter;
  }
}
