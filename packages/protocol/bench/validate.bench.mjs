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
  payload: { at: new Date(), blob: new Uint8Array(64).fill(7), big: 2n ** 70n, list: [1, undefined, 3] },
});

/** Run `fn` repeatedly for about `timeMs`, 5 rounds; report the median ops/s. */
function measure(name, fn, timeMs) {
  for (let i = 0; i < 20_000; i++) fn(); // warm-up
  const rounds = [];
  for (let r = 0; r < 5; r++) {
    let n = 0;
    const start = performance.now();
    const deadline = start + timeMs / 5;
    let now = start;
    while (now < deadline) {
      for (let i = 0; i < 1000; i++) fn();
      n += 1000;
      now = performance.now();
    }
    rounds.push(n / ((now - start) / 1000));
  }
  rounds.sort((a, b) => a - b);
  const opsPerSec = rounds[2];
  return { name, opsPerSec: Math.round(opsPerSec), nsPerOp: Math.round(1e9 / opsPerSec) };
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

export async function runProtocolBench({ timeMs = 1000 } = {}) {
  const msg = parseMessage(JSON.parse(JSON.stringify(sample())));
  const text = jsonCodec.encode(msg);
  const bytes = new TextEncoder().encode(text);
  const sp = special();
  const spText = jsonCodec.encode(sp);
  const rows = [
    measure('parseMessage (valid, 300 B)', () => parseMessage(msg), timeMs),
    measure('validateMessage (valid)', () => validateMessage(msg), timeMs),
    measure('JSON.stringify (raw baseline)', () => JSON.stringify(msg), timeMs),
    measure('jsonCodec.encode (plain)', () => jsonCodec.encode(msg), timeMs),
    measure('JSON.parse (raw baseline)', () => JSON.parse(text), timeMs),
    measure('jsonCodec.decode string (plain, validated)', () => jsonCodec.decode(text), timeMs),
    measure('jsonCodec.decode bytes (plain, validated)', () => jsonCodec.decode(bytes), timeMs),
    measure('jsonCodec.encode (Date+bytes+bigint)', () => jsonCodec.encode(sp), timeMs),
    measure('jsonCodec.decode (Date+bytes+bigint)', () => jsonCodec.decode(spText), timeMs),
  ];
  const gcs = await gcCount(() => parseMessage(msg), 2_000_000);
  return { rows, gcsDuring2MParses: gcs, encodedBytes: bytes.byteLength };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows, gcsDuring2MParses, encodedBytes } = await runProtocolBench();
  console.log(`node ${process.version}, sample envelope ${encodedBytes} B`);
  console.table(rows);
  console.log(`garbage collections during 2,000,000 parseMessage calls: ${gcsDuring2MParses}`);
}
