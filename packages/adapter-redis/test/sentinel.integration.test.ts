import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DeliveryRecorder,
  expectDelivery,
  freePort,
  type RedisServer,
  startRedisServer,
  waitFor,
} from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { createEvent, createMessage, DeliveryGuarantee } from '@hub/protocol';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redis, redisDedupStore } from '../src/index.js';
import { uniquePrefix } from './helpers.js';

// The `sentinels` option against a real Sentinel: one redis-server master and one
// `redis-server --sentinel` monitoring it; the adapter learns the master's address
// from the Sentinel only.

const MASTER_NAME = 'hubmaster';
const sentinelChildren = new Set<ChildProcess>();
const servers: RedisServer[] = [];
const dirs: string[] = [];
const hubs: Hub[] = [];
const closers: Array<() => Promise<unknown>> = [];
let master: RedisServer | undefined;
let sentinelPort = 0;

const killSentinels = () => {
  for (const c of sentinelChildren) c.kill('SIGKILL');
};
process.once('exit', killSentinels);

function cli(port: number, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    execFile(
      'redis-cli',
      ['-h', '127.0.0.1', '-p', String(port), ...args],
      { timeout: 5_000 },
      (err, out) => resolve(err ? '' : out),
    );
  });
}

/** `redis-server --sentinel` on a free port monitoring `masterPort` (quorum 1); resolves once it names the master. */
async function startSentinel(masterPort: number, downAfterMs: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'hub-sentinel-'));
  dirs.push(dir);
  // The port may be taken between freePort() and bind on a shared box: retry a few times.
  for (let tries = 0; tries < 5; tries++) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    // Sentinel rewrites its config file, so it must be its own, writable.
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        'protected-mode no',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 1`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${downAfterMs}`,
        `sentinel failover-timeout ${MASTER_NAME} 10000`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { cwd: dir, stdio: 'ignore' });
    sentinelChildren.add(child);
    let gone = false;
    child.once('exit', () => {
      gone = true;
      sentinelChildren.delete(child);
    });
    const deadline = Date.now() + 20_000;
    while (!gone && Date.now() < deadline) {
      const addr = await cli(port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME]);
      if (addr.includes(String(masterPort))) return port;
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGKILL');
  }
  throw new Error('redis-server --sentinel did not start');
}

async function server(args: string[] = []): Promise<RedisServer> {
  const s = await startRedisServer({ args });
  servers.push(s);
  return s;
}

beforeAll(async () => {
  master = await server();
  sentinelPort = await startSentinel(master.port, 5_000);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(hubs.map((h) => h.close({ drainTimeoutMs: 0 })));
  for (const c of closers) await c().catch(() => {});
  await Promise.all(
    [...sentinelChildren].map((c) => {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      return gone;
    }),
  );
  process.off('exit', killSentinels);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  await Promise.allSettled(servers.map((s) => s.stop()));
});

it('connects through Sentinel: streams, exactly-once with a Sentinel dedup store, and Pub/Sub events', async () => {
  const sentinels = { sentinels: [{ host: '127.0.0.1', port: sentinelPort }], name: MASTER_NAME };
  const prefix = uniquePrefix('sentinel');
  const dedup = redisDedupStore({ sentinels, keyPrefix: prefix });
  closers.push(async () => dedup.close?.());
  const make = async (name: string) => {
    const hub = createHub({
      name,
      logger: silentLogger,
      adapters: [redis({ sentinels, keyPrefix: prefix })],
      // hubs close their dedup store: hand them a view without close (closers closes it)
      dedup: {
        store: {
          begin: (id, ms) => dedup.begin(id, ms),
          commit: (id, ms) => dedup.commit(id, ms),
          abort: (id) => dedup.abort(id),
        },
      },
    });
    hubs.push(hub);
    await hub.start();
    return hub;
  };
  const [a, b, sender] = [await make('a'), await make('b'), await make('sender')];
  const rec = new DeliveryRecorder();
  const events = new DeliveryRecorder();
  for (const [i, hub] of [a!, b!].entries()) {
    await hub.onMessage('sentinel_ep', (msg) => {
      rec.received(msg.id, `i${i}`);
    });
    await hub.subscribe('sentinel.*', (ev) => {
      events.received(ev.id, `i${i}`);
    });
  }
  const messages = Array.from({ length: 200 }, (_, i) =>
    createMessage({
      source: 'sentinel_test',
      destination: 'sentinel_ep',
      payload: { i },
      deliveryGuarantee:
        i % 2 === 0 ? DeliveryGuarantee.AT_LEAST_ONCE : DeliveryGuarantee.EXACTLY_ONCE,
    }),
  );
  for (const m of messages) {
    rec.attempted(m.id);
    await sender!.send(m);
    // an exactly-once message retried with the same id is still handled once
    if (m.deliveryGuarantee === DeliveryGuarantee.EXACTLY_ONCE) await sender!.send({ ...m });
    rec.acknowledged(m.id);
  }
  const ev = createEvent({ source: 'sentinel_test', topic: 'sentinel.hello', data: 1 });
  events.attempted(ev.id);
  await sender!.publish(ev);
  events.acknowledged(ev.id);
  await waitFor(() => rec.allAcknowledgedReceived() && events.receivedTotal >= 2, {
    timeoutMs: 30_000,
    message: () => `${rec.uniqueReceived}/200 messages, ${events.receivedTotal}/2 event receipts`,
  });
  // exactly-once: the retried copies were all sent before this point, and dedup
  // answers for a copy once the first was handled or while it is being handled
  const quiet = Date.now() + 300;
  await waitFor(() => Date.now() > quiet, { intervalMs: 20 });
  expectDelivery(rec, { guarantee: DeliveryGuarantee.AT_LEAST_ONCE, label: 'sentinel streams' });
  expect(events.check().byInstance).toEqual({ i0: 1, i1: 1 });
  // the adapter really went through the Sentinel: it reached the master it names
  expect(await cli(sentinelPort, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME])).toContain(
    String(master!.port),
  );
  expect(Number(await cli(master!.port, ['EXISTS', `${prefix}:{sentinel_ep}:p2`]))).toBe(1);
});

it('follows a Sentinel failover: the master is SIGKILLed, the replica is promoted, sends and reads resume', async () => {
  const primary = await server();
  const replica = await server(['--replicaof', '127.0.0.1', String(primary.port)]);
  await waitFor(
    async () =>
      (await cli(replica.port, ['INFO', 'replication'])).includes('master_link_status:up'),
    { timeoutMs: 20_000, message: 'replica to sync with the master' },
  );
  const port = await startSentinel(primary.port, 1_000);
  // Sentinel can only promote a replica it has discovered (from the master's INFO).
  await waitFor(
    async () =>
      (await cli(port, ['SENTINEL', 'replicas', MASTER_NAME])).includes(String(replica.port)),
    { timeoutMs: 30_000, message: 'sentinel to discover the replica' },
  );
  const sentinels = { sentinels: [{ host: '127.0.0.1', port }], name: MASTER_NAME };
  const prefix = uniquePrefix('failover');
  const make = async (name: string) => {
    const hub = createHub({
      name,
      logger: silentLogger,
      adapters: [redis({ sentinels, keyPrefix: prefix, commandTimeoutMs: 2_000 })],
    });
    hubs.push(hub);
    await hub.start();
    return hub;
  };
  const receiver = await make('failover_recv');
  const sender = await make('failover_send');
  const rec = new DeliveryRecorder();
  const events = new DeliveryRecorder();
  await receiver.onMessage('failover_ep', (msg) => {
    rec.received(msg.id);
  });
  await receiver.subscribe('failover.*', (ev) => {
    events.received(ev.id);
  });
  const batch = (tag: string) =>
    Array.from({ length: 100 }, (_, i) =>
      createMessage({ source: 'failover_test', destination: 'failover_ep', payload: { tag, i } }),
    );
  // Retry a send that fails while the link is down; an uncertain send retried with the
  // same id may duplicate (at-least-once), never lose.
  const sendAll = async (msgs: ReturnType<typeof batch>) => {
    const deadline = Date.now() + 40_000;
    for (const m of msgs) {
      rec.attempted(m.id);
      for (;;) {
        try {
          await sender.send(m);
          break;
        } catch (err) {
          if (Date.now() > deadline) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      rec.acknowledged(m.id);
    }
  };
  await sendAll(batch('before'));
  await waitFor(() => rec.allAcknowledgedReceived(), {
    timeoutMs: 20_000,
    message: () => `${rec.uniqueReceived}/100 before the failover`,
  });

  await primary.kill();
  await waitFor(
    async () =>
      (await cli(port, ['SENTINEL', 'get-master-addr-by-name', MASTER_NAME])).includes(
        String(replica.port),
      ),
    { timeoutMs: 40_000, message: 'sentinel to promote the replica' },
  );
  await sendAll(batch('after'));
  await waitFor(() => rec.allAcknowledgedReceived(), {
    timeoutMs: 40_000,
    message: () => `${rec.uniqueReceived}/200 after the failover`,
  });
  expectDelivery(rec, {
    guarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    allowDuplicates: true,
    label: 'sentinel failover',
  });
  // The Pub/Sub link came back too: publish until one event arrives (best-effort, so
  // an event published before the subscriber re-subscribed may be missed).
  await waitFor(
    async () => {
      if (events.receivedTotal > 0) return true;
      await sender.publish(
        createEvent({ source: 'failover_test', topic: 'failover.ping', data: 1 }),
      );
      return false;
    },
    { timeoutMs: 30_000, intervalMs: 200, message: 'an event after the failover' },
  );
  expect(Number(await cli(replica.port, ['XLEN', `${prefix}:{failover_ep}:p2`]))).toBeGreaterThan(
    0,
  );
}, 120_000);
