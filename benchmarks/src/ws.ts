/**
 * WebSocket suite: the hub over @hub/adapter-ws (a client hub → the gateway →
 * a handler on the server hub) beside raw `ws` doing the same work in this
 * process, and the 10,000-connection fan-out with clients in child processes.
 */
import { spawn } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type WsClientAdapter, wsClient, wsServer } from '@hub/adapter-ws';
import { createEvent, createHub, createMessage, DeliveryGuarantee, type Hub } from '@hub/core';
import { WebSocket, WebSocketServer } from 'ws';
import {
  Arrivals,
  alternate,
  flood,
  logger,
  payload300,
  percentile,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  settle,
  stats,
} from './harness.js';

const ROUNDS = roundsFor(5);
const N = pick(20_000, 5_000);
/** Sends in flight together: the hub awaits each batch's confirmations, raw awaits nothing. */
const BATCH = 1_000;
const RTT_N = pick(2_000, 500);
const FANOUT_CONNECTIONS = 10_000;
/** Rounds of the second raw baseline (raw batching by hand), after the pairs. */
const BATCHED_ROUNDS = roundsFor(3);
/** The adapter's batch cap (UTF-16 units), used by the hand-batched raw client too. */
const BATCH_CHARS = 65_536;
const FANOUT_CHILDREN = 4;

interface Pair {
  server: Hub;
  client: Hub;
  /** The client hub's adapter: sending on it directly skips the client hub's pipeline (profile.ts ws-send-direct). */
  adapter: WsClientAdapter;
  close(): Promise<void>;
}

/** A server hub behind a gateway and a client hub on wsClient (also used by the Socket.IO peer). */
export async function hubPair(onMessage: (m: unknown) => unknown): Promise<Pair> {
  const server = createHub({ name: 'ws-bench-server', logger });
  await server.start();
  await server.onMessage('bench.ws', onMessage, { concurrency: 256 });
  // one trusted client sending as fast as it can: the per-connection rate limit
  // (a guard against floods from the open internet) would cut it
  const gateway = await wsServer({ hub: server, port: 0, rateLimit: 1e7, rateBurst: 1e7 });
  const adapter = wsClient({ url: gateway.url });
  const client = createHub({ name: 'ws-bench-client', logger, adapters: [adapter] });
  await client.start();
  return {
    server,
    client,
    adapter,
    close: async () => {
      await client.close({ drainTimeoutMs: 0 });
      await gateway.close();
      await server.close({ drainTimeoutMs: 0 });
    },
  };
}

interface RawPair {
  client: WebSocket;
  close(): Promise<void>;
}

/**
 * The adapter's batching done by hand on a raw socket: the texts sent in one
 * turn leave as one frame (a JSON array of them) once the turn's work is done,
 * cut at the same size as the adapter's batches.
 */
export class HandBatcher {
  private queue: string[] = [];
  private chars = 0;
  private scheduled = false;
  constructor(private readonly ws: WebSocket) {}
  send(text: string): void {
    if (this.chars + text.length > BATCH_CHARS && this.queue.length > 0) this.flush();
    this.queue.push(text);
    this.chars += text.length;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flushTick);
    }
  }
  private readonly flushTick = () => {
    this.scheduled = false;
    this.flush();
  };
  private flush(): void {
    if (this.queue.length === 0) return;
    this.ws.send(`[${this.queue.join(',')}]`);
    this.queue = [];
    this.chars = 0;
  }
}

export async function rawPair(onText: (text: string, ws: WebSocket) => void): Promise<RawPair> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d) => onText(String(d), ws)));
  const port = (wss.address() as AddressInfo).port;
  const client = new WebSocket(`ws://127.0.0.1:${port}/`, { perMessageDeflate: false });
  await new Promise<void>((r, j) => {
    client.once('open', () => r());
    client.once('error', j);
  });
  return {
    client,
    close: async () => {
      client.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

export const message = (i: number) =>
  createMessage({
    source: 'bench',
    destination: 'bench.ws',
    payload: payload300(i),
    deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT,
  });

/**
 * The sides of ws.one-way, each counting what reaches its server in
 * `arrivals`: the hub pair, and the raw pair with its hand batcher (a
 * hand-made batch is an array of envelopes; one per frame is an envelope).
 */
export async function oneWaySides(arrivals: Arrivals) {
  const hub = await hubPair(() => {
    arrivals.inc();
  });
  const raw = await rawPair((text) => {
    const parsed = JSON.parse(text) as unknown;
    if (Array.isArray(parsed)) for (let k = 0; k < parsed.length; k++) arrivals.inc();
    else arrivals.inc();
  });
  return { hub, raw, batcher: new HandBatcher(raw.client) };
}

async function oneWay(): Promise<ScenarioResult> {
  const arrivals = new Arrivals();
  const { hub, raw, batcher } = await oneWaySides(arrivals);
  const cpu = { hub: [] as number[], raw: [] as number[] };
  try {
    const partial: string[] = [];
    const measured = async (side: string, send: (i: number) => Promise<unknown> | undefined) => {
      const f = await flood({ total: N, batch: BATCH, timeLimitMs: 20_000, arrivals, send });
      if (f.partial) partial.push(`${side} round: ${f.arrived}/${f.issued} of ${N} arrived`);
      return f;
    };
    const hubRound = async () => {
      const f = await measured('hub', (i) => hub.client.send(message(i)));
      cpu.hub.push(f.cpuUsPerMsg);
      return f.rate;
    };
    const rawRound = async () => {
      const f = await measured('raw', (i) => {
        raw.client.send(JSON.stringify(message(i)));
        return undefined;
      });
      cpu.raw.push(f.cpuUsPerMsg);
      return f.rate;
    };
    const r = await alternate({
      rounds: ROUNDS,
      warmup: { hub: hubRound, raw: rawRound },
      hub: hubRound,
      raw: rawRound,
    });
    // Second baseline: raw doing the adapter's batching by hand (one frame per turn).
    const batchedRates: number[] = [];
    const batchedCpu: number[] = [];
    for (let round = 0; round <= BATCHED_ROUNDS; round++) {
      const f = await measured('raw (batched)', (i) => {
        batcher.send(JSON.stringify(message(i)));
        return undefined;
      });
      await settle();
      if (round === 0) continue; // warm-up
      batchedRates.push(f.rate);
      batchedCpu.push(f.cpuUsPerMsg);
    }
    const batched = stats(batchedRates).median;
    // Warm-up rounds are the first entry of each list.
    const hubCpu = stats(cpu.hub.slice(1)).median;
    const rawCpu = stats(cpu.raw.slice(1)).median;
    return result({
      suite: 'ws',
      id: 'ws.one-way',
      title:
        'client → gateway → handler on the server hub, 300 B payload, beside raw ws one message per frame',
      unit: 'msg/s',
      higherIsBetter: true,
      ...r,
      rounds: ROUNDS,
      targets: [{ kind: 'ratio-min', value: 0.85, label: '≥ 0.85× raw ws' }],
      notes: [
        `hub: ${BATCH} sends in flight, each resolved by the server's confirmation after its hub accepted it; the frames of one turn leave as one batch frame each way (the protocol's batch feature), acks of a turn in one acks frame`,
        'raw (the baseline of the hub/raw column): ws.send of the same envelope JSON, one per frame, parsed by a raw ws server; no acks',
        `raw (batched), in the extra lines: the same envelopes batched by hand, the texts of one turn sent as one JSON array frame (cut at ${BATCH_CHARS.toLocaleString('en')} characters, as the adapter does); no acks`,
        'client and server run in this one process: CPU µs/msg covers both ends',
        ...partial,
      ],
      extra: {
        'raw batched by hand, msg/s (median)': Math.round(batched),
        'hub ÷ raw batched by hand': Number((r.hub.median / batched).toFixed(3)),
        'CPU µs/msg, hub (median)': Number(hubCpu.toFixed(2)),
        'CPU µs/msg, raw (median)': Number(rawCpu.toFixed(2)),
        'CPU µs/msg, raw batched (median)': Number(stats(batchedCpu).median.toFixed(2)),
        'CPU per message, raw ÷ hub': Number((rawCpu / hubCpu).toFixed(3)),
      },
    });
  } finally {
    await hub.close();
    await raw.close();
  }
}

async function roundTrip(): Promise<ScenarioResult> {
  const hub = await hubPair((m) => (m as { payload: unknown }).payload);
  const raw = await rawPair((text, ws) => ws.send(text));
  let rawWaiter: (() => void) | undefined;
  raw.client.on('message', () => rawWaiter?.());
  // A second raw baseline doing the JSON work a hub does at both ends: the
  // server parses the request and answers with an encoded reply, the client parses it.
  const parsed = await rawPair((text, ws) => {
    const req = JSON.parse(text) as { id: string; payload: unknown };
    ws.send(JSON.stringify({ ...req, id: `r-${req.id}`, correlationId: req.id }));
  });
  let parsedWaiter: (() => void) | undefined;
  parsed.client.on('message', (d) => {
    JSON.parse(String(d));
    parsedWaiter?.();
  });
  const p50s: { hub: number[]; raw: number[] } = { hub: [], raw: [] };
  // CPU per round trip (both ends are this process): steadier than latency on a loaded box
  const cpu: { hub: number[]; raw: number[] } = { hub: [], raw: [] };
  try {
    const measure = async (one: (i: number) => Promise<unknown>, side: 'hub' | 'raw') => {
      const lat = new Float64Array(RTT_N);
      const c0 = process.cpuUsage();
      for (let i = 0; i < RTT_N; i++) {
        const t0 = performance.now();
        await one(i);
        lat[i] = (performance.now() - t0) * 1000;
      }
      const c = process.cpuUsage(c0);
      cpu[side].push((c.user + c.system) / RTT_N);
      lat.sort();
      p50s[side].push(percentile(lat, 50));
      return percentile(lat, 99);
    };
    const hubOne = (i: number) =>
      hub.client.request(
        createMessage({ source: 'bench', destination: 'bench.ws', payload: payload300(i) }),
        { timeoutMs: 5_000 },
      );
    const rawOne = (i: number) =>
      new Promise<void>((resolve) => {
        rawWaiter = resolve;
        raw.client.send(JSON.stringify(message(i)));
      });
    const r = await alternate({
      rounds: ROUNDS,
      collect: false,
      warmup: { hub: () => measure(hubOne, 'hub'), raw: () => measure(rawOne, 'raw') },
      hub: () => measure(hubOne, 'hub'),
      raw: () => measure(rawOne, 'raw'),
    });
    const hubP50 = stats(p50s.hub.slice(1)).median;
    const rawP50 = stats(p50s.raw.slice(1)).median;
    const p50Ratio = hubP50 / rawP50;
    const hubCpu = stats(cpu.hub.slice(1)).median;
    const rawCpu = stats(cpu.raw.slice(1)).median;
    const parsedOne = (i: number) =>
      new Promise<void>((resolve) => {
        parsedWaiter = resolve;
        parsed.client.send(JSON.stringify(message(i)));
      });
    const parsedP50: number[] = [];
    const parsedP99: number[] = [];
    for (let round = 0; round <= BATCHED_ROUNDS; round++) {
      const lat = new Float64Array(RTT_N);
      for (let i = 0; i < RTT_N; i++) {
        const t0 = performance.now();
        await parsedOne(i);
        lat[i] = (performance.now() - t0) * 1000;
      }
      if (round === 0) continue; // warm-up
      lat.sort();
      parsedP50.push(percentile(lat, 50));
      parsedP99.push(percentile(lat, 99));
    }
    const pP50 = stats(parsedP50).median;
    const pP99 = stats(parsedP99).median;
    return result({
      suite: 'ws',
      id: 'ws.round-trip',
      title: 'request/reply client → gateway → handler → reply, one in flight (p99)',
      unit: 'µs p99',
      higherIsBetter: false,
      hub: r.hub,
      raw: r.raw,
      ratio: r.ratio,
      rounds: ROUNDS,
      // the bar, against the raw median of this same run
      targets: [{ kind: 'hub-max', value: 1.3 * r.raw.median, label: '≤ 1.3× raw p99 (this run)' }],
      notes: [
        'hub: hub.request over wsClient to a handler on the server hub (two hub hops each way)',
        'raw (the baseline of the hub/raw column): ws echo of the same envelope JSON, not parsed at either end',
        'raw with JSON at both ends (extra lines, measured after the pairs): the server parses the request and sends an encoded reply, the client parses it',
        'the target is p50 and p99 ≤ 1.3× raw; the verdict judges p99, the p50 ratio is in extra',
        'both sides alike: the same 300 B payload in an envelope, one round trip in flight, hub and raw rounds alternating after a warm-up round each; p50 and p99 are medians over the rounds',
        'CPU µs per round trip covers both ends (client and server are this one process): steadier than the latencies when the box is loaded',
      ],
      extra: {
        'hub p50 µs': hubP50.toFixed(0),
        'raw p50 µs': rawP50.toFixed(0),
        'p50 hub/raw': p50Ratio.toFixed(2),
        'p50 ≤ 1.3× raw': p50Ratio <= 1.3 ? 'PASS' : 'FAIL',
        'p99 hub/raw': r.ratio.median.toFixed(2),
        'CPU µs per round trip, hub / raw (median)': `${hubCpu.toFixed(1)} / ${rawCpu.toFixed(1)}`,
        'CPU per round trip, hub ÷ raw': (hubCpu / rawCpu).toFixed(2),
        'raw with JSON at both ends, p50 / p99 µs': `${pP50.toFixed(0)} / ${pP99.toFixed(0)}`,
        'hub ÷ raw with JSON at both ends, p50 / p99': `${(hubP50 / pP50).toFixed(2)} / ${(r.hub.median / pP99).toFixed(2)}`,
      },
    });
  } finally {
    await hub.close();
    await raw.close();
    await parsed.close();
  }
}

async function fanOut(): Promise<ScenarioResult> {
  const server = createHub({ name: 'ws-fanout', logger, history: false });
  await server.start();
  const gateway = await wsServer({
    hub: server,
    port: 0,
    maxConnections: FANOUT_CONNECTIONS * 2,
    maxConnectionsPerIp: FANOUT_CONNECTIONS * 2,
  });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const rssBefore = process.memoryUsage().rss;
  const script = fileURLToPath(new URL('./ws-fanout-client.ts', import.meta.url));
  const per = FANOUT_CONNECTIONS / FANOUT_CHILDREN;
  const children = Array.from({ length: FANOUT_CHILDREN }, () =>
    spawn(process.execPath, ['--import', 'tsx', script, gateway.url, String(per), 'bench.fan'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outputs = children.map(() => ({ text: '' }));
  children.forEach((c, i) => {
    c.stdout.on('data', (d) => {
      outputs[i]!.text += d;
    });
  });
  const all = (word: string, ms: number) =>
    new Promise<boolean>((resolve) => {
      const deadline = Date.now() + ms;
      const tick = () => {
        if (outputs.every((o) => o.text.includes(word))) resolve(true);
        else if (Date.now() > deadline) resolve(false);
        else setTimeout(tick, 5);
      };
      tick();
    });
  try {
    const t0 = performance.now();
    const ready = await all('READY', 120_000);
    const connectMs = performance.now() - t0;
    if (!ready) throw new Error('the fan-out clients did not all connect within 120 s');
    gc?.();
    const rssAfter = process.memoryUsage().rss;
    const perConnKb = (rssAfter - rssBefore) / FANOUT_CONNECTIONS / 1024;
    const t1 = performance.now();
    await server.publish(createEvent({ source: 'bench', topic: 'bench.fan', data: payload300() }));
    const reached = await all('GOT', 60_000);
    const fanMs = performance.now() - t1;
    const got = outputs.reduce((n, o) => n + Number(/GOT (\d+)/.exec(o.text)?.[1] ?? 0), 0);
    const one = stats([fanMs]);
    return result({
      suite: 'ws',
      id: 'ws.fanout-10k',
      title: `${FANOUT_CONNECTIONS.toLocaleString('en')} subscribed connections, one publish reaching all`,
      unit: 'ms',
      higherIsBetter: false,
      hub: one,
      raw: null,
      ratio: null,
      rounds: 1,
      targets: [],
      notes: [
        `clients: raw ws speaking the frame protocol in ${FANOUT_CHILDREN} child processes (the 20,000 descriptor limit per process)`,
        'RSS per idle connection: server process RSS growth over the connected, subscribed, idle set, after a collection',
      ],
      extra: {
        connections: gateway.metrics().connections,
        'connect + subscribe all (ms)': connectMs.toFixed(0),
        'fan-out (ms)': fanMs.toFixed(0),
        'received / connections': `${got} / ${FANOUT_CONNECTIONS}`,
        lost: reached ? FANOUT_CONNECTIONS - got : `${FANOUT_CONNECTIONS - got} (timed out)`,
        'RSS per idle connection (KB)': perConnKb.toFixed(1),
        'RSS per idle connection ≤ 50 KB': perConnKb <= 50 ? 'PASS' : 'FAIL',
      },
    });
  } finally {
    for (const c of children) c.stdin.end();
    await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
    await gateway.close();
    await server.close({ drainTimeoutMs: 0 });
  }
}

export const wsScenarios: Array<{ id: string; run: () => Promise<ScenarioResult> }> = [
  { id: 'ws.one-way', run: oneWay },
  { id: 'ws.round-trip', run: roundTrip },
  { id: 'ws.fanout-10k', run: fanOut },
];
