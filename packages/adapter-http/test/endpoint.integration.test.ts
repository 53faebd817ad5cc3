import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  createMessage,
  DeliveryGuarantee,
  ErrorCode,
  jsonCodec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import parsePrometheus from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpEndpointOptions } from '../src/index.js';
import { http, httpEndpoint, httpServer } from '../src/index.js';
import { cleanup, endpointWithOrders, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const setup = (extra: Partial<HttpEndpointOptions> = {}) => endpointWithOrders(jobs, extra);

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('http endpoint: sending into a hub', () => {
  it('POST /messages (short form) → 202 with the id once the hub accepted it; the handler gets it', async () => {
    const { url, got } = await setup();
    const res = await post(
      `${url}/messages`,
      { destination: 'orders', payload: { sku: 'a1' } },
      { traceparent: TRACE, tracestate: 'shop=1' },
    );
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; accepted: boolean };
    expect(body.accepted).toBe(true);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.id).toBe(body.id);
    expect(got[0]!.payload).toEqual({ sku: 'a1' });
    expect(got[0]!.traceparent).toBe(TRACE);
    expect(got[0]!.headers.tracestate).toBe('shop=1');
  });

  it('a message the in-process transport accepts at once is answered in the same turn, before its handler runs', async () => {
    const { hub, endpoint, url } = await setup();
    const responses: import('node:http').ServerResponse[] = [];
    endpoint.server!.prependListener('request', (_req, res) => responses.push(res));
    const answeredBeforeHandler: boolean[] = [];
    await hub.onMessage('audit', () => {
      answeredBeforeHandler.push(responses.at(-1)!.writableEnded);
    });
    for (const guarantee of ['best-effort', 'at-least-once']) {
      const res = await post(`${url}/messages`, {
        destination: 'audit',
        payload: guarantee,
        deliveryGuarantee: guarantee,
      });
      expect(res.status).toBe(202);
      await expect
        .poll(() => answeredBeforeHandler.length)
        .toBe(guarantee === 'best-effort' ? 1 : 2);
    }
    // Accepted means queued by the transport: the 202 did not wait for a promise to settle.
    expect(answeredBeforeHandler).toEqual([true, true]);
  });

  it('a hub whose send was replaced (a wrapper) sees every message the endpoint sends, with or without the window', async () => {
    for (const idempotencyWindowMs of [0, 60_000]) {
      const { hub, url, got } = await setup({ idempotencyWindowMs });
      const original = hub.send.bind(hub);
      const seen: string[] = [];
      hub.send = (m) => {
        seen.push(m.id);
        return original(m);
      };
      const res = await post(`${url}/messages`, { destination: 'orders', payload: 1 });
      expect(res.status).toBe(202);
      const { id } = (await res.json()) as { id: string };
      expect(seen).toEqual([id]);
      await expect.poll(() => got.length).toBe(1);
    }
  });

  it('POST /messages with a whole Hub envelope keeps its id, guarantee and binary payload', async () => {
    const { url, got } = await setup();
    const msg = createMessage({
      source: 's',
      destination: 'orders',
      payload: { bytes: new Uint8Array([0, 1, 255]) },
      deliveryGuarantee: DeliveryGuarantee.EXACTLY_ONCE,
    });
    const res = await post(`${url}/messages`, jsonCodec.encode(msg));
    expect(res.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.id).toBe(msg.id);
    expect(got[0]!.deliveryGuarantee).toBe('exactly-once');
    expect((got[0]!.payload as { bytes: Uint8Array }).bytes).toEqual(new Uint8Array([0, 1, 255]));
  });

  it('a batch (JSON array) → 202 with every id', async () => {
    const { url, got } = await setup();
    const res = await post(
      `${url}/messages`,
      [1, 2, 3].map((n) => ({ destination: 'orders', payload: n })),
    );
    expect(res.status).toBe(202);
    const { ids } = (await res.json()) as { ids: string[] };
    expect(ids).toHaveLength(3);
    await expect.poll(() => got.map((m) => m.id).sort()).toEqual([...ids].sort());
  });

  it('POST /events with application/cloudevents-batch+json: every CloudEvent becomes an event (topic = type), 202 with their ids', async () => {
    const hub = jobs.add(await startedHub({}));
    const events: UnifiedEvent[] = [];
    await hub.subscribe('orders.*', (e) => {
      events.push(e);
    });
    const endpoint = jobs.add(await httpServer({ hub }));
    const batch = [
      { specversion: '1.0', id: 'ce-1', source: '/shop', type: 'orders.created', data: { n: 1 } },
      {
        specversion: '1.0',
        id: 'ce-2',
        source: '/shop',
        type: 'orders.paid',
        datacontenttype: 'application/json',
        data: { n: 2 },
      },
    ];
    const headers = { 'content-type': 'application/cloudevents-batch+json; charset=utf-8' };
    const res = await post(`${endpoint.url}/events`, batch, headers);
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: true, ids: ['ce-1', 'ce-2'] });
    await expect.poll(() => events.length).toBe(2);
    expect(
      events
        .map((e) => ({ id: e.id, topic: e.topic, data: e.data }))
        .sort((a, b) => a.id.localeCompare(b.id)),
    ).toEqual([
      { id: 'ce-1', topic: 'orders.created', data: { n: 1 } },
      { id: 'ce-2', topic: 'orders.paid', data: { n: 2 } },
    ]);
    // A batch is a JSON array of CloudEvents, nothing else.
    const notList = await post(`${endpoint.url}/events`, batch[0], headers);
    expect(notList.status).toBe(400);
    expect(await notList.json()).toMatchObject({ code: ErrorCode.INVALID_MESSAGE });
    expect(events).toHaveLength(2);
  });

  it('a batch with a refused item: the problem lists what was accepted and what failed, by index and field', async () => {
    const { url, got } = await setup();
    const res = await post(`${url}/messages`, [
      { destination: 'orders', payload: 1 },
      { destination: '', payload: 2 },
    ]);
    expect(res.status).toBe(400);
    const p = (await res.json()) as {
      accepted: string[];
      failed: Array<{ index: number; field: string }>;
    };
    expect(p.accepted).toHaveLength(1);
    expect(p.failed).toEqual([expect.objectContaining({ index: 1, field: 'destination' })]);
    await expect.poll(() => got.map((m) => m.id)).toEqual(p.accepted);
  });

  it('a repeated Idempotency-Key is accepted again but handed to the hub once', async () => {
    const { url, got } = await setup();
    const key = 'order-42-attempt';
    for (let i = 0; i < 3; i++) {
      const res = await post(
        `${url}/messages`,
        { destination: 'orders', payload: i },
        { 'idempotency-key': key },
      );
      expect(res.status).toBe(202);
      expect(((await res.json()) as { id: string }).id).toBe(key);
    }
    await expect.poll(() => got.length).toBe(1);
    await new Promise((r) => setImmediate(r));
    expect(got.map((m) => m.payload)).toEqual([0]);
  });

  it("a client's id that JSON must escape comes back intact in the 202; a made id is plain JSON too", async () => {
    const { url, got } = await setup();
    const key = 'k"1\\x';
    const res = await post(
      `${url}/messages`,
      { destination: 'orders', payload: 1 },
      { 'idempotency-key': key },
    );
    expect(res.status).toBe(202);
    const text = await res.text();
    expect(Number(res.headers.get('content-length'))).toBe(Buffer.byteLength(text));
    expect(JSON.parse(text)).toEqual({ accepted: true, id: key });
    const made = await post(`${url}/messages`, { destination: 'orders', payload: 2 });
    const madeText = await made.text();
    expect(Number(made.headers.get('content-length'))).toBe(Buffer.byteLength(madeText));
    const { id } = JSON.parse(madeText) as { id: string };
    await expect.poll(() => got.map((m) => m.id)).toEqual([key, id]);
  });

  it('an id the endpoint made for a short form is in the window too: sent again with it, handed over once', async () => {
    const { url, got } = await setup();
    const first = await post(`${url}/messages`, { destination: 'orders', payload: 'first' });
    expect(first.status).toBe(202);
    const { id } = (await first.json()) as { id: string };
    // The same id again, as a key and as a whole envelope: both answered 202, neither sent.
    const again = await post(
      `${url}/messages`,
      { destination: 'orders', payload: 'again' },
      { 'idempotency-key': id },
    );
    expect(again.status).toBe(202);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    const whole = createMessage({ source: 's', destination: 'orders', payload: 'whole', id });
    expect((await post(`${url}/messages`, jsonCodec.encode(whole))).status).toBe(202);
    // A later message goes through, so the two above had their turn and were not handed over.
    await post(`${url}/messages`, { destination: 'orders', payload: 'later' });
    await expect.poll(() => got.map((m) => m.payload)).toEqual(['first', 'later']);
  });

  it('past idempotencyWindowMs the same id is sent again (the window is bounded)', async () => {
    const { url, got } = await setup({ idempotencyWindowMs: 100 });
    const send = () =>
      post(`${url}/messages`, { destination: 'orders', payload: 1 }, { 'idempotency-key': 'k-1' });
    // Read before the first send: its window opens at or after this, however slow the answer.
    const started = Date.now();
    expect((await send()).status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    await expect
      .poll(async () => {
        await send();
        return got.length;
      })
      .toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('refused input → RFC 9457 problem+json with the code and the field', async () => {
    const { url, got } = await setup();
    // Deeper than the wire's limit (64): the hub takes the parsed payload
    // without a copy (handed over), and still refuses what the wire refuses.
    let deep: unknown = 1;
    for (let i = 0; i < 70; i++) deep = { a: deep };
    const cases: Array<[unknown, string, string]> = [
      [{ destination: 'orders', payload: deep }, ErrorCode.INVALID_MESSAGE, 'payload'],
      ['{"destination":', ErrorCode.INVALID_MESSAGE, ''],
      [{ destination: 'orders', payload: 1, priority: 99 }, ErrorCode.INVALID_MESSAGE, 'priority'],
      [{ destination: '', payload: 1 }, ErrorCode.INVALID_MESSAGE, 'destination'],
      [{ topic: 'a.b', data: 1, kind: 'event', version: 1 }, ErrorCode.INVALID_MESSAGE, 'id'],
    ];
    for (const [body, code, field] of cases) {
      const res = await post(`${url}/messages`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.headers.get('content-type')).toBe('application/problem+json');
      const p = (await res.json()) as Record<string, unknown>;
      expect(p).toMatchObject({ status: 400, code, title: 'Bad Request' });
      expect(p.field, JSON.stringify(p)).toBe(field);
      expect(typeof p.type).toBe('string');
    }
    const wrongType = await post(`${url}/messages`, 'x', { 'content-type': 'text/plain' });
    expect(((await wrongType.json()) as { field: string }).field).toBe('content-type');
    const unknown = await fetch(`${url}/nope`);
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { code: string }).code).toBe(ErrorCode.NO_ROUTE);
    const noRoute = await post(`${url}/events`, {
      topic: 'a.b',
      data: 1,
      kind: 'message',
    } as never);
    expect(noRoute.status).toBe(400);
    expect(got).toHaveLength(0);
  });

  it('POST /request answers with the reply; no reply in time → 504 HUB_TIMEOUT', async () => {
    const hub = jobs.add(await startedHub({}));
    await hub.onMessage('pricing', (m: UnifiedMessage<{ qty: number }>) => ({
      price: m.payload.qty * 3,
    }));
    await hub.onMessage('slow', () => new Promise(() => {}));
    const endpoint = jobs.add(await httpServer({ hub, replyTimeoutMs: 5_000 }));
    const ok = await post(`${endpoint.url}/request`, {
      destination: 'pricing',
      payload: { qty: 5 },
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ price: 15 });
    expect(ok.headers.get('hub-correlation-id')).toBeTruthy();
    const late = await post(
      `${endpoint.url}/request`,
      { destination: 'slow', payload: {} },
      { 'hub-timeout-ms': '150' },
    );
    expect(late.status).toBe(504);
    expect(await late.json()).toMatchObject({ code: ErrorCode.TIMEOUT, status: 504 });
  });

  it('health: live and ready; ready turns 503 when the hub stops', async () => {
    const hub = jobs.add(await startedHub({}));
    const endpoint = jobs.add(await httpServer({ hub, bearerTokens: ['t'] }));
    expect((await fetch(`${endpoint.url}/health/live`)).status).toBe(200);
    expect((await fetch(`${endpoint.url}/health/ready`)).status).toBe(200);
    await hub.close();
    expect((await fetch(`${endpoint.url}/health/ready`)).status).toBe(503);
  });

  it('GET /metrics is Prometheus text an independent parser reads', async () => {
    const { url } = await setup();
    await post(`${url}/messages`, { destination: 'orders', payload: 1 });
    await post(`${url}/messages`, 'junk');
    const res = await fetch(`${url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = parsePrometheus(await res.text());
    const byName = new Map(families.map((f) => [f.name, f]));
    expect(byName.get('hub_sent_total')?.metrics[0]?.value).toBe('1');
    const responses = byName.get('hub_http_endpoint_responses_total');
    expect(responses?.type).toBe('COUNTER');
    const statuses = responses?.metrics.map(
      (m) => (m as { labels: { status: string } }).labels.status,
    );
    expect(statuses).toEqual(expect.arrayContaining(['202', '400']));
  });

  it('counts a response by status once it has finished; a stream its client cut off is not counted', async () => {
    const { url } = await setup();
    let scrapes = 0;
    const scrape = async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      scrapes++;
      const families = new Map(parsePrometheus(text).map((f) => [f.name, f]));
      const byStatus: Record<string, string> = {};
      for (const m of families.get('hub_http_endpoint_responses_total')?.metrics ?? []) {
        const { labels, value } = m as { labels: { status: string }; value: string };
        byStatus[labels.status] = value;
      }
      const streams = families.get('hub_http_endpoint_streams')?.metrics[0]?.value;
      return { byStatus, streams };
    };
    const abort = new AbortController();
    const stream = await fetch(`${url}/stream?topic=orders.*`, { signal: abort.signal });
    expect(stream.status).toBe(200);
    await expect.poll(async () => (await scrape()).streams).toBe('1');
    abort.abort();
    await expect.poll(async () => (await scrape()).streams).toBe('0');
    expect((await post(`${url}/messages`, { destination: 'orders', payload: 1 })).status).toBe(202);
    const before = scrapes;
    // Every finished answer so far: the scrapes (200) and the POST (202), not the stream's 200.
    expect((await scrape()).byStatus).toEqual({ '200': String(before), '202': '1' });
  });

  it('mounts on an existing http.Server under a base path, leaving its other routes alone', async () => {
    const hub = jobs.add(await startedHub({}));
    const got: string[] = [];
    await hub.onMessage('orders', (m) => {
      got.push(m.id);
    });
    const server = createServer();
    const endpoint = httpEndpoint({ hub, server, basePath: '/hub' });
    server.on('request', (req, res) => {
      if (!req.url?.startsWith('/hub')) res.end('app');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jobs.add({ close: () => new Promise<void>((r) => server.close(() => r())) });
    jobs.add(endpoint);
    const { port } = server.address() as AddressInfo;
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/other`)).text()).toBe('app');
    const res = await post(`${base}/hub/messages`, { destination: 'orders', payload: 1 });
    expect(res.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(endpoint.url).toBe(`${base}/hub`);
  });

  it('as a framework handler, an unknown path goes to next()', async () => {
    const hub = jobs.add(await startedHub({}));
    const endpoint = httpEndpoint({ hub });
    const server = createServer((req, res) => endpoint.handler(req, res, () => res.end('next')));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    jobs.add({ close: () => new Promise<void>((r) => server.close(() => r())) });
    const { port } = server.address() as AddressInfo;
    expect(await (await fetch(`http://127.0.0.1:${port}/elsewhere`)).text()).toBe('next');
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });

  it('a guarantee no transport keeps is refused, not downgraded: 422 HUB_GUARANTEE_UNSUPPORTED', async () => {
    const hub = jobs.add(
      await startedHub({ adapters: [http({ routes: [], guarantees: ['best-effort'] })] }),
    );
    const endpoint = jobs.add(await httpServer({ hub }));
    const res = await post(`${endpoint.url}/messages`, { destination: 'orders', payload: 1 });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ code: ErrorCode.GUARANTEE_UNSUPPORTED });
    const bad = await post(`${endpoint.url}/messages`, {
      destination: 'orders',
      payload: 1,
      deliveryGuarantee: 'sometimes',
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { field: string }).field).toBe('deliveryGuarantee');
  });

  it('checks its options, naming the field', async () => {
    const hub = jobs.add(await startedHub({}));
    expect(() => httpEndpoint({ hub, maxBodyBytes: 0 })).toThrow(/"maxBodyBytes"/);
    expect(() => httpEndpoint({ hub, basePath: 'x' })).toThrow(/"basePath"/);
    expect(() => httpEndpoint({ hub, rateLimit: { requestsPerSecond: 0 } })).toThrow(
      /rateLimit\.requestsPerSecond/,
    );
    expect(() => httpEndpoint({ hub, webhookSecrets: ['whsec_AA=='] })).toThrow(
      /webhookSecrets\[0\]/,
    );
    expect(() => httpEndpoint({ hub, prot: 1 } as never)).toThrow(/did you mean `port`/);
    expect(() => httpEndpoint({} as never)).toThrow(/"hub"/);
  });
});
