import {
  type AuditEvent,
  createHub,
  createMessage,
  ErrorCode,
  type HubError,
  silentLogger,
  type UnifiedMessage,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { startClient, startServer, trackHub } from './helpers.js';
import { upgrade } from './raw.js';

/** The gateway authenticates by token; the hub's own policy decides what each identity may do. */
describe('S8 over WebSocket: the core policy applies to gateway clients, with their identity', () => {
  it('a client identity is attached to what it sends; what the policy does not allow is refused with HUB_FORBIDDEN and audited', async () => {
    const audit: AuditEvent[] = [];
    const hub = trackHub(
      createHub({
        name: 'server',
        logger: silentLogger,
        security: {
          audit: (e) => audit.push(e),
          policy: {
            rules: [
              { name: 'server', identities: ['server'], serve: ['orders.*'] },
              {
                name: 'clients',
                identities: ['client.*'],
                send: ['orders.create'],
                subscribe: ['news.*'],
              },
              { name: 'workers', identities: ['worker.*'], serve: ['jobs.*'] },
            ],
          },
        },
      }),
    );
    const { gateway } = await startServer(
      {
        authenticate: (req) => {
          const token = new URL(req.url ?? '/', 'http://x').searchParams.get('access_token');
          return token === 'alice'
            ? { id: 'client.alice' }
            : token === 'w1'
              ? { id: 'worker.w1' }
              : null;
        },
      },
      hub,
    );
    const got: UnifiedMessage[] = [];
    await hub.onMessage('orders.create', (m) => {
      got.push(m);
    });
    const alice = await startClient(gateway.url, { token: 'alice' }, 'alice');
    // A header claiming another identity is dropped: the authenticated one is stamped.
    await alice.send(
      createMessage({
        source: 'a',
        destination: 'orders.create',
        payload: 1,
        headers: { 'hub-identity': 'server' },
      }),
    );
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('client.alice');

    const refused = await alice
      .send(createMessage({ source: 'a', destination: 'orders.cancel', payload: 1 }))
      .then(
        () => undefined,
        (e: HubError) => e.code,
      );
    expect(refused).toBe(ErrorCode.FORBIDDEN);
    await expect(alice.subscribe('admin.**', () => {})).rejects.toMatchObject({
      code: ErrorCode.FORBIDDEN,
    });
    await expect(alice.onMessage('jobs.build', () => {})).rejects.toMatchObject({
      code: ErrorCode.FORBIDDEN,
    });
    await alice.subscribe('news.*', () => {});

    const worker = await startClient(gateway.url, { token: 'w1' }, 'worker');
    await worker.onMessage('jobs.build', () => {});

    // A refused upgrade is audited and counted too.
    expect((await upgrade(`${gateway.url}?access_token=stolen`)).status).toBe(401);
    const auth = audit.filter((e) => e.kind === 'auth');
    expect(auth).toHaveLength(1);
    expect(auth[0]!.reason).toMatch(/authenticate hook/);
    expect(JSON.stringify(auth)).not.toContain('stolen');
    expect(hub.metrics().components.security!.authFailed).toBe(1);
    expect(
      audit.filter((e) => e.kind === 'refused').map((e) => [e.identity, e.verb, e.address]),
    ).toEqual([
      ['client.alice', 'send', 'orders.cancel'],
      ['client.alice', 'subscribe', 'admin.**'],
      ['client.alice', 'serve', 'jobs.build'],
    ]);
  });
});
