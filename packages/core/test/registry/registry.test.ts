import {
  AdapterRegistry,
  createHub,
  ErrorCode,
  HubError,
  isAdapterFactory,
  memory,
  type ProtocolAdapter,
  ProtocolType,
  silentLogger,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { TestAdapter } from '../hub/helpers.js';

describe('AdapterRegistry', () => {
  it('registers, looks up, lists and removes adapters', async () => {
    const reg = new AdapterRegistry();
    const added: string[] = [];
    const removed: string[] = [];
    reg.on('added', (name) => added.push(name));
    reg.on('removed', (name) => removed.push(name));
    const a = memory({ name: 'a' });
    const b = new TestAdapter({ name: 'b' });
    reg.register(a).registerAdapter('b-alias', b);
    expect(reg.size).toBe(2);
    expect(reg.names()).toEqual(['a', 'b-alias']);
    expect(reg.get('a')).toBe(a);
    expect(reg.get('b-alias')).toBe(b);
    expect(reg.has('b')).toBe(false);
    expect(reg.list()).toEqual([
      { name: 'a', adapter: a },
      { name: 'b-alias', adapter: b },
    ]);
    expect(added).toEqual(['a', 'b-alias']);
    expect(await reg.remove('a')).toBe(true);
    expect(await reg.remove('a')).toBe(false);
    expect(removed).toEqual(['a']);
    expect(a.state).toBe('closed');
    expect(reg.names()).toEqual(['b-alias']);
  });

  it('refuses a taken name and objects that are not adapters, naming the problem', () => {
    const reg = new AdapterRegistry();
    reg.register(memory());
    expect(() => reg.register(memory())).toThrow(/already registered/);
    const bad: Array<[unknown, RegExp]> = [
      [null, /not an object/],
      [{ name: 'x' }, /lacks connect/],
      [
        { name: 'x', send() {}, subscribe() {}, connect() {}, close() {}, health() {} },
        /capabilities/,
      ],
    ];
    for (const [adapter, why] of bad) {
      const err = (() => {
        try {
          reg.register(adapter as ProtocolAdapter, 'x');
        } catch (e) {
          return e as HubError;
        }
        throw new Error('accepted');
      })();
      expect(err).toBeInstanceOf(HubError);
      expect(err.code).toBe(ErrorCode.INVALID_CONFIG);
      expect(err.message).toMatch(why);
    }
  });

  it('resolves protocol aliases to the registered adapter', async () => {
    const reg = new AdapterRegistry();
    const redisLike = new TestAdapter({ name: 'redis' });
    reg.register(redisLike);
    expect(reg.get('redis-streams')).toBe(redisLike);
    expect(reg.get('redis-pubsub')).toBe(redisLike);
    expect(reg.resolveName('redis-streams')).toBe('redis');
    expect(await reg.remove('redis-pubsub')).toBe(true);
    expect(reg.size).toBe(0);
  });

  it('creates adapters from registered factories, with their aliases', () => {
    const reg = new AdapterRegistry();
    const factory = {
      name: 'custom',
      aliases: ['custom-v2'],
      create: (cfg: unknown) => new TestAdapter({ name: String((cfg as { n: string }).n) }),
    };
    expect(isAdapterFactory(factory)).toBe(true);
    expect(isAdapterFactory(memory())).toBe(false);
    reg.registerFactory(factory);
    expect(reg.create('custom', { n: 'one' }).name).toBe('one');
    expect(reg.create('custom-v2', { n: 'two' }).name).toBe('two');
    expect(() => reg.create('nope')).toThrow(/no adapter factory named "nope" \(known: custom\)/);
  });

  it('registerAdapter(ProtocolType.CUSTOM, …) registers each adapter under its own name', async () => {
    const hub = createHub({ logger: silentLogger, adapters: [] });
    const a = new TestAdapter({ name: 'nats' });
    const b = new TestAdapter({ name: 'kafka' });
    hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, a);
    hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, b);
    expect(hub.adapters.names()).toEqual(['nats', 'kafka']);
    expect(hub.adapters.get('nats')).toBe(a);
    expect(hub.adapters.get('kafka')).toBe(b);
    // the protocol name still finds the first custom adapter
    expect(hub.adapters.get(ProtocolType.CUSTOM)).toBe(a);
    // a protocol name whose adapter has the same name, and any other name, register as given
    const reg = new AdapterRegistry();
    const m = memory();
    reg
      .registerAdapter(ProtocolType.IN_MEMORY, m)
      .registerAdapter('my-name', memory({ name: 'x' }));
    expect(reg.names()).toEqual(['memory', 'my-name']);
    // removing the first custom adapter lets the next one registered take the protocol name
    expect(await hub.adapters.remove('nats')).toBe(true);
    const c = new TestAdapter({ name: 'amqp' });
    hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, c);
    expect(hub.adapters.get(ProtocolType.CUSTOM)).toBe(c);
    await hub.close();
  });

  it('refuses a misspelt option of a factory object', () => {
    const reg = new AdapterRegistry();
    const factory = { name: 'f', configkey: 'fConfig', create: () => memory({ name: 'f' }) };
    expect(() => reg.registerFactory(factory as never)).toThrow(
      expect.objectContaining({
        code: ErrorCode.INVALID_CONFIG,
        message: expect.stringMatching(/`registerFactory\.configkey`; did you mean `configKey`\?/),
      }),
    );
  });
});
