/**
 * Request/reply beside a peer: the hub's `request()` against Moleculer 0.14's
 * `broker.call()` (in-process, and over its Redis transporter), and against raw
 * ioredis doing the two Pub/Sub hops by hand. Same process, same 300-byte
 * payload echoed back, rounds alternating between the sides. Also the cost of
 * the memory transport's wire-like copies (default) against
 * `memory({ shareObjects: true })`.
 */
import { startRedisServer } from '@hub/adapter-test-suite';
import {
  createHub,
  createMessage,
  createReply,
  DeliveryGuarantee,
  type Hub,
  memory,
  type UnifiedMessage,
} from '@hub/core';
import { Redis } from 'ioredis';
import moleculer from 'moleculer';
import {
  Arrivals,
  flood,
  logger,
  payload300,
  percentile,
  pick,
  ratioOf,
  result,
  rotate,
  roundsFor,
  type ScenarioResult,
  stats,
  type Target,
} from './harness.js';

const { ServiceBroker } = moleculer;
type Broker = InstanceType<typeof ServiceBroker>;

const ROUNDS = roundsFor(4);
/**
 * Each round is bounded by a count and by a time: in-process rounds reach
 * 100,000 requests well within their time; a Redis round at one request in
 * flight makes a few thousand.
 */
const MEMORY_ROUND_MS = pick(500, 200);
const ROUND_MS = pick(700, 250);
const MEMORY_N = 200_000;
const REDIS_N = 20_000;
const TIMEOUT_MS = 10_000;

type Payload = ReturnType<typeof payload300>;
const ignore = (): void => {};

/**
 * Moleculer as its documentation recommends for speed: logger, metrics and
 * tracing off (they are opt-in costs), no parameter validation schema on the
 * action (the validator only runs for actions that declare `params`), the
 * default JSON serializer (the hub's wire format too, so the bytes compare),
 * and the Redis transporter on ioredis for the networked cases.
 */
export function moleculerBroker(nodeID: string, transporter?: string): Broker {
  return new ServiceBroker({
    nodeID,
    logger: false,
    metrics: false,
    tracing: false,
    ...(transporter ? { transporter } : {}),
  });
}

/** One side of a request/reply round: `inflight` callers, each awaiting one call at a time. */
/** Client CPU µs per request of the last closedLoop (user + system of this process). */
let lastCpuUs = 0;

async function closedLoop(
  call: () => Promise<unknown>,
  total: number,
  inflight: number,
  latencies?: number[],
  roundMs = ROUND_MS,
): Promise<number> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const stopAt = t0 + roundMs;
  let issued = 0;
  let done = 0;
  const worker = async () => {
    while (issued < total && performance.now() < stopAt) {
      issued++;
      const s = latencies ? performance.now() : 0;
      await call();
      if (latencies) latencies.push((performance.now() - s) * 1000);
      done++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  lastCpuUs = (cpu.user + cpu.system) / Math.max(1, done);
  return (done / elapsed) * 1000;
}

/** Wrap a side so its CPU µs per request is kept, round by round, in `into`. */
function withCpu(side: () => Promise<number>, into: number[]): () => Promise<number> {
  return async () => {
    const rate = await side();
    into.push(lastCpuUs);
    return rate;
  };
}

/**
 * Warm-up rounds per side before the measured ones. One round at one request
 * in flight over Redis is only a few thousand calls; the hub's longer path was
 * then still partly unoptimised (a CPU profile showed generic property-load
 * stubs and lazy compiles), which read as ~25 µs of extra client CPU per
 * request that a longer warm-up removed. Every side gets the same warm-up.
 */
const WARMUP_ROUNDS = pick(2, 1);

/** Median client CPU per request over the measured rounds (the warm-up rounds left out). */
const cpuMedian = (xs: number[]) => stats(xs.slice(WARMUP_ROUNDS)).median.toFixed(1);

const median = (xs: number[]) => Math.round(stats(xs).median);

function hubRequest(hub: Hub, destination: string, payload: Payload, g: DeliveryGuarantee) {
  return () =>
    hub.request(createMessage({ source: 'bench', destination, payload, deliveryGuarantee: g }), {
      timeoutMs: TIMEOUT_MS,
    });
}

async function echoHub(name: string, shareObjects: boolean): Promise<Hub> {
  const hub = createHub({ name, adapters: [memory({ shareObjects })], logger });
  await hub.onMessage('rpc.echo', (m) => m.payload, { guarantees: ['best-effort'] });
  await hub.start();
  return hub;
}

/** In-process request/reply: hub memory() (default and shareObjects) beside Moleculer's local call. */
async function memoryRpc(): Promise<ScenarioResult[]> {
  const payload = payload300();
  const hub = await echoHub('rpc-copy', false);
  const shared = await echoHub('rpc-share', true);
  const broker = moleculerBroker('local');
  broker.createService({ name: 'echo', actions: { echo: (ctx) => ctx.params } });
  await broker.start();
  const out: ScenarioResult[] = [];
  try {
    for (const [inflight, target] of [
      [1, 500_000],
      [100, 700_000],
    ] as const) {
      const cpu: number[][] = [[], [], []];
      const [h, s, m] = await rotate(
        [
          withCpu(
            () =>
              closedLoop(
                hubRequest(hub, 'rpc.echo', payload, 'best-effort'),
                MEMORY_N,
                inflight,
                undefined,
                MEMORY_ROUND_MS,
              ),
            cpu[0]!,
          ),
          withCpu(
            () =>
              closedLoop(
                hubRequest(shared, 'rpc.echo', payload, 'best-effort'),
                MEMORY_N,
                inflight,
                undefined,
                MEMORY_ROUND_MS,
              ),
            cpu[1]!,
          ),
          withCpu(
            () =>
              closedLoop(
                () => broker.call('echo.echo', payload),
                MEMORY_N,
                inflight,
                undefined,
                MEMORY_ROUND_MS,
              ),
            cpu[2]!,
          ),
        ],
        ROUNDS,
        true,
        WARMUP_ROUNDS,
      );
      const targets: Target[] = [
        { kind: 'hub-min', value: target, label: `≥ ${target.toLocaleString('en-US')} req/s` },
      ];
      out.push(
        result({
          suite: 'core',
          id: `rpc.memory-${inflight}`,
          title: `in-process request/reply, ${inflight} in flight: hub memory() vs Moleculer local call()`,
          unit: 'req/s',
          higherIsBetter: true,
          hub: stats(h!),
          raw: stats(m!),
          ratio: ratioOf(h!, m!),
          rounds: ROUNDS,
          targets,
          notes: [
            'hub: best-effort hub.request() to a local handler that returns the payload, memory() with its defaults (payload checked as the wire does, handler gets a copy); createMessage inside the clock',
            'raw column: Moleculer 0.14 broker.call() of a local action that returns ctx.params (logger, metrics, tracing off)',
            `${inflight} caller(s), each awaiting one request at a time; up to ${MEMORY_N.toLocaleString('en-US')} requests or ${MEMORY_ROUND_MS} ms per round`,
          ],
          extra: {
            'hub memory({ shareObjects: true }) req/s (median)': median(s!),
            'hub shareObjects ÷ Moleculer (median)': ratioOf(s!, m!).median.toFixed(3),
            'hub default ÷ hub shareObjects (median)': ratioOf(h!, s!).median.toFixed(3),
            'client CPU µs/req: hub default / shareObjects / Moleculer (median)': `${cpuMedian(cpu[0]!)} / ${cpuMedian(cpu[1]!)} / ${cpuMedian(cpu[2]!)}`,
          },
        }),
      );
    }
    // The price of the wire-like copies on fire-and-forget, both modes side by side.
    const n = 200_000;
    const envs = Array.from({ length: n }, () =>
      createMessage({
        source: 'bench',
        destination: 'rpc.sink',
        payload,
        deliveryGuarantee: 'best-effort',
      }),
    );
    const arrivals = new Arrivals();
    for (const x of [hub, shared]) await x.onMessage('rpc.sink', () => arrivals.inc());
    const cpu: Record<string, number[]> = { copy: [], share: [] };
    const send = (x: Hub, key: string) => async () => {
      const r = await flood({
        total: n,
        batch: 1_000,
        timeLimitMs: 5_000,
        arrivals,
        send: (i) => x.send(envs[i]!),
      });
      cpu[key]!.push(r.cpuUsPerMsg);
      return r.rate;
    };
    const [c, sh] = await rotate(
      [send(hub, 'copy'), send(shared, 'share')],
      ROUNDS,
      true,
      WARMUP_ROUNDS,
    );
    out.push(
      result({
        suite: 'core',
        id: 'rpc.memory-copies',
        title: 'memory() best-effort fire-and-forget: default (checked, copied) vs shareObjects',
        unit: 'msg/s',
        higherIsBetter: true,
        hub: stats(c!),
        raw: stats(sh!),
        ratio: ratioOf(c!, sh!),
        rounds: ROUNDS,
        targets: [{ kind: 'hub-min', value: 1_000_000, label: '≥ 1,000,000 msg/s' }],
        notes: [
          'hub: memory() defaults: payload checked as the JSON codec checks it and copied at send; the one handler owns that copy',
          'raw column: the same hub code with memory({ shareObjects: true }) (no check, no copy)',
          `${n.toLocaleString('en-US')} pre-built envelopes, batches of 1,000 hub.send() awaited together`,
        ],
        extra: {
          'client CPU µs/msg, default (median)': stats(cpu.copy!.slice(1)).median.toFixed(3),
          'client CPU µs/msg, shareObjects (median)': stats(cpu.share!.slice(1)).median.toFixed(3),
        },
      }),
    );
  } finally {
    await Promise.allSettled([hub.close(), shared.close(), broker.stop()]);
  }
  return out;
}

/**
 * Raw ioredis request → reply over Pub/Sub, by hand: what the hub's best-effort request does.
 * With `envelope`, each hop carries the protocol's envelope instead of `{id, payload}`: the
 * request is the full message a hub sends (createMessage, then `replyTo` and `correlationId`),
 * the reply the full message createReply builds, each JSON.stringify'd and JSON.parse'd as a
 * whole, no validation. What that side reaches is the most any hub carrying the envelope can.
 */
async function rawPair(url: string, envelope = false) {
  // As the adapter's connections on one server: no auto-pipelining (a request
  // waits for its reply, so there is nothing to pipeline, and ioredis would
  // build a pipeline and an Immediate per command), and RESP2 as the adapter
  // speaks. Measured side by side (rounds alternating, one in flight), RESP2
  // and ioredis's default RESP3, and 'message' and 'messageBuffer' listeners,
  // all ran at the same rate and client CPU within noise: none of these
  // choices handicaps or favours this side.
  const opts = { enableAutoPipelining: false, lazyConnect: false, protocol: 2 as const };
  const cPub = new Redis(url, opts);
  const cSub = new Redis(url, opts);
  const sPub = new Redis(url, opts);
  const sSub = new Redis(url, opts);
  const waiting = new Map<string, (v: unknown) => void>();
  const reqChannel = envelope ? 'raw:rpc-env:req' : 'raw:rpc:req';
  const repChannel = envelope ? 'raw:rpc-env:rep' : 'raw:rpc:rep';
  await sSub.subscribe(reqChannel);
  await cSub.subscribe(repChannel);
  if (envelope) {
    sSub.on('message', (_ch: string, text: string) => {
      const request = JSON.parse(text) as UnifiedMessage;
      const reply = createReply(request, { payload: request.payload });
      reply.deliveryGuarantee = DeliveryGuarantee.BEST_EFFORT;
      sPub.publish(repChannel, JSON.stringify(reply)).catch(ignore);
    });
    cSub.on('message', (_ch: string, text: string) => {
      const reply = JSON.parse(text) as UnifiedMessage;
      const id = reply.correlationId!;
      const w = waiting.get(id);
      if (w) {
        waiting.delete(id);
        w(reply.payload);
      }
    });
    return {
      call(payload: unknown): Promise<unknown> {
        const m = createMessage({
          source: 'bench',
          destination: 'rpc.be',
          payload,
          deliveryGuarantee: DeliveryGuarantee.BEST_EFFORT,
        });
        m.replyTo = '_inbox.raw';
        m.correlationId = m.id;
        return new Promise((resolve) => {
          waiting.set(m.id, resolve);
          cPub.publish(reqChannel, JSON.stringify(m)).catch(ignore);
        });
      },
      close: () => Promise.allSettled([cPub, cSub, sPub, sSub].map((c) => c.quit())),
    };
  }
  sSub.on('message', (_ch: string, text: string) => {
    const req = JSON.parse(text) as { id: string; payload: unknown };
    sPub.publish(repChannel, JSON.stringify({ id: req.id, payload: req.payload })).catch(ignore);
  });
  cSub.on('message', (_ch: string, text: string) => {
    const rep = JSON.parse(text) as { id: string; payload: unknown };
    const w = waiting.get(rep.id);
    if (w) {
      waiting.delete(rep.id);
      w(rep.payload);
    }
  });
  let seq = 0;
  return {
    call(payload: unknown): Promise<unknown> {
      const id = `r${seq++}`;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        cPub.publish(reqChannel, JSON.stringify({ id, payload })).catch(ignore);
      });
    },
    close: () => Promise.allSettled([cPub, cSub, sPub, sSub].map((c) => c.quit())),
  };
}

/** Request/reply over Redis: hub (best-effort, at-least-once) vs raw ioredis vs Moleculer's Redis transporter. */
async function redisRpc(): Promise<ScenarioResult[]> {
  const { redis } = await import('@hub/adapter-redis');
  const server = await startRedisServer();
  const payload = payload300();
  const hubServer = createHub({
    name: 'rpc-server',
    adapters: [redis({ url: server.url })],
    logger,
  });
  const hubClient = createHub({
    name: 'rpc-client',
    adapters: [redis({ url: server.url })],
    logger,
  });
  const mServer = moleculerBroker('m-server', server.url);
  const mClient = moleculerBroker('m-client', server.url);
  const raw = await rawPair(server.url);
  const rawEnvelope = await rawPair(server.url, true);
  const out: ScenarioResult[] = [];
  try {
    await hubServer.onMessage('rpc.be', (m) => m.payload, { guarantees: ['best-effort'] });
    await hubServer.onMessage('rpc.alo', (m) => m.payload);
    await Promise.all([hubServer.start(), hubClient.start()]);
    mServer.createService({ name: 'echo', actions: { echo: (ctx) => ctx.params } });
    await Promise.all([mServer.start(), mClient.start()]);
    await mClient.waitForServices('echo', 10_000);
    for (const inflight of [1, 100]) {
      const lat: Record<string, number[]> = { hub: [], raw: [] };
      const track = inflight === 1;
      const cpu: number[][] = [[], [], [], [], []];
      const [hb, ha, r, m, re] = await rotate(
        [
          () => {
            if (track) lat.hub = [];
            return closedLoop(
              hubRequest(hubClient, 'rpc.be', payload, 'best-effort'),
              REDIS_N,
              inflight,
              track ? lat.hub : undefined,
            );
          },
          () =>
            closedLoop(
              hubRequest(hubClient, 'rpc.alo', payload, 'at-least-once'),
              REDIS_N,
              inflight,
            ),
          () => {
            if (track) lat.raw = [];
            return closedLoop(
              () => raw.call(payload),
              REDIS_N,
              inflight,
              track ? lat.raw : undefined,
            );
          },
          () => closedLoop(() => mClient.call('echo.echo', payload), REDIS_N, inflight),
          () => closedLoop(() => rawEnvelope.call(payload), REDIS_N, inflight),
        ].map((side, i) => withCpu(side, cpu[i]!)),
        ROUNDS,
        true,
        WARMUP_ROUNDS,
      );
      const common = {
        suite: 'redis' as const,
        unit: 'req/s',
        higherIsBetter: true,
        hub: stats(hb!),
        rounds: ROUNDS,
      };
      const extra: Record<string, number | string> = {
        'hub at-least-once req/s (median)': median(ha!),
        'hub at-least-once ÷ best-effort (median)': ratioOf(ha!, hb!).median.toFixed(3),
        'Moleculer req/s (median)': median(m!),
        'raw ioredis req/s (median)': median(r!),
        // Both make the same two PUBLISH hops per call: what 1.2× Moleculer asks of the hub, in raw terms.
        'Moleculer ÷ raw (median)': ratioOf(m!, r!).median.toFixed(3),
        'client CPU µs/req: hub best-effort / hub at-least-once / raw / Moleculer / raw with envelope (median)':
          cpu.map(cpuMedian).join(' / '),
      };
      if (track) {
        // The last round of each side: per-request latency, µs.
        extra['hub p50 / p99 µs (last round)'] =
          `${percentile(lat.hub!, 50).toFixed(0)} / ${percentile(lat.hub!, 99).toFixed(0)}`;
        extra['raw p50 / p99 µs (last round)'] =
          `${percentile(lat.raw!, 50).toFixed(0)} / ${percentile(lat.raw!, 99).toFixed(0)}`;
      }
      const notes = [
        `hub: best-effort hub.request() from one hub to another (two redis() adapters, one process) → Pub/Sub both ways; createMessage inside the clock`,
        `${inflight} caller(s), each awaiting one request at a time; up to ${REDIS_N.toLocaleString('en-US')} requests or ${ROUND_MS} ms per round; rounds rotate hub best-effort, hub at-least-once, raw, Moleculer, raw with envelope`,
      ];
      if (inflight === 1) {
        out.push(
          result({
            ...common,
            id: 'rpc.redis-1.raw',
            title: 'Redis request/reply, 1 in flight: hub best-effort vs raw ioredis two hops',
            raw: stats(r!),
            ratio: ratioOf(hb!, r!),
            targets: [{ kind: 'ratio-min', value: 0.8, label: '≥ 0.8× raw' }],
            notes: [
              ...notes,
              'raw column: ioredis PUBLISH of JSON {id, payload} → subscriber parses and PUBLISHes the reply → client subscriber parses and resolves by id (4 connections, no auto-pipelining, RESP2, as the adapter)',
            ],
            extra,
          }),
        );
      }
      // The floor of any hub that carries the protocol's envelope: raw ioredis with the envelope
      // on the wire, against raw with {id, payload}. No target: it says how far 1.2× Moleculer
      // (and 0.8× raw) sit from what the envelope alone leaves.
      out.push(
        result({
          ...common,
          id: `rpc.redis-${inflight}.raw-envelope`,
          title: `Redis request/reply, ${inflight} in flight: raw ioredis carrying the hub's envelope vs raw ioredis with {id, payload}`,
          hub: stats(re!),
          raw: stats(r!),
          ratio: ratioOf(re!, r!),
          targets: [],
          notes: [
            // The hub's own note (the first) does not apply: this line has no hub.
            ...notes.slice(1),
            "hub column: raw ioredis, same four connections and hops as the raw side, carrying the protocol's envelope: the request is createMessage() plus replyTo and correlationId, the reply createReply(), each JSON.stringify'd and JSON.parse'd whole (no validation, no hub)",
            'raw column: the raw ioredis side of rpc.redis-1.raw ({id, payload}), same rounds',
            'ratio: the most a hub carrying the envelope can reach of raw; hub ÷ Moleculer could then reach this ratio × (raw ÷ Moleculer)',
          ],
          extra: {
            ...extra,
            'raw with envelope ÷ Moleculer (median)': ratioOf(re!, m!).median.toFixed(3),
            'hub best-effort ÷ raw with envelope (median)': ratioOf(hb!, re!).median.toFixed(3),
          },
        }),
      );
      // At-least-once (the default guarantee) beside best-effort: the request goes through a stream.
      out.push(
        result({
          ...common,
          id: `rpc.redis-${inflight}.at-least-once`,
          title: `Redis request/reply, ${inflight} in flight: hub at-least-once vs hub best-effort`,
          hub: stats(ha!),
          raw: stats(hb!),
          ratio: ratioOf(ha!, hb!),
          targets: [],
          notes: [
            ...notes,
            'hub: at-least-once hub.request() (the default guarantee): XADD to the endpoint stream → consumer group read → handler → best-effort reply on Pub/Sub → XACK',
            'raw column: the hub best-effort line above, same rounds',
          ],
          extra,
        }),
      );
      out.push(
        result({
          ...common,
          id: `rpc.redis-${inflight}.moleculer`,
          title: `Redis request/reply, ${inflight} in flight: hub best-effort vs Moleculer call() over its Redis transporter`,
          raw: stats(m!),
          ratio: ratioOf(hb!, m!),
          targets: [{ kind: 'ratio-min', value: 1.2, label: '≥ 1.2× Moleculer' }],
          notes: [
            ...notes,
            'raw column: Moleculer 0.14 broker.call() from a second broker (nodeID m-client) to an action on m-server, Redis transporter (ioredis), JSON serializer; logger, metrics, tracing off',
          ],
          extra,
        }),
      );
    }
  } finally {
    await Promise.allSettled([mClient.stop(), mServer.stop()]);
    await raw.close();
    await rawEnvelope.close();
    await Promise.allSettled([hubClient.close(), hubServer.close()]);
    await server.stop();
  }
  return out;
}

export const rpcScenarios: Array<{ id: string; run: () => Promise<ScenarioResult[]> }> = [
  { id: 'rpc.memory', run: memoryRpc },
  { id: 'rpc.redis', run: redisRpc },
];
