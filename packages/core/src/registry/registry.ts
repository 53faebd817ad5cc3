import { ErrorCode, HubError } from '@hub/protocol';
import { EventEmitter } from 'eventemitter3';
import type { ProtocolAdapter } from '../adapter/contract.js';
import { ProtocolType } from '../common/types.js';
import { optionNames, rejectUnknownOptions } from '../config/unknown-options.js';

/**
 * Typed lookup: each adapter package augments this interface, e.g.
 * `declare module '@hub/core' { interface HubAdapters { redis: RedisAdapter } }`,
 * so `hub.adapters.get('redis')` is typed.
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by adapter packages
export interface HubAdapters {}

/**
 * Builds an adapter from configuration, for config-driven set-ups. The hub
 * reads `config[configKey]` (e.g. `redisConfig`) and hands it to `create`.
 */
export interface AdapterFactory<C = unknown, A extends ProtocolAdapter = ProtocolAdapter> {
  readonly name: string;
  /** Key of the hub config holding this adapter's settings, e.g. `redisConfig`. */
  readonly configKey?: string;
  /** Other names this adapter answers to, e.g. `redis-streams`. */
  readonly aliases?: readonly string[];
  create(config: C | undefined): A;
}

export const isAdapterFactory = (x: unknown): x is AdapterFactory =>
  typeof x === 'object' &&
  x !== null &&
  typeof (x as AdapterFactory).create === 'function' &&
  typeof (x as ProtocolAdapter).send !== 'function';

const FACTORY_OPTIONS = optionNames<AdapterFactory>({
  name: true,
  configKey: true,
  aliases: true,
  create: true,
});

const PROTOCOL_TYPES: readonly string[] = Object.values(ProtocolType);

/** Protocol names that resolve to an adapter registered under another name. */
const BUILTIN_ALIASES: Record<string, string> = {
  'redis-pubsub': 'redis',
  'redis-streams': 'redis',
  websocket: 'ws',
};

interface RegistryEvents {
  added: (name: string, adapter: ProtocolAdapter) => void;
  removed: (name: string, adapter: ProtocolAdapter) => void;
}

/** Registered adapters by name, plus a name → factory map. Explicit registration only. */
export class AdapterRegistry extends EventEmitter<RegistryEvents> {
  private readonly adapters = new Map<string, ProtocolAdapter>();
  private readonly factories = new Map<string, AdapterFactory>();
  private readonly aliases = new Map<string, string>(Object.entries(BUILTIN_ALIASES));

  /** Register `adapter` under `name` (default: its own name). Throws if the name is taken. */
  register(adapter: ProtocolAdapter, name: string = adapter.name): this {
    validateAdapter(adapter, name);
    if (this.adapters.has(name)) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:registry] an adapter named "${name}" is already registered`,
      );
    }
    this.adapters.set(name, adapter);
    this.emit('added', name, adapter);
    return this;
  }

  /**
   * Register `adapter`, the name first (the established call shape). A
   * `ProtocolType` value (`ProtocolType.CUSTOM`, `ProtocolType.REDIS_STREAMS`,
   * ...) names the kind of transport, not the adapter: the adapter is then
   * registered under its own `name`, so several custom adapters never
   * collide, and the protocol name finds the first one registered that way
   * (`get('custom')`). Any other string is the registered name.
   */
  registerAdapter(name: string, adapter: ProtocolAdapter): this {
    const own = (adapter as Partial<ProtocolAdapter> | null)?.name;
    if (!PROTOCOL_TYPES.includes(name) || typeof own !== 'string' || own === '' || own === name) {
      return this.register(adapter, name);
    }
    this.register(adapter, own);
    const current = this.aliases.get(name);
    if (!this.adapters.has(name) && (current === undefined || !this.adapters.has(current))) {
      this.aliases.set(name, own);
    }
    return this;
  }

  registerFactory(factory: AdapterFactory): this {
    if (Object.getPrototypeOf(factory) === Object.prototype) {
      rejectUnknownOptions('registerFactory', factory, FACTORY_OPTIONS);
    }
    this.factories.set(factory.name, factory);
    for (const alias of factory.aliases ?? []) this.aliases.set(alias, factory.name);
    return this;
  }

  /** Build an adapter with the factory registered under `name`. */
  create(name: string, config?: unknown): ProtocolAdapter {
    const factory = this.factories.get(this.resolveName(name));
    if (!factory) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:registry] no adapter factory named "${name}" (known: ${[...this.factories.keys()].join(', ') || 'none'})`,
      );
    }
    return factory.create(config);
  }

  get<K extends keyof HubAdapters>(name: K): HubAdapters[K] | undefined;
  get(name: string): ProtocolAdapter | undefined;
  get(name: string): ProtocolAdapter | undefined {
    return this.adapters.get(name) ?? this.adapters.get(this.resolveName(name));
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Registered name of `name` or of the protocol it aliases. */
  resolveName(name: string): string {
    if (this.adapters.has(name)) return name;
    return this.aliases.get(name) ?? name;
  }

  list(): Array<{ name: string; adapter: ProtocolAdapter }> {
    return [...this.adapters].map(([name, adapter]) => ({ name, adapter }));
  }

  names(): string[] {
    return [...this.adapters.keys()];
  }

  get size(): number {
    return this.adapters.size;
  }

  /** Unregister and close. Resolves false when nothing had that name. */
  async remove(name: string): Promise<boolean> {
    const resolved = this.resolveName(name);
    const adapter = this.adapters.get(resolved);
    if (!adapter) return false;
    this.adapters.delete(resolved);
    this.emit('removed', resolved, adapter);
    await adapter.close();
    return true;
  }
}

function validateAdapter(adapter: unknown, name: string): asserts adapter is ProtocolAdapter {
  const a = adapter as Partial<ProtocolAdapter> | null;
  const problem =
    typeof a !== 'object' || a === null
      ? 'is not an object'
      : typeof name !== 'string' || name.length === 0
        ? 'has no name'
        : typeof a.send !== 'function' ||
            typeof a.subscribe !== 'function' ||
            typeof a.connect !== 'function' ||
            typeof a.close !== 'function' ||
            typeof a.health !== 'function'
          ? 'lacks connect/send/subscribe/health/close'
          : !a.capabilities || !Array.isArray(a.capabilities.guarantees)
            ? 'declares no capabilities.guarantees'
            : undefined;
  if (problem) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:registry] adapter "${String(name)}" ${problem}`,
    );
  }
}
