import {
  type AuditEvent,
  createEvent,
  createHub,
  createMessage,
  type Logger,
  silentLogger,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { WsErrorCode, type WsServerOptions } from '../src/index.js';
import { startClient, startServer, trackHub } from './helpers.js';

/** One identity, `agent-7`, allowed a little of everything. */
const limited: Partial<WsServerOptions> = {
  authenticate: () => ({
    id: 'agent-7',
    allow: { send: ['public.*'], serve: ['agent7.*'], subscribe: ['news.**'] },
  }),
};

/** Try one refused send, publish, subscribe and serve; each must be refused with HUB_WS_FORBIDDEN. */
async function tryForbidden(url: string): Promise<void> {
  const client = await startClient(url);
  const refusal = { code: WsErrorCode.FORBIDDEN };
  await expect(
    client.send(createMessage({ source: 'a', destination: 'private', payload: 1 })),
  ).rejects.toMatchObject(refusal);
  await expect(
    client.publish(createEvent({ source: 'a', topic: 'secret.news', data: 1 })),
  ).rejects.toMatchObject(refusal);
  await expect(client.subscribe('secrets.*', () => {})).rejects.toMatchObject(refusal);
  await expect(client.onMessage('someone_else', () => {})).rejects.toMatchObject(refusal);
}

const expected = [
  ['agent-7', 'send', 'private'],
  ['agent-7', 'publish', 'secret.news'],
  ['agent-7', 'subscribe', 'secrets.*'],
  ['agent-7', 'serve', 'someone_else'],
];

describe('refusals by identity limits are audited, logged and counted', () => {
  it('in the hub audit sink, with identity, verb and address, when the hub has security', async () => {
    const audit: AuditEvent[] = [];
    const hub = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        security: { audit: (e) => audit.push(e) },
      }),
    );
    const { gateway } = await startServer(limited, hub);
    await tryForbidden(gateway.url);
    const refused = audit.filter((e) => e.kind === 'refused');
    expect(refused.map((e) => [e.identity, e.verb, e.address])).toEqual(expected);
    expect(refused.every((e) => e.code === WsErrorCode.FORBIDDEN)).toBe(true);
    expect(gateway.metrics().forbidden).toBe(4);
    expect(hub.metrics().components.ws!.forbidden).toBe(4);
  });

  it("in the hub's log when it has no security", async () => {
    const warnings: Array<{ message: string; meta: Record<string, unknown> | undefined }> = [];
    const logger: Logger = {
      ...silentLogger,
      warn: (message: string, meta?: Record<string, unknown>) => {
        warnings.push({ message, meta });
      },
    };
    const hub = trackHub(createHub({ name: 'server', logger }));
    const { gateway } = await startServer(limited, hub);
    await tryForbidden(gateway.url);
    const refused = warnings.filter((w) => w.message.startsWith('[hub:ws] refused'));
    expect(refused.map((w) => [w.meta?.identity, w.meta?.verb, w.meta?.address])).toEqual(expected);
    expect(gateway.metrics().forbidden).toBe(4);
  });
});
