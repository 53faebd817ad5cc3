/**
 * Tracing through `@opentelemetry/api`, an optional peer dependency: the hub
 * loads it when it starts and does nothing when it is missing or when no
 * tracer provider is registered (the send path then pays one check).
 *
 * Spans, following the OpenTelemetry messaging semantic conventions:
 * - `send <address>` (PRODUCER): a send or publish, from the call to the
 *   transport's acceptance;
 * - `route <address>` (INTERNAL): the router's decision;
 * - `send <address>` (CLIENT) per adapter attempt, `messaging.system` the
 *   adapter: the hop whose context travels in the envelope;
 * - `process <address>` (CONSUMER): a handler run, child of the hop that
 *   carried the envelope.
 *
 * The context travels as W3C Trace Context: the envelope's `traceparent`
 * field and a `tracestate` header, which every transport carries. An
 * envelope without a valid `traceparent` starts a new trace.
 */

import {
  type Envelope,
  isValidTraceparent,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type * as Otel from '@opentelemetry/api';
import type { SendResult } from '../adapter/contract.js';
import type { HandlerContext, MessageResult } from '../common/types.js';
import type { RouteDecision } from '../router/router.js';

type Api = typeof Otel;
type Sendable = UnifiedMessage | UnifiedEvent;

/** Name of the tracer the hub asks the provider for. */
export const TRACER_NAME = '@hub/core';
/** `messaging.system` of the hub's own spans (a hop names its adapter). */
export const MESSAGING_SYSTEM = 'hub';
/** The envelope header that carries W3C `tracestate`. */
export const TRACESTATE_HEADER = 'tracestate';

let loading: Promise<Api | undefined> | undefined;

/** Load `@opentelemetry/api` once; undefined when it is not installed. */
function loadApi(): Promise<Api | undefined> {
  loading ??= import('@opentelemetry/api').then(
    (m) => m as Api,
    () => undefined,
  );
  return loading;
}

const addressOf = (env: Envelope): string => (env.kind === 'event' ? env.topic : env.destination);

/** `traceparent` of a span context (version 00). */
export function formatTraceparent(sc: Otel.SpanContext): string {
  const flags = (sc.traceFlags & 0xff).toString(16).padStart(2, '0');
  return `00-${sc.traceId}-${sc.spanId}-${flags}`;
}

/** What the router and its targets ask of the tracer (kept small: they run on every send). */
export interface RouteTracing {
  /** True when `env` belongs to a traced send (the caller then goes through `route`/`hop`). */
  traced(env: Sendable): boolean;
  route(env: Sendable, decide: () => RouteDecision): RouteDecision;
  hop(
    adapter: string,
    env: Sendable,
    send: (env: Sendable) => Promise<SendResult>,
  ): Promise<SendResult>;
}

/** One hub's tracing. */
export class HubTracing implements RouteTracing {
  private api: Api | undefined;
  private noopProvider: unknown;
  /** Traced sends under way: the router looks an envelope up only while there are some. */
  private open = 0;
  /** Envelope copies of traced sends → the send span's context. */
  private readonly sends = new WeakMap<object, Otel.Context>();
  /** Envelopes being handled → the process span's context (a reply is its child). */
  private readonly handles = new WeakMap<object, Otel.Context>();
  /** Parent for a send started synchronously inside `under` (no context manager needed). */
  private explicit: Otel.Context | undefined;

  constructor(
    private readonly enabled: boolean,
    private readonly hubName: string,
  ) {}

  /** Load the API (once per process); called when the hub starts. */
  async init(): Promise<void> {
    if (!this.enabled || this.api !== undefined) return;
    const api = await loadApi();
    if (api === undefined) return;
    // The delegate of a provider nobody registered: the API's no-op provider.
    this.noopProvider = new api.ProxyTracerProvider().getDelegate();
    this.api = api;
  }

  /** True when a tracer provider is registered (checked on every send: no caching, it may change). */
  on(): boolean {
    const api = this.api;
    if (api === undefined) return false;
    const provider = api.trace.getTracerProvider() as Otel.TracerProvider & {
      getDelegate?: () => unknown;
    };
    return provider.getDelegate === undefined || provider.getDelegate() !== this.noopProvider;
  }

  private tracer(api: Api): Otel.Tracer {
    return api.trace.getTracer(TRACER_NAME);
  }

  /** The context a new send is a child of. */
  private parentOf(api: Api, env: Envelope): Otel.Context {
    if (this.explicit !== undefined) return this.explicit;
    const active = api.context.active();
    const sc = api.trace.getSpanContext(active);
    if (sc !== undefined && api.isSpanContextValid(sc)) return active;
    return this.extract(api, env);
  }

  /** The remote context an envelope carries; the root context (a new trace) when it has none valid. */
  private extract(api: Api, env: Envelope): Otel.Context {
    const tp = env.traceparent;
    if (!isValidTraceparent(tp)) return api.ROOT_CONTEXT;
    const state = env.headers?.[TRACESTATE_HEADER];
    const sc: Otel.SpanContext = {
      traceId: tp.slice(3, 35),
      spanId: tp.slice(36, 52),
      traceFlags: Number.parseInt(tp.slice(53, 55), 16) & 1,
      isRemote: true,
    };
    if (typeof state === 'string' && state !== '') sc.traceState = api.createTraceState(state);
    return api.trace.setSpanContext(api.ROOT_CONTEXT, sc);
  }

  /** A copy of `env` carrying `sc` (the caller's object is never changed). */
  private stamp<E extends Envelope>(env: E, sc: Otel.SpanContext): E {
    const copy = { ...env, traceparent: formatTraceparent(sc) };
    const state = sc.traceState?.serialize();
    if (state) copy.headers = { ...env.headers, [TRACESTATE_HEADER]: state };
    return copy;
  }

  private attributes(env: Envelope, operation: string, system: string): Otel.Attributes {
    const attrs: Otel.Attributes = {
      'messaging.system': system,
      'messaging.destination.name': addressOf(env),
      'messaging.operation.type': operation,
      'messaging.operation.name': operation,
      'messaging.message.id': env.id,
    };
    if (env.kind === 'message') {
      attrs['messaging.message.conversation_id'] = env.correlationId ?? env.id;
      attrs['hub.delivery_guarantee'] = env.deliveryGuarantee;
    }
    attrs['hub.message.type'] = env.type;
    attrs['hub.name'] = this.hubName;
    return attrs;
  }

  /** Trace one send: a PRODUCER span around `dispatch` of a stamped copy. */
  send(env: Sendable, dispatch: (env: Sendable) => Promise<MessageResult>): Promise<MessageResult> {
    const api = this.api!;
    const parent = this.parentOf(api, env);
    const span = this.tracer(api).startSpan(
      `send ${addressOf(env)}`,
      { kind: api.SpanKind.PRODUCER, attributes: this.attributes(env, 'send', MESSAGING_SYSTEM) },
      parent,
    );
    const ctx = api.trace.setSpan(parent, span);
    const traced = this.stamp(env, span.spanContext());
    this.sends.set(traced, ctx);
    this.open++;
    let result: Promise<MessageResult>;
    try {
      result = api.context.with(ctx, dispatch, undefined, traced);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(
      (r) => {
        this.open--;
        span.setAttribute('hub.adapter', r.adapter);
        span.end();
        return r;
      },
      (err: unknown) => {
        this.open--;
        this.fail(api, span, err);
        span.end();
        throw err;
      },
    );
  }

  traced(env: Sendable): boolean {
    return this.open > 0 && this.sends.has(env);
  }

  route(env: Sendable, decide: () => RouteDecision): RouteDecision {
    const api = this.api!;
    const span = this.tracer(api).startSpan(
      `route ${addressOf(env)}`,
      {
        kind: api.SpanKind.INTERNAL,
        attributes: { 'messaging.message.id': env.id, 'hub.name': this.hubName },
      },
      this.sends.get(env),
    );
    try {
      const decision = decide();
      span.setAttribute('hub.route.strategy', decision.strategy);
      span.setAttribute(
        'hub.route.targets',
        decision.targets.map((t) => t.name),
      );
      return decision;
    } catch (err) {
      this.fail(api, span, err);
      throw err;
    } finally {
      span.end();
    }
  }

  hop(
    adapter: string,
    env: Sendable,
    send: (env: Sendable) => Promise<SendResult>,
  ): Promise<SendResult> {
    const api = this.api!;
    const span = this.tracer(api).startSpan(
      `send ${addressOf(env)}`,
      { kind: api.SpanKind.CLIENT, attributes: this.attributes(env, 'send', adapter) },
      this.sends.get(env),
    );
    let sent: Promise<SendResult>;
    try {
      sent = send(this.stamp(env, span.spanContext()));
    } catch (err) {
      sent = Promise.reject(err);
    }
    return sent.then(
      (r) => {
        span.end();
        return r;
      },
      (err: unknown) => {
        this.fail(api, span, err);
        span.end();
        throw err;
      },
    );
  }

  /**
   * Wrap a handler: while tracing is on, each run is a CONSUMER span, child of
   * the context the envelope carries (a new trace when it carries none valid).
   * A run `untraced` says was decided untraced already (the hub's direct local
   * path, taken only while tracing was off) makes none: its request made no
   * send span either, and it is spared asking the tracing API a second time.
   */
  wrapHandler(
    handler: (env: Envelope, ctx: HandlerContext) => unknown,
    untraced?: (ctx: HandlerContext) => boolean,
  ): (env: Envelope, ctx: HandlerContext) => unknown {
    if (!this.enabled) return handler;
    if (untraced === undefined) {
      return (env, ctx) => (this.on() ? this.handle(env, ctx, handler) : handler(env, ctx));
    }
    return (env, ctx) =>
      !untraced(ctx) && this.on() ? this.handle(env, ctx, handler) : handler(env, ctx);
  }

  private handle(
    env: Envelope,
    ctx: HandlerContext,
    handler: (env: Envelope, ctx: HandlerContext) => unknown,
  ): unknown {
    const api = this.api!;
    const adapter = (ctx as { adapter?: unknown }).adapter;
    const attrs = this.attributes(env, 'process', MESSAGING_SYSTEM);
    if (typeof adapter === 'string') attrs['hub.adapter'] = adapter;
    attrs['hub.delivery.attempt'] = ctx.attempt;
    const span = this.tracer(api).startSpan(
      `process ${addressOf(env)}`,
      { kind: api.SpanKind.CONSUMER, attributes: attrs },
      this.extract(api, env),
    );
    const spanCtx = api.trace.setSpan(api.ROOT_CONTEXT, span);
    // Kept until the envelope is collected: the reply, sent after the handler
    // settles, is a child of this span (a span may start after its parent ends).
    this.handles.set(env, spanCtx);
    let out: unknown;
    try {
      // The handler sees the envelope with this span's context, so whatever
      // forwards it (a WebSocket gateway, a bridge) continues from here.
      const seen = this.stamp(env, span.spanContext());
      out = this.under(spanCtx, () => api.context.with(spanCtx, handler, undefined, seen, ctx));
    } catch (err) {
      this.fail(api, span, err);
      span.end();
      throw err;
    }
    if (
      out !== null &&
      typeof out === 'object' &&
      typeof (out as Promise<unknown>).then === 'function'
    ) {
      return (out as Promise<unknown>).then(
        (v) => {
          span.end();
          return v;
        },
        (err: unknown) => {
          this.fail(api, span, err);
          span.end();
          throw err;
        },
      );
    }
    span.end();
    return out;
  }

  /** Run `send` (a reply to `request`) as a child of the span that handled `request`. */
  replyUnder<T>(request: Envelope, send: () => T): T {
    if (this.api === undefined) return send();
    const ctx = this.handles.get(request);
    return ctx === undefined ? send() : this.under(ctx, send);
  }

  /** Run `fn` with `ctx` as the parent of sends it starts synchronously. */
  private under<T>(ctx: Otel.Context, fn: () => T): T {
    const prev = this.explicit;
    this.explicit = ctx;
    try {
      return fn();
    } finally {
      this.explicit = prev;
    }
  }

  private fail(api: Api, span: Otel.Span, err: unknown): void {
    if (err instanceof Error) span.recordException(err);
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string') span.setAttribute('error.type', code);
    span.setStatus({
      code: api.SpanStatusCode.ERROR,
      message: String((err as Error)?.message ?? err),
    });
  }
}
