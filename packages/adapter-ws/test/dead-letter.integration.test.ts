import { waitFor } from '@hub/adapter-test-suite';
import { createHub, silentLogger } from '@hub/core';
import { createMessage, DeliveryGuarantee } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { startClient, startServer, trackHub } from './helpers.js';

describe('dead letters of a client-served endpoint', () => {
  it('a message whose client handler always fails is dead-lettered on the server hub with the reason, once the client hub gives up (a final nack: no server retries)', async () => {
    const { hub, gateway } = await startServer(
      {},
      trackHub(createHub({ name: 'server', logger: silentLogger, maxDeliveries: 3 })),
    );
    const client = await startClient(gateway.url);
    let calls = 0;
    await client.onMessage(
      'poison',
      () => {
        calls++;
        throw new Error('cannot handle this');
      },
      { maxDeliveries: 1 },
    );
    const m = createMessage({
      source: 's',
      destination: 'poison',
      payload: 1,
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
    });
    await hub.send(m);
    const dead = await waitFor(async () => {
      const entries = await hub.readDeadLetters('poison');
      return entries.length > 0 ? entries : undefined;
    });
    expect(dead[0]?.envelope.id).toBe(m.id);
    expect(dead[0]?.reason).toContain('cannot handle this');
    // The client hub dead-letters after its own maxDeliveries (1) and says so with a final
    // nack: the server dead-letters at once rather than retrying up to its maxDeliveries (3).
    expect(dead).toHaveLength(1);
    expect(dead[0]?.attempts).toBe(1);
    expect(calls).toBe(1);
  });
});
