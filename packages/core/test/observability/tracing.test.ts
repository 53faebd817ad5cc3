/**
 * Tracing through @opentelemetry/api, recorded with the SDK's in-memory
 * exporter: which spans a send, a route, an adapter hop and a handler run
 * make, how they are linked, what travels in the envelope, and that nothing
 * happens without a registered tracer provider.
 */

import {
  createHub,
  createMessage,
  type Envelope,
  type Hub,
  type MemoryAdapter,
  memory,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { context, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../hub/helpers.js';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

function register(): void {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(contextManager.enable());
}
function unregister(): void {
  trace.disable();
  context.disable();
}

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const named = (name: string, kind?: SpanKind): ReadableSpan[] =>
  spans().filter((s) => s.name === name && (kind === undefined || s.kind === kind));
const one = (name: string, kind?: SpanKind): ReadableSpan => {
  const found = named(name, kind);
  expect(found, `spans named ${name}`).toHaveLength(1);
  return found[0]!;
};
const parentOf = (s: ReadableSpan): string | undefined => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan): string => s.spanContext().spanId;
const traceOf = (s: ReadableSpan): string => s.spanContext().traceId;

const hubs: Hub[] = [];
function newHub(extra: Parameters<typeof createHub>[0] = {}): Hub {
  const hub = createHub({ logger: silentLogger, adapters: [memory()], ...extra });
  hubs.push(hub);
  return hub;
}

const msg = (destination: string, extra: Partial<UnifiedMessage> = {}): UnifiedMessage =>
  Object.assign(createMessage({ source: 'test', destination, payload: { n: 1 } }), extra);

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
  exporter.reset();
});

describe('with a tracer provider registered', () => {
  beforeAll(register);
  afterAll(unregister);

  it('a send, its route, the adapter hop and the handler run are one trace, linked parent to child', async () => {
    const hub = newHub();
    const seen: Envelope[] = [];
    await hub.onMessage('worker', (env) => {
      seen.push(env);
    });
    await hub.start();
    const sent = msg('worker');
    await hub.send(sent);
    await waitFor(() => named('process worker').length === 1, 'the process span');

    const send = one('send worker', SpanKind.PRODUCER);
    const route = one('route worker', SpanKind.INTERNAL);
    const hop = one('send worker', SpanKind.CLIENT);
    const process = one('process worker', SpanKind.CONSUMER);
    expect(parentOf(send)).toBeUndefined();
    expect(parentOf(route)).toBe(idOf(send));
    expect(parentOf(hop)).toBe(idOf(send));
    expect(parentOf(process)).toBe(idOf(hop));
    for (const s of [route, hop, process]) expect(traceOf(s)).toBe(traceOf(send));

    // messaging semantic conventions
    expect(send.attributes).toMatchObject({
      'messaging.system': 'hub',
      'messaging.destination.name': 'worker',
      'messaging.operation.type': 'send',
      'messaging.message.id': sent.id,
    });
    expect(hop.attributes).toMatchObject({
      'messaging.system': 'memory',
      'messaging.operation.type': 'send',
      'messaging.message.id': sent.id,
    });
    expect(process.attributes).toMatchObject({
      'messaging.system': 'hub',
      'messaging.destination.name': 'worker',
      'messaging.operation.type': 'process',
      'messaging.message.id': sent.id,
      'hub.adapter': 'memory',
    });
    expect(route.attributes['hub.route.targets']).toEqual(['memory']);

    // The handler sees its own span's context (a forwarder continues from
    // there); the caller's object is untouched.
    expect(seen[0]!.traceparent).toBe(`00-${traceOf(process)}-${idOf(process)}-01`);
    expect(sent.traceparent).toBeUndefined();
  });

  it('a send inside an active span is its child; a publish reaches every subscriber in the same trace', async () => {
    const hub = newHub();
    await hub.subscribe('orders.*', () => {});
    await hub.subscribe('orders.**', () => {});
    await hub.start();
    const tracer = trace.getTracer('test');
    let outer!: Span;
    await tracer.startActiveSpan('outer', async (span) => {
      outer = span;
      await hub.publish({
        ...createMessage({ source: 'x', destination: 'x', payload: null }),
        kind: 'event',
        topic: 'orders.eu',
        type: 'created',
        data: { a: 1 },
      } as never);
      span.end();
    });
    await waitFor(() => named('process orders.eu').length === 2, 'two process spans');
    const send = one('send orders.eu', SpanKind.PRODUCER);
    expect(parentOf(send)).toBe(outer.spanContext().spanId);
    for (const p of named('process orders.eu')) {
      expect(traceOf(p)).toBe(outer.spanContext().traceId);
    }
  });

  // best-effort: a request to a handler of the same hub could take the direct
  // local path, which makes no spans; with a tracer it takes the traced one.
  it.each(['at-least-once', 'best-effort'])(
    'a %s request and its reply: the reply is a child of the handler run, the requester sees it in the same trace',
    async (guarantee) => {
      const hub = newHub();
      await hub.onMessage('echo', (env) => ({ echoed: (env as UnifiedMessage).payload }));
      await hub.start();
      await hub.request(msg('echo', { deliveryGuarantee: guarantee as never }), {
        timeoutMs: 10_000,
      });
      await waitFor(
        () => spans().some((s) => s.name.startsWith('process _inbox.')),
        'the reply handled',
      );

      const process = one('process echo', SpanKind.CONSUMER);
      const replySend = spans().find(
        (s) => s.kind === SpanKind.PRODUCER && s.name.startsWith('send _inbox.'),
      )!;
      expect(replySend, 'the reply send span').toBeDefined();
      expect(parentOf(replySend)).toBe(idOf(process));
      const replyHop = spans().find(
        (s) => s.kind === SpanKind.CLIENT && s.name.startsWith('send _inbox.'),
      )!;
      const inbox = spans().find((s) => s.name.startsWith('process _inbox.'))!;
      expect(parentOf(inbox)).toBe(idOf(replyHop));
      const send = one('send echo', SpanKind.PRODUCER);
      for (const s of [process, replySend, inbox]) expect(traceOf(s)).toBe(traceOf(send));
    },
  );

  it('a valid traceparent and tracestate on the envelope continue that trace', async () => {
    const hub = newHub();
    const seen: Envelope[] = [];
    await hub.onMessage('worker', (env) => {
      seen.push(env);
    });
    await hub.start();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await hub.send(
      msg('worker', {
        traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
        headers: { tracestate: 'vendor=abc' },
      }),
    );
    await waitFor(() => seen.length === 1, 'delivery');
    await waitFor(() => named('process worker').length === 1, 'the process span');
    const send = one('send worker', SpanKind.PRODUCER);
    expect(traceOf(send)).toBe(traceId);
    expect(parentOf(send)).toBe('00f067aa0ba902b7');
    expect(seen[0]!.traceparent!.slice(3, 35)).toBe(traceId);
    expect(seen[0]!.headers.tracestate).toBe('vendor=abc');
    expect(one('process worker').spanContext().traceState?.get('vendor')).toBe('abc');
  });

  it('an envelope arriving with an invalid traceparent starts a new trace', async () => {
    const hub = newHub();
    const seen: Envelope[] = [];
    await hub.onMessage('worker', (env) => {
      seen.push(env);
    });
    await hub.start();
    // A foreign producer wrote it straight onto the transport, past the hub's validation.
    const bad = msg('worker', {
      traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`,
    });
    await (hub.adapters.get('memory') as MemoryAdapter).send(bad);
    await waitFor(() => named('process worker').length === 1, 'the process span');
    const process = one('process worker');
    expect(parentOf(process)).toBeUndefined();
    expect(traceOf(process)).not.toBe('0'.repeat(32));
    expect(seen).toHaveLength(1);
  });

  it('a throwing handler marks its span as an error', async () => {
    const hub = newHub({ maxDeliveries: 1 });
    await hub.onMessage('worker', () => {
      throw new Error('boom');
    });
    await hub.start();
    await hub.send(msg('worker'));
    await waitFor(() => named('process worker').length === 1, 'the process span');
    expect(one('process worker').status.code).toBe(2); // SpanStatusCode.ERROR
  });

  it('enableTracing: false makes no spans and leaves the envelope as sent', async () => {
    const hub = newHub({ enableTracing: false });
    const seen: Envelope[] = [];
    await hub.onMessage('worker', (env) => {
      seen.push(env);
    });
    await hub.start();
    await hub.send(msg('worker'));
    await waitFor(() => seen.length === 1, 'delivery');
    expect(spans()).toHaveLength(0);
    expect(seen[0]!.traceparent).toBeUndefined();
  });

  it('a request taken on the direct local path stays untraced when a provider is registered before its handler runs', async () => {
    unregister();
    const hub = newHub();
    const ran: string[] = [];
    await hub.onMessage(
      'echo',
      (env) => {
        ran.push(env.id);
        return (env as UnifiedMessage).payload;
      },
      { guarantees: ['best-effort'] },
    );
    await hub.start();
    const adapter = hub.adapters.get('memory') as MemoryAdapter;
    const direct = () => adapter.health().detail?.deliveredDirect as number;
    const request = () => msg('echo', { deliveryGuarantee: 'best-effort' as never });
    // The first request waits for the inbox; the next one is taken directly.
    await hub.request(request(), { timeoutMs: 10_000 });
    const before = direct();
    const pending = hub.request(request(), { timeoutMs: 10_000 });
    expect(direct()).toBe(before + 1);
    // Registered after the request was taken, before its handler runs (a microtask later).
    register();
    try {
      expect((await pending).payload).toEqual({ n: 1 });
      expect(ran).toHaveLength(2);
      expect(spans()).toHaveLength(0);
      // Its reply came back directly too (counted as a direct delivery).
      expect(direct()).toBe(before + 2);
      // The next request sees the provider: it takes the traced path.
      await hub.request(request(), { timeoutMs: 10_000 });
      expect(direct()).toBe(before + 2);
      await waitFor(() => named('process echo').length === 1, 'the traced request handled');
    } finally {
      unregister();
    }
  });
});

describe('without a tracer provider', () => {
  it('makes no spans and leaves the envelope as sent', async () => {
    const hub = newHub();
    const seen: Envelope[] = [];
    await hub.onMessage('worker', (env) => {
      seen.push(env);
    });
    await hub.start();
    await hub.send(msg('worker'));
    await waitFor(() => seen.length === 1, 'delivery');
    expect(spans()).toHaveLength(0);
    expect(seen[0]!.traceparent).toBeUndefined();
  });
});
