// Micro-benchmarks of the protocol hot path. Not run by the test runner.
// Run after a build:  pnpm --filter @hub/protocol bench
// (Node 20 cannot run TypeScript directly, so this reads ../dist.)
// Importable by @hub/benchmarks: `runProtocolBench({ timeMs })` returns the rows.
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { createMessage, jsonCodec, parseMessage, validateMessage } from '../dist/index.js';

const sample = () =>
  createMessage({
    source: 'api_gateway',
    destination: 'worker_agent',
    type: 'task_assignment',
    headers: { 'x-tenant': 'acme', 'x-request-id': 'req-12345' },
    payload: {
      taskId: 'task-000042',
      kind: 'resize-image',
      params: { width: 640, height: 480, format: 'webp', quality: 80 },
      tags: ['thumbnail', 'batch-7', 'priority'],
      note: 'plain JSON payload of about three hundred bytes on the wire',
    },
    traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  });

const special = () => ({
  ...sample(),
  payload: {
    at: new Date(),
    blob: new Uint8Array(64).fill(7),
    big: 2n ** 70n,
    list: [1, undefined, 3],
  },
});

/** Ops/s of `fn` over about `ms`. */
function rate(fn, ms) {
  let n = 0;
  const start = performance.now();
  const deadline = start + ms;
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    now = performance.now();
  }
  return n / ((now - start) / 1000);
}

/**
 * Run every case round-robin for 7 rounds (so a noisy neighbour hits all
 * cases alike) and report medians.
 */
function measureAll(cases, timeMs) {
  for (const [, fn] of cases) for (let i = 0; i < 20_000; i++) fn(); // warm-up
  const rounds = cases.map(() => []);
  for (let r = 0; r < 7; r++) {
    for (let i = 0; i < cases.length; i++) rounds[i].push(rate(cases[i][1], timeMs / 7));
  }
  return cases.map(([name], i) => {
    const sorted = rounds[i].sort((a, b) => a - b);
    const median = sorted[3];
    return {
      name,
      opsPerSec: Math.round(median),
      nsPerOp: Math.round(1e9 / median),
      spread: `${Math.round(1e9 / sorted[6])}-${Math.round(1e9 / sorted[0])} ns`,
    };
  });
}

/** Count garbage collections while `fn` runs `count` times: 0 means the path does not allocate. */
async function gcCount(fn, count) {
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    gcs += list.getEntries().length;
  });
  obs.observe({ entryTypes: ['gc'] });
  for (let i = 0; i < count; i++) fn();
  await new Promise((r) => setTimeout(r, 50));
  obs.disconnect();
  return gcs;
}

export async function runProtocolBench({ timeMs = 1400 } = {}) {
  const msg = parseMessage(JSON.parse(JSON.stringify(sample())));
  const text = jsonCodec.encode(msg);
  const bytes = new TextEncoder().encode(text);
  const sp = special();
  const spText = jsonCodec.encode(sp);
  const rows = measureAll(
    [
      ['parseMessage (valid)', () => parseMessage(msg)],
      ['validateMessage (valid)', () => validateMessage(msg)],
      ['JSON.stringify (raw baseline)', () => JSON.stringify(msg)],
      ['jsonCodec.encode (plain)', () => jsonCodec.encode(msg)],
      ['JSON.parse (raw baseline)', () => JSON.parse(text)],
      ['jsonCodec.decode string (plain, validated)', () => jsonCodec.decode(text)],
      ['jsonCodec.decode bytes (plain, validated)', () => jsonCodec.decode(bytes)],
      ['jsonCodec.encode (Date+bytes+bigint)', () => jsonCodec.encode(sp)],
      ['jsonCodec.decode (Date+bytes+bigint)', () => jsonCodec.decode(spText)],
    ],
    timeMs,
  );
  const gcs = await gcCount(() => parseMessage(msg), 2_000_000);
  return { rows, gcsDuring2MParses: gcs, encodedBytes: bytes.byteLength };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, gcsDuring2MParses, encodedBytes } = await runProtocolBench();
  console.log(`node ${process.version}, sample envelope ${encodedBytes} B`);
  console.table(rows);
  console.log(`garbage collections during 2,000,000 parseMessage calls: ${gcsDuring2MParses}`);
}
