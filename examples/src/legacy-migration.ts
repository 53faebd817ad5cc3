/**
 * Phase 1 of a migration (docs/migration.md): a legacy producer that knows
 * nothing about Hub keeps pushing its own JSON onto a Redis list and a Pub/Sub
 * channel; a bridge carries both into the hub, where new consumers handle
 * them; a new producer's events reach the legacy subscribers the other way.
 * The hub's config is the legacy config, migrated. REDIS_HOST / REDIS_PORT
 * from the environment; `examples/test/legacy-migration.integration.test.ts`
 * runs it against a redis-server it starts:
 *   node --import tsx --conditions=@hub/source examples/src/legacy-migration.ts
 */
import { createCommunicationHub } from '@hub/core';
import { convertLegacyMessage, createLegacyBridge, migrateConfig } from '@hub/legacy-compat';
import { createEvent, isMessage } from '@hub/protocol';
import { Redis } from 'ioredis';
import { runIfMain } from './run-main.js';

/** Poll `done` every 10 ms for at most `ms`: the example waits for deliveries, bounded. */
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for deliveries');
    await new Promise((r) => setTimeout(r, 10));
  }
}

export async function main(log: (line: string) => void = console.log) {
  const host = process.env.REDIS_HOST ?? '127.0.0.1';
  const port = Number(process.env.REDIS_PORT ?? 6379);

  // The legacy hub's own configuration, as it was.
  const legacyConfig = {
    name: 'LegacyCommunicationHub',
    max_concurrent_messages: 1000,
    message_timeout_ms: 30_000,
    redis_config: { protocol: 'redis_streams', host, port, pool_size: 10 },
    enable_metrics: true,
  };
  const hub = createCommunicationHub(
    migrateConfig(legacyConfig, {
      onDropped: (dropped) => {
        for (const d of dropped) log(`not carried over: ${d.option} (${d.reason})`);
      },
    }),
  );
  if (!(await hub.initialize())) throw new Error('hub did not start');

  // New consumers, on the hub.
  const tasks: unknown[] = [];
  const signups: unknown[] = [];
  await hub.onMessage('worker_agent', (msg) => {
    tasks.push(msg.payload);
  });
  await hub.subscribeToEvents('user_events', (event) => {
    signups.push(event.data);
  });

  // The bridge: legacy list and channel into the hub; hub notifications back out.
  const bridge = createLegacyBridge({
    hub,
    redis: { host, port },
    inbound: [
      { from: 'list', key: 'legacy:tasks' },
      { from: 'pubsub', channel: 'legacy:events' },
    ],
    outbound: [{ from: { topic: 'notifications' }, to: 'pubsub', channel: 'legacy:notifications' }],
  });
  await bridge.start();

  // An old consumer, still subscribed to its channel.
  const legacyConsumer = new Redis({ host, port });
  const notified: unknown[] = [];
  legacyConsumer.on('message', (_channel: string, text: string) => notified.push(JSON.parse(text)));
  await legacyConsumer.subscribe('legacy:notifications');

  // The legacy producer, unchanged: its own JSON, straight into Redis.
  const legacyProducer = new Redis({ host, port });
  await legacyProducer.lpush(
    'legacy:tasks',
    JSON.stringify({
      message_type: 'task_assignment',
      sender: 'coordinator',
      recipient: 'worker_agent',
      payload: { task_id: '123', data: { n: 42 } },
      timestamp: Math.floor(Date.now() / 1000),
      priority: 'high',
    }),
  );
  await legacyProducer.publish(
    'legacy:events',
    JSON.stringify({
      event: 'user_registered',
      channel: 'user_events',
      from: 'user_service',
      data: { user_id: '456' },
    }),
  );
  // A service that moved to the hub still builds the legacy message: convert and send.
  const unified = convertLegacyMessage({
    type: 'task_assignment',
    from: 'scheduler',
    to: 'worker_agent',
    data: { task_id: '124' },
  });
  if (isMessage(unified)) await hub.sendMessage(unified);
  else await hub.publishEvent(unified);
  // A new producer on the hub; the old consumer still gets it.
  await hub.publishEvent(
    createEvent({ source: 'monitor', topic: 'notifications', data: { status: 'healthy' } }),
  );

  await until(() => tasks.length === 2 && signups.length === 1 && notified.length === 1);
  log(`hub consumer got tasks ${JSON.stringify(tasks)}`);
  log(`hub subscriber got ${JSON.stringify(signups)}`);
  log(`legacy subscriber got ${JSON.stringify(notified)}`);
  const stats = bridge.stats();
  await bridge.close();
  legacyProducer.disconnect();
  legacyConsumer.disconnect();
  await hub.close();
  return { tasks, signups, notified, stats };
}

runIfMain(import.meta, main);
