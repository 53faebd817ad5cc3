import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Logger } from '@hub/core';
import { createMessage } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { http, httpEndpoint, httpServer, signatureHeaders } from '../src/index.js';
import { cleanup, downstream, json } from './helpers.js';

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

  it('webhook secrets never reach the logs or the audit sink: received, refused, configured wrong, or used to sign', async () => {
    const { logger, lines } = capture();
    const audit: string[] = [];
    const hub = jobs.add(
      createHub({
        name: 'h',
        logger,
        security: { audit: (e) => void audit.push(JSON.stringify(e)) },
      }),
    );
    await hub.start();
    await hub.onMessage('orders', () => {});
    const keyText = 'whk-3b9d-never-logged-32-bytes!!';
    const listed = `whsec_${Buffer.from(keyText).toString('base64')}`;
    const bySender = 'plain-whk-8e2a-never-logged';
    const secrets = [keyText, listed, listed.slice(6), bySender];
    const list = jobs.add(await httpServer({ hub, webhookSecrets: [listed] }));
    const senders = jobs.add(
      await httpServer({ hub, webhookSecrets: { 'partner.hooks': [bySender] } }),
    );
    const body = JSON.stringify({ destination: 'orders', payload: 1 });
    const post = (url: string, key: Buffer, id: string) =>
      fetch(`${url}/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signatureHeaders(key, id, body) },
        body,
      });
    const statuses: number[] = [];
    for (const [url, key] of [
      [list.url, Buffer.from(keyText)],
      [senders.url, Buffer.from(bySender)],
    ] as const) {
      statuses.push((await post(url, key, `${url}-1`)).status); // good
      statuses.push((await post(url, key, `${url}-1`)).status); // replayed
      statuses.push((await post(url, Buffer.from('wrong'), `${url}-2`)).status); // wrong key
    }
    expect(statuses).toEqual([202, 401, 401, 202, 401, 401]);
    // A secret too short is refused at start, by its field, not its value.
    const short = `whsec_${Buffer.from('short-never-logged').toString('base64').slice(0, 8)}`;
    let thrown: unknown;
    try {
      httpEndpoint({ hub, webhookSecrets: { 'partner.x': short } });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    lines.push(`thrown ${(thrown as Error).message}`);
    expect(lines.at(-1)).toMatch(/webhookSecrets\.partner\.x/);
    secrets.push(short, short.slice(6));

    // The outbound adapter signs with its secret; refusals of the receiver are logged without it.
    const signing = `whsec_${Buffer.from('out-7c41-never-logged-32-bytes!!').toString('base64')}`;
    secrets.push(signing, signing.slice(6), 'out-7c41-never-logged-32-bytes!!');
    const down = jobs.add(
      await downstream((_r, res, n) => json(res, n === 1 ? 500 : 401, { error: 'no' })),
    );
    const sender = jobs.add(
      createHub({
        name: 'sender',
        logger,
        sendRetry: { maxAttempts: 2, initialDelayMs: 5, maxDelayMs: 10 },
        adapters: [
          http({
            allowPrivateNetwork: true,
            signingSecret: signing,
            routes: [{ match: 'orders', url: `${down.url}/in` }],
          }),
        ],
      }),
    );
    await sender.start();
    const failed = await sender
      .send(createMessage({ source: 's', destination: 'orders', payload: 1 }))
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    // What reaches the application and the dead letters is checked too.
    lines.push(`send ${failed?.message} ${String((failed as { cause?: unknown })?.cause)}`);
    for (const d of await sender.readDeadLetters('orders')) lines.push(`dead ${d.reason}`);
    expect(down.received.map((r) => r.headers['webhook-signature'] !== undefined)).toEqual([
      true,
      true,
    ]);

    const everything = `${lines.join('\n')}\n${audit.join('\n')}`;
    expect(everything).toMatch(/webhook signature refused: mismatch/);
    expect(everything).toMatch(/already received \(a replay\)/);
    expect(everything).toMatch(/send .*answered 401/);
    expect(everything).toMatch(/dead HTTP 401/);
    for (const secret of secrets) expect(everything).not.toContain(secret);
    expect(everything).not.toMatch(/never-logged/);
  });
});
