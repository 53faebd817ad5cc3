import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memory } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee, ErrorCode } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpAdapter, type HttpRoute, HttpStatusError, http, httpAdapter } from '../src/index.js';
import { cleanup, downstream, fastRetry, json, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const TRACE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

async function hubTo(url: string, extra: Partial<Parameters<typeof http>[0]> = {}) {
  const adapter = http({
    routes: [{ match: 'orders.*', url: `${url}/orders`, body: 'payload' }],
    allowPrivateNetwork: true,
    ...extra,
  });
  const hub = jobs.add(await startedHub({ adapters: [adapter], sendRetry: fastRetry }));
  return { hub, adapter };
}

const order = (n = 1, extra = {}) =>
  createMessage({ source: 'shop', destination: 'orders.create', payload: { n }, ...extra });

/**
 * A loopback port whose connections are never accepted: a listener with a
 * backlog of 0 that never calls accept(), its one queue place taken by a
 * connection of its own. Linux drops further SYNs while the accept queue is
 * full, so a client's connect waits with no answer, as with a host that is
 * down (Python's socket module, because a Node server always accepts).
 */
async function neverAccepting(): Promise<number> {
  const script = [
    'import socket, sys',
    's = socket.socket()',
    "s.bind(('127.0.0.1', 0))",
    's.listen(0)',
    'c = socket.create_connection(s.getsockname())',
    'print(s.getsockname()[1], flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  jobs.add({
    close: () => {
      child.stdin.end();
      child.kill();
    },
  });
  const [line] = (await once(child.stdout, 'data')) as [Buffer];
  return Number(String(line).trim());
}

describe('http adapter: outbound calls', () => {
  it('maps a destination to POST <url> with the payload as body, the id as Idempotency-Key and the trace context', async () => {
    const down = jobs.add(await downstream((_r, res) => json(res, 202, { ok: true })));
    const { hub } = await hubTo(down.url);
    const msg = order(7, { traceparent: TRACE, headers: { tracestate: 'shop=1' } });
    const result = await hub.send(msg);
    expect(result.success).toBe(true);
    expect(down.received).toHaveLength(1);
    const r = down.received[0]!;
    expect(r.method).toBe('POST');
    expect(r.url).toBe('/orders');
    expect(JSON.parse(r.body.toString())).toEqual({ n: 7 });
    expect(r.headers['idempotency-key']).toBe(msg.id);
    expect(r.headers.traceparent).toBe(TRACE);
    expect(r.headers.tracestate).toBe('shop=1');
    expect(r.headers['content-type']).toBe('application/json');
  });

  it('routes exact before pattern, by kind, with method and headers; sends the envelope by default', async () => {
    const down = jobs.add(await downstream((_r, res) => json(res, 200, {})));
    const adapter = http({
      allowPrivateNetwork: true,
      routes: [
        { match: 'orders.*', url: `${down.url}/pattern` },
        {
          match: 'orders.cancel',
          url: `${down.url}/exact`,
          method: 'PUT',
          headers: { 'x-api-key': 'k1' },
        },
        {
          match: 'audit.**',
          url: `${down.url}/events`,
          kind: 'event',
          body: 'cloudevents-structured',
        },
      ],
    });
    const hub = jobs.add(await startedHub({ adapters: [adapter] }));
    await hub.send(order(1, { destination: 'orders.cancel' }));
    await hub.send(order(2, { destination: 'orders.other' }));
    await hub.publish(createEvent({ source: 's', topic: 'audit.a.b', data: { x: 1 } }));
    expect(down.received.map((r) => `${r.method} ${r.url}`)).toEqual([
      'PUT /exact',
      'POST /pattern',
      'POST /events',
    ]);
    expect(down.received[0]!.headers['x-api-key']).toBe('k1');
    expect(JSON.parse(down.received[1]!.body.toString()).kind).toBe('message');
    expect(down.received[2]!.headers['content-type']).toBe('application/cloudevents+json');
    await expect(hub.send(order(3, { destination: 'billing.x' }))).rejects.toMatchObject({
      code: ErrorCode.NO_ROUTE,
    });
  });

  it('hub.request: the response body is the reply', async () => {
    const down = jobs.add(
      await downstream((r, res) => json(res, 200, { total: JSON.parse(r.body.toString()).n * 2 })),
    );
    const { hub } = await hubTo(down.url);
    const reply = await hub.request(order(21), { timeoutMs: 5_000 });
    expect(reply.payload).toEqual({ total: 42 });
    expect(reply.correlationId).toBeDefined();
  });

  it('retries 5xx with the same Idempotency-Key until it succeeds', async () => {
    const down = jobs.add(
      await downstream((_r, res, n) => (n < 3 ? json(res, 500, { e: n }) : json(res, 201, {}))),
    );
    const { hub } = await hubTo(down.url);
    const msg = order();
    await hub.send(msg);
    expect(down.received).toHaveLength(3);
    expect(new Set(down.received.map((r) => r.headers['idempotency-key']))).toEqual(
      new Set([msg.id]),
    );
  });

  it('honours Retry-After of a 429: the next attempt waits for it', async () => {
    const down = jobs.add(
      await downstream((_r, res, n) =>
        n === 1 ? json(res, 429, {}, { 'retry-after': '1' }) : json(res, 200, {}),
      ),
    );
    const { hub, adapter } = await hubTo(down.url);
    const started = Date.now();
    await hub.send(order());
    const arrivals = down.received.length;
    expect(arrivals).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(adapter.health().detail?.heldOrigins).toBeGreaterThanOrEqual(0);
  });

  it('honours Retry-After of a 503 too: the next attempt waits for it, not for the short backoff', async () => {
    const arrivals: number[] = [];
    const down = jobs.add(
      await downstream((_r, res, n) => {
        arrivals.push(Date.now());
        return n === 1 ? json(res, 503, {}, { 'retry-after': '1' }) : json(res, 200, {});
      }),
    );
    const { hub } = await hubTo(down.url);
    await hub.send(order());
    expect(down.received).toHaveLength(2);
    // The hub's own backoff here is 5-20 ms; the origin asked for a second.
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(950);
  });

  it('a 4xx is final: one call, rejected with the status and a body excerpt, dead-lettered', async () => {
    const down = jobs.add(await downstream((_r, res) => json(res, 422, { error: 'sku unknown' })));
    const { hub } = await hubTo(down.url);
    const msg = order();
    const err = await hub.send(msg).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpStatusError);
    expect((err as HttpStatusError).status).toBe(422);
    expect((err as HttpStatusError).retryable).toBe(false);
    expect((err as Error).message).toContain('sku unknown');
    expect(down.received).toHaveLength(1);
    const dead = await hub.readDeadLetters('orders.create');
    expect(dead.map((d) => d.envelope.id)).toEqual([msg.id]);
    expect(dead[0]!.reason).toMatch(/^HTTP 422: .*sku unknown/);
  });

  it('a refused connection is a retryable connection failure', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const { hub } = await hubTo(`http://127.0.0.1:${port}`);
    const err = await hub.send(order()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.CONNECTION_FAILED });
    expect(hub.metrics().totals.sendFailed).toBe(3);
  });

  it('a connection that is never accepted fails at connectTimeoutMs as a connection failure (nothing was sent)', async () => {
    const port = await neverAccepting();
    const adapter = http({
      routes: [{ match: 'orders.*', url: `http://127.0.0.1:${port}/orders` }],
      allowPrivateNetwork: true,
      connectTimeoutMs: 300,
    });
    const hub = jobs.add(await startedHub({ adapters: [adapter], sendRetry: { maxAttempts: 1 } }));
    const err = await hub.send(order()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.CONNECTION_FAILED });
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    expect(cause?.code).toBe('UND_ERR_CONNECT_TIMEOUT');
    // The client's own default is 10 s: the deadline that fired is the one configured.
    expect(cause?.message).toMatch(/timeout: 300ms\)/);
  });

  it('a stalled downstream times out as HUB_TIMEOUT (outcome unknown)', async () => {
    const down = jobs.add(await downstream(() => {}));
    const { hub } = await hubTo(down.url, { headersTimeoutMs: 200 });
    const err = await hub
      .send(order(1, { deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT }))
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT });
    // best-effort is not retried after an uncertain send: never duplicated by us
    expect(down.received).toHaveLength(1);
  });

  it('a reply body that stalls past bodyTimeoutMs is HUB_TIMEOUT (outcome unknown), long before the request deadline', async () => {
    // Headers and the first bytes of the body at once, then nothing more.
    const down = jobs.add(
      await downstream((_r, res) => {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 100 });
        res.write('{"partial":');
      }),
    );
    const { hub } = await hubTo(down.url, { bodyTimeoutMs: 300 });
    const started = Date.now();
    const err = await hub
      .request(order(1, { deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT }), {
        timeoutMs: 30_000,
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.TIMEOUT });
    expect(String(err)).toMatch(/outcome unknown/);
    expect(Date.now() - started).toBeLessThan(15_000);
    // best-effort: not repeated after an uncertain failure
    expect(down.received).toHaveLength(1);
  });

  it('does not follow redirects unless allowed; 307 is followed when it is', async () => {
    const down = jobs.add(
      await downstream((r, res) => {
        if (r.url === '/orders') {
          res.writeHead(307, { location: '/moved' });
          res.end();
        } else json(res, 200, { moved: true });
      }),
    );
    const { hub } = await hubTo(down.url);
    const err = await hub.send(order()).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 307, retryable: false });
    expect(down.received.map((r) => r.url)).toEqual(['/orders']);

    const followed = await hubTo(down.url, { followRedirects: true, name: 'http2' });
    await followed.hub.send(order());
    expect(down.received.map((r) => r.url)).toEqual(['/orders', '/orders', '/moved']);
  });

  it('refuses private and loopback targets unless allowPrivateNetwork', async () => {
    expect(() => http({ routes: [{ match: 'a', url: 'http://127.0.0.1:1/x' }] })).toThrow(
      /routes\[0\]\.url/,
    );
    expect(() => http({ routes: [{ match: 'a', url: 'http://[::1]:1/x' }] })).toThrow(
      /routes\[0\]\.url/,
    );
    expect(() => http({ routes: [{ match: 'a', url: 'http://10.1.2.3/x' }] })).toThrow(
      /public address/,
    );
    // A name that resolves to loopback is refused at connect, not only literals.
    const down = jobs.add(await downstream((_r, res) => json(res, 200, {})));
    const port = new URL(down.url).port;
    const adapter = http({
      routes: [{ match: 'orders.*', url: `http://localhost:${port}/orders` }],
    });
    const hub = jobs.add(await startedHub({ adapters: [adapter], sendRetry: fastRetry }));
    const err = await hub.send(order()).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/private or loopback/);
    expect(err).toMatchObject({ retryable: false });
    expect(down.received).toHaveLength(0);
  });

  it('caps the response size: a reply read past the cap fails; a declared length over it fails unread', async () => {
    const big = 'x'.repeat(200_000);
    const down = jobs.add(
      await downstream((r, res) => {
        if (r.url === '/declared') {
          res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 400_000 });
          res.end(big + big);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/plain' });
        // chunked: no Content-Length to refuse up front, the stream is counted
        res.write(big);
        res.end(big);
      }),
    );
    const { hub } = await hubTo(down.url, {
      maxResponseBytes: 100_000,
      routes: [
        { match: 'orders.*', url: `${down.url}/chunked` },
        { match: 'big.*', url: `${down.url}/declared` },
      ],
    });
    const err = await hub.request(order(), { timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(String((err as Error).message)).toMatch(/passed \d+ bytes, over maxResponseBytes/);
    const declared = await hub.send(order(1, { destination: 'big.x' })).catch((e: unknown) => e);
    expect(String((declared as Error).message)).toMatch(/declares 400000 bytes/);
    expect(down.received).toHaveLength(2);
  });

  it('checks its options, naming the field', () => {
    expect(() => http({ routes: [{ match: 'a', url: 'ftp://x/y' }] })).toThrow(/routes\[0\]\.url/);
    expect(() => http({ routes: [{ match: '', url: 'https://x/y' }] })).toThrow(
      /routes\[0\]\.match/,
    );
    expect(() => http({ routes: [], connections: 0 })).toThrow(/"connections"/);
    expect(() => http({ routes: [], guarantees: ['ordered'] })).toThrow(/"guarantees"/);
    expect(() => http({ routes: [], rout: 1 } as never)).toThrow(/did you mean `routes`/);
  });

  it('keeps connections alive: many sends, few sockets', async () => {
    const sockets = new Set<unknown>();
    const down = jobs.add(
      await downstream((r, res) => {
        json(res, 200, {});
        void r;
      }),
    );
    down.server.on('connection', (s) => sockets.add(s));
    const { hub } = await hubTo(down.url, { connections: 2 });
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => hub.send(order(i))));
    }
    expect(down.received).toHaveLength(100);
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it('pipelines idempotent calls on one connection; never a POST unless its route says the receiver dedups', async () => {
    // A downstream that holds its answers until `hold` requests are in (or,
    // should they never all come, 3 s after the first), and records how many
    // were in flight on each connection at once.
    const pipelinedServer = async (hold: number) => {
      const perSocket = new Map<unknown, { inFlight: number; max: number }>();
      const waiting: Array<() => void> = [];
      let late: NodeJS.Timeout | undefined;
      const answerAll = () => {
        clearTimeout(late);
        late = undefined;
        for (const answer of waiting.splice(0)) answer();
      };
      const down = jobs.add(
        await downstream((r, res) => {
          // By the client's port: a pipelined response has no socket until its turn.
          const s = perSocket.get(r.remotePort) ?? { inFlight: 0, max: 0 };
          perSocket.set(r.remotePort, s);
          s.inFlight++;
          s.max = Math.max(s.max, s.inFlight);
          res.on('finish', () => s.inFlight--);
          waiting.push(() => json(res, 200, {}));
          late ??= setTimeout(answerAll, 3_000);
          if (waiting.length >= hold) answerAll();
        }),
      );
      const maxes = () => [...perSocket.values()].map((s) => s.max);
      return { down, perSocket, maxes };
    };
    const sendFour = async (url: string, route: Partial<HttpRoute>) => {
      const adapter = http({
        routes: [{ match: 'orders.*', url: `${url}/orders`, body: 'payload', ...route }],
        allowPrivateNetwork: true,
        connections: 2,
        pipelining: 4,
      });
      const hub = jobs.add(await startedHub({ adapters: [adapter], sendRetry: fastRetry }));
      await Promise.all(Array.from({ length: 4 }, (_, i) => hub.send(order(i))));
    };

    // PUT: all four in flight at once over at most two connections, so some
    // connection carried several before its first answer.
    const put = await pipelinedServer(4);
    await sendFour(put.down.url, { method: 'PUT' });
    expect(put.down.received).toHaveLength(4);
    expect(put.perSocket.size).toBeLessThanOrEqual(2);
    expect(put.maxes().reduce((a, b) => a + b)).toBe(4);
    expect(Math.max(...put.maxes())).toBeGreaterThanOrEqual(2);

    // POST: one at a time per connection, spread over both (answers go in pairs).
    const post = await pipelinedServer(2);
    await sendFour(post.down.url, {});
    expect(post.down.received).toHaveLength(4);
    expect(post.maxes()).toEqual([1, 1]);

    // POST to a receiver that dedups by Idempotency-Key, declared so: pipelined.
    const deduped = await pipelinedServer(4);
    await sendFour(deduped.down.url, { idempotent: true });
    expect(deduped.perSocket.size).toBeLessThanOrEqual(2);
    expect(Math.max(...deduped.maxes())).toBeGreaterThanOrEqual(2);

    expect(() =>
      http({ routes: [{ match: 'x', url: 'https://x/y', idempotent: 'yes' as never }] }),
    ).toThrow(/routes\[0\]\.idempotent/);
  });

  it('works beside another adapter: only routed destinations go over HTTP', async () => {
    const down = jobs.add(await downstream((_r, res) => json(res, 200, {})));
    const adapter = http({
      routes: [{ match: 'orders.*', url: `${down.url}/o` }],
      allowPrivateNetwork: true,
    });
    const hub = jobs.add(
      await startedHub({
        adapters: [memory(), adapter],
        routes: [{ match: 'orders.*', adapters: ['http'], strategy: 'protocol-specific' }],
      }),
    );
    const local: string[] = [];
    await hub.onMessage('local', (m) => {
      local.push(m.id);
    });
    const m = order(1, { destination: 'local' });
    const sent = await hub.send(m);
    expect(sent.adapter).toBe('memory');
    expect((await hub.send(order())).adapter).toBe('http');
    expect(down.received).toHaveLength(1);
  });
});

describe('http adapter: registration', () => {
  it('builds from config through the factory and is found by name, typed', async () => {
    const down = jobs.add(await downstream((_r, res) => json(res, 200, {})));
    const hub = jobs.add(
      await startedHub({
        adapters: [httpAdapter],
        adapterConfig: {
          http: {
            routes: [{ match: 'orders.*', url: `${down.url}/o` }],
            allowPrivateNetwork: true,
          },
        },
      }),
    );
    const adapter: HttpAdapter | undefined = hub.adapters.get('http');
    expect(adapter).toBeInstanceOf(HttpAdapter);
    await hub.send(order());
    expect(down.received).toHaveLength(1);
  });
});
