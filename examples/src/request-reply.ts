/** Request/reply: the handler's return value is the reply; a request with no answer times out. */
import { createHub, memory } from '@hub/core';
import { createMessage, MessageType } from '@hub/protocol';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'rpc', adapters: [memory()] });
  await hub.start();
  await hub.onMessage<{ a: number; b: number }>('calculator', (msg) => ({
    sum: msg.payload.a + msg.payload.b,
  }));
  await hub.onMessage('black_hole', () => new Promise(() => {}));

  const reply = await hub.request<{ a: number; b: number }, { sum: number }>(
    createMessage({
      source: 'client',
      destination: 'calculator',
      messageType: MessageType.QUERY,
      payload: { a: 2, b: 40 },
    }),
    { timeoutMs: 5_000 },
  );
  log(`calculator replied ${JSON.stringify(reply.payload)} (correlationId ${reply.correlationId})`);

  let timeoutCode = '';
  try {
    await hub.request(createMessage({ source: 'client', destination: 'black_hole', payload: {} }), {
      timeoutMs: 100,
    });
  } catch (err) {
    timeoutCode = (err as { code?: string }).code ?? String(err);
    log(`black_hole: ${timeoutCode} — ${(err as Error).message}`);
  }
  await hub.close({ drainTimeoutMs: 0 });
  return { sum: reply.payload.sum, timeoutCode };
}

runIfMain(import.meta, () => main());
