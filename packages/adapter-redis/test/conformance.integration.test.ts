import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  adapterTestSuite,
  type CaseId,
  DeliveryRecorder,
  expectDelivery,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
  waitFor,
} from '@hub/adapter-test-suite';
import {
  createHub,
  type DedupStore,
  type Hub,
  type ProtocolAdapter,
  silentLogger,
} from '@hub/core';
import {
  createEvent,
  createMessage,
  DeliveryGuarantee,
  jsonCodec,
  Priority,
  type UnifiedEvent,
} from '@hub/protocol';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  keyLayout,
  type RedisAdapter,
  type RedisAdapterOptions,
  redis,
  redisDedupStore,
} from '../src/index.js';

// The published conformance suite against a real redis-server. Every hub of a case
// gets its own adapter (its own connections), like instances of a service on
// different machines sharing one Redis.

/** Small, so R5's crashed entries come back quickly; live handlers refresh every third of it. */
const CLAIM_IDLE_MS = 1_000;
const prefix = `conf${process.pid}x${randomBytes(3).toString('hex')}`;
const keys = keyLayout(prefix);

let server: RedisServer | undefined;
/** Raw connection for injecting entries the adapter never wrote (the standalone-only cases below). */
let raw: Redis | undefined;

beforeAll(async () => {
  server = await startRedisServer();
  raw = new Redis(server.url, { lazyConnect: true });
  raw.on('error', () => {});
  await raw.connect();
});
afterAll(async () => {
  await raw?.quit().catch(() => raw?.disconnect());
  await server?.stop();
});

// The suite builds one adapter while registering the tests (before any hook) only to
// read its capabilities; it is closed unconnected, so any address does for it.
const url = () => server?.url ?? 'redis://127.0.0.1:1';

/**
 * Every ioredis connection the adapter holds, found by walking its own fields
 * (the command client, the Pub/Sub client, the reader set): independent of how
 * the fields are named.
 */
function connectionsOf(adapter: ProtocolAdapter): Array<Redis | Cluster> {
  const out = new Set<Redis | Cluster>();
  const visit = (v: unknown) => {
    if (v instanceof Redis || v instanceof Cluster) out.add(v);
  };
  for (const v of Object.values(adapter as unknown as Record<string, unknown>)) {
    visit(v);
    if (v instanceof Set || Array.isArray(v)) for (const x of v) visit(x);
    if (v instanceof Map) for (const x of v.values()) visit(x);
  }
  return [...out];
}

/**
 * A crash as the broker sees it: every socket of the instance drops at once,
 * nothing is released or acked on the way out, so its held entries stay pending
 * to a consumer that never comes back and must be reclaimed after the claim
 * window. (The SIGKILLed child-process variant is crashed-consumer.integration.test.ts.)
 */
async function crashInstance(hub: Hub, adapter: ProtocolAdapter): Promise<void> {
  const conns = connectionsOf(adapter);
  // at least commands + one reader: otherwise we are not crashing anything
  if (conns.length < 2) {
    throw new Error(`crashInstance found only ${conns.length} connection(s) on the adapter`);
  }
  for (const c of conns) {
    c.disconnect(); // no reconnect
    (c as { stream?: { destroy(): void } }).stream?.destroy();
  }
  // The hub object is still ours to clean up; with its links gone it cannot release anything.
  await hub.close({ drainTimeoutMs: 0 }).catch(() => {});
}

/** One Redis deployment the suite runs over: how to start it and reach it. */
interface Topology {
  readonly name: string;
  /** Start the deployment; the adapter options that reach it, and a stop. */
  start(): Promise<{ options: RedisAdapterOptions; stop(): Promise<void> }>;
  /** Multiplies the suite's message counts (see the suite's `scale`). */
  readonly scale?: number;
  /** Cases that cannot hold on this topology, each with the reason (shown in the test name). */
  readonly skip?: Partial<Record<CaseId, string>>;
}

const TOPOLOGIES: readonly Topology[] = [
  {
    name: 'redis-server',
    async start() {
      const s = await startRedisServer();
      return { options: { url: s.url }, stop: () => s.stop() };
    },
  },
  {
    // Cluster takes other code paths (no batched scripts, redirections, Pub/Sub
    // receiver counts of one node only). A smaller scale keeps the added run short.
    name: 'Redis Cluster, 3 masters',
    async start() {
      const c = await startRedisCluster({ masters: 3 });
      return { options: { cluster: { nodes: [...c.nodes] } }, stop: () => c.stop() };
    },
    scale: 0.2,
  },
];

/** The published conformance suite over one topology: one definition, run for each. */
function conformanceOver(topology: Topology): void {
  const tprefix = `${prefix}${topology.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
  const tkeys = keyLayout(tprefix);
  let started: { options: RedisAdapterOptions; stop(): Promise<void> } | undefined;
  let dedup: (DedupStore & { readonly client: Redis | Cluster }) | undefined;
  /** Raw connection for injecting entries the adapter never wrote (S1-raw, S11, S12) and breaking the DLQ (R19). */
  let direct: Redis | Cluster | undefined;
  const reach = (): RedisAdapterOptions => started?.options ?? { url: 'redis://127.0.0.1:1' };
  const rawClient = (): Redis | Cluster => {
    if (!direct) throw new Error('raw connection not started');
    return direct;
  };

  /**
   * An entry in the documented layout (README "Stream entry layout") on the stream a
   * NORMAL-priority message to `address` goes to, written behind the adapter's back.
   */
  const writeEntry = async (address: string, id: string, env: string | Buffer) => {
    await rawClient().xadd(
      tkeys.priorityStream(address, Priority.NORMAL),
      '*',
      'v',
      '1',
      'id',
      id,
      'env',
      env,
    );
  };

  adapterTestSuite({
    name: `redis (${topology.name}, Streams + Pub/Sub)`,
    setup: async () => {
      started = await topology.start();
      dedup = redisDedupStore({ ...started.options, keyPrefix: tprefix });
      const o = started.options;
      direct = o.cluster
        ? new Cluster(o.cluster.nodes, { lazyConnect: true })
        : new Redis(o.url!, { lazyConnect: true });
      direct.on('error', () => {});
      await direct.connect();
    },
    teardown: async () => {
      await dedup?.close?.();
      await direct?.quit().catch(() => direct?.disconnect());
      await started?.stop();
    },
    createAdapter: (): RedisAdapter =>
      redis({ ...reach(), keyPrefix: tprefix, claimIdleMs: CLAIM_IDLE_MS }),
    // Instances of one endpoint are separate hubs: exactly-once holds across them
    // through one shared Redis dedup store, as it would across processes. The hub
    // closes its dedup store when it closes, so each hub gets a view without
    // `close`: the first case's hubs must not quit the connection every later case
    // shares (teardown closes it).
    get hubConfig() {
      const store = dedup;
      if (!store) return {};
      const shared: DedupStore = {
        begin: (id, leaseMs) => store.begin(id, leaseMs),
        commit: (id, windowMs) => store.commit(id, windowMs),
        abort: (id) => store.abort(id),
      };
      return { dedup: { store: shared } };
    },
    crashInstance,
    // above the claim window: a live handler busy this long must keep its entry
    slowHandlerMs: CLAIM_IDLE_MS * 3,
    // An env no hub wrote (S1-raw, S12).
    injectRaw: (address, bytes) =>
      writeEntry(address, 'ats-raw', typeof bytes === 'string' ? bytes : Buffer.from(bytes)),
    // A valid envelope no sender would route there (S11).
    injectForeign: (address, envelope) =>
      writeEntry(address, envelope.id, jsonCodec.encode(envelope)),
    // A DLQ key of another type: every XADD to it fails at run time (R19).
    breakDeadLetters: async (address) => {
      const r = rawClient();
      await r.set(tkeys.dlq(address), 'not a stream');
      return async () => {
        await r.del(tkeys.dlq(address));
      };
    },
    // the JSON codec carries Uint8Array as a tagged base64 object
    binaryPayloads: true,
    // R18: a child process builds its own adapter from this module.
    cleanExit: {
      module: fileURLToPath(new URL('./fixtures/clean-exit-adapter.ts', import.meta.url)),
      args: () => ({ ...reach(), keyPrefix: tprefix }),
      execArgv: ['--import', 'tsx', '--conditions=@hub/source'],
    },
    ...(topology.scale === undefined ? {} : { scale: topology.scale }),
    ...(topology.skip === undefined ? {} : { skip: topology.skip }),
  });
}

for (const topology of TOPOLOGIES) conformanceOver(topology);

describe('redis topics beyond R3-topics (both instances of a group in one run, next to fan-out)', () => {
  const hubs: Hub[] = [];
  afterAll(async () => {
    await Promise.allSettled(hubs.map((h) => h.close()));
  });
  const hub = async () => {
    const h = createHub({
      name: 'topics',
      logger: silentLogger,
      adapters: [redis({ url: url(), keyPrefix: prefix })],
    });
    hubs.push(h);
    await h.start();
    return h;
  };

  it('fan-out and pattern subscribers get every matching event once, nothing across topics; a group shares them', async () => {
    const base = `r3t${randomBytes(3).toString('hex')}`;
    const created = `${base}.orders.created`;
    const deleted = `${base}.orders.deleted`;
    const foreign = `${base}x.orders.created`;
    const [h1, h2, pub] = [await hub(), await hub(), await hub()];
    const subs: Array<{ label: string; rec: DeliveryRecorder; topics: string[] }> = [];
    const wrong: string[] = [];
    /** Handled per instance of the group: both must share the work. */
    const groupShare = new Map<string, number>();
    const add = async (
      label: string,
      h: Hub,
      pattern: string,
      topics: string[],
      group?: { name: string; rec: DeliveryRecorder; instance: string },
    ) => {
      const rec = group?.rec ?? new DeliveryRecorder();
      if (!subs.some((s) => s.rec === rec)) subs.push({ label, rec, topics });
      await h.subscribe(
        pattern,
        (ev: UnifiedEvent) => {
          if (!topics.includes(ev.topic)) wrong.push(`${label} got ${ev.topic}`);
          if (group) groupShare.set(group.instance, (groupShare.get(group.instance) ?? 0) + 1);
          rec.received(ev.id);
        },
        group === undefined ? {} : { group: group.name },
      );
    };
    await add('pattern *.created on h1', h1!, `${base}.*.created`, [created]);
    await add('exact created on h2', h2!, created, [created]);
    await add('exact deleted on h1', h1!, deleted, [deleted]);
    await add('pattern ** on h2', h2!, `${base}.**`, [created, deleted]);
    // One group over two instances: together they handle each event once (claims).
    const g = { name: `${base}_g`, rec: new DeliveryRecorder() };
    await add('group g over h1 + h2', h1!, created, [created], { ...g, instance: 'h1' });
    await add('group g over h1 + h2', h2!, created, [created], { ...g, instance: 'h2' });

    const n = 100;
    for (let i = 0; i < n; i++) {
      for (const topic of [created, deleted, foreign]) {
        const ev = createEvent({ source: 'conf', topic, data: { i } });
        for (const s of subs) if (s.topics.includes(topic)) s.rec.attempted(ev.id);
        await pub!.publish(ev);
        for (const s of subs) if (s.topics.includes(topic)) s.rec.acknowledged(ev.id);
      }
    }
    await waitFor(() => subs.every((s) => s.rec.allAcknowledgedReceived()), {
      timeoutMs: 30_000,
      message: () =>
        subs
          .map((s) => `${s.label} ${s.rec.uniqueReceived}/${s.rec.check().acknowledged}`)
          .join(', '),
    });
    // give strays (duplicates, leaks from the foreign topic) a moment to show up
    const quiet = Date.now() + 300;
    await waitFor(() => Date.now() > quiet || wrong.length > 0, { intervalMs: 20 });
    // no faults injected: Pub/Sub delivered everything once to each subscriber
    for (const s of subs) {
      expectDelivery(s.rec, { guarantee: DeliveryGuarantee.AT_LEAST_ONCE, label: s.label });
    }
    expect(wrong).toEqual([]);
  });
});

describe('redis stream entries beyond S1-raw (entry layout, not only the envelope)', () => {
  it('an entry without env, or of an unknown layout version, goes to the DLQ; never to a handler', async () => {
    const endpoint = `rawlayout${randomBytes(3).toString('hex')}`;
    const receiver = createHub({
      name: 'raw_recv',
      logger: silentLogger,
      adapters: [redis({ url: url(), keyPrefix: prefix })],
    });
    const sender = createHub({
      name: 'raw_send',
      logger: silentLogger,
      adapters: [redis({ url: url(), keyPrefix: prefix })],
    });
    try {
      await receiver.start();
      await sender.start();
      const got: string[] = [];
      await receiver.onMessage(endpoint, (msg) => {
        got.push(msg.id);
      });
      const stream = keys.priorityStream(endpoint, Priority.NORMAL);
      // A well-formed envelope, so only the entry layout around it is wrong.
      const valid = (id: string) =>
        JSON.stringify({
          kind: 'message',
          version: 1,
          id,
          timestamp: Date.now(),
          source: 'raw',
          destination: endpoint,
          type: 'raw',
          priority: 2,
          deliveryGuarantee: 'at-least-once',
          headers: {},
          payload: { ok: true },
          attempt: 1,
        });
      const bad = [
        ['v', '1', 'id', 'no-env'],
        ['v', '2', 'id', 'layout-v2', 'env', valid('layout-v2')],
        ['v', 'x', 'id', 'layout-vx', 'env', valid('layout-vx')],
      ];
      for (const fields of bad) await raw!.xadd(stream, '*', ...fields);
      // the raw writer's own valid entry (README layout) is accepted
      await raw!.xadd(stream, '*', 'v', '1', 'id', 'raw-ok', 'env', valid('raw-ok'));
      const ok = createMessage({ source: 'raw', destination: endpoint, payload: 1 });
      await sender.send(ok);
      await waitFor(() => got.includes(ok.id) && got.includes('raw-ok'), {
        message: () => `valid messages after the bad entries: got ${got.join(',')}`,
      });
      // read in stream order: the bad entries were handed over before raw-ok
      expect([...got].sort()).toEqual([ok.id, 'raw-ok'].sort());
      await waitFor(async () => Number(await raw!.xlen(keys.dlq(endpoint))) >= bad.length, {
        message: 'bad entries in the DLQ',
      });
      expect(Number(await raw!.xlen(keys.dlq(endpoint)))).toBe(bad.length);
      expect(receiver.metrics().totals.rejected).toBe(bad.length);
    } finally {
      await Promise.allSettled([receiver.close(), sender.close()]);
    }
  });
});
