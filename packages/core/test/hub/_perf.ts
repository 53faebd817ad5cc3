import { createHub, createMessage, memory } from '@hub/core';

async function run(guarantee: 'best-effort' | 'at-least-once', n: number) {
  const hub = createHub({
    adapters: [memory()],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  await hub.start();
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  await hub.onMessage(
    'bench',
    () => {
      if (++got === n) done();
    },
    { concurrency: 64, prefetch: 1024 },
  );
  const msgs = Array.from({ length: n }, (_, i) =>
    createMessage({ source: 's', destination: 'bench', payload: i, deliveryGuarantee: guarantee }),
  );
  const t0 = performance.now();
  const B = 1000;
  for (let i = 0; i < n; i += B) {
    const ps = [];
    for (let j = i; j < i + B && j < n; j++) ps.push(hub.send(msgs[j]!));
    await Promise.all(ps);
  }
  await all;
  const ms = performance.now() - t0;
  console.log(guarantee, Math.round((n / ms) * 1000), 'msg/s');
  await hub.close();
}

await run('best-effort', 500_000);
