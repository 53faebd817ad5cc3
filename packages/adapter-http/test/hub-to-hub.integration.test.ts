/**
 * Two hubs over HTTP: the outbound adapter of one calling the endpoint of the
 * other, with the credentials and signatures of both sides agreeing.
 */
import { createMessage, ErrorCode, type UnifiedMessage } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpServer } from '../src/index.js';
import { cleanup, fastRetry, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const SECRET = `whsec_${Buffer.from('hub-to-hub-signing-key-32-bytes!').toString('base64')}`;
const TRACE = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

async function receiver() {
  const hub = jobs.add(await startedHub({ name: 'receiver' }));
  const got: UnifiedMessage[] = [];
  await hub.onMessage('orders', (m) => {
    got.push(m);
  });
  await hub.onMessage('pricing', (m: UnifiedMessage<{ qty: number }>) => ({
    price: m.payload.qty * 3,
  }));
  const endpoint = jobs.add(
    await httpServer({ hub, bearerTokens: ['tok'], webhookSecrets: [SECRET], maxBodyBytes: 4_096 }),
  );
  return { got, url: endpoint.url };
}

async function sender(url: string, extra: { bearerToken?: string; signingSecret?: string } = {}) {
  return jobs.add(
    await startedHub({
      name: 'sender',
      sendRetry: fastRetry,
      adapters: [
        http({
          allowPrivateNetwork: true,
          routes: [
            { match: 'orders', url: `${url}/messages` },
            { match: 'pricing', url: `${url}/request` },
          ],
          ...extra,
        }),
      ],
    }),
  );
}

describe('hub → HTTP → hub', () => {
  it('a signed, authorised send arrives with its id and trace; request/reply crosses in one call', async () => {
    const { got, url } = await receiver();
    const hub = await sender(url, { bearerToken: 'tok', signingSecret: SECRET });
    const m = createMessage({
      source: 'shop',
      destination: 'orders',
      payload: { sku: 'x' },
      traceparent: TRACE,
    });
    await hub.send(m);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]).toMatchObject({
      id: m.id,
      payload: { sku: 'x' },
      traceparent: TRACE,
      source: 'shop',
    });
    const reply = await hub.request(
      createMessage({ source: 'shop', destination: 'pricing', payload: { qty: 4 } }),
      {
        timeoutMs: 5_000,
      },
    );
    expect(reply.payload).toEqual({ price: 12 });
  });

  it('a wrong signing secret or token is final (401, HUB_AUTH_FAILED), not retried; an oversized body is final (413)', async () => {
    const { got, url } = await receiver();
    const wrongKey = await sender(url, {
      bearerToken: 'tok',
      signingSecret: `whsec_${Buffer.from('another-signing-key-of-32-bytes!').toString('base64')}`,
    });
    await expect(
      wrongKey.send(createMessage({ source: 's', destination: 'orders', payload: 1 })),
    ).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
      status: 401,
      retryable: false,
    });
    expect(wrongKey.metrics().totals.sendFailed).toBe(1);
    const noToken = await sender(url, { signingSecret: SECRET });
    await expect(
      noToken.send(createMessage({ source: 's', destination: 'orders', payload: 1 })),
    ).rejects.toMatchObject({
      status: 401,
    });
    const big = await sender(url, { bearerToken: 'tok', signingSecret: SECRET });
    await expect(
      big.send(createMessage({ source: 's', destination: 'orders', payload: 'x'.repeat(10_000) })),
    ).rejects.toMatchObject({ status: 413, retryable: false });
    expect(got).toHaveLength(0);
  });
});
