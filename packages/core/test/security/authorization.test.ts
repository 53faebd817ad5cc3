import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  attachIdentity,
  createEvent,
  createHub,
  createMessage,
  ErrorCode,
  type Hub,
  memory,
  runAs,
  silentLogger,
} from '../../src/index.js';

const POLICY = {
  rules: [
    {
      name: 'hub-self',
      identities: ['orders-hub'],
      send: ['orders.*'],
      publish: ['orders.**'],
      serve: ['orders.*'],
      subscribe: ['orders.**'],
    },
    { name: 'gateway-client', identities: ['client.*'], send: ['orders.create'] },
  ],
};

function makeHub(audit: AuditEvent[]): Hub {
  return createHub({
    name: 'orders-hub',
    logger: silentLogger,
    adapters: [memory()],
    security: { policy: POLICY, audit: (e) => audit.push(e) },
  });
}

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: { code?: string }) => err.code,
  );

describe('S8 authorization in the core (memory transport)', () => {
  it('an unauthorised send, publish, subscribe and serve are each refused with HUB_FORBIDDEN, audited and counted', async () => {
    const audit: AuditEvent[] = [];
    await using hub = makeHub(audit);
    await hub.start();

    const send = createMessage({ source: 'x', destination: 'billing.charge', payload: 1 });
    expect(await refusal(hub.send(send))).toBe(ErrorCode.FORBIDDEN);
    const pub = createEvent({ source: 'x', topic: 'billing.paid', type: 'paid', data: 1 });
    expect(await refusal(hub.publish(pub))).toBe(ErrorCode.FORBIDDEN);
    expect(await refusal(hub.subscribe('billing.**', () => {}))).toBe(ErrorCode.FORBIDDEN);
    // A pattern wider than the allowed one is refused: orders.* does not cover orders.**.
    expect(await refusal(hub.onMessage('billing.charge', () => {}))).toBe(ErrorCode.FORBIDDEN);

    const refused = audit.filter((e) => e.kind === 'refused');
    expect(refused.map((e) => [e.verb, e.address, e.identity, e.rule])).toEqual([
      ['send', 'billing.charge', 'orders-hub', 'default-deny'],
      ['publish', 'billing.paid', 'orders-hub', 'default-deny'],
      ['subscribe', 'billing.**', 'orders-hub', 'default-deny'],
      ['serve', 'billing.charge', 'orders-hub', 'default-deny'],
    ]);
    expect(refused[0]!.messageId).toBe(send.id);
    expect(hub.metrics().components.security!.refused).toBe(4);
    expect(hub.prometheus()).toContain('hub_security_refused 4');
  });

  it('allowed calls go through, with the identity stamped in the envelope', async () => {
    const audit: AuditEvent[] = [];
    await using hub = makeHub(audit);
    const got: Array<Record<string, string>> = [];
    await hub.onMessage('orders.create', (m) => {
      got.push(m.headers);
    });
    await hub.start();
    await hub.send(createMessage({ source: 'x', destination: 'orders.create', payload: 1 }));
    // An entry point's identity, from an authenticated client.
    const fromClient = attachIdentity(
      createMessage({
        source: 'x',
        destination: 'orders.create',
        payload: 2,
        headers: { 'hub-identity': 'orders-hub' },
      }),
      'client.alice',
    );
    await hub.send(fromClient);
    await expect.poll(() => got.length).toBe(2);
    expect(got.map((h) => h['hub-identity'])).toEqual(['orders-hub', 'client.alice']);
    // The client may not send elsewhere: its identity decides, not the header it wrote.
    const other = attachIdentity(
      createMessage({ source: 'x', destination: 'orders.cancel', payload: 3 }),
      'client.alice',
    );
    expect(await refusal(hub.send(other))).toBe(ErrorCode.FORBIDDEN);
    expect(
      await refusal(runAs('client.alice', () => hub.onMessage('orders.cancel', () => {}))),
    ).toBe(ErrorCode.FORBIDDEN);
    expect(audit.filter((e) => e.kind === 'refused').map((e) => e.identity)).toEqual([
      'client.alice',
      'client.alice',
    ]);
  });

  it('request/reply keeps working under a policy (inboxes are the hub’s own)', async () => {
    await using hub = makeHub([]);
    await hub.onMessage('orders.price', (m) => (m.payload as number) * 2);
    await hub.start();
    const reply = await hub.request(
      createMessage({ source: 'x', destination: 'orders.price', payload: 21 }),
      {
        timeoutMs: 5_000,
      },
    );
    expect(reply.payload).toBe(42);
  });

  it('a request keeps the identity an entry point attached to it', async () => {
    await using hub = makeHub([]);
    await hub.onMessage('orders.create', (m) => m.headers['hub-identity']);
    await hub.start();
    const request = attachIdentity(
      createMessage({ source: 'x', destination: 'orders.create', payload: 1 }),
      'client.alice',
    );
    expect((await hub.request(request, { timeoutMs: 5_000 })).payload).toBe('client.alice');
  });

  it('inbound traffic from an identity the policy does not allow is dead-lettered, not handled', async () => {
    const broker = memory();
    const audit: AuditEvent[] = [];
    // The sending hub has no policy; the receiving hub allows only itself.
    await using sender = createHub({
      name: 'rogue',
      logger: silentLogger,
      adapters: [broker],
      security: {},
    });
    await using receiver = createHub({
      name: 'orders-hub',
      logger: silentLogger,
      adapters: [broker],
      security: { policy: POLICY, audit: (e) => audit.push(e) },
    });
    const handled: string[] = [];
    const dead: string[] = [];
    receiver.on('deadLetter', (env, reason) => dead.push(`${env.id} ${reason}`));
    await receiver.onMessage('orders.create', (m) => {
      handled.push(m.id);
    });
    await receiver.start();
    await sender.start();
    const msg = createMessage({ source: 'x', destination: 'orders.create', payload: 1 });
    await sender.send(msg);
    await expect.poll(() => dead.length).toBe(1);
    expect(dead[0]).toContain(msg.id);
    expect(dead[0]).toContain('rogue may not send');
    expect(handled).toEqual([]);
    expect(
      audit.some((e) => e.kind === 'refused' && e.identity === 'rogue' && e.messageId === msg.id),
    ).toBe(true);
  });

  it('a rule set reloaded at run time takes effect at once; an invalid one is refused and the old stays', async () => {
    const audit: AuditEvent[] = [];
    await using hub = makeHub(audit);
    await hub.start();
    const msg = () => createMessage({ source: 'x', destination: 'billing.charge', payload: 1 });
    expect(await refusal(hub.send(msg()))).toBe(ErrorCode.FORBIDDEN);
    expect(() => hub.security!.reload({ rules: [{ identities: [], send: ['**'] }] })).toThrow(
      /rules\[0\]\.identities/,
    );
    expect(await refusal(hub.send(msg()))).toBe(ErrorCode.FORBIDDEN);
    hub.security!.reload({ rules: [{ identities: ['**'], send: ['**'], serve: ['**'] }] });
    await hub.onMessage('billing.charge', () => {});
    expect(await refusal(hub.send(msg()))).toBeUndefined();
    expect(audit.filter((e) => e.kind === 'reload')).toHaveLength(1);
    expect(hub.metrics().components.security!.reloads).toBe(1);
  });

  it('a misspelt security option or rule field is refused naming it', () => {
    expect(() => createHub({ security: { polcy: POLICY } as never })).toThrow(/polcy/);
    expect(() =>
      createHub({ security: { policy: { rules: [{ identities: ['a'], sned: ['x'] } as never] } } }),
    ).toThrow(/sned/);
  });
});
