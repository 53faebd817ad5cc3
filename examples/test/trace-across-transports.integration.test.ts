/**
 * One trace across HTTP → Redis → WebSocket and back through a reply, over
 * real servers, recorded with the OpenTelemetry SDK's in-memory exporter.
 *
 * front hub: the HTTP inbound endpoint (POST /request) and Redis;
 * gateway hub: Redis and a WebSocket gateway;
 * agent hub: a WebSocket client serving the `worker` endpoint.
 *
 * Every span is checked against its expected parent, not only the trace id.
 */
import { httpServer } from '@hub/adapter-http';
import { redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer, waitFor } from '@hub/adapter-test-suite';
import { wsClient, wsServer } from '@hub/adapter-ws';
import { createHub, type Hub, silentLogger, type UnifiedMessage } from '@hub/core';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

let redisServer: RedisServer;
const closers: Array<() => Promise<unknown>> = [];
let front: Hub;
let endpointUrl: string;

beforeAll(async () => {
  trace.setGlobalTracerProvider(provider);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  redisServer = await startRedisServer();
  const keyPrefix = `i2${process.pid}`;
  const onRedis = (name: string) =>
    createHub({
      name,
      logger: silentLogger,
      adapters: [redis({ url: redisServer.url, keyPrefix })],
    });
  front = onRedis('front');
  const middle = onRedis('gateway');
  await Promise.all([front.start(), middle.start()]);
  const gateway = await wsServer({ hub: middle, port: 0, tokens: ['t'] });
  const agent = createHub({
    name: 'agent',
    logger: silentLogger,
    adapters: [wsClient({ url: gateway.url, token: 't' })],
  });
  await agent.start();
  await agent.onMessage('worker', (m: UnifiedMessage<{ n: number }>) => ({
    doubled: m.payload.n * 2,
  }));
  const endpoint = await httpServer({ hub: front, port: 0 });
  endpointUrl = endpoint.url;
  closers.push(
    () => endpoint.close(),
    () => agent.close(),
    () => gateway.close(),
    () => middle.close(),
    () => front.close(),
    () => redisServer.stop(),
  );
});

afterAll(async () => {
  for (const close of closers) await close().catch(() => {});
  trace.disable();
  context.disable();
});

const postRequest = (traceparent: string) =>
  fetch(`${endpointUrl}/request`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', traceparent, tracestate: 'shop=1' },
    body: JSON.stringify({ destination: 'worker', payload: { n: 21 } }),
  });

function find(
  all: ReadableSpan[],
  hub: string,
  name: string,
  kind: SpanKind,
  system?: string,
): ReadableSpan {
  const found = all.filter(
    (s) =>
      s.attributes['hub.name'] === hub &&
      s.name === name &&
      s.kind === kind &&
      (system === undefined || s.attributes['messaging.system'] === system),
  );
  expect(found, `${hub}: ${name} (${SpanKind[kind]}${system ? `, ${system}` : ''})`).toHaveLength(
    1,
  );
  return found[0]!;
}

const parent = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const id = (s: ReadableSpan) => s.spanContext().spanId;

describe('I2: trace context across HTTP → Redis → WebSocket and back', () => {
  it('one trace, every hop the child of the one before, through the reply', async () => {
    exporter.reset();
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await postRequest(`00-${traceId}-${callerSpan}-01`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ doubled: 42 });
    // 12 spans: front send, route, hop; gateway and agent process; the agent's
    // reply send, route, hop; the gateway's send, route, hop; the front's inbox.
    // (The agent's reply spans end when the gateway has accepted the reply,
    // which may be after the HTTP response.)
    const inTrace = () =>
      exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    await waitFor(() => inTrace().length >= 12, { message: 'the 12 spans of the round trip' });
    const all = inTrace();
    expect(all).toHaveLength(12);

    const frontSend = find(all, 'front', 'send worker', SpanKind.PRODUCER);
    const frontRoute = find(all, 'front', 'route worker', SpanKind.INTERNAL);
    const frontHop = find(all, 'front', 'send worker', SpanKind.CLIENT, 'redis');
    const gatewayProcess = find(all, 'gateway', 'process worker', SpanKind.CONSUMER);
    const agentProcess = find(all, 'agent', 'process worker', SpanKind.CONSUMER);
    const inbox = all.find((s) => s.name.startsWith('process _inbox.'))!;
    const inboxName = inbox.name.replace('process ', '');
    const agentReply = find(all, 'agent', `send ${inboxName}`, SpanKind.PRODUCER);
    const agentHop = find(all, 'agent', `send ${inboxName}`, SpanKind.CLIENT, 'ws');
    const gatewayReply = find(all, 'gateway', `send ${inboxName}`, SpanKind.PRODUCER);
    const gatewayHop = find(all, 'gateway', `send ${inboxName}`, SpanKind.CLIENT, 'redis');

    expect(parent(frontSend)).toBe(callerSpan); // the HTTP caller's traceparent
    expect(parent(frontRoute)).toBe(id(frontSend));
    expect(parent(frontHop)).toBe(id(frontSend));
    expect(parent(gatewayProcess)).toBe(id(frontHop)); // across Redis
    expect(parent(agentProcess)).toBe(id(gatewayProcess)); // across the WebSocket
    expect(parent(agentReply)).toBe(id(agentProcess));
    expect(parent(agentHop)).toBe(id(agentReply));
    expect(parent(gatewayReply)).toBe(id(agentHop)); // back across the WebSocket
    expect(parent(gatewayHop)).toBe(id(gatewayReply));
    expect(inbox.attributes['hub.name']).toBe('front');
    expect(parent(inbox)).toBe(id(gatewayHop)); // back across Redis
    // tracestate from the HTTP header travelled all the way
    expect(agentProcess.spanContext().traceState?.get('shop')).toBe('1');
    expect(frontHop.attributes['messaging.destination.name']).toBe('worker');
  });

  it('an invalid traceparent from the HTTP caller starts a new trace', async () => {
    exporter.reset();
    const bad = `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`;
    const res = await postRequest(bad);
    expect(res.status).toBe(200);
    await waitFor(
      () => exporter.getFinishedSpans().some((s) => s.name.startsWith('process _inbox.')),
      { message: 'the reply handled on the front hub' },
    );
    const all = exporter.getFinishedSpans();
    const frontSend = find(all, 'front', 'send worker', SpanKind.PRODUCER);
    expect(parent(frontSend)).toBeUndefined();
    const newTrace = frontSend.spanContext().traceId;
    expect(newTrace).not.toBe('0'.repeat(32));
    const agentProcess = find(all, 'agent', 'process worker', SpanKind.CONSUMER);
    expect(agentProcess.spanContext().traceId).toBe(newTrace);
  });
});
