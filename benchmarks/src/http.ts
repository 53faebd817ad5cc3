/**
 * HTTP in both directions, beside the raw parts underneath in the same run:
 * - http.send: `hub.send` through the HTTP adapter vs raw undici `Pool`
 *   requests (the same payload built and serialised per call, same
 *   connection count, same concurrency).
 * - http.endpoint: the inbound endpoint (parse, `hub.send`, handler) vs a bare
 *   `node:http` handler doing the same JSON parse, both driven by one undici Pool.
 * - http.send-p99, http.endpoint-p99: latency at a steady 1,000 req/s, hub vs raw.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { http, httpServer } from '@hub/adapter-http';
import { createHub, type Hub, memory } from '@hub/core';
import { createMessage, DeliveryGuarantee } from '@hub/protocol';
import { Pool } from 'undici';
import {
  alternate,
  logger,
  payload300,
  percentile,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  stats,
} from './harness.js';

const CONNECTIONS = 16;
/** The length of a hub envelope id, which the endpoint's 202 answer carries. */
const ID_LENGTH = 21;
const CONCURRENCY = 64;
const PER_ROUND = pick(4_000, 1_000);
const ROUNDS = roundsFor(5);

/**
 * A downstream answering every POST with 202 after reading the body. With
 * `parse` it is the endpoint's bare counterpart, written as a competent
 * handler would be: chunks joined once, one JSON.parse, and the same answer
 * the endpoint gives (`{"accepted":true,"id":…}` with a fresh id of the same
 * length, so the bodies are the same size); without,
 * it answers `{}` (the outbound benchmarks' downstream).
 */
async function bareServer(parse: boolean): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (!parse) {
        res.writeHead(202, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
        return;
      }
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      // A fresh id of the hub's length (21 characters), so both answers are the same size.
      const body = `{"accepted":true,"id":"${randomUUID().slice(0, ID_LENGTH)}"}`;
      res.writeHead(202, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, server };
}

const closeServer = (s: Server) =>
  new Promise<void>((r) => {
    s.close(() => r());
    s.closeAllConnections();
  });

/**
 * `count` calls, `CONCURRENCY` in flight at a time; resolves with calls per
 * second. With `cpu`, also records this process's CPU µs per call (client and
 * server together): steadier than the rate on a loaded box.
 */
async function drive(
  count: number,
  call: (i: number) => Promise<unknown>,
  cpu?: number[],
): Promise<number> {
  let next = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const worker = async () => {
    while (next < count) await call(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsed = performance.now() - t0;
  const used = process.cpuUsage(c0);
  cpu?.push((used.user + used.system) / count);
  return (count / elapsed) * 1000;
}

/** CPU µs per call, hub and raw medians, for a result's `extra`. */
function cpuExtra(cpu: { hub: number[]; raw: number[] }): Record<string, string> {
  const hub = stats(cpu.hub).median;
  const raw = stats(cpu.raw).median;
  return {
    'cpu µs/call hub': hub.toFixed(1),
    'cpu µs/call raw': raw.toFixed(1),
    'cpu raw/hub (≥ 0.85 is the target read as CPU)': (raw / hub).toFixed(3),
  };
}

async function rawPost(pool: Pool, path: string, body: string): Promise<void> {
  const res = await pool.request({
    path,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  await res.body.dump();
  if (res.statusCode >= 300) throw new Error(`status ${res.statusCode}`);
}

async function senderHub(url: string): Promise<Hub> {
  const hub = createHub({
    name: 'bench-http',
    logger,
    adapters: [
      http({
        routes: [{ match: 'orders', url: `${url}/orders`, body: 'payload' }],
        allowPrivateNetwork: true,
        connections: CONNECTIONS,
      }),
    ],
  });
  await hub.start();
  return hub;
}

/** A downstream, a hub sending to it over HTTP and a raw Pool on it. */
async function sendSetup() {
  const down = await bareServer(false);
  const hub = await senderHub(down.url);
  const pool = new Pool(down.url, { connections: CONNECTIONS });
  const close = async () => {
    await pool.close();
    await hub.close();
    await closeServer(down.server);
  };
  return { hub, pool, close };
}

/**
 * The raw side of a send: the same payload the hub side builds for call `i`,
 * serialised per call as the adapter serialises it, then POSTed.
 */
const rawSend = (pool: Pool, i: number) => rawPost(pool, '/orders', JSON.stringify(payload300(i)));

async function sendThroughput(): Promise<ScenarioResult> {
  const { hub, pool, close } = await sendSetup();
  const cpu = { hub: [] as number[], raw: [] as number[] };
  const hubSend = (i: number) =>
    hub.send(
      createMessage({
        source: 'bench',
        destination: 'orders',
        payload: payload300(i),
        deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      }),
    );
  try {
    const r = await alternate({
      rounds: ROUNDS,
      warmup: {
        hub: () => drive(PER_ROUND, hubSend),
        raw: () => drive(PER_ROUND, (i) => rawSend(pool, i)),
      },
      hub: () => drive(PER_ROUND, hubSend, cpu.hub),
      raw: () => drive(PER_ROUND, (i) => rawSend(pool, i), cpu.raw),
    });
    return result({
      suite: 'http',
      id: 'http.send',
      title: 'hub.send over the HTTP adapter vs raw undici Pool requests',
      unit: 'calls/s',
      higherIsBetter: true,
      ...r,
      rounds: ROUNDS,
      targets: [{ kind: 'ratio-min', value: 0.85, label: '≥ 0.85× raw' }],
      notes: [
        `${PER_ROUND} POSTs of a 300-byte JSON payload per round, ${CONCURRENCY} in flight, ${CONNECTIONS} keep-alive connections, to a node:http server answering 202`,
        'hub side: createMessage + validation + routing + circuit breaker + Idempotency-Key header + response read',
        'both sides build the same payload per call and serialise it (JSON.stringify) per call',
      ],
      extra: cpuExtra(cpu),
    });
  } finally {
    await close();
  }
}

/**
 * A hub (memory adapter, a handler on `orders`) behind the endpoint, the bare
 * handler beside it, and a Pool on each with the same connection count and body.
 */
async function endpointSetup() {
  const hub = createHub({ name: 'bench-endpoint', logger, adapters: [memory()] });
  await hub.start();
  const counter = { handled: 0 };
  await hub.onMessage(
    'orders',
    () => {
      counter.handled++;
    },
    { concurrency: 256 },
  );
  const endpoint = await httpServer({ hub });
  const bare = await bareServer(true);
  const hubPool = new Pool(new URL(endpoint.url).origin, { connections: CONNECTIONS });
  const rawPool = new Pool(bare.url, { connections: CONNECTIONS });
  const body = JSON.stringify({
    destination: 'orders',
    payload: payload300(),
    deliveryGuarantee: 'best-effort',
  });
  const close = async () => {
    await hubPool.close();
    await rawPool.close();
    await endpoint.close();
    await hub.close();
    await closeServer(bare.server);
  };
  return { hubPool, rawPool, body, counter, close };
}

async function endpointThroughput(): Promise<ScenarioResult> {
  const { hubPool, rawPool, body, counter, close } = await endpointSetup();
  const cpu = { hub: [] as number[], raw: [] as number[] };
  try {
    const r = await alternate({
      rounds: ROUNDS,
      warmup: {
        hub: () => drive(PER_ROUND, () => rawPost(hubPool, '/messages', body)),
        raw: () => drive(PER_ROUND, () => rawPost(rawPool, '/', body)),
      },
      hub: () => drive(PER_ROUND, () => rawPost(hubPool, '/messages', body), cpu.hub),
      raw: () => drive(PER_ROUND, () => rawPost(rawPool, '/', body), cpu.raw),
    });
    return result({
      suite: 'http',
      id: 'http.endpoint',
      title:
        'inbound endpoint (POST /messages → hub.send) vs a bare node:http handler parsing the same JSON',
      unit: 'calls/s',
      higherIsBetter: true,
      ...r,
      rounds: ROUNDS,
      targets: [{ kind: 'ratio-min', value: 0.85, label: '≥ 0.85× raw' }],
      notes: [
        `${PER_ROUND} POSTs per round (short-form message, 300-byte payload), ${CONCURRENCY} in flight over ${CONNECTIONS} connections, both driven by undici in this process`,
        'hub side: rate/auth checks, body read under the limit, parse, short-form completion, idempotency window, hub.send to the memory adapter (and its handler), 202 {"accepted":true,"id"}',
        'raw side: a node:http handler joining the chunks once, JSON.parse, and the same 202 answer with a fresh id',
      ],
      extra: { 'messages handled by the hub': counter.handled, ...cpuExtra(cpu) },
    });
  } finally {
    await close();
  }
}

async function endpointP99(): Promise<ScenarioResult> {
  const { hubPool, rawPool, body, close } = await endpointSetup();
  const hubCall = () => rawPost(hubPool, '/messages', body);
  const rawCall = () => rawPost(rawPool, '/', body);
  try {
    const r = await latencyRounds(hubCall, rawCall);
    return result({
      suite: 'http',
      id: 'http.endpoint-p99',
      title:
        'inbound endpoint at a steady 1,000 req/s: p99 latency beside a bare node:http handler',
      unit: 'µs p99',
      higherIsBetter: false,
      ...r.ratios,
      rounds: 3,
      targets: [],
      notes: [
        `${pick(1, 0.3)} s per round at 1,000 POSTs/s in 10 ms ticks, same body and connection count as http.endpoint; reported, no target`,
      ],
      extra: r.extra,
    });
  } finally {
    await close();
  }
}

/** Latency of calls issued at a steady `rate` per second for `ms`; returns per-call µs. */
async function steady(rate: number, ms: number, call: () => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  const pending: Array<Promise<unknown>> = [];
  const perTick = rate / 100; // every 10 ms
  const t0 = performance.now();
  for (let tick = 0; tick < ms / 10; tick++) {
    const due = t0 + tick * 10;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    for (let k = 0; k < perTick; k++) {
      const s = performance.now();
      pending.push(call().then(() => latencies.push((performance.now() - s) * 1000)));
    }
  }
  await Promise.all(pending);
  return latencies;
}

/** Three alternating rounds at a steady 1,000 calls/s: p99 per round, p50 medians beside. */
async function latencyRounds(hubCall: () => Promise<unknown>, rawCall: () => Promise<unknown>) {
  const p50s: { hub: number[]; raw: number[] } = { hub: [], raw: [] };
  const round = async (side: 'hub' | 'raw') => {
    const l = await steady(1_000, pick(1_000, 300), side === 'hub' ? hubCall : rawCall);
    p50s[side].push(percentile(l, 50));
    return percentile(l, 99);
  };
  const ratios = await alternate({
    rounds: 3,
    collect: false,
    warmup: { hub: () => steady(1_000, 300, hubCall), raw: () => steady(1_000, 300, rawCall) },
    hub: () => round('hub'),
    raw: () => round('raw'),
  });
  return {
    ratios,
    extra: {
      'hub p50 µs': stats(p50s.hub).median.toFixed(0),
      'raw p50 µs': stats(p50s.raw).median.toFixed(0),
    },
  };
}

async function sendP99(): Promise<ScenarioResult> {
  const { hub, pool, close } = await sendSetup();
  const hubCall = () =>
    hub.send(createMessage({ source: 'bench', destination: 'orders', payload: payload300() }));
  const rawCall = () => rawSend(pool, 0);
  try {
    const r = await latencyRounds(hubCall, rawCall);
    return result({
      suite: 'http',
      id: 'http.send-p99',
      title: 'hub.send over HTTP at a steady 1,000 req/s: p99 latency beside raw undici',
      unit: 'µs p99',
      higherIsBetter: false,
      ...r.ratios,
      rounds: 3,
      targets: [],
      notes: [
        `${pick(1, 0.3)} s per round at 1,000 calls/s in 10 ms ticks, same server and connection count; reported, no target`,
      ],
      extra: r.extra,
    });
  } finally {
    await close();
  }
}

export const httpScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'http.send', run: sendThroughput },
  { id: 'http.endpoint', run: endpointThroughput },
  { id: 'http.send-p99', run: sendP99 },
  { id: 'http.endpoint-p99', run: endpointP99 },
];
