/**
 * Event-driven communication: subscribers use topic patterns (`*` one
 * segment, `**` any number); a subscriber that throws never affects another;
 * a late subscriber can replay recent history.
 */
import { createHub, memory, silentLogger } from '@hub/core';
import { createEvent } from '@hub/protocol';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({
    name: 'events',
    adapters: [memory()],
    retry: { initialDelayMs: 1 },
    logger: silentLogger,
  });
  await hub.start();
  const seen = {
    exact: [] as string[],
    oneLevel: [] as string[],
    everything: [] as string[],
    faulty: [] as string[],
  };

  await hub.subscribeToEvents('user_events', async (event) => {
    seen.exact.push(event.type);
  });
  await hub.subscribe('orders.*.created', (event) => {
    seen.oneLevel.push(event.topic);
  });
  await hub.subscribe('orders.**', (event) => {
    seen.everything.push(event.topic);
  });
  await hub.subscribe(
    'orders.**',
    (event) => {
      seen.faulty.push(event.topic);
      throw new Error('this subscriber is broken');
    },
    { maxDeliveries: 1 },
  );

  await hub.publishEvent(
    createEvent({
      source: 'user_service',
      eventType: 'user_registered',
      topic: 'user_events',
      data: { user_id: '456', email: 'user@example.com' },
    }),
  );
  for (const topic of ['orders.eu.created', 'orders.us.created', 'orders.eu.shipped']) {
    await hub.publish(createEvent({ source: 'orders', topic, type: 'order', data: { topic } }));
  }
  const deadline = Date.now() + 5_000;
  while (seen.everything.length < 3 && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 5));

  const replayed: string[] = [];
  await hub.subscribe('orders.eu.*', (e) => void replayed.push(e.topic), { replay: true });

  log(`user_events            -> ${seen.exact.join(', ')}`);
  log(`orders.*.created       -> ${seen.oneLevel.join(', ')}`);
  log(`orders.**              -> ${seen.everything.join(', ')}`);
  log(`orders.** (throws)     -> ${seen.faulty.join(', ')} (others unaffected)`);
  log(`orders.eu.* (replayed) -> ${replayed.join(', ')}`);
  await hub.close();
  return { ...seen, replayed };
}

runIfMain(import.meta, () => main());
