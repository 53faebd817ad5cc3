/**
 * WebSocket: a gateway attached to a hub, and two remote hubs that reach it over
 * `wsClient`. One serves an endpoint from afar, the other calls it and listens
 * to the server hub's events: all of it as if they were on the server hub.
 */
import { wsClient, wsServer } from '@hub/adapter-ws';
import { createHub, silentLogger } from '@hub/core';
import { createEvent, createMessage } from '@hub/protocol';
import { runIfMain } from './run-main.js';

export async function main(log: (line: string) => void = console.log) {
  const server = createHub({ name: 'server', logger: silentLogger });
  await server.start();
  const gateway = await wsServer({ hub: server, port: 0, tokens: ['demo-token'] });
  log(`gateway listening on ${gateway.url}`);

  const remote = (name: string) =>
    createHub({
      name,
      logger: silentLogger,
      adapters: [wsClient({ url: gateway.url, token: 'demo-token' })],
    });
  const agent = remote('agent');
  const caller = remote('caller');
  await Promise.all([agent.start(), caller.start()]);

  // served over the socket: the server hub routes `translator` messages to it
  await agent.onMessage<string>('translator', (m) => m.payload.toUpperCase());

  const seen: string[] = [];
  await caller.subscribe('news.*', (e) => {
    seen.push(`${e.topic}: ${String(e.data)}`);
  });
  const reply = await caller.request<string, string>(
    createMessage({ source: 'caller', destination: 'translator', payload: 'hello' }),
    { timeoutMs: 5_000 },
  );
  log(`translator (a remote agent) replied ${JSON.stringify(reply.payload)}`);

  await server.publish(createEvent({ source: 'server', topic: 'news.local', data: 'gateway up' }));
  for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
  log(`caller saw ${JSON.stringify(seen)}`);
  const connections = gateway.metrics().connections;
  log(`gateway connections: ${connections}`);

  await Promise.all([agent.close(), caller.close()]);
  await gateway.close();
  await server.close();
  return { reply: reply.payload, seen, connections };
}

runIfMain(import.meta, () => main());
