import {
  createHub,
  createMemoryBroker,
  createMessage,
  ErrorCode,
  type Hub,
  memory,
  rejectUnknownOptions,
  silentLogger,
} from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';

// Plain JavaScript callers get no compile-time check: every misspelt option
// must be refused loudly, naming the option and the one probably meant.
const loose = (v: unknown) => v as never;

const invalid = (message: RegExp) =>
  expect.objectContaining({
    code: ErrorCode.INVALID_CONFIG,
    message: expect.stringMatching(message),
  });

describe('rejectUnknownOptions', () => {
  it('names the unknown option and the closest known one', () => {
    expect(() => rejectUnknownOptions('redis', { urll: 'x' }, ['url', 'host'])).toThrow(
      invalid(/unknown option `redis\.urll`; did you mean `url`\?/),
    );
  });

  it('lists the known options when nothing is close', () => {
    expect(() => rejectUnknownOptions('close', { zzzzzz: 1 }, ['drainTimeoutMs'])).toThrow(
      invalid(/unknown option `close\.zzzzzz` \(known: drainTimeoutMs\)/),
    );
  });

  it('accepts known options', () => {
    expect(() => rejectUnknownOptions('x', { url: 1 }, ['url'])).not.toThrow();
  });
});

describe('createHub refuses unknown options', () => {
  it.each([
    [{ nmae: 'x' }, /`createHub\.nmae`; did you mean `name`\?/],
    [
      { maxConcurentMessages: 5 },
      /`createHub\.maxConcurentMessages`; did you mean `maxConcurrentMessages`\?/,
    ],
    [
      { retry: { initalDelayMs: 5 } },
      /`createHub\.retry\.initalDelayMs`; did you mean `initialDelayMs`\?/,
    ],
    [
      { sendRetry: { maxAttempt: 2 } },
      /`createHub\.sendRetry\.maxAttempt`; did you mean `maxAttempts`\?/,
    ],
    [
      { circuitBreaker: { cooldown: 5 } },
      /`createHub\.circuitBreaker\.cooldown`; did you mean `cooldownMs`\?/,
    ],
    [
      { history: { maxPerTopik: 5 } },
      /`createHub\.history\.maxPerTopik`; did you mean `maxPerTopic`\?/,
    ],
    [{ dedup: { windowMS: 5 } }, /`createHub\.dedup\.windowMS`; did you mean `windowMs`\?/],
    [
      { routes: [{ match: 'a', adapter: ['memory'] }] },
      /`createHub\.routes\[0\]\.adapter`; did you mean `adapters`\?/,
    ],
    [
      { middleware: [{ name: 'm', inbund: () => null }] },
      /`createHub\.middleware\[0\]\.inbund`; did you mean `inbound`\?/,
    ],
  ])('%j', (config, message) => {
    expect(() => createHub(loose(config))).toThrow(invalid(message));
  });

  it('accepts the config option a factory reads (its configKey)', () => {
    const factory = { name: 'f', configKey: 'fConfig', create: () => memory({ name: 'f' }) };
    expect(() =>
      createHub(loose({ logger: silentLogger, adapters: [factory], fConfig: {} })),
    ).not.toThrow();
    expect(() => createHub(loose({ logger: silentLogger, fConfig: {} }))).toThrow(
      invalid(/`createHub\.fConfig`/),
    );
  });

  it('leaves adapter settings and a middleware’s own state alone', () => {
    expect(() =>
      createHub({
        logger: silentLogger,
        redisConfig: { url: 'redis://127.0.0.1:1', anything: true },
        adapterConfig: { mine: { whatever: 1 } },
        middleware: [loose({ name: 'counting', seen: 0, inbound: (e: unknown) => e })],
      }),
    ).not.toThrow();
  });
});

describe('hub calls refuse unknown options and bad arguments', () => {
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    hub = undefined;
  });
  const started = async () => {
    hub = createHub({ logger: silentLogger });
    await hub.start();
    return hub;
  };

  it('onMessage: a handler that is not a function, options that are not an object, a misspelt option', async () => {
    const h = await started();
    await expect(h.onMessage('x', loose('nope'))).rejects.toThrow(
      invalid(/onMessage handler must be a function, got "nope"/),
    );
    await expect(h.onMessage('x', () => {}, loose('nope'))).rejects.toThrow(
      invalid(/onMessage options must be an object, got "nope"/),
    );
    await expect(h.onMessage('x', () => {}, loose({ concurency: 2 }))).rejects.toThrow(
      invalid(/`onMessage\.concurency`; did you mean `concurrency`\?/),
    );
    await expect(h.onMessage('x', () => {}, loose({ replay: true }))).rejects.toThrow(
      invalid(/`onMessage\.replay`/),
    );
    expect(h.metrics().consumers).toBe(0);
  });

  it('subscribe: a misspelt option, and one inside replay', async () => {
    const h = await started();
    await expect(h.subscribe('t.a', () => {}, loose({ grup: 'g' }))).rejects.toThrow(
      invalid(/`subscribe\.grup`; did you mean `group`\?/),
    );
    await expect(h.subscribe('t.a', () => {}, loose({ replay: { since: 1 } }))).rejects.toThrow(
      invalid(/`subscribe\.replay\.since`; did you mean `sinceMs`\?/),
    );
    await expect(h.subscribe('t.a', loose(undefined))).rejects.toThrow(
      invalid(/subscribe handler must be a function/),
    );
    await expect(h.subscribe('t.a', () => {}, { replay: { sinceMs: 0 } })).resolves.toBeTypeOf(
      'function',
    );
  });

  it('subscribe: a startFrom that is none of last, now, { id }, { time } is refused naming it', async () => {
    const h = await started();
    for (const bad of ['first', { id: 'abc' }, { time: -1 }, { time: 1, id: '1-0' }, 5]) {
      await expect(h.subscribe('t.a', () => {}, loose({ startFrom: bad }))).rejects.toThrow(
        invalid(/subscribe startFrom must be 'last', 'now'/),
      );
    }
    for (const good of ['last', 'now', { id: '1700000000000-3' }, { time: 0 }] as const) {
      await expect(h.subscribe('t.a', () => {}, { startFrom: good })).resolves.toBeTypeOf(
        'function',
      );
    }
  });

  it('request: a misspelt option', async () => {
    const h = await started();
    const msg = createMessage({ source: 's', destination: 'd', payload: 1 });
    await expect(h.request(msg, loose({ timeout: 5 }))).rejects.toThrow(
      invalid(/`request\.timeout`; did you mean `timeoutMs`\?/),
    );
  });

  it('request: a misspelt option beside timeoutMs, an inherited one ignored, a non-object refused', async () => {
    const h = await started();
    await h.onMessage('d', (m) => m.payload, { guarantees: ['best-effort'] });
    const msg = () =>
      createMessage({
        source: 's',
        destination: 'd',
        payload: 1,
        deliveryGuarantee: 'best-effort',
      });
    await expect(h.request(msg(), loose({ timeoutMs: 5_000, retries: 2 }))).rejects.toThrow(
      invalid(/`request\.retries`/),
    );
    await expect(h.request(msg(), loose([]))).rejects.toThrow(
      invalid(/request options must be an object/),
    );
    // Only own keys are options, as before: one inherited from a prototype is not refused.
    const inherited = Object.create({ retries: 2 }) as { timeoutMs?: number };
    inherited.timeoutMs = 5_000;
    await expect(h.request(msg(), inherited)).resolves.toMatchObject({ payload: 1 });
    await expect(h.request(msg(), { timeoutMs: 5_000 })).resolves.toMatchObject({ payload: 1 });
    await expect(h.request(msg(), {})).resolves.toMatchObject({ payload: 1 });
  });

  it('close: a misspelt option rejects (never throws synchronously) and leaves the hub open', async () => {
    const h = await started();
    const closing = h.close(loose({ drainTimoutMs: 0 }));
    await expect(closing).rejects.toThrow(
      invalid(/`close\.drainTimoutMs`; did you mean `drainTimeoutMs`\?/),
    );
    expect(h.state).toBe('running');
  });
});

describe('notification and heartbeat inputs refuse unknown fields', () => {
  it('broadcastNotification and sendHeartbeat reject (never throw) naming the field', async () => {
    const hub = createHub({ logger: silentLogger });
    try {
      const note = hub.broadcastNotification(loose({ fromSource: 's', notificationdata: 1 }));
      await expect(note).rejects.toThrow(
        invalid(/`broadcastNotification\.notificationdata`; did you mean `notificationData`\?/),
      );
      await expect(hub.sendHeartbeat(loose({ agentId: 'a', status: 1 }))).rejects.toThrow(
        invalid(/`sendHeartbeat\.status`; did you mean `statusData`\?/),
      );
      await expect(hub.sendHeartbeat('agent-1', { ok: true })).resolves.toMatchObject({
        success: true,
      });
    } finally {
      await hub.close();
    }
  });
});

describe('memory() refuses unknown options', () => {
  it.each([
    ['memory({ nme })', () => memory(loose({ nme: 'm' })), /`memory\.nme`; did you mean `name`\?/],
    [
      'memory({ faults: { dorp } })',
      () => memory(loose({ faults: { dorp: 0.1 } })),
      /`memory\.faults\.dorp`; did you mean `drop`\?/,
    ],
    [
      'createMemoryBroker({ maxQueueLenght })',
      () => createMemoryBroker(loose({ maxQueueLenght: 1 })),
      /`createMemoryBroker\.maxQueueLenght`; did you mean `maxQueueLength`\?/,
    ],
    [
      'setFaults({ duplicat })',
      () => memory().setFaults(loose({ duplicat: 1 })),
      /`setFaults\.duplicat`; did you mean `duplicate`\?/,
    ],
  ])('%s', (_label, build, message) => {
    expect(build).toThrow(invalid(message));
  });
});
