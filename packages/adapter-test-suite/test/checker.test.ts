import {
  type AdapterCapabilities,
  createMemoryBroker,
  MemoryDedupStore,
  type MemoryFaults,
  memory,
  type SendResult,
} from '@hub/core';
import type { UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type AdapterTestSuiteOptions,
  CASE_FAILED,
  CASES,
  DELIVERY_CHECK_FAILED,
  DeliveryRecorder,
  expectDelivery,
  runCase,
  skipReason,
  waitFor,
} from '../src/index.js';
import { type Breakage, BrokenAdapter } from './broken-adapter.js';

describe('DeliveryRecorder', () => {
  it('reports lost, unexpected and duplicated ids', () => {
    const rec = new DeliveryRecorder();
    for (const id of ['a', 'b', 'c', 'd']) rec.attempted(id);
    for (const id of ['a', 'b', 'c']) rec.acknowledged(id);
    rec.received('a', 'i1');
    rec.received('a', 'i2');
    rec.received('c', 'i1');
    rec.received('z', 'i2');
    rec.received('d');
    const r = rec.check();
    expect(r).toMatchObject({ attempted: 4, acknowledged: 3, received: 5, uniqueReceived: 4 });
    expect(r.lost).toEqual(['b']);
    expect(r.unexpected).toEqual(['z']);
    expect(r.duplicates).toEqual(['a']);
    expect(r.byInstance).toEqual({ i1: 2, i2: 2, '': 1 });
    expect(rec.allAcknowledgedReceived()).toBe(false);
    expect(rec.timesReceived('a')).toBe(2);
  });

  it('counts an acknowledged id as attempted', () => {
    const rec = new DeliveryRecorder();
    rec.acknowledged('x');
    rec.received('x');
    expect(rec.check()).toMatchObject({ attempted: 1, lost: [], unexpected: [] });
    expect(rec.allAcknowledgedReceived()).toBe(true);
  });
});

describe('expectDelivery', () => {
  const recorder = (lost: number, dups: number, unexpected: number) => {
    const rec = new DeliveryRecorder();
    for (let i = 0; i < 10; i++) {
      rec.attempted(`m${i}`);
      rec.acknowledged(`m${i}`);
      if (i >= lost) rec.received(`m${i}`);
      if (i >= lost && i < lost + dups) rec.received(`m${i}`);
    }
    for (let i = 0; i < unexpected; i++) rec.received(`stray${i}`);
    return rec;
  };

  it('passes a clean run and returns the report', () => {
    const report = expectDelivery(recorder(0, 0, 0), { guarantee: 'at-least-once' });
    expect(report.received).toBe(10);
  });

  it('fails with the numbers and the first ids, not just "expected true"', () => {
    let error: unknown;
    try {
      expectDelivery(recorder(2, 1, 1), { guarantee: 'at-least-once', label: 'case X' });
    } catch (err) {
      error = err;
    }
    expect(error).toMatchObject({ code: DELIVERY_CHECK_FAILED });
    const msg = (error as Error).message;
    expect(msg).toContain('case X failed');
    expect(msg).toContain('attempted 10, acknowledged 10, received 10 (9 unique)');
    expect(msg).toContain('lost 2 [m0, m1]');
    expect(msg).toContain('unexpected 1 [stray0]');
    expect(msg).toContain('duplicated 1 [m2]');
  });

  it('lists only the first few ids of a long list', () => {
    expect(() =>
      expectDelivery(recorder(9, 0, 0), { guarantee: 'ordered', sampleSize: 3 }),
    ).toThrow(/lost 9 \[m0, m1, m2, … 6 more\]/);
  });

  it('tolerates loss only under best-effort, and duplicates only when allowed and the guarantee permits', () => {
    expect(() => expectDelivery(recorder(3, 0, 0), { guarantee: 'best-effort' })).not.toThrow();
    expect(() => expectDelivery(recorder(3, 0, 0), { guarantee: 'exactly-once' })).toThrow(
      /lost 3/,
    );
    expect(() =>
      expectDelivery(recorder(0, 2, 0), { guarantee: 'at-least-once', allowDuplicates: true }),
    ).not.toThrow();
    expect(() => expectDelivery(recorder(0, 2, 0), { guarantee: 'at-least-once' })).toThrow(
      /duplicated must be 0 without faults/,
    );
    expect(() =>
      expectDelivery(recorder(0, 2, 0), { guarantee: 'exactly-once', allowDuplicates: true }),
    ).toThrow(/duplicated must be 0 under exactly-once/);
    expect(() =>
      expectDelivery(recorder(0, 2, 0), { guarantee: 'best-effort', allowDuplicates: true }),
    ).toThrow(/duplicated 2/);
  });

  it('never tolerates unexpected messages', () => {
    expect(() =>
      expectDelivery(recorder(0, 0, 1), { guarantee: 'best-effort', allowDuplicates: true }),
    ).toThrow(/unexpected must be 0/);
  });
});

describe('waitFor', () => {
  it('resolves with the first truthy value', async () => {
    let n = 0;
    await expect(waitFor(() => (++n >= 3 ? n : 0), { intervalMs: 1 })).resolves.toBe(3);
  });

  it('times out with a HubError carrying the message computed at timeout', async () => {
    let polls = 0;
    await expect(
      waitFor(
        () => {
          polls++;
          return false;
        },
        { timeoutMs: 30, intervalMs: 5, message: () => `seen ${polls} polls` },
      ),
    ).rejects.toMatchObject({
      code: 'HUB_TIMEOUT',
      message: expect.stringMatching(/seen \d+ polls/),
    });
  });

  it('fails at once when the condition throws', async () => {
    await expect(
      waitFor(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
  });
});

const small = { scale: 0.2 };

function brokenOptions(breakage: Breakage, faults?: MemoryFaults): AdapterTestSuiteOptions {
  const broker = createMemoryBroker();
  return {
    name: 'broken',
    ...small,
    createAdapter: () =>
      new BrokenAdapter(memory(faults ? { broker, faults } : { broker }), breakage),
  };
}

describe('the cases fail on broken adapters', () => {
  const leaked: NodeJS.Timeout[] = [];
  afterAll(() => {
    for (const t of leaked) clearInterval(t);
  });

  it('R1 and R2 report, by id, the messages an adapter silently drops', async () => {
    let n = 0;
    const opts = brokenOptions({
      // resolves the send but never enqueues every 10th message
      send: (env, next) =>
        env.kind === 'message' && ++n % 10 === 0 ? Promise.resolve({}) : next(),
    });
    // scale 0.2: R1 sends 20 messages, R2 1,000; a short deadline, then the checker judges
    await expect(runCase('R1', { ...opts, timeoutScale: 0.05 })).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(
        /R1 round trip \(timed out\) failed .*acknowledged 20, .*lost 2 \[/,
      ),
    });
    await expect(runCase('R2', { ...opts, timeoutScale: 0.05 })).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(
        /acknowledged 1000, received 900 .*lost 100 \[\S+, \S+, \S+, \S+, \S+, … 95 more\]/,
      ),
    });
  });

  it('R2 reports duplicates of an adapter that delivers twice', async () => {
    const opts = brokenOptions({}, { duplicate: 1 });
    await expect(runCase('R2', opts)).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(/duplicated must be 0 without faults.*duplicated [1-9]\d* \[/),
    });
  });

  it('R2-exactly-once still holds when the transport delivers everything twice, with a shared dedup store', async () => {
    const store = new MemoryDedupStore();
    await expect(
      runCase('R2-exactly-once', {
        ...brokenOptions({}, { duplicate: 1 }),
        hubConfig: { dedup: { store } },
      }),
    ).resolves.toBeUndefined();
  });

  it('R2-exactly-once catches instances that each dedup on their own (no shared store)', async () => {
    await expect(
      runCase('R2-exactly-once', brokenOptions({}, { duplicate: 1 })),
    ).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(/duplicated must be 0 under exactly-once/),
    });
  });

  it('R9 reports keys out of order when the transport reorders a key', async () => {
    let n = 0;
    const opts = brokenOptions({
      // acknowledge at once but enqueue every 5th message late: the next ones of its key overtake it
      send: (env, next) => {
        if (env.kind === 'message' && ++n % 5 === 0) {
          setTimeout(() => void next().catch(() => {}), 5);
          return Promise.resolve({});
        }
        return next();
      },
    });
    await expect(runCase('R9', opts)).rejects.toMatchObject({
      code: CASE_FAILED,
      message: expect.stringMatching(
        /R9: \d+\/16 keys out of order: key\d+: at position \d+ got \d+/,
      ),
    });
  });

  it('R9 holds when the memory broker shuffles batches (per-key order is kept)', async () => {
    await expect(runCase('R9', brokenOptions({}, { reorder: true }))).resolves.toBeUndefined();
  });

  it('R7 reports timers an adapter leaves behind', async () => {
    const opts = brokenOptions({
      subscribed: () => {
        leaked.push(setInterval(() => {}, 60_000));
      },
    });
    await expect(runCase('R7', { ...opts, timeoutScale: 0.2 })).rejects.toThrow(
      /R7: leaked timers: \d+ active Timeout resources after closing every hub, \d+ before/,
    );
  });

  it('R3 reports messages that leak to another destination', async () => {
    let endpointA: string | undefined;
    let k = 0;
    const opts = brokenOptions({
      // also deliver every 7th message for endpoint B to endpoint A
      send: async (env, next) => {
        if (env.kind === 'message') {
          if (env.destination.includes('_r3a_')) endpointA ??= env.destination;
          if (endpointA && env.destination.includes('_r3b_') && ++k % 7 === 0) {
            await next();
            return inner(env, endpointA);
          }
        }
        return next();
      },
    });
    let inner: (env: UnifiedMessage | UnifiedEvent, to: string) => Promise<SendResult> = () =>
      Promise.resolve({});
    const create = opts.createAdapter;
    opts.createAdapter = () => {
      const adapter = create() as BrokenAdapter;
      inner = (env, to) => adapter.sendUnbroken({ ...env, destination: to } as UnifiedMessage);
      return adapter;
    };
    await expect(runCase('R3', opts)).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(
        /R3 endpoint A failed \(unexpected must be 0\).*unexpected [1-9]\d* \[/,
      ),
    });
  });

  it('R8 catches an adapter that ignores spec.prefetch (the hub alone would hide it)', async () => {
    // the transport is asked for 1,000 unsettled deliveries whatever the subscriber said
    const opts = brokenOptions({ spec: (spec) => ({ ...spec, prefetch: 1_000 }) });
    await expect(runCase('R8', opts)).rejects.toMatchObject({
      code: CASE_FAILED,
      message: expect.stringMatching(
        /R8: the adapter handed 3 deliveries to a subscription with prefetch 1 while one was handed and only 0 acked: it ignores spec\.prefetch/,
      ),
    });
  });

  it('R15 leaves messages waiting in the transport: an adapter that ignores prefetch breaks its premise', async () => {
    const opts = brokenOptions({ spec: (spec) => ({ ...spec, prefetch: 1_000 }) });
    await expect(runCase('R15', opts)).rejects.toMatchObject({
      code: CASE_FAILED,
      message: expect.stringMatching(
        /R15: \d+ deliveries reached the hub while its only handler was blocked \(prefetch 5\)/,
      ),
    });
  });

  it('reports a close() that hangs in cleanup as such, within the case, not as the runner timeout', async () => {
    const hung: Array<() => Promise<void>> = [];
    const opts = brokenOptions({
      close: (next) => {
        hung.push(next);
        return new Promise<void>(() => {});
      },
    });
    const started = Date.now();
    // timeoutScale 0.1: the close budget is 1 s (2 s drain + 8 s cleanup, scaled)
    await expect(runCase('R3', { ...opts, timeoutScale: 0.1 })).rejects.toMatchObject({
      message: expect.stringMatching(
        /cleanup after the case: closing hub \S+: close\(\) \(drain 200 ms, then each adapter's close\(\)\) did not settle within 1000 ms/,
      ),
    });
    expect(Date.now() - started).toBeLessThan(20_000);
    // let the inner adapters go
    await Promise.all(hung.map((next) => next()));
  });

  it('R3-topics judges events by their own guarantee: loss without faults is named as such', async () => {
    let n = 0;
    const opts = brokenOptions({
      send: (env, next) => (env.kind === 'event' && ++n % 10 === 0 ? Promise.resolve({}) : next()),
    });
    await expect(runCase('R3-topics', { ...opts, timeoutScale: 0.05 })).rejects.toMatchObject({
      code: DELIVERY_CHECK_FAILED,
      message: expect.stringMatching(
        /R3-topics .*failed \(lost must be 0: events are best-effort, which allows loss under faults only, and this run injects none\)/,
      ),
    });
  });

  it('passes a clean pass-through adapter (no false alarms)', async () => {
    const opts = brokenOptions({ deliver: (d, next) => next(d) });
    for (const id of ['R1', 'R3', 'R4', 'R8', 'R15'] as const) {
      await expect(runCase(id, opts)).resolves.toBeUndefined();
    }
  });
});

describe('capability → skip mapping', () => {
  const probe = (caps: Partial<AdapterCapabilities>, deadLetterReader = true) => ({
    capabilities: {
      guarantees: ['best-effort', 'at-least-once', 'exactly-once', 'ordered'] as const,
      persistent: false,
      ordered: true,
      broadcast: true,
      patterns: true,
      consumerGroups: true,
      ...caps,
    },
    deadLetterReader,
  });
  const base: AdapterTestSuiteOptions = { name: 'x', createAdapter: () => memory() };
  const skipped = (p: ReturnType<typeof probe>, opts: AdapterTestSuiteOptions = base) =>
    Object.fromEntries(
      CASES.map((c) => [c.id, skipReason(c, p, opts)]).filter(([, r]) => r !== undefined),
    );

  it('runs everything but the hook-driven cases on a full-featured adapter without the hooks', () => {
    const s = skipped(probe({}));
    expect(Object.keys(s).sort()).toEqual(['R18', 'R19', 'S1-raw', 'S11', 'S12']);
    expect(s.R18).toMatch(/cleanExit/);
    expect(s.R19).toMatch(/breakDeadLetters/);
    expect(s.S11).toMatch(/injectForeign/);
    expect(s.S12).toMatch(/injectRaw/);
    expect(
      skipped(probe({}), {
        ...base,
        injectRaw: async () => {},
        injectForeign: async () => {},
        breakDeadLetters: async () => async () => {},
        cleanExit: { module: '/adapter.js' },
      }),
    ).toEqual({});
  });

  it('skips what a best-effort, single-consumer, point-to-point adapter cannot do, with reasons', () => {
    const s = skipped(
      probe({ guarantees: ['best-effort'], consumerGroups: false, broadcast: false }),
    );
    expect(Object.keys(s).sort()).toEqual(
      [
        'R2',
        'R2-exactly-once',
        'R3-topics',
        'R4',
        'R5',
        'R6',
        'R7',
        'R9',
        'R18',
        'R19',
        'S1-raw',
        'S11',
        'S12',
      ].sort(),
    );
    expect(s.R2).toMatch(/consumerGroups/);
    expect(s.R4).toMatch(/only best-effort/);
    expect(s.R9).toMatch(/ordered guarantee/);
    expect(s['R3-topics']).toMatch(/broadcast/);
  });

  it('honours explicit skips, and a base id skips its parts', () => {
    const s = skipped(probe({}), {
      ...base,
      skip: { R3: 'no topics on this transport', R8: 'n/a' },
    });
    expect(s).toMatchObject({
      R3: 'no topics on this transport',
      'R3-topics': 'no topics on this transport',
      R8: 'n/a',
    });
  });

  it('notes a partial R6 when the adapter has no DLQ reader', () => {
    const r6 = CASES.find((c) => c.id === 'R6');
    expect(r6?.note?.(probe({}, false))).toMatch(/readDeadLetters/);
    expect(r6?.note?.(probe({}, true))).toBeUndefined();
  });
});
