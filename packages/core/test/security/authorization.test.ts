import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  attachIdentity,
  CompiledPolicy,
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

describe('S8 authorization by source: which identity or source may send and publish', () => {
  const BY_SOURCE = {
    rules: [
      { name: 'from-shop', sources: ['shop.*'], send: ['orders.create'], publish: ['orders.**'] },
      { name: 'crm-clients', identities: ['client.*'], sources: ['crm'], send: ['orders.note'] },
      { name: 'self', identities: ['orders-hub'], serve: ['orders.*'], subscribe: ['orders.**'] },
    ],
  };

  it('a rule by source allows any identity whose envelope carries a matching source; with identities too, both must match', () => {
    const policy = new CompiledPolicy(BY_SOURCE);
    expect(policy.allows('anyone', 'send', 'orders.create', 'shop.web')).toBe('from-shop');
    expect(policy.allows('anyone', 'publish', 'orders.eu.created', 'shop.app')).toBe('from-shop');
    expect(policy.allows('anyone', 'send', 'orders.create', 'crm')).toBeUndefined();
    expect(policy.allows('anyone', 'send', 'orders.create', 'shop')).toBeUndefined();
    // Without a source (subscribe and serve carry none) a rule by source never matches.
    expect(policy.allows('anyone', 'send', 'orders.create')).toBeUndefined();
    expect(policy.allows('client.bob', 'send', 'orders.note', 'crm')).toBe('crm-clients');
    expect(policy.allows('client.bob', 'send', 'orders.note', 'shop.web')).toBeUndefined();
    expect(policy.allows('partner', 'send', 'orders.note', 'crm')).toBeUndefined();
    expect(policy.allows('orders-hub', 'subscribe', 'orders.*')).toBe('self');
  });

  it('a rule without identities or sources, with an empty list, or with sources on subscribe or serve is refused naming the field', () => {
    const bad = (rule: Record<string, unknown>) => () =>
      new CompiledPolicy({ rules: [rule as never] });
    expect(bad({ send: ['x'] })).toThrow(/rules\[0\]\.identities or sources must be given/);
    expect(bad({ sources: [], send: ['x'] })).toThrow(/rules\[0\]\.sources must name at least one/);
    expect(bad({ sources: ['shop'], subscribe: ['x'] })).toThrow(
      /rules\[0\]\.sources applies to send and publish only/,
    );
    expect(bad({ sources: ['shop'], serve: ['x'] })).toThrow(/rules\[0\]\.sources applies/);
    expect(bad({ sources: [''], send: ['x'] })).toThrow(/rules\[0\]\.sources\[0\]/);
    expect(() =>
      createHub({ security: { policy: { rules: [{ sorces: ['shop'], send: ['x'] } as never] } } }),
    ).toThrow(/sorces/);
  });

  it('through a hub: a send or publish from a source no rule allows is refused with HUB_FORBIDDEN and audited with the source; one arriving is dead-lettered, not handled', async () => {
    const broker = memory();
    const audit: AuditEvent[] = [];
    await using hub = createHub({
      name: 'orders-hub',
      logger: silentLogger,
      adapters: [broker],
      security: { policy: BY_SOURCE, audit: (e) => audit.push(e) },
    });
    // Another hub of the fleet, without a policy of its own: the receiver decides on arrival.
    await using other = createHub({
      name: 'other-hub',
      logger: silentLogger,
      adapters: [broker],
      security: {},
    });
    const handled: string[] = [];
    const dead: string[] = [];
    hub.on('deadLetter', (env, reason) => dead.push(`${env.id} ${reason}`));
    await hub.onMessage('orders.create', (m) => {
      handled.push(m.source);
    });
    await hub.subscribe('orders.**', (e) => {
      handled.push(e.source);
    });
    await hub.start();
    await other.start();

    await hub.send(createMessage({ source: 'shop.web', destination: 'orders.create', payload: 1 }));
    await hub.publish(
      createEvent({ source: 'shop.app', topic: 'orders.eu', type: 'created', data: 1 }),
    );
    const crmSend = createMessage({ source: 'crm', destination: 'orders.create', payload: 2 });
    expect(await refusal(hub.send(crmSend))).toBe(ErrorCode.FORBIDDEN);
    const crmPublish = createEvent({ source: 'crm', topic: 'orders.eu', type: 'created', data: 2 });
    expect(await refusal(hub.publish(crmPublish))).toBe(ErrorCode.FORBIDDEN);

    const arrived = createMessage({ source: 'crm', destination: 'orders.create', payload: 3 });
    await other.send(arrived);
    await other.send(
      createMessage({ source: 'shop.pos', destination: 'orders.create', payload: 4 }),
    );
    await expect.poll(() => handled.length).toBe(3);
    await expect.poll(() => dead.length).toBe(1);
    expect(dead[0]).toContain(arrived.id);
    expect(dead[0]).toContain('other-hub may not send "orders.create"');
    expect(handled.sort()).toEqual(['shop.app', 'shop.pos', 'shop.web']);
    expect(
      audit
        .filter((e) => e.kind === 'refused')
        .map((e) => [e.identity, e.source, e.verb, e.address, e.messageId]),
    ).toEqual([
      ['orders-hub', 'crm', 'send', 'orders.create', crmSend.id],
      ['orders-hub', 'crm', 'publish', 'orders.eu', crmPublish.id],
      ['other-hub', 'crm', 'send', 'orders.create', arrived.id],
    ]);
  });
});
