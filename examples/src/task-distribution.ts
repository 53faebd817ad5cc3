/**
 * Task distribution with guaranteed delivery: a coordinator hands tasks to a
 * pool of workers (three instances of one endpoint share the work). One worker
 * fails its first attempt at some tasks: the hub retries them, nothing is lost.
 */
import { createHub, memory } from '@hub/core';
import { createMessage, DeliveryGuarantee, MessageType } from '@hub/protocol';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'tasks', adapters: [memory()], retry: { initialDelayMs: 5 } });
  await hub.start();

  const handledBy = new Map<string, string>();
  const attempts = new Map<string, number>();
  for (const worker of ['w1', 'w2', 'w3']) {
    await hub.onMessage<{ task_id: string; data: { n: number } }>(
      'worker_agent',
      async (msg, ctx) => {
        attempts.set(msg.payload.task_id, ctx.attempt);
        // w2 is flaky: its first attempt at a task always fails, and the hub retries it.
        if (worker === 'w2' && ctx.attempt === 1) {
          throw new Error('transient failure');
        }
        handledBy.set(msg.payload.task_id, worker);
      },
      { concurrency: 4 },
    );
  }

  const results = [];
  for (let i = 0; i < 30; i++) {
    const message = createMessage({
      source: 'coordinator',
      destination: 'worker_agent',
      messageType: MessageType.TASK_ASSIGNMENT,
      payload: { task_id: String(i), data: { n: i } },
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    });
    results.push(await hub.sendMessage(message));
  }
  const deadline = Date.now() + 10_000;
  while (handledBy.size < 30 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));

  const perWorker: Record<string, number> = {};
  for (const w of handledBy.values()) perWorker[w] = (perWorker[w] ?? 0) + 1;
  const retried = [...attempts.values()].filter((a) => a > 1).length;
  log(`sent ${results.filter((r) => r.success).length}/30 tasks via ${results[0]?.protocol}`);
  log(
    `handled ${handledBy.size}/30, per worker ${JSON.stringify(perWorker)}, ${retried} retried after a failure`,
  );
  const totals = hub.metrics().totals;
  await hub.close();
  return { handled: handledBy.size, perWorker, retried, totals };
}

runIfMain(import.meta, () => main());
