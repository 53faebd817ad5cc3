import { describe, expect, it } from 'vitest';
import { main as broadcast } from '../src/broadcast.js';
import { main as customAdapter } from '../src/custom-adapter.js';
import { main as events } from '../src/events.js';
import { main as heartbeats } from '../src/heartbeats.js';
import { main as requestReply } from '../src/request-reply.js';
import { main as tasks } from '../src/task-distribution.js';

const quiet = () => {};

describe('examples (what `pnpm demo` runs)', () => {
  it('task distribution: every task handled once, shared by the workers, failures retried', async () => {
    const r = await tasks(quiet);
    expect(r.handled).toBe(30);
    expect(Object.keys(r.perWorker).sort()).toEqual(['w1', 'w2', 'w3']);
    expect(r.retried).toBeGreaterThan(0);
    expect(r.totals.deadLettered).toBe(0);
  });

  it('broadcast notification reaches every subscriber', async () => {
    const r = await broadcast(quiet);
    expect(r.received).toHaveLength(3);
    expect(r.received.every((line) => line.includes('"status":"healthy"'))).toBe(true);
  });

  it('event patterns match exactly, a throwing subscriber is isolated, history replays', async () => {
    const r = await events(quiet);
    expect(r.exact).toEqual(['user_registered']);
    expect(r.oneLevel).toEqual(['orders.eu.created', 'orders.us.created']);
    expect(r.everything).toEqual(['orders.eu.created', 'orders.us.created', 'orders.eu.shipped']);
    expect(r.faulty).toHaveLength(3);
    expect(r.replayed).toEqual(['orders.eu.created', 'orders.eu.shipped']);
  });

  it('heartbeats from both call shapes are seen', async () => {
    const r = await heartbeats(quiet);
    expect(r.agents).toEqual({
      agent_001: { cpu: 45, memory: 60, tasks: 3 },
      agent_002: { cpu: 12, memory: 30, tasks: 0 },
    });
  });

  it('request/reply answers, and times out with HUB_TIMEOUT', async () => {
    const r = await requestReply(quiet);
    expect(r.sum).toBe(42);
    expect(r.timeoutCode).toBe('HUB_TIMEOUT');
  });

  it('custom adapter carries best-effort and refuses what it cannot honour', async () => {
    const r = await customAdapter(quiet);
    expect(r.received).toBe(1);
    expect(r.refused).toBe('HUB_GUARANTEE_UNSUPPORTED');
  });
});
