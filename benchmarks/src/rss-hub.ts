// Hub child for the idle-RSS scenario: a started hub with the memory adapter and a few handlers, idle.
import { createEvent, createHub, createMessage, memory } from '@hub/core';

const hub = createHub({ name: 'rss', adapters: [memory()] });
await hub.start();
let seen = 0;
for (const endpoint of ['orders', 'billing', 'audit']) {
  await hub.onMessage(endpoint, () => {
    seen++;
  });
}
for (const pattern of ['orders.*', 'billing.**', 'audit.#']) {
  await hub.subscribe(pattern, () => {
    seen++;
  });
}
// Exercise the send and publish paths once so their lazy state exists, as in a live service.
for (let i = 0; i < 10; i++) {
  await hub.send(createMessage({ source: 'rss', destination: 'orders', payload: { i } }));
  await hub.publish(createEvent({ source: 'rss', topic: 'orders.created', data: { i } }));
}
const deadline = Date.now() + 5_000;
// 10 messages to `orders`, 10 events matching `orders.*`.
while (seen < 20 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));

const gc = (globalThis as { gc?: () => void }).gc;
gc?.();
gc?.();
await new Promise((r) => setTimeout(r, 300));
gc?.();
const m = process.memoryUsage();
console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, seen }));
await hub.close();
