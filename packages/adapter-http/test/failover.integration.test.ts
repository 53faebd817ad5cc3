/**
 * A downstream that fails, stalls or answers 5xx: the hub retries, the
 * primary's circuit opens, the router fails over to a second HTTP adapter,
 * and the receiving Hub endpoint's idempotency window absorbs the copies an
 * uncertain send makes. Judged by counts, Jepsen-style.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createMessage } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpServer } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

type Mode = 'ok' | '5xx' | 'stall' | 'lost-reply';

/** An HTTP proxy in front of `target` whose behaviour the test switches. */
async function faultProxy(target: string) {
  const state = { mode: 'ok' as Mode, calls: 0 };
  const forward = (req: IncomingMessage, body: Buffer) =>
    new Promise<{ status: number; headers: Record<string, string>; body: Buffer }>(
      (resolve, reject) => {
        const out = httpRequest(
          `${target}${req.url}`,
          { method: req.method, headers: req.headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode ?? 502,
                headers: res.headers as Record<string, string>,
                body: Buffer.concat(chunks),
              }),
            );
          },
        );
        out.on('error', reject);
        out.end(body);
      },
    );
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.calls++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const mode = state.mode;
      if (mode === 'stall') return; // never answers
      if (mode === '5xx') {
        res.writeHead(500).end('{"e":"down"}');
        return;
      }
      try {
        const answer = await forward(req, Buffer.concat(chunks));
        // lost-reply: the receiver has it, the sender hears a failure (an uncertain send)
        if (mode === 'lost-reply') res.writeHead(502).end('reply lost');
        else res.writeHead(answer.status, answer.headers).end(answer.body);
      } catch {
        res.writeHead(502).end();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  jobs.add({
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  });
  return { url: `http://127.0.0.1:${port}`, state };
}

describe('http adapter: faults, circuit and failover', () => {
  it('5xx, stalls and lost replies on the primary: circuit opens, backup takes over; lost 0, duplicated 0', async () => {
    // The receiving hub and its endpoint.
    const receiver = jobs.add(await startedHub({ name: 'receiver' }));
    const handled = new Map<string, number>();
    await receiver.onMessage('orders', (m) => {
      handled.set(m.id, (handled.get(m.id) ?? 0) + 1);
    });
    const endpoint = jobs.add(await httpServer({ hub: receiver }));
    const proxy = await faultProxy(endpoint.url);

    const route = (url: string) => [{ match: 'orders', url: `${url}/messages` }];
    const sender = jobs.add(
      await startedHub({
        name: 'sender',
        adapters: [
          http({
            name: 'primary',
            routes: route(proxy.url),
            allowPrivateNetwork: true,
            headersTimeoutMs: 1_000,
          }),
          http({ name: 'backup', routes: route(endpoint.url), allowPrivateNetwork: true }),
        ],
        routes: [{ match: 'orders', adapters: ['primary', 'backup'], strategy: 'failover' }],
        sendRetry: { maxAttempts: 4, initialDelayMs: 5, maxDelayMs: 50 },
        circuitBreaker: { consecutiveFailures: 3, cooldownMs: 400, minimumThroughput: 5 },
      }),
    );
    const circuit: string[] = [];
    sender.on('circuit', (adapter, state) => circuit.push(`${adapter}:${state}`));

    const attempted: string[] = [];
    const acked: string[] = [];
    const failed: string[] = [];
    const perAdapter = new Map<string, number>();
    const phases: Mode[] = ['ok', '5xx', 'ok', 'stall', 'ok', 'lost-reply', 'ok'];
    const primaryCircuit = () => sender.health().adapters.primary?.circuit;
    const send = async (mode: Mode, i: number) => {
      const m = createMessage({ source: 'shop', destination: 'orders', payload: { mode, i } });
      attempted.push(m.id);
      try {
        const r = await sender.send(m);
        acked.push(m.id);
        perAdapter.set(r.adapter, (perAdapter.get(r.adapter) ?? 0) + 1);
      } catch {
        failed.push(m.id);
      }
    };
    for (const mode of phases) {
      if (mode === 'ok') {
        // Let the primary's cooldown pass; the first send probes it and closes the circuit.
        await expect.poll(primaryCircuit, { timeout: 5_000 }).not.toBe('open');
        proxy.state.mode = mode;
        await send(mode, -1);
        expect(primaryCircuit()).toBe('closed');
      }
      proxy.state.mode = mode;
      await Promise.all(Array.from({ length: 40 }, (_, i) => send(mode, i)));
    }
    await expect.poll(() => acked.every((id) => handled.has(id)), { timeout: 10_000 }).toBe(true);
    const received = [...handled.keys()];
    const lost = acked.filter((id) => !handled.has(id));
    const unexpected = received.filter((id) => !attempted.includes(id));
    const duplicated = [...handled.values()].filter((n) => n > 1).length;
    const counts = {
      sent: attempted.length,
      acked: acked.length,
      failed: failed.length,
      received: received.length,
      lost: lost.length,
      unexpected: unexpected.length,
      duplicated,
      viaPrimary: perAdapter.get('primary') ?? 0,
      viaBackup: perAdapter.get('backup') ?? 0,
      primaryCalls: proxy.state.calls,
    };
    console.info('[failover counts]', JSON.stringify(counts), circuit.join(' '));
    expect(counts.lost, JSON.stringify(counts)).toBe(0);
    expect(counts.unexpected).toBe(0);
    // Every send either failed loudly or was acknowledged; with a backup, none failed.
    expect(counts.failed, JSON.stringify(counts)).toBe(0);
    expect(counts.acked).toBe(counts.sent);
    // Lost replies made the sender retry on the backup: the endpoint's idempotency window kept it once.
    expect(counts.duplicated, JSON.stringify(counts)).toBe(0);
    expect(circuit).toContain('primary:open');
    expect(counts.viaBackup).toBeGreaterThan(0);
    expect(counts.viaPrimary).toBeGreaterThan(0);
  });
});
