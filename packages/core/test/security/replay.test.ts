import { randomBytes } from 'node:crypto';
import { envelopeProtection } from '@hub/core/security';
import { describe, expect, it } from 'vitest';
import {
  type AuditEvent,
  createEvent,
  createHub,
  createMessage,
  ErrorCode,
  type Hub,
  type HubError,
  memory,
  ReplayGuard,
  silentLogger,
} from '../../src/index.js';

const keys: Record<string, Buffer> = { s1: randomBytes(32) };
const signing = () => envelopeProtection({ signing: { keyId: 's1', keys: (id) => keys[id] } });
const msg = (over: { timestamp?: number; id?: string } = {}) =>
  createMessage({ source: 'shop', destination: 'orders', payload: { n: 1 }, ...over });

const codeOf = (fn: () => void): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as HubError).code;
  }
};

describe('ReplayGuard: seen ids per consumer, a timestamp window, bounded memory', () => {
  const first = { attempt: 1, consumer: 'endpoint:orders' };

  it('refuses a second first-delivery of one id at one consumer; lets redeliveries and other consumers through', () => {
    const guard = new ReplayGuard({ windowMs: 60_000 });
    const m = msg();
    guard.check(m, first);
    expect(codeOf(() => guard.check(m, first))).toBe(ErrorCode.REPLAYED);
    // The transport's own redelivery (a nack, a crashed consumer) is not a replay.
    expect(codeOf(() => guard.check(m, { ...first, attempt: 2 }))).toBeUndefined();
    // Each subscription receives its own copy of an event.
    expect(codeOf(() => guard.check(m, { ...first, consumer: 'topic#2:orders' }))).toBeUndefined();
  });

  it('refuses an envelope signed outside the window, in the past or the future', () => {
    const guard = new ReplayGuard({ windowMs: 60_000 });
    const now = Date.now();
    expect(codeOf(() => guard.check(msg({ timestamp: now - 61_000 }), first, now))).toBe(
      ErrorCode.REPLAYED,
    );
    expect(codeOf(() => guard.check(msg({ timestamp: now + 61_000 }), first, now))).toBe(
      ErrorCode.REPLAYED,
    );
    expect(codeOf(() => guard.check(msg({ timestamp: now - 59_000 }), first, now))).toBeUndefined();
  });

  it('forgets ids once their window has passed, and never holds more than maxIds', () => {
    const guard = new ReplayGuard({ windowMs: 1_000, maxIds: 100 });
    const t0 = Date.now();
    for (let i = 0; i < 50; i++) guard.check(msg({ timestamp: t0 }), first, t0);
    expect(guard.size).toBe(50);
    // 2 s later all 50 are stale (refused by timestamp), so they are dropped.
    guard.check(msg({ timestamp: t0 + 2_000 }), first, t0 + 2_000);
    expect(guard.size).toBe(1);
    for (let i = 0; i < 1_000; i++)
      guard.check(msg({ timestamp: t0 + 2_000 + i }), first, t0 + 2_500);
    expect(guard.size).toBe(100);
    expect(guard.evicted).toBe(901);
  });

  it('when a fresh id had to make room, envelopes as old as it are refused rather than risk a forgotten replay', () => {
    const guard = new ReplayGuard({ windowMs: 60_000, maxIds: 2 });
    const now = Date.now();
    const old = msg({ timestamp: now - 10 });
    guard.check(old, first, now);
    guard.check(msg({ timestamp: now - 5 }), first, now);
    guard.check(msg({ timestamp: now }), first, now); // `old` is forgotten
    expect(guard.size).toBe(2);
    // Its replay is still refused, by the horizon.
    expect(codeOf(() => guard.check(old, first, now))).toBe(ErrorCode.REPLAYED);
    expect(codeOf(() => guard.check(msg({ timestamp: now + 1 }), first, now))).toBeUndefined();
  });

  it('bad options are refused naming the field', () => {
    expect(() => new ReplayGuard({ windowMs: 0 })).toThrow(/security\.replay\.windowMs/);
    expect(() => new ReplayGuard({ maxIds: 1.5 })).toThrow(/security\.replay\.maxIds/);
    expect(() => new ReplayGuard({ windowMS: 5 } as never)).toThrow(/windowMS/);
  });
});

describe('replay protection through a hub (memory transport)', () => {
  async function pair(audit: AuditEvent[]): Promise<{ receiver: Hub; sender: Hub }> {
    const broker = memory();
    const receiver = createHub({
      name: 'receiver',
      logger: silentLogger,
      adapters: [broker],
      security: {
        protection: signing(),
        replay: { windowMs: 60_000 },
        audit: (e) => audit.push(e),
      },
    });
    const sender = createHub({
      name: 'sender',
      logger: silentLogger,
      adapters: [broker],
      security: { protection: signing() },
    });
    return { receiver, sender };
  }

  it('a signed message sent again with its id (a valid signature) is refused with HUB_REPLAYED, audited, dead-lettered, not handled; a stale one too', async () => {
    const audit: AuditEvent[] = [];
    const { receiver, sender } = await pair(audit);
    await using _r = receiver;
    await using _s = sender;
    const handled: string[] = [];
    const dead: string[] = [];
    receiver.on('deadLetter', (env, reason) => dead.push(`${env.id} ${reason}`));
    await receiver.onMessage('orders', (m) => {
      handled.push(m.id);
    });
    await receiver.start();
    await sender.start();
    const m = msg();
    await sender.send(m);
    await expect.poll(() => handled.length).toBe(1);
    // The same envelope again: the sender signs the same id and timestamp, so the signature is valid.
    await sender.send(m);
    const stale = msg({ timestamp: Date.now() - 120_000 });
    await sender.send(stale);
    await expect.poll(() => dead.length).toBe(2);
    expect(handled).toEqual([m.id]);
    expect(dead.join('\n')).toContain(
      `${m.id} inbound middleware: [hub:security] ${m.id} was already received`,
    );
    expect(dead.join('\n')).toContain(
      `${stale.id} inbound middleware: [hub:security] ${stale.id} was signed at`,
    );
    expect(audit.map((e) => [e.kind, e.code, e.messageId, e.identity, e.rule])).toEqual([
      ['replay', ErrorCode.REPLAYED, m.id, 'sender', 'replay-window'],
      ['replay', ErrorCode.REPLAYED, stale.id, 'sender', 'replay-window'],
    ]);
    expect(receiver.metrics().components.security!.replayed).toBe(2);
  });

  it('two subscriptions of one hub each receive an event once; a retried handler is not refused', async () => {
    const audit: AuditEvent[] = [];
    const { receiver, sender } = await pair(audit);
    await using _r = receiver;
    await using _s = sender;
    const got: string[] = [];
    await receiver.subscribe('orders.*', (e) => {
      got.push(`a ${e.id}`);
    });
    await receiver.subscribe('orders.*', (e) => {
      got.push(`b ${e.id}`);
    });
    let failures = 0;
    await receiver.onMessage('orders', () => {
      if (failures++ === 0) throw new Error('first attempt fails');
      got.push('handled');
    });
    await receiver.start();
    await sender.start();
    const e = createEvent({ source: 'shop', topic: 'orders.eu', type: 'created', data: 1 });
    await sender.publish(e);
    await sender.send(msg());
    await expect.poll(() => got.length).toBe(3);
    expect(got.sort()).toEqual([`a ${e.id}`, `b ${e.id}`, 'handled']);
    expect(audit).toEqual([]);
  });

  it('replay protection without signing is warned about at start-up', () => {
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => warnings.push(m) };
    createHub({ logger, security: { replay: {} } });
    createHub({ logger, security: { replay: {}, protection: signing() } });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/refuses replays but does not verify signatures/);
  });
});

describe('security with nothing to check on arrival', () => {
  it('stays out of the receive path until a policy is loaded, then checks every arrival', async () => {
    const broker = memory();
    const audit: AuditEvent[] = [];
    await using receiver = createHub({
      name: 'receiver',
      logger: silentLogger,
      adapters: [broker],
      security: { audit: (e) => audit.push(e) },
    });
    await using sender = createHub({ name: 'sender', logger: silentLogger, adapters: [broker] });
    const handled: string[] = [];
    const dead: string[] = [];
    receiver.on('deadLetter', (env) => dead.push(env.id));
    await receiver.onMessage('orders', (m) => {
      handled.push(m.id);
    });
    await receiver.start();
    await sender.start();
    expect(receiver.security!.checksArrivals).toBe(false);
    const first = msg();
    await sender.send(first);
    await expect.poll(() => handled).toEqual([first.id]);
    receiver.security!.reload({ rules: [{ identities: ['receiver'], serve: ['orders'] }] });
    expect(receiver.security!.checksArrivals).toBe(true);
    const second = msg();
    await sender.send(second);
    await expect.poll(() => dead).toEqual([second.id]);
    expect(handled).toEqual([first.id]);
    expect(audit.map((e) => e.kind)).toEqual(['reload', 'refused']);
  });
});
