/** Real-time updates: one notification reaches every subscriber. */
import { createHub, memory, NOTIFICATION_TOPIC } from '@hub/core';
import { Priority } from '@hub/protocol';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'broadcast', adapters: [memory()] });
  await hub.start();
  const received: string[] = [];
  for (const dashboard of ['ops', 'sales', 'mobile']) {
    await hub.subscribeToEvents(NOTIFICATION_TOPIC, (event) => {
      received.push(`${dashboard} <- ${JSON.stringify(event.data)}`);
    });
  }
  const result = await hub.broadcastNotification({
    fromSource: 'system_monitor',
    notificationData: { status: 'healthy', load: 0.75 },
    priority: Priority.HIGH,
  });
  const deadline = Date.now() + 5_000;
  while (received.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  log(`broadcast ${result.messageId} on ${NOTIFICATION_TOPIC}`);
  for (const line of received) log(`  ${line}`);
  await hub.close();
  return { received };
}

runIfMain(import.meta, () => main());
