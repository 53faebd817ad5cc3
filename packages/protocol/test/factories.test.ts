import { describe, expect, it } from 'vitest';
import {
  createEvent,
  createMessage,
  createReply,
  DeliveryGuarantee,
  ENVELOPE_VERSION,
  isEvent,
  isMessage,
  MessageType,
  Priority,
  parseEvent,
  parseMessage,
} from '../src/index.js';
import { TRACEPARENT } from './fixtures.js';

describe('createMessage', () => {
  it('fills the documented defaults and produces a valid message', () => {
    const before = Date.now();
    const msg = createMessage({ source: 'a', destination: 'b', payload: { x: 1 } });
    expect(msg).toEqual({
      kind: 'message',
      version: ENVELOPE_VERSION,
      id: expect.stringMatching(/^[A-Za-z0-9_-]{21}$/),
      timestamp: expect.any(Number),
      source: 'a',
      destination: 'b',
      type: MessageType.REQUEST,
      priority: Priority.NORMAL,
      deliveryGuarantee: DeliveryGuarantee.AT_LEAST_ONCE,
      headers: {},
      payload: { x: 1 },
      attempt: 1,
    });
    expect(msg.timestamp).toBeGreaterThanOrEqual(before);
    expect(parseMessage(msg)).toBe(msg);
    expect(isMessage(msg)).toBe(true);
    expect(isEvent(msg)).toBe(false);
  });

  it('gives every message a new id, unless one is given (uncertain-send retries)', () => {
    const ids = new Set(
      Array.from(
        { length: 1000 },
        () => createMessage({ source: 'a', destination: 'b', payload: 0 }).id,
      ),
    );
    expect(ids.size).toBe(1000);
    expect(createMessage({ source: 'a', destination: 'b', payload: 0, id: 'fixed-1' }).id).toBe(
      'fixed-1',
    );
  });

  it('makes ids of 21 URL-safe symbols, all 64 symbols used, none repeated over pool refills', () => {
    const ids = Array.from(
      { length: 20_000 },
      () => createMessage({ source: 'a', destination: 'b', payload: 0 }).id,
    );
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{21}$/);
    const counts = new Map<string, number>();
    for (const id of ids) for (const ch of id) counts.set(ch, (counts.get(ch) ?? 0) + 1);
    expect(counts.size).toBe(64);
    // 420,000 symbols: each of the 64 expected ~6,560 times; a skew would show far outside ±10 %.
    for (const n of counts.values())
      expect(Math.abs(n / ((ids.length * 21) / 64) - 1)).toBeLessThan(0.1);
  });

  it('derives expiresAt from ttlMs; an explicit expiresAt wins', () => {
    const msg = createMessage({
      source: 'a',
      destination: 'b',
      payload: 0,
      timestamp: 1_700_000_000_000,
      ttlMs: 500,
    });
    expect(msg).toMatchObject({ ttlMs: 500, expiresAt: 1_700_000_000_500 });
    const explicit = createMessage({
      source: 'a',
      destination: 'b',
      payload: 0,
      ttlMs: 500,
      expiresAt: 1_800_000_000_000,
    });
    expect(explicit.expiresAt).toBe(1_800_000_000_000);
  });

  it('accepts `type` as an alias of `messageType`, and application types', () => {
    expect(
      createMessage({ source: 'a', destination: 'b', payload: 0, type: 'my_app.thing' }).type,
    ).toBe('my_app.thing');
    expect(
      createMessage({
        source: 'a',
        destination: 'b',
        payload: 0,
        messageType: MessageType.COMMAND,
        type: 'x',
      }).type,
    ).toBe('command');
  });

  it('offers at least 25 standard message types, all valid on the wire', () => {
    const types = Object.values(MessageType);
    expect(types.length).toBeGreaterThanOrEqual(25);
    for (const type of types)
      expect(() =>
        parseMessage(createMessage({ source: 'a', destination: 'b', payload: 0, type })),
      ).not.toThrow();
  });
});

describe('createEvent', () => {
  it('fills defaults (type defaults to the topic) and produces a valid event', () => {
    const ev = createEvent({ source: 'orders', topic: 'orders.eu.created', data: [1] });
    expect(ev).toEqual({
      kind: 'event',
      version: ENVELOPE_VERSION,
      id: expect.any(String),
      timestamp: expect.any(Number),
      source: 'orders',
      type: 'orders.eu.created',
      topic: 'orders.eu.created',
      data: [1],
      headers: {},
    });
    expect(parseEvent(ev)).toBe(ev);
    expect(isEvent(ev)).toBe(true);
  });
});

describe('createReply', () => {
  it('answers to replyTo, correlates by the request id, keeps priority, guarantee and trace', () => {
    const req = createMessage({
      source: 'client',
      destination: 'server',
      payload: 'q',
      replyTo: 'client.inbox',
      priority: Priority.HIGH,
      deliveryGuarantee: DeliveryGuarantee.EXACTLY_ONCE,
      traceparent: TRACEPARENT,
    });
    const reply = createReply(req, { payload: 'a' });
    expect(reply).toMatchObject({
      source: 'server',
      destination: 'client.inbox',
      type: MessageType.RESPONSE,
      correlationId: req.id,
      priority: Priority.HIGH,
      deliveryGuarantee: DeliveryGuarantee.EXACTLY_ONCE,
      traceparent: TRACEPARENT,
      payload: 'a',
    });
    expect(reply.id).not.toBe(req.id);
    expect(parseMessage(reply)).toBe(reply);
  });

  it('falls back to the request source, and keeps an existing correlation id', () => {
    const req = createMessage({
      source: 'client',
      destination: 'server',
      payload: 0,
      correlationId: 'conv-9',
    });
    expect(createReply(req, { payload: 1 })).toMatchObject({
      destination: 'client',
      correlationId: 'conv-9',
    });
  });
});
