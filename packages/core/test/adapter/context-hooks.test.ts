import {
  type AdapterCapabilities,
  type AdapterContext,
  type AdapterFeatures,
  type AdapterHealth,
  type AdapterState,
  createHub,
  type DeadLetterEntry,
  ErrorCode,
  type Hub,
  memory,
  type ProtocolAdapter,
  type SendResult,
  type Subscription,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { msg, quiet } from '../hub/helpers.js';

const CAPS: AdapterCapabilities = {
  guarantees: ['best-effort', 'at-least-once'],
  persistent: false,
  ordered: false,
  broadcast: true,
  patterns: true,
  consumerGroups: false,
};

/** An adapter written against the contract alone: no BaseAdapter, no event emitter. */
class PlainAdapter implements ProtocolAdapter {
  readonly capabilities = CAPS;
  ctx: AdapterContext | undefined;
  state: AdapterState = 'idle';
  constructor(
    readonly name: string,
    readonly features: AdapterFeatures = {},
    readonly dead: DeadLetterEntry[] | undefined = undefined,
  ) {
    if (dead) {
      (this as { readDeadLetters?: unknown }).readDeadLetters = async () => this.dead;
    }
  }
  async connect(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.state = 'ready';
  }
  async send(): Promise<SendResult> {
    return {};
  }
  async subscribe(): Promise<Subscription> {
    return { close: async () => {} };
  }
  health(): AdapterHealth {
    return { state: this.state, healthy: this.state === 'ready' };
  }
  /** A lost link, told to the hub the moment it happens. */
  down(): void {
    this.state = 'degraded';
    this.ctx?.reportState('degraded');
  }
  async close(): Promise<void> {
    this.state = 'closed';
  }
}

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.allSettled(hubs.splice(0).map((h) => h.close()));
});

function hubOf(adapters: ProtocolAdapter[], extra: Record<string, unknown> = {}): Hub {
  // The interval check is an hour away: only a reported state can reroute in time.
  const hub = createHub({ adapters, logger: quiet, healthCheckInterval: 3600, ...extra });
  hubs.push(hub);
  return hub;
}

describe('ctx.reportState', () => {
  it('an adapter not built on BaseAdapter reroutes the hub at once when it reports a state', async () => {
    const plain = new PlainAdapter('plain');
    const hub = hubOf([plain, memory({ name: 'spare' })], {
      defaultRoutingStrategy: 'failover',
    });
    await hub.start();
    expect((await hub.send(msg())).adapter).toBe('plain');
    const changes: Array<[string, boolean]> = [];
    hub.on('health', (name, ok) => changes.push([name, ok]));
    plain.down();
    expect(changes).toEqual([['plain', false]]);
    expect((await hub.send(msg())).adapter).toBe('spare');
  });
});

describe('declared features', () => {
  const entry: DeadLetterEntry = {
    envelope: msg(),
    reason: 'kept',
    attempts: 3,
    deadLetteredAt: 1,
  };

  it('the hub reads dead letters from an adapter that declares deadLetters', async () => {
    const hub = hubOf([new PlainAdapter('dlq', { deadLetters: true }, [entry])]);
    await hub.start();
    expect(await hub.readDeadLetters('ep')).toEqual([entry]);
  });

  it('a method without the declaration is not read when the adapter declares deadLetters: false', async () => {
    const hub = hubOf([new PlainAdapter('nodlq', { deadLetters: false }, [entry])]);
    await hub.start();
    expect(await hub.readDeadLetters('ep')).toEqual([]);
  });

  it('an adapter that declares no features at all is read when it has the method', async () => {
    const hub = hubOf([new PlainAdapter('older', {}, [entry])]);
    await hub.start();
    expect(await hub.readDeadLetters('ep')).toEqual([entry]);
  });

  it('declaring deadLetters without the method is refused with a typed error naming the adapter', async () => {
    const hub = hubOf([new PlainAdapter('liar', { deadLetters: true })]);
    await hub.start();
    await expect(hub.readDeadLetters('ep')).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('[hub:liar] features.deadLetters'),
    });
  });
});
