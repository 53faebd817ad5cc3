import {
  type AdapterCapabilities,
  createEvent,
  createHub,
  DeliveryGuarantee,
  ErrorCode,
  memory,
  silentLogger,
  type UnifiedEvent,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { startClient, startServer, trackHub } from './helpers.js';

const kept = (data: unknown) =>
  createEvent({
    source: 'client',
    topic: 'kept.orders',
    data,
    deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
  });

describe('events asking for more than best-effort, published through a ws client', () => {
  it('go through when the server hub has durable topics (the server decides, in its welcome)', async () => {
    const { hub, gateway } = await startServer();
    const got: UnifiedEvent[] = [];
    await hub.subscribe('kept.*', (e) => {
      got.push(e);
    });
    const client = await startClient(gateway.url);
    await client.publish(kept(1));
    await expect.poll(() => got.map((e) => e.data)).toEqual([1]);
    expect(got[0]!.deliveryGuarantee).toBe(DeliveryGuarantee.AT_LEAST_ONCE);
  });

  it('are refused with HUB_GUARANTEE_UNSUPPORTED when the server hub has none', async () => {
    // a transport that only fans events out (like Pub/Sub): no durable topics
    const fanOutOnly = memory();
    (fanOutOnly as { capabilities: AdapterCapabilities }).capabilities = {
      ...fanOutOnly.capabilities,
      durableTopics: false,
    };
    const server = trackHub(
      createHub({ name: 'server', logger: silentLogger, adapters: [fanOutOnly] }),
    );
    const { gateway } = await startServer({}, server);
    const client = await startClient(gateway.url);
    await expect(client.publish(kept(2))).rejects.toMatchObject({
      code: ErrorCode.GUARANTEE_UNSUPPORTED,
    });
    // best-effort events still go
    await client.publish(createEvent({ source: 'client', topic: 'kept.orders', data: 3 }));
  });
});
