import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type AuditEvent, createHub, createMessage, type Logger } from '@hub/core';
import { describe, expect, it } from 'vitest';
import { CloseCode, wsServer } from '../src/index.js';
import { startClient, startServer, track, trackHub } from './helpers.js';
import { rawSession, upgrade } from './raw.js';

/** A logger that keeps every line (message and fields), to read warnings and grep for secrets. */
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
 * (`0.0.0.0`) would: the gateway decides from the address the server says
 * it is bound to, and tests only ever bind loopback.
 */
async function serverReporting(address: string) {
  const server = createServer();
  track({ close: () => new Promise<void>((r) => server.close(() => r())) });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const real = server.address() as AddressInfo;
  server.address = () => ({ ...real, address });
  return server;
}

describe('start-up warnings of the WebSocket gateway', () => {
  it('no authentication on a non-loopback bind, and plain HTTP there, are warned about once each', async () => {
    const { logger, lines } = capture();
    const hub = trackHub(createHub({ name: 'server', logger }));
    await hub.start();
    track(await wsServer({ hub, server: await serverReporting('0.0.0.0'), name: 'open' }));
    const warnings = lines.filter((l) => l.startsWith('warn'));
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/gateway "open" listens on 0\.0\.0\.0.*without authentication/);
    expect(warnings[1]).toMatch(/over plain HTTP/);
    // With a token: only the plain-HTTP warning; on loopback: none.
    track(
      await wsServer({
        hub,
        server: await serverReporting('10.1.2.3'),
        name: 'tokened',
        tokens: ['t0ken-5f1c-never-logged'],
      }),
    );
    track(await wsServer({ hub, port: 0, name: 'local' }));
    const after = lines.filter((l) => l.startsWith('warn'));
    expect(after).toHaveLength(3);
    expect(after[2]).toMatch(/gateway "tokened" listens on 10\.1\.2\.3.*over plain HTTP/);
    expect(lines.join('\n')).not.toContain('t0ken-5f1c-never-logged');
  });

  it('tokens never reach the logs or the audit sink, accepted or refused', async () => {
    const { logger, lines } = capture();
    const audit: AuditEvent[] = [];
    const secret = 's3cret-9a7b-never-logged';
    const hub = trackHub(
      createHub({ name: 'server', logger, security: { audit: (e) => audit.push(e) } }),
    );
    const { gateway } = await startServer({ tokens: [secret] }, hub);
    await hub.onMessage('echo', (m) => m.payload);
    const client = await startClient(gateway.url, { token: secret });
    const reply = await client.request(
      createMessage({ source: 'c', destination: 'echo', payload: 1 }),
      { timeoutMs: 5_000 },
    );
    expect(reply.payload).toBe(1);
    expect((await upgrade(`${gateway.url}?access_token=${secret}x`)).status).toBe(401);
    expect(audit.map((e) => e.kind)).toEqual(['auth']);
    const everything = `${lines.join('\n')}\n${JSON.stringify(audit)}`;
    expect(everything).not.toContain(secret);
  });
});

describe('the gateway audits its own refusals: rate limit, origin, connection limit, allow list', () => {
  it('each gets a structured record with the identity, the message id where there is one, and the rule', async () => {
    const audit: AuditEvent[] = [];
    const hub = trackHub(
      createHub({
        name: 'server',
        logger: capture().logger,
        security: { audit: (e) => audit.push(e) },
      }),
    );
    const { gateway } = await startServer(
      {
        rateLimit: 20,
        rateBurst: 20,
        maxConnectionsPerIp: 2,
        allowedOrigins: ['https://app.example'],
        authenticate: () => ({ id: 'client.carol', allow: { send: ['orders.*'] } }),
      },
      hub,
    );
    // Allow list: a send outside it, with the envelope's id.
    const carol = await rawSession(gateway.url);
    const m = createMessage({ source: 'c', destination: 'admin.reset', payload: 1 });
    carol.send({ type: 'message', id: m.id, envelope: m });
    await expect.poll(() => audit.length).toBe(1);
    expect(audit[0]).toMatchObject({
      kind: 'refused',
      identity: 'client.carol',
      verb: 'send',
      address: 'admin.reset',
      messageId: m.id,
      rule: 'allow.send',
      code: 'HUB_WS_FORBIDDEN',
    });
    // Rate limit: a flood is cut with 1008 and recorded once.
    for (let i = 0; i < 200; i++) carol.send({ type: 'ping' });
    expect((await carol.closed).code).toBe(CloseCode.POLICY_VIOLATION);
    await expect.poll(() => audit.length).toBe(2);
    expect(audit[1]).toMatchObject({
      kind: 'rate-limit',
      identity: 'client.carol',
      rule: 'rateLimit',
      code: 'HUB_OVERLOADED',
    });
    expect(audit[1]!.reason).toMatch(/cut with 1008/);
    // Origin not on the list.
    expect((await upgrade(gateway.url, { origin: 'https://evil.example' })).status).toBe(403);
    expect(audit[2]).toMatchObject({ kind: 'refused', rule: 'allowedOrigins', address: '/' });
    // Over the per-address connection limit.
    const a = await upgrade(gateway.url);
    const b = await upgrade(gateway.url);
    expect((await upgrade(gateway.url)).status).toBe(503);
    expect(audit[3]).toMatchObject({ kind: 'rate-limit', rule: 'maxConnectionsPerIp' });
    for (const r of [a, b]) if ('ws' in r) r.ws.terminate();
    expect(audit).toHaveLength(4);
    expect(hub.metrics().components.security!.rateLimited).toBe(2);
  });
});
