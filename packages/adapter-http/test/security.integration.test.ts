import type { AuditEvent, UnifiedMessage } from '@hub/core';
import { ErrorCode } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { httpServer } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

const post = (url: string, body: unknown, token: string) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });

describe('S8 over HTTP: the identity the verify hook resolved meets the hub policy', () => {
  it('an allowed POST carries its identity to the handler; a forbidden one is 403 HUB_FORBIDDEN, audited', async () => {
    const audit: AuditEvent[] = [];
    const hub = jobs.add(
      await startedHub({
        name: 'server',
        security: {
          audit: (e) => audit.push(e),
          policy: {
            rules: [
              { identities: ['server'], serve: ['orders', 'admin'] },
              { identities: ['partner.*'], send: ['orders'] },
            ],
          },
        },
      }),
    );
    const got: UnifiedMessage[] = [];
    await hub.onMessage('orders', (m) => {
      got.push(m);
    });
    await hub.onMessage('admin', (m) => {
      got.push(m);
    });
    const endpoint = jobs.add(
      await httpServer({
        hub,
        verify: (req) =>
          req.headers.authorization === 'Bearer acme'
            ? { id: 'partner.acme' }
            : req.headers.authorization !== 'Bearer stolen',
      }),
    );
    const ok = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 1, headers: { 'hub-identity': 'server' } },
      'acme',
    );
    expect(ok.status).toBe(202);
    await expect.poll(() => got.length).toBe(1);
    expect(got[0]!.headers['hub-identity']).toBe('partner.acme');

    const forbidden = await post(
      `${endpoint.url}/messages`,
      { destination: 'admin', payload: 1 },
      'acme',
    );
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ code: ErrorCode.FORBIDDEN });
    // A request the hook accepts without an identity is anonymous, and the policy has no rule for it.
    const anonymous = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 2 },
      'other',
    );
    expect(anonymous.status).toBe(403);
    expect(audit.filter((e) => e.kind === 'refused').map((e) => [e.identity, e.address])).toEqual([
      ['partner.acme', 'admin'],
      ['anonymous', 'orders'],
    ]);
    expect(got).toHaveLength(1);
    // A request the verify hook refuses is audited as an authentication failure.
    const stolen = await post(
      `${endpoint.url}/messages`,
      { destination: 'orders', payload: 3 },
      'stolen',
    );
    expect(stolen.status).toBe(401);
    const auth = audit.filter((e) => e.kind === 'auth');
    expect(auth.map((e) => [e.address, e.code])).toEqual([['/messages', ErrorCode.AUTH_FAILED]]);
    expect(JSON.stringify(auth)).not.toContain('stolen');
    expect(hub.metrics().components.security!.authFailed).toBe(1);
  });
});
