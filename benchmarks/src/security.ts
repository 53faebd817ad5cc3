/**
 * Security suite: what signing, encryption, compression and authorization
 * cost the client per message (1 KB payloads, CPU µs), and what they cost a
 * hub over Redis Streams at-least-once: all of them on against the same run
 * without them, and the security layer installed with everything off against
 * no security at all.
 */
import { redis } from '@hub/adapter-redis';
import { type RedisServer, startRedisServer } from '@hub/adapter-test-suite';
import {
  type AccessPolicy,
  CompiledPolicy,
  createHub,
  createMessage,
  DeliveryGuarantee,
  type Envelope,
  type Hub,
  type SecurityOptions,
} from '@hub/core';
import {
  type CompressionOptions,
  type EncryptionOptions,
  envelopeProtection,
  type KeyOptions,
  type ProtectionOptions,
} from '@hub/core/security';
import {
  Arrivals,
  flood,
  logger,
  paired,
  pick,
  result,
  rotate,
  roundsFor,
  type ScenarioResult,
  settle,
  stats,
} from './harness.js';

const KEY = Buffer.alloc(32, 7);
const keys = () => KEY;
const SIGNING: KeyOptions = { keyId: 'b1', keys };
const ENCRYPTION: EncryptionOptions = { keyId: 'b1', keys };
/** 1 KB payloads are compressed (the default threshold is 1,024 bytes of JSON). */
const COMPRESSION: CompressionOptions = { thresholdBytes: 512 };

/** A 1 KB JSON payload that compresses the way typical records do (repeated keys, some text). */
function payload1k(seq: number) {
  const items = Array.from({ length: 12 }, (_, i) => ({
    sku: `SKU-${1000 + i}`,
    qty: i + 1,
    price: 9.99 + i,
  }));
  const base = { seq, customer: 'customer-000042', currency: 'EUR', items, note: '' };
  base.note = 'n'.repeat(Math.max(0, 1024 - JSON.stringify(base).length));
  return base;
}

const POLICY: AccessPolicy = {
  rules: [
    { name: 'clients', identities: ['client.*'], send: ['orders.create'], subscribe: ['orders.*'] },
    { name: 'sender', identities: ['sec-bench-sender'], send: ['sec.bench.*'] },
    { name: 'receiver', identities: ['sec-bench-receiver'], serve: ['sec.bench.*'] },
  ],
};

// ─── the CPU cost of each step ─────────────────────────────────────────────

const STEP_N = pick(2_000, 500);

/** CPU µs per call of `fn` over `n` calls (after a warm-up of the same size). */
async function cpuPerCall(n: number, fn: (i: number) => unknown): Promise<number> {
  const call = async (i: number) => {
    const out = fn(i);
    if (out instanceof Promise) await out;
  };
  for (let i = 0; i < n; i++) await call(i);
  await settle();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < n; i++) await call(i);
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / n;
}

async function stepCosts(): Promise<ScenarioResult> {
  const envs: Envelope[] = Array.from({ length: STEP_N }, (_, i) => ({
    ...createMessage({ source: 'bench', destination: 'orders.create', payload: payload1k(i) }),
    headers: { 'hub-identity': 'client.alice' },
  }));
  const steps: Array<[string, ProtectionOptions]> = [
    ['sign', { signing: SIGNING }],
    ['encrypt', { encryption: ENCRYPTION }],
    ['compress', { compression: COMPRESSION }],
    ['all', { signing: SIGNING, encryption: ENCRYPTION, compression: COMPRESSION }],
  ];
  const extra: Record<string, number | string> = {};
  const rounds = roundsFor(2);
  const all = { seal: [] as number[], open: [] as number[] };
  for (let r = 0; r < rounds; r++) {
    for (const [name, options] of steps) {
      const p = envelopeProtection(options);
      const sealed: Envelope[] = [];
      const seal = await cpuPerCall(STEP_N, async (i) => {
        sealed[i] = await p.seal(envs[i]!);
      });
      const open = await cpuPerCall(STEP_N, (i) => p.open(sealed[i]!));
      if (name === 'all') {
        all.seal.push(seal);
        all.open.push(open);
      }
      extra[`${name} seal µs`] = Math.min(Number(extra[`${name} seal µs`] ?? Infinity), seal);
      extra[`${name} open µs`] = Math.min(Number(extra[`${name} open µs`] ?? Infinity), open);
    }
    const policy = new CompiledPolicy(POLICY);
    const authorize = await cpuPerCall(STEP_N * 10, (i) =>
      policy.allows(i % 2 === 0 ? 'client.alice' : 'client.bob', 'send', 'orders.create'),
    );
    extra['authorize µs'] = Math.min(Number(extra['authorize µs'] ?? Infinity), authorize);
  }
  for (const k of Object.keys(extra)) extra[k] = Math.round(Number(extra[k]) * 100) / 100;
  const sealed = stats(all.seal);
  const opened = stats(all.open);
  return result({
    suite: 'security',
    id: 'security.cost',
    title:
      'client CPU per 1 KB message of each protection step: sign, encrypt, compress (seal / open), authorize',
    unit: 'µs/msg',
    higherIsBetter: false,
    hub: sealed,
    raw: opened,
    ratio: null,
    rounds,
    targets: [],
    transport: 'none',
    notes: [
      `${STEP_N.toLocaleString('en-US')} message envelopes with a 1 KB JSON payload; CPU (user + system) per call, lowest of ${rounds} rounds per step in the extra lines`,
      'hub column: sealing with all three on (compress, encrypt, sign); raw column: opening them (verify, decrypt, inflate)',
      'authorize: one CompiledPolicy.allows() of a three-rule policy, what the hub runs on each send, publish and arrival',
    ],
    extra,
  });
}

// ─── over Redis Streams ────────────────────────────────────────────────────

const N = pick(3_000, 1_000);
const BATCH = 100;

interface Side {
  name: string;
  sender: Hub;
  receiver: Hub;
  arrivals: Arrivals;
  seq: number;
}

async function side(
  server: RedisServer,
  name: string,
  security: (role: 'sender' | 'receiver') => SecurityOptions | undefined,
): Promise<Side> {
  const arrivals = new Arrivals();
  const keyPrefix = `secbench-${name}-${process.pid}`;
  const make = (role: 'sender' | 'receiver') => {
    const sec = security(role);
    return createHub({
      name: `sec-bench-${role}`,
      logger,
      adapters: [redis({ url: server.url, keyPrefix })],
      ...(sec === undefined ? {} : { security: sec }),
    });
  };
  const sender = make('sender');
  const receiver = make('receiver');
  await receiver.onMessage(
    'sec.bench.orders',
    () => {
      arrivals.inc();
    },
    { concurrency: 100 },
  );
  await receiver.start();
  await sender.start();
  return { name, sender, receiver, arrivals, seq: 0 };
}

async function redisRuns(): Promise<ScenarioResult[]> {
  const server = await startRedisServer();
  const protection = () =>
    envelopeProtection({ signing: SIGNING, encryption: ENCRYPTION, compression: COMPRESSION });
  const sides: Side[] = [];
  try {
    sides.push(await side(server, 'none', () => undefined));
    sides.push(await side(server, 'off', () => ({})));
    sides.push(await side(server, 'all', () => ({ policy: POLICY, protection: protection() })));
    const cpu = new Map<string, number[]>(sides.map((s) => [s.name, []]));
    const run = (s: Side, total: number) => async () => {
      const r = await flood({
        total,
        batch: BATCH,
        timeLimitMs: 8_000,
        arrivals: s.arrivals,
        send: () =>
          s.sender.send(
            createMessage({
              source: 'bench',
              destination: 'sec.bench.orders',
              payload: payload1k(s.seq++),
              deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
            }),
          ),
      });
      if (total === N) cpu.get(s.name)!.push(r.cpuUsPerMsg);
      return r.rate;
    };
    for (const s of sides) await run(s, Math.min(N, 1_000))();
    const rounds = roundsFor(4);
    const [none, off, all] = await rotate(
      sides.map((s) => run(s, N)),
      rounds,
      true,
      1,
      true,
    );
    const cpuOf = (name: string) => stats(cpu.get(name)!).median;
    const common = [
      `${N.toLocaleString('en-US')} at-least-once messages with a 1 KB JSON payload per round, ${BATCH} sends in flight, from a sender hub to an endpoint of a receiver hub over one redis-server (Redis Streams); rounds run none, off, all, then all, off, none (the same hubs and payloads throughout)`,
    ];
    return [
      result({
        suite: 'security',
        id: 'security.redis-all-on',
        title:
          'Redis Streams at-least-once, 1 KB: signing + encryption + compression + policy on both hubs vs none',
        unit: 'msg/s',
        higherIsBetter: true,
        ...paired(all!, none!),
        rounds,
        targets: [{ kind: 'ratio-min', value: 0.75, label: '≥ 0.75× without security' }],
        against: 'the same hubs without security',
        transport: 'redis streams',
        notes: [
          ...common,
          'hub column: both hubs with security { policy (3 rules), protection: signing, AES-256-GCM, gzip above 512 B }; raw column: both hubs without security',
        ],
        extra: {
          'cpu µs/msg (all on)': Math.round(cpuOf('all')),
          'cpu µs/msg (none)': Math.round(cpuOf('none')),
        },
      }),
      result({
        suite: 'security',
        id: 'security.redis-off',
        title:
          'Redis Streams at-least-once, 1 KB: security installed with everything off vs not installed',
        unit: 'msg/s',
        higherIsBetter: true,
        ...paired(off!, none!),
        rounds,
        targets: [{ kind: 'ratio-min', value: 0.98, label: '≥ 0.98× (≤ 2 % cost)' }],
        against: 'the same hubs without security',
        transport: 'redis streams',
        notes: [
          ...common,
          'hub column: both hubs with security: {} (identity stamp and audit only, no policy, no protection); raw column: no security option',
        ],
        extra: {
          'cpu µs/msg (off)': Math.round(cpuOf('off')),
          'cpu µs/msg (none)': Math.round(cpuOf('none')),
        },
      }),
    ];
  } finally {
    for (const s of sides) {
      await s.sender.close({ drainTimeoutMs: 0 });
      await s.receiver.close({ drainTimeoutMs: 0 });
    }
    await server.stop();
  }
}

export const securityScenarios: Array<{
  id: string;
  ids: string[];
  run: () => Promise<ScenarioResult | ScenarioResult[]>;
}> = [
  { id: 'security.cost', ids: ['security.cost'], run: stepCosts },
  {
    id: 'security.redis',
    ids: ['security.redis-all-on', 'security.redis-off'],
    run: redisRuns,
  },
];
