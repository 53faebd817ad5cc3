import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  DeliveryRecorder,
  expectDelivery,
  type RedisCluster,
  type RedisServer,
  startRedisCluster,
  startRedisServer,
  waitFor,
} from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee } from '@hub/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import { type RedisAdapterOptions, redis } from '../src/index.js';

// Scale-out across real processes: three hub processes (test/fixtures/scale-out-worker.ts)
// on one Redis share one endpoint and all receive a broadcast; then the same on a
// local 3-master Redis Cluster.

const MESSAGES = 3_000;
const WORKERS = 3;
const cwd = fileURLToPath(new URL('..', import.meta.url));

interface Worker {
  readonly name: string;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  ready: boolean;
  stderr: string;
  syncSeq: number;
  synced: number;
}

const children = new Set<ChildProcess>();
const hubs: Hub[] = [];
let server: RedisServer | undefined;
let cluster: RedisCluster | undefined;

afterAll(async () => {
  // Even when a test failed midway: no worker, hub or server survives the file.
  for (const c of children) c.kill('SIGKILL');
  await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
  await Promise.allSettled([server?.stop(), cluster?.stop()]);
});

function spawnWorker(
  name: string,
  config: Record<string, unknown>,
  onIds: (type: 'msg' | 'event', ids: string[], worker: string) => void,
): Worker {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@hub/source',
      'test/fixtures/scale-out-worker.ts',
      JSON.stringify({ ...config, name }),
    ],
    { cwd, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] },
  );
  children.add(child);
  const w: Worker = {
    name,
    child,
    exited: new Promise((resolve) => {
      child.once('exit', (code) => {
        children.delete(child);
        resolve(code);
      });
    }),
    ready: false,
    stderr: '',
    syncSeq: 0,
    synced: 0,
  };
  child.stderr?.on('data', (d) => {
    w.stderr = (w.stderr + String(d)).slice(-4_000);
  });
  child.on('message', (m: { type: string; ids?: string[]; seq?: number }) => {
    if (m.type === 'ready') w.ready = true;
    else if (m.type === 'synced') w.synced = m.seq ?? 0;
    else if ((m.type === 'msg' || m.type === 'event') && m.ids) onIds(m.type, m.ids, name);
  });
  return w;
}

const alive = (w: Worker) => w.child.exitCode === null && w.child.signalCode === null;

/** IPC is ordered: once a worker answers `sync`, every id it reported before has arrived. */
async function barrier(workers: Worker[]): Promise<void> {
  for (const w of workers) w.child.send({ type: 'sync', seq: ++w.syncSeq });
  await waitFor(() => workers.every((w) => w.synced === w.syncSeq), {
    timeoutMs: 20_000,
    message: () =>
      `workers to answer sync: ${workers.map((w) => `${w.name}=${w.synced}/${w.syncSeq}`).join(' ')}`,
  });
}

async function scaleOut(
  adapterOptions: RedisAdapterOptions,
  workerConfig: Record<string, unknown>,
) {
  const prefix = `so${process.pid}x${randomBytes(3).toString('hex')}`;
  const endpoint = 'scale_worker';
  const topic = 'scale.broadcast';
  const rec = new DeliveryRecorder();
  const eventsBy = new Map<string, string[]>();
  const workers = Array.from({ length: WORKERS }, (_, i) =>
    spawnWorker(`w${i}`, { ...workerConfig, prefix, endpoint, topic }, (type, ids, worker) => {
      if (type === 'msg') for (const id of ids) rec.received(id, worker);
      else eventsBy.set(worker, [...(eventsBy.get(worker) ?? []), ...ids]);
    }),
  );
  const describeWorkers = () =>
    workers
      .map(
        (w) =>
          `${w.name}: ready=${w.ready} exit=${w.child.exitCode ?? w.child.signalCode} ${w.stderr.slice(-500)}`,
      )
      .join('\n');
  await waitFor(() => workers.every((w) => w.ready) || workers.some((w) => !alive(w)), {
    timeoutMs: 45_000,
    message: () => `workers to start:\n${describeWorkers()}`,
  });
  expect(
    workers.every((w) => w.ready),
    describeWorkers(),
  ).toBe(true);

  const sender = createHub({
    name: 'scale_sender',
    logger: silentLogger,
    adapters: [redis({ ...adapterOptions, keyPrefix: prefix })],
  });
  hubs.push(sender);
  await sender.start();

  // The broadcast first: every worker is subscribed (it said ready), so each must get it.
  const event = createEvent({ source: 'scale_test', topic, data: { hello: 'all' } });
  await sender.publish(event);

  const messages = Array.from({ length: MESSAGES }, (_, i) =>
    createMessage({
      source: 'scale_test',
      destination: endpoint,
      payload: { i },
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    }),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < messages.length) {
        const m = messages[next++]!;
        rec.attempted(m.id);
        await sender.send(m);
        rec.acknowledged(m.id);
      }
    }),
  );
  await waitFor(
    () =>
      (rec.allAcknowledgedReceived() && eventsBy.size === WORKERS) ||
      workers.some((w) => !alive(w)),
    {
      timeoutMs: 45_000,
      message: () =>
        `${rec.uniqueReceived}/${MESSAGES} messages, broadcast at ${[...eventsBy.keys()].join(',')}\n${describeWorkers()}`,
    },
  );
  // Everything acked and every report in: a duplicate cannot show up later without a
  // reclaim, and claimIdleMs (30 s by default) is far beyond this test.
  await barrier(workers);
  const report = rec.check();
  const share = workers.map((w) => `${w.name}=${report.byInstance[w.name] ?? 0}`).join(' ');
  expectDelivery(rec, {
    guarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    allowDuplicates: false,
    label: `scale-out (${share})`,
  });
  // Three processes share the endpoint: the work was really spread.
  const busy = workers.filter((w) => (report.byInstance[w.name] ?? 0) > 0).length;
  expect(busy, `workers that got messages: ${share}`).toBeGreaterThanOrEqual(2);
  for (const w of workers) {
    expect(eventsBy.get(w.name), `broadcast at ${w.name}`).toEqual([event.id]);
  }

  // Graceful stop: each worker closes its hub and exits 0.
  for (const w of workers) w.child.send({ type: 'stop' });
  const codes = await Promise.race([
    Promise.all(workers.map((w) => w.exited)),
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000).unref()),
  ]);
  expect(codes, describeWorkers()).toEqual(workers.map(() => 0));
  await sender.close();
  return share;
}

describe('scale-out across processes', () => {
  it('three hub processes on one redis-server: 3,000 messages each handled once, all get the broadcast', async () => {
    server = await startRedisServer();
    const share = await scaleOut({ url: server.url }, { url: server.url });
    console.info(`[scale-out redis-server] ${MESSAGES} messages: ${share}`);
    await server.stop();
  }, 90_000);

  it('the same on a local 3-master Redis Cluster', async () => {
    cluster = await startRedisCluster({ masters: 3 });
    const nodes = cluster.nodes.map((n) => ({ host: n.host, port: n.port }));
    const share = await scaleOut({ cluster: { nodes } }, { cluster: nodes });
    console.info(`[scale-out cluster] ${MESSAGES} messages: ${share}`);
    await cluster.stop();
  }, 120_000);
});
