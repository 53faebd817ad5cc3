import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Logger } from '@hub/core';
import { afterEach, describe, expect, it } from 'vitest';
import { httpEndpoint, httpServer } from '../src/index.js';
import { cleanup } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

function capture(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const record =
    (level: string) =>
    (message: string, meta?: unknown): void => {
      lines.push(`${level} ${message} ${JSON.stringify(meta ?? {})}`);
    };
  return {
    lines,
    logger: {
      debug: record('debug'),
      info: record('info'),
      warn: record('warn'),
      error: record('error'),
    },
  };
}

/**
 * A plain http.Server on loopback that reports the address a wildcard bind
 * would: the endpoint decides from the address its server says it is bound
 * to, and tests only ever bind loopback.
 */
async function serverReporting(address: string) {
  const server = createServer();
  jobs.add({ close: () => new Promise<void>((r) => server.close(() => r())) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const real = server.address() as AddressInfo;
  server.address = () => ({ ...real, address });
  return server;
}

describe('start-up warnings of the HTTP endpoint', () => {
  it('no authentication on a non-loopback bind, and plain HTTP there, are warned about; loopback is not', async () => {
    const { logger, lines } = capture();
    const hub = jobs.add(createHub({ name: 'h', logger }));
    jobs.add(httpEndpoint({ hub, server: await serverReporting('0.0.0.0') }));
    let warnings = lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/listens on 0\.0\.0\.0.*without authentication/);
    expect(warnings[1]).toMatch(/over plain HTTP/);
    const token = 'b3arer-71c2-never-logged';
    jobs.add(httpEndpoint({ hub, server: await serverReporting('::'), bearerTokens: [token] }));
    jobs.add(await httpServer({ hub }));
    warnings = lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(3);
    expect(warnings[2]).toMatch(/listens on ::.*over plain HTTP/);
    expect(lines.join('\n')).not.toContain(token);
  });

  it('bearer tokens never reach the logs, accepted or refused', async () => {
    const { logger, lines } = capture();
    const hub = jobs.add(createHub({ name: 'h', logger, security: {} }));
    await hub.start();
    await hub.onMessage('orders', () => {});
    const token = 'tok-0c55-never-logged';
    const endpoint = jobs.add(await httpServer({ hub, bearerTokens: [token] }));
    for (const t of [token, `${token}-wrong`]) {
      await fetch(`${endpoint.url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${t}` },
        body: JSON.stringify({ destination: 'orders', payload: 1 }),
      });
    }
    expect(lines.some((l) => l.includes('auth'))).toBe(true);
    expect(lines.join('\n')).not.toContain(token);
  });
});
