/**
 * The usage our users already write (the API of the systems Hub replaces), as written, against a
 * real Redis: REDIS_HOST / REDIS_PORT / REDIS_PASSWORD from the environment.
 * `examples/test/usage.integration.test.ts` runs it against a redis-server it
 * starts; run it yourself with a Redis on 127.0.0.1:6379:
 *   node --import tsx --conditions=@hub/source examples/src/usage.ts
 */
import { redisAdapter } from '@hub/adapter-redis';
import {
  BaseProtocolAdapter,
  type CommunicationConfig,
  type ConnectionConfig,
  createCommunicationHub,
  ProtocolType,
  RoutingStrategy,
} from '@hub/core';
import {
  createEvent,
  createMessage,
  DeliveryGuarantee,
  MessageType,
  Priority,
} from '@hub/protocol';
import { BroadcastChannelAdapter } from './custom-adapter.js';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  // Configuration: one source for every protocol; env-driven in production.
  const config: CommunicationConfig = {
    name: 'ProductionCommunicationHub',
    maxConcurrentMessages: 50_000,
    messageTimeoutMs: 30_000,
    redisConfig: {
      protocol: ProtocolType.REDIS_STREAMS,
      host: process.env.REDIS_HOST ?? '127.0.0.1',
      port: Number(process.env.REDIS_PORT ?? 6379),
      poolSize: 20,
      connectionParams: { password: process.env.REDIS_PASSWORD, tls: false },
    } satisfies ConnectionConfig,
    enableMetrics: true,
    enableHealthMonitoring: true,
    healthCheckInterval: 30,
    defaultRoutingStrategy: RoutingStrategy.AUTOMATIC,
  };

  // Installed adapters register themselves into the hub's registry when handed
  // over (no import side effects); redisConfig above then configures that adapter.
  const hub = createCommunicationHub({ ...config, adapters: [redisAdapter] });
  if (!(await hub.initialize())) {
    throw new Error('Failed to initialize CommunicationHub');
  }

  // 1. Task distribution with guaranteed delivery
  const message = createMessage({
    source: 'coordinator',
    destination: 'worker_agent',
    messageType: MessageType.TASK_ASSIGNMENT,
    payload: { task_id: '123', data: { n: 42 } },
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });
  const result = await hub.sendMessage(message); // MessageResult: success, messageId, protocol, latencyMs, error?
  log(
    `1. sendMessage → success=${result.success} protocol=${result.protocol} ${result.latencyMs.toFixed(2)} ms`,
  );

  // 2. Real-time updates
  const notified: unknown[] = [];
  await hub.subscribeToEvents('hub.notifications', (event) => void notified.push(event.data));
  await hub.broadcastNotification({
    fromSource: 'system_monitor',
    notificationData: { status: 'healthy', load: 0.75 },
    priority: Priority.HIGH,
  });

  // 3. Event-driven communication
  const userEvents: unknown[] = [];
  await hub.subscribeToEvents('user_events', async (event) => {
    userEvents.push(event.data);
  });
  await hub.publishEvent(
    createEvent({
      source: 'user_service',
      eventType: 'user_registered',
      topic: 'user_events',
      data: { user_id: '456', email: 'user@example.com' },
    }),
  );

  // 4. Agent coordination
  await hub.sendHeartbeat({ agentId: 'agent_001', statusData: { cpu: 45, memory: 60, tasks: 3 } });

  // Serving an endpoint (the other side of 1.): the task sent before this
  // handler existed waits in its stream and is handled now.
  const tasks: unknown[] = [];
  await hub.onMessage('worker_agent', async (msg) => {
    tasks.push(msg.payload);
  });

  const deadline = Date.now() + 15_000;
  while (
    (tasks.length < 1 || userEvents.length < 1 || notified.length < 1) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 10));
  }
  log(`   worker_agent handled ${JSON.stringify(tasks[0])}`);
  log(`2. notification received: ${JSON.stringify(notified[0])}`);
  log(`3. user event received: ${JSON.stringify(userEvents[0])}`);

  // Monitoring
  const metrics = await hub.getDetailedMetrics();
  log(
    `   metrics: ${metrics.messagesPerSecond.toFixed(2)} msg/s, routing ${metrics.averageRoutingLatencyMs.toFixed(4)} ms, ${metrics.activeConnections} connection(s)`,
  );
  const health = await hub.getHealthStatus();
  log(
    `   health: ${health.hubStatus}, adapters ${Object.keys(health.adapters).join(', ')}, ${JSON.stringify(health.performance)}`,
  );

  // Extensibility: a custom protocol adapter against the published interface
  class CustomProtocolAdapter extends BroadcastChannelAdapter {}
  const customConfig = { prefix: 'usage' };
  hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, new CustomProtocolAdapter(customConfig));
  log(
    `   registered adapters: ${hub.adapterRegistry.names().join(', ')}; BaseProtocolAdapter is ${BaseProtocolAdapter.name}`,
  );

  // Legacy migration (when @hub/legacy-compat exists)
  // const unified = convertLegacyMessage(legacySystem.createMessage(data));
  // await hub.sendMessage(unified);

  await hub.close();
  return { result, tasks, userEvents, notified, metrics, health };
}

runIfMain(import.meta, () => main());
