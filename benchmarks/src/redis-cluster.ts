/**
 * Redis Cluster: the hub on a local 3-master Cluster against the same hub on
 * one redis-server, in the same run (alternating rounds). The Pub/Sub and
 * Streams figures of the single-node scenarios should hold on a Cluster
 * within 0.8× of one node.
 */

import { keyLayout, redis } from '@hub/adapter-redis';
import {
  type RedisCluster,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
} from '@hub/adapter-test-suite';
import { createHub, createMessage, type DeliveryGuarantee, type Hub } from '@hub/core';
import { Cluster, Redis } from 'ioredis';
import {
  Arrivals,
  alternate,
  flood,
  logger,
  payload300,
  pick,
  result,
  roundsFor,
  type ScenarioResult,
  stats,
  type Target,
} from './harness.js';

const ROUNDS = roundsFor(4);
const BATCH = 1_000;
const PUBSUB_N = pick(30_000, 3_000);
const STREAMS_N = pick(20_000, 2_000);
const PS_ENDPOINT = 'bench.cps';
const ST_ENDPOINT = 'bench.cst';
/** The consumer's read batch, as in the single-node Streams scenario. */
const PREFETCH = 100;

export const CLUSTER_IDS = ['redis.cluster-pubsub', 'redis.cluster-streams'] as const;
type Id = (typeof CLUSTER_IDS)[number];

const META: Record<Id, { title: string; unit: string; targets: Target[] }> = {
  'redis.cluster-pubsub': {
    title: 'Redis Cluster (3 masters) best-effort Pub/Sub, hub on Cluster ÷ hub on one node',
    unit: 'msg/s',
    targets: [{ kind: 'ratio-min', value: 0.8, label: '≥ 0.8× one node' }],
  },
  'redis.cluster-streams': {
    title: 'Redis Cluster (3 masters) at-least-once Streams, hub on Cluster ÷ hub on one node',
    unit: 'msg/s',
    targets: [
      { kind: 'ratio-min', value: 0.8, label: '≥ 0.8× one node' },
      // The single-node Streams target (50,000 msg/s) within 0.8.
      { kind: 'hub-min', value: 40_000, label: '≥ 40,000 msg/s (0.8 × 50,000)' },
    ],
  },
};

/** One hub over one deployment, serving a Pub/Sub endpoint and a Streams endpoint. */
class Side {
  readonly arrivals = new Arrivals();
  private constructor(
    readonly hub: Hub,
    private readonly raw: Redis | Cluster,
  ) {}

  static async create(name: string, options: Parameters<typeof redis>[0]): Promise<Side> {
    const hub = createHub({ name, adapters: [redis(options)], logger });
    await hub.start();
    const raw =
      options?.cluster !== undefined
        ? new Cluster([...options.cluster.nodes])
        : new Redis(options?.url ?? '');
    raw.on('error', () => {});
    const side = new Side(hub, raw);
    await hub.onMessage(PS_ENDPOINT, () => side.arrivals.inc());
    await hub.onMessage(ST_ENDPOINT, () => side.arrivals.inc(), { prefetch: PREFETCH });
    return side;
  }

  /** CPU seconds the side's redis-server processes have used so far (user + system, every node). */
  async serverCpu(): Promise<number> {
    const clients = this.raw instanceof Cluster ? this.raw.nodes('master') : [this.raw];
    let total = 0;
    for (const c of clients) {
      const info = await c.info('cpu');
      const at = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
      total += at('used_cpu_user') + at('used_cpu_sys');
    }
    return total;
  }

  /** Entries of the Streams endpoint still unacknowledged (the clock stops at zero). */
  async pending(): Promise<number> {
    const key = keyLayout('hub').priorityStream(ST_ENDPOINT, 2);
    const r = (await this.raw.call('XPENDING', key, ST_ENDPOINT)) as [number, ...unknown[]];
    return Number(r[0]);
  }

  async close(): Promise<void> {
    await this.hub.close({ drainTimeoutMs: 2_000 }).catch(() => {});
    this.raw.disconnect();
  }
}

async function measure(id: Id, cluster: Side, single: Side): Promise<ScenarioResult> {
  const pubsub = id === 'redis.cluster-pubsub';
  const n = pubsub ? PUBSUB_N : STREAMS_N;
  const guarantee: DeliveryGuarantee = pubsub ? 'best-effort' : 'at-least-once';
  const payload = payload300();
  const build = () =>
    Array.from({ length: n }, () =>
      createMessage({
        source: 'bench',
        destination: pubsub ? PS_ENDPOINT : ST_ENDPOINT,
        payload,
        deliveryGuarantee: guarantee,
      }),
    );
  const envs = { cluster: build(), single: build() };
  const cpu = { cluster: [] as number[], single: [] as number[] };
  const serverCpu = { cluster: [] as number[], single: [] as number[] };
  const partial: string[] = [];
  const round = async (which: 'cluster' | 'single', total: number) => {
    const side = which === 'cluster' ? cluster : single;
    const list = envs[which];
    const server0 = await side.serverCpu();
    const r = await flood({
      total,
      batch: BATCH,
      timeLimitMs: 10_000,
      arrivals: side.arrivals,
      send: (i) => side.hub.send(list[i]!),
      ...(pubsub ? {} : { settled: async () => (await side.pending()) === 0 }),
    });
    if (r.partial) partial.push(`${which} round: ${r.arrived}/${r.issued} of ${total} arrived`);
    cpu[which].push(r.cpuUsPerMsg);
    serverCpu[which].push((((await side.serverCpu()) - server0) * 1e6) / Math.max(1, r.arrived));
    return r.rate;
  };
  const warm = Math.min(n, 5_000);
  const out = await alternate({
    rounds: ROUNDS,
    warmup: { hub: () => round('cluster', warm), raw: () => round('single', warm) },
    hub: () => round('cluster', n),
    raw: () => round('single', n),
  });
  return result({
    suite: 'redis',
    id,
    title: META[id].title,
    unit: META[id].unit,
    higherIsBetter: true,
    ...out,
    rounds: ROUNDS,
    targets: META[id].targets,
    notes: [
      `${n.toLocaleString('en-US')} pre-built envelopes (300 B payload) per round, both sides; batches of ${BATCH} sends awaited together; rounds alternate Cluster, one node`,
      pubsub
        ? 'both sides: hub.send(best-effort) to an endpoint → PUBLISH batched per tick (one script call) → subscriber → handler; on the Cluster the adapter runs with shardedPubSub: true: one SPUBLISH script call per channel, sent to the node owning the channel’s slot, which alone delivers it (no forwarding to the other masters), received by SSUBSCRIBE on that node'
        : `both sides: hub.send(at-least-once) → XADD batched per stream per tick (one script call; on the Cluster the stream's slot decides the node) → XREADGROUP consumer (prefetch ${PREFETCH}) → handler → XACK; the clock stops at XPENDING = 0`,
      'the "raw" column is the same hub over one redis-server (no cluster mode), started by this run beside the Cluster',
      ...partial,
    ],
    extra: {
      'client CPU µs/msg, hub on Cluster (median)': Number(
        stats(cpu.cluster.slice(1)).median.toFixed(2),
      ),
      'client CPU µs/msg, hub on one node (median)': Number(
        stats(cpu.single.slice(1)).median.toFixed(2),
      ),
      'redis-server CPU µs/msg, all 3 masters (median)': Number(
        stats(serverCpu.cluster.slice(1)).median.toFixed(2),
      ),
      'redis-server CPU µs/msg, one node (median)': Number(
        stats(serverCpu.single.slice(1)).median.toFixed(2),
      ),
    },
  });
}

/** Both scenarios over one Cluster and one single node, started (and removed) by this run. */
export const redisClusterSuite = {
  ids: [...CLUSTER_IDS] as string[],
  async run(ids: readonly string[]): Promise<ScenarioResult[]> {
    let deployment: RedisCluster | undefined;
    let server: RedisServer | undefined;
    const sides: Side[] = [];
    try {
      const t0 = performance.now();
      deployment = await startRedisCluster({ masters: 3, readyTimeoutMs: 60_000 });
      server = await startRedisServer();
      const startup = (performance.now() - t0) / 1000;
      // Sharded Pub/Sub: best-effort messages go by SPUBLISH to their channel's
      // node only (classic PUBLISH would be forwarded to every master). The
      // Streams scenario does not use Pub/Sub for its messages.
      const onCluster = await Side.create('bench-cluster', {
        cluster: { nodes: [...deployment.nodes] },
        shardedPubSub: true,
      });
      sides.push(onCluster);
      const onOne = await Side.create('bench-one-node', { url: server.url });
      sides.push(onOne);
      const out: ScenarioResult[] = [];
      for (const id of CLUSTER_IDS) {
        if (!ids.includes(id)) continue;
        const r = await measure(id, onCluster, onOne);
        r.notes.push(
          `Cluster: 3 masters, no replicas, ports ${deployment.nodes.map((n) => n.port).join(', ')} (started in ${startup.toFixed(1)} s with the single node ${server.url})`,
        );
        out.push(r);
      }
      return out;
    } finally {
      await Promise.allSettled(sides.map((s) => s.close()));
      await deployment?.stop();
      await server?.stop();
    }
  },
};
