import { once } from 'node:events';
import { createServer } from 'node:http';
import net from 'node:net';
import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage, type HubError } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { CloseCode, WsErrorCode, wsServer } from '../src/index.js';
import { startClient, startServer, track } from './helpers.js';
import { rawSession, upgrade } from './raw.js';

describe('S2 origin allow-list', () => {
  it('an origin not on the list gets 403 before the upgrade; a listed one and a non-browser get in', async () => {
    const { gateway } = await startServer({ allowedOrigins: ['https://app.example.com'] });
    expect((await upgrade(gateway.url, { origin: 'https://evil.example.com' })).status).toBe(403);
    const ok = await upgrade(gateway.url, { origin: 'https://app.example.com' });
    expect(ok.status).toBe(101);
    if ('ws' in ok) ok.ws.terminate();
    const bare = await upgrade(gateway.url);
    expect(bare.status).toBe(101);
    if ('ws' in bare) bare.ws.terminate();
    expect(gateway.metrics().refused.origin).toBe(1);
  });
});

describe('S3 handshake auth', () => {
  it('a missing or forged token gets 401 before the upgrade; a good one (header or query) gets in', async () => {
    const { gateway } = await startServer({ tokens: ['s3cret'] });
    expect((await upgrade(gateway.url)).status).toBe(401);
    expect((await upgrade(`${gateway.url}?access_token=wrong`)).status).toBe(401);
    expect(
      (await upgrade(gateway.url, { headers: { authorization: 'Bearer s3cre' } })).status,
    ).toBe(401);
    const byHeader = await upgrade(gateway.url, { headers: { authorization: 'Bearer s3cret' } });
    expect(byHeader.status).toBe(101);
    if ('ws' in byHeader) byHeader.ws.terminate();
    // our client sends it as the query parameter
    const client = await startClient(gateway.url, { token: 's3cret' });
    expect(client.health().hubStatus).toBe('healthy');
    expect(gateway.metrics().refused.auth).toBe(3);
  });

  it('an expired token refused by the verify hook gets 401; the identity it returns limits what the client may do', async () => {
    const { hub, gateway } = await startServer({
      authenticate: (req) => {
        const token = new URL(req.url ?? '/', 'http://x').searchParams.get('access_token');
        if (token !== 'fresh') return null; // e.g. expired
        return {
          id: 'agent-7',
          allow: { send: ['public.*'], serve: ['agent7.*'], subscribe: ['news.**'] },
        };
      },
    });
    expect((await upgrade(`${gateway.url}?access_token=stale`)).status).toBe(401);
    await hub.onMessage('public.inbox', () => {});
    await hub.onMessage('private', () => {});
    const client = await startClient(gateway.url, { token: 'fresh' });
    await client.send(createMessage({ source: 'a', destination: 'public.inbox', payload: 1 }));
    const refused = await client
      .send(createMessage({ source: 'a', destination: 'private', payload: 1 }))
      .then(
        () => undefined,
        (e: HubError) => e,
      );
    expect(refused?.code).toBe(WsErrorCode.FORBIDDEN);
    await expect(client.subscribe('secrets.*', () => {})).rejects.toMatchObject({
      code: WsErrorCode.FORBIDDEN,
    });
    await expect(client.onMessage('someone_else', () => {})).rejects.toMatchObject({
      code: WsErrorCode.FORBIDDEN,
    });
    await client.onMessage('agent7.jobs', () => {});
  });

  it('a resume with a session the server does not know fails closed: a new empty session and a resync error', async () => {
    const { gateway } = await startServer();
    const raw = await rawSession(gateway.url);
    await waitFor(() => raw.frames.length >= 1);
    const bad = await upgrade(gateway.url);
    if (!('ws' in bad)) throw new Error('refused');
    const frames: Array<Record<string, unknown>> = [];
    bad.ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    bad.ws.send(JSON.stringify({ type: 'hello', v: 1, session: 'forged-session', last: 99 }));
    await waitFor(() => frames.length >= 2);
    expect(frames[0]).toMatchObject({ type: 'error', code: WsErrorCode.RESYNC });
    expect(frames[1]).toMatchObject({ type: 'welcome', resumed: false });
    expect(frames[1]?.session).not.toBe('forged-session');
    bad.ws.terminate();
    raw.ws.terminate();
  });
});

describe('S4 size limit', () => {
  it('one byte over maxPayload closes with 1009; a frame at the limit is answered', async () => {
    const { gateway } = await startServer({ maxPayload: 1024 });
    const atLimit = await rawSession(gateway.url);
    const body = (n: number) => {
      const base = JSON.stringify({ type: 'ping', pad: '' });
      return JSON.stringify({ type: 'ping', pad: 'x'.repeat(n - base.length) });
    };
    atLimit.ws.send(body(1024));
    await waitFor(() => atLimit.frames.some((f) => f.type === 'pong'));
    const over = await rawSession(gateway.url);
    over.ws.send(body(1025));
    expect((await over.closed).code).toBe(CloseCode.MESSAGE_TOO_BIG);
    atLimit.ws.terminate();
  });
});

/** A raw TCP WebSocket handshake, so frames can be written byte by byte. */
async function rawTcp(port: number): Promise<{ socket: net.Socket; data: () => Buffer }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let buf = Buffer.alloc(0);
  socket.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
  });
  socket.on('error', () => {});
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
      'Sec-WebSocket-Protocol: hub.v1\r\n\r\n',
  );
  await waitFor(() => buf.includes('\r\n\r\n'));
  expect(buf.toString().startsWith('HTTP/1.1 101')).toBe(true);
  const headerEnd = buf.indexOf('\r\n\r\n') + 4;
  return { socket, data: () => buf.subarray(headerEnd) };
}

/** A client frame: FIN + opcode, masked unless told otherwise. */
function frame(
  opcode: number,
  payload: Buffer,
  opts: { mask?: boolean; rsv?: number } = {},
): Buffer {
  const mask = opts.mask ?? true;
  const head = Buffer.from([
    0x80 | ((opts.rsv ?? 0) << 4) | opcode,
    (mask ? 0x80 : 0) | payload.length,
  ]);
  if (!mask) return Buffer.concat([head, payload]);
  const key = Buffer.from([1, 2, 3, 4]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]!));
  return Buffer.concat([head, key, body]);
}

/** The close code in the server's close frame (opcode 8), once it arrives. */
async function closeCode(data: () => Buffer): Promise<number> {
  const d = await waitFor(() => {
    const b = data();
    return b.length >= 4 && (b[0]! & 0x0f) === 8 ? b : undefined;
  });
  return d.readUInt16BE(2);
}

describe('S5 protocol violations over raw TCP', () => {
  it('unmasked, bad UTF-8, reserved bits and a huge length close with the right code; others carry on', async () => {
    const { hub, gateway } = await startServer({ maxPayload: 65_536 });
    const bystander = await startClient(gateway.url);
    const got: number[] = [];
    await bystander.subscribe('s5.tick', (e) => {
      got.push(e.data as number);
    });

    const unmasked = await rawTcp(gateway.port);
    unmasked.socket.write(frame(1, Buffer.from('{"type":"ping"}'), { mask: false }));
    expect(await closeCode(unmasked.data)).toBe(1002);

    const badUtf8 = await rawTcp(gateway.port);
    badUtf8.socket.write(frame(1, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])));
    expect(await closeCode(badUtf8.data)).toBe(1007);

    const reserved = await rawTcp(gateway.port);
    reserved.socket.write(frame(1, Buffer.from('{"type":"ping"}'), { rsv: 4 }));
    expect(await closeCode(reserved.data)).toBe(1002);

    // a 64-bit length of 2^40 bytes: refused from the header, nothing buffered
    const huge = await rawTcp(gateway.port);
    const header = Buffer.alloc(14);
    header[0] = 0x81;
    header[1] = 0x80 | 127;
    header.writeBigUInt64BE(2n ** 40n, 2);
    huge.socket.write(header);
    expect(await closeCode(huge.data)).toBe(1009);

    // a binary frame: the protocol is JSON text
    const binary = await rawTcp(gateway.port);
    binary.socket.write(frame(2, Buffer.from([1, 2, 3])));
    expect(await closeCode(binary.data)).toBe(CloseCode.UNSUPPORTED_DATA);

    for (const s of [unmasked, badUtf8, reserved, huge, binary]) s.socket.destroy();
    await hub.publish(createEvent({ source: 's', topic: 's5.tick', data: 1 }));
    await waitFor(() => got.length === 1);
  });

  it('a frame that breaks the frame protocol gets an error frame naming the field; the connection carries on', async () => {
    const { gateway } = await startServer();
    const raw = await rawSession(gateway.url);
    raw.ws.send('not json');
    raw.send({ type: 'nope', id: 'f1' });
    raw.send({ type: 'message', id: 'f2', envelope: { kind: 'message', id: 'f2' } });
    raw.send({ type: 'ack', seq: -1 });
    raw.send({ type: 'ping' });
    await waitFor(() => raw.frames.some((f) => f.type === 'pong'));
    const errors = raw.frames.filter((f) => f.type === 'error');
    expect(errors).toHaveLength(4);
    expect(errors[0]?.code).toBe(WsErrorCode.BAD_FRAME);
    expect(errors[1]).toMatchObject({ id: 'f1', code: WsErrorCode.BAD_FRAME });
    expect(errors[2]).toMatchObject({ id: 'f2', code: 'HUB_INVALID_MESSAGE' });
    expect(String(errors[2]?.message)).toContain("'envelope'");
    expect(String(errors[3]?.message)).toContain("'seq'");
    raw.ws.terminate();
  });

  it("a nack whose 'final' is not a boolean gets an error frame naming the field; the connection carries on", async () => {
    const { gateway } = await startServer();
    const raw = await rawSession(gateway.url);
    raw.send({ type: 'nack', seq: 1, reason: 'r', final: 'yes' });
    raw.send({ type: 'nack', seq: 2, final: true }); // unknown seq: settles nothing, no error
    raw.send({ type: 'ping' });
    await waitFor(() => raw.frames.some((f) => f.type === 'pong'));
    const errors = raw.frames.filter((f) => f.type === 'error');
    expect(errors).toHaveLength(1);
    expect(errors[0]?.code).toBe(WsErrorCode.BAD_FRAME);
    expect(String(errors[0]?.message)).toContain("'final' must be a boolean");
    raw.ws.terminate();
  });
});

describe('S6 flood and connection limits', () => {
  it('a flood past the rate limit closes with 1008; another client keeps its latency', async () => {
    const { hub, gateway } = await startServer({ rateLimit: 50, rateBurst: 50 });
    await hub.onMessage('echo', (m) => m.payload);
    const calm = await startClient(gateway.url);
    const flood = await rawSession(gateway.url);
    for (let i = 0; i < 500; i++) flood.send({ type: 'ping' });
    expect((await flood.closed).code).toBe(CloseCode.POLICY_VIOLATION);
    const t0 = performance.now();
    const reply = await calm.request(
      createMessage({ source: 'c', destination: 'echo', payload: 7 }),
      {
        timeoutMs: 5_000,
      },
    );
    expect(reply.payload).toBe(7);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(gateway.metrics().cut.rate).toBe(1);
  });

  it('connections over the per-address limit get 503 before the upgrade', async () => {
    const { gateway } = await startServer({ maxConnectionsPerIp: 2 });
    const a = await upgrade(gateway.url);
    const b = await upgrade(gateway.url);
    expect((await upgrade(gateway.url)).status).toBe(503);
    for (const r of [a, b]) if ('ws' in r) r.ws.terminate();
    await waitFor(() => gateway.metrics().connections === 0);
    const c = await upgrade(gateway.url);
    expect(c.status).toBe(101);
    if ('ws' in c) c.ws.terminate();
  });
});

describe('connection limits and handshake', () => {
  it('connections over the overall limit get 503 before the upgrade', async () => {
    const { gateway } = await startServer({ maxConnections: 1 });
    const a = await upgrade(gateway.url);
    expect(a.status).toBe(101);
    expect((await upgrade(gateway.url)).status).toBe(503);
    if ('ws' in a) a.ws.terminate();
    expect(gateway.metrics().refused.limit).toBe(1);
  });

  it('a connection that never says hello is cut at the handshake timeout; a first frame other than hello is refused', async () => {
    const { gateway } = await startServer({ handshakeTimeoutMs: 100 });
    const silent = await upgrade(gateway.url);
    if (!('ws' in silent)) throw new Error('refused');
    const code = await new Promise<number>((r) => silent.ws.on('close', (c) => r(c)));
    expect(code).toBe(CloseCode.HANDSHAKE_FAILED);
    const rude = await upgrade(gateway.url);
    if (!('ws' in rude)) throw new Error('refused');
    rude.ws.send(JSON.stringify({ type: 'ping' }));
    expect(await new Promise<number>((r) => rude.ws.on('close', (c) => r(c)))).toBe(
      CloseCode.HANDSHAKE_FAILED,
    );
    expect(gateway.metrics().cut.handshake).toBe(2);
  });
});

describe('R14 slow consumer', () => {
  it('a peer that stops reading is cut at its buffer cap; memory stays bounded; others are unaffected', async () => {
    const { hub, gateway } = await startServer({ maxBufferedBytes: 512 * 1024, window: 100_000 });
    const healthy = await startClient(gateway.url);
    let healthyGot = 0;
    // A reader that keeps up holds at most its prefetch (2 × 64 KB) in the
    // server's buffer, however loaded the machine: never near the cap.
    await healthy.subscribe(
      'r14.big',
      () => {
        healthyGot++;
      },
      { prefetch: 2, concurrency: 1 },
    );
    const slow = await rawSession(gateway.url);
    slow.send({ type: 'subscribe', id: 'x', sub: 'x', pattern: 'r14.big', prefetch: 100_000 });
    await waitFor(() => slow.frames.some((f) => f.type === 'ack'));
    // stop reading: the kernel buffers fill, then the server's send buffer grows
    (slow.ws as unknown as { _socket: net.Socket })._socket.pause();
    const data = 'y'.repeat(64 * 1024);
    let published = 0;
    await waitFor(
      async () => {
        for (let i = 0; i < 20; i++, published++) {
          await hub.publish(createEvent({ source: 's', topic: 'r14.big', data }));
        }
        return gateway.metrics().cut.slow >= 1 || published >= 4_000;
      },
      { timeoutMs: 30_000 },
    );
    expect(gateway.metrics().cut.slow).toBe(1);
    expect(gateway.metrics().bufferedBytes).toBeLessThan(2 * 1024 * 1024);
    await waitFor(() => healthyGot === published, {
      message: () => `healthy client got ${healthyGot}/${published}`,
    });
  });
});

describe('mounted on an http.Server', () => {
  it('takes upgrades on its path only; other routes and upgrades stay the server’s', async () => {
    const { hub } = await startServer({ port: 0 });
    const http = createServer((_req, res) => res.end('ok'));
    track({ close: () => new Promise<void>((r) => http.close(() => r())) });
    await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
    const port = (http.address() as net.AddressInfo).port;
    track(await wsServer({ hub, server: http, path: '/hub', name: 'ws_mounted' }));
    await hub.onMessage('mounted', (m) => m.payload);
    const client = await startClient(`ws://127.0.0.1:${port}/hub`);
    const reply = await client.request(
      createMessage({ source: 'c', destination: 'mounted', payload: 'm' }),
      {
        timeoutMs: 5_000,
      },
    );
    expect(reply.payload).toBe('m');
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe('ok');
    expect((await upgrade(`ws://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});
