/**
 * The child process of R18 (clean exit). Builds the adapter from the module
 * the suite was told about, runs a hub on it that serves an endpoint, sends,
 * publishes an event, makes a request, then closes. It prints one JSON line
 * when `close()` has resolved (with the resources still holding the event
 * loop) and, if the process exits, a second one with the time from the
 * resolved close to the exit. Nothing else ends it: whatever keeps it alive
 * after close is what R18 looks for.
 *
 * Argument: the JSON of a {@link CleanExitChildSpec}.
 */
import { pathToFileURL } from 'node:url';
import { createHub, type ProtocolAdapter, silentLogger } from '@hub/core';
import { createEvent, createMessage } from '@hub/protocol';

/** What the parent passes to the child. */
export interface CleanExitChildSpec {
  readonly module: string;
  readonly export: string;
  readonly args: unknown;
  /** Endpoint and topic names no other run uses. */
  readonly endpoint: string;
  readonly topic: string;
}

const spec = JSON.parse(process.argv[2] ?? '{}') as CleanExitChildSpec;
const url = /^[a-z]+:/i.test(spec.module) ? spec.module : pathToFileURL(spec.module).href;
const mod = (await import(url)) as Record<string, unknown>;
const build = mod[spec.export];
if (typeof build !== 'function') {
  throw new Error(`${spec.module} has no function export "${spec.export}"`);
}
const adapter = (await build(spec.args)) as ProtocolAdapter;
const hub = createHub({ name: 'r18', adapters: [adapter], logger: silentLogger });
await hub.start();

let handled = 0;
let events = 0;
await hub.onMessage(spec.endpoint, (msg) => {
  handled++;
  return { echo: msg.payload };
});
await hub.subscribe(spec.topic, () => {
  events++;
});
await hub.send(createMessage({ source: 'r18', destination: spec.endpoint, payload: { n: 1 } }));
await hub.publish(createEvent({ source: 'r18', topic: spec.topic, data: { n: 1 } }));
const reply = await hub.request(
  createMessage({ source: 'r18', destination: spec.endpoint, payload: { n: 2 } }),
  { timeoutMs: 30_000 },
);
const deadline = Date.now() + 30_000;
while ((handled < 2 || events < 1) && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}

await hub.close();
const closedAt = performance.now();
process.on('exit', (code) => {
  process.stdout.write(
    `${JSON.stringify({ exited: true, code, afterCloseMs: performance.now() - closedAt })}\n`,
  );
});
process.stdout.write(
  `${JSON.stringify({
    closed: true,
    handled,
    events,
    replied: (reply.payload as { echo?: unknown } | undefined)?.echo !== undefined,
    // Snapshot right after close: what may still hold the event loop.
    resources: process.getActiveResourcesInfo(),
  })}\n`,
);
