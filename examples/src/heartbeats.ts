/** Agent coordination: agents publish heartbeats; a monitor tracks who is alive. */
import { createHub, HEARTBEAT_TOPIC_PREFIX, memory } from '@hub/core';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'agents', adapters: [memory()] });
  await hub.start();
  const lastSeen = new Map<string, unknown>();
  await hub.subscribe<{ agentId: string; status: unknown }>(
    `${HEARTBEAT_TOPIC_PREFIX}.*`,
    (event) => {
      lastSeen.set(event.data.agentId, event.data.status);
    },
  );
  await hub.sendHeartbeat({ agentId: 'agent_001', statusData: { cpu: 45, memory: 60, tasks: 3 } });
  await hub.sendHeartbeat('agent_002', { cpu: 12, memory: 30, tasks: 0 });
  const deadline = Date.now() + 5_000;
  while (lastSeen.size < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  for (const [agent, status] of lastSeen) log(`${agent}: ${JSON.stringify(status)}`);
  await hub.close();
  return { agents: Object.fromEntries(lastSeen) };
}

runIfMain(import.meta, () => main());
