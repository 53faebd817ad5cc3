/**
 * The custom transport of docs/custom-adapter.md (./broadcast-channel.ts, in
 * under 150 lines) at work. It declares what it honours — best-effort
 * fan-out, no consumer groups, no persistence — and the core adds retries,
 * dead-lettering, dedup and priorities on top. It passes the conformance
 * suite (examples/test/custom-adapter.conformance.test.ts), which skips the
 * cases its capabilities rule out and says why.
 */

import { createHub, ProtocolType } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { broadcastChannel } from './broadcast-channel.js';
import { runIfMain } from './run-main.js';

export * from './broadcast-channel.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'custom', adapters: [] });
  hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, broadcastChannel({ prefix: 'demo' }));
  await hub.start();
  const got: unknown[] = [];
  await hub.onMessage('echo', (msg) => void got.push(msg.payload));
  const result = await hub.send(
    createMessage({
      source: 'demo',
      destination: 'echo',
      payload: { at: new Date(0), bytes: new Uint8Array([1, 2, 3]) },
      deliveryGuarantee: 'best-effort',
    }),
  );
  const deadline = Date.now() + 5_000;
  while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  log(
    `sent via adapter "${result.adapter}" (${result.protocol}); received ${JSON.stringify(got[0], (_k, v) => (v instanceof Uint8Array ? [...v] : v))}`,
  );
  let refused = '';
  try {
    await hub.send(createMessage({ source: 'demo', destination: 'echo', payload: 1 }));
  } catch (err) {
    refused = (err as { code?: string }).code ?? '';
    log(`an at-least-once message is refused at once, not downgraded: ${refused}`);
  }
  await hub.close();
  return { received: got.length, refused };
}

runIfMain(import.meta, () => main());
