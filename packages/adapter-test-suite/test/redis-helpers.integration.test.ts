import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startRedisCluster } from '../src/redis-cluster.js';
import { type RedisServer, redisCli, startRedisServer } from '../src/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../src/tcp-proxy.js';

const cleanups: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

/** Send one raw RESP command on `socket` and resolve with the first reply line, or 'TIMEOUT'. */
function command(socket: net.Socket, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.off('data', onData);
      resolve('TIMEOUT');
    }, timeoutMs);
    const onData = (d: Buffer) => {
      clearTimeout(timer);
      socket.off('data', onData);
      resolve(d.toString('utf8').split('\r\n')[0] ?? '');
    };
    socket.on('data', onData);
    socket.write(
      `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`,
    );
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.on('error', reject);
  });
}

describe('startRedisServer', () => {
  it('serves PING and keeps AOF data across kill and restart', async () => {
    const server: RedisServer = await startRedisServer({ aof: true });
    cleanups.push(() => server.stop());
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
    expect((await redisCli(server, ['PING'])).trim()).toBe('PONG');
    await redisCli(server, ['SET', 'k', 'v1']);
    const pid = server.pid;
    await server.kill();
    await expect(redisCli(server, ['PING'])).rejects.toThrow();
    await server.restart();
    expect(server.pid).not.toBe(pid);
    expect((await redisCli(server, ['GET', 'k'])).trim()).toBe('v1');
    await server.stop();
    await server.stop(); // idempotent
  });

  it('without aof a restart starts empty', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    await redisCli(server, ['SET', 'k', 'v1']);
    await server.restart();
    expect((await redisCli(server, ['EXISTS', 'k'])).trim()).toBe('0');
    await server.stop();
  });

  it('password: commands without AUTH are refused', async () => {
    const server = await startRedisServer({ password: 's3cret' });
    cleanups.push(() => server.stop());
    expect(server.url).toBe(`redis://:s3cret@127.0.0.1:${server.port}`);
    expect(await redisCli(server, ['PING'])).toMatch(/NOAUTH/);
    expect((await redisCli(server, ['-a', 's3cret', '--no-auth-warning', 'PING'])).trim()).toBe(
      'PONG',
    );
    await server.stop();
  });
});

describe('startRedisServer with tls', () => {
  it('serves TLS only, with a CA the test can trust', async () => {
    const server = await startRedisServer({ tls: true });
    cleanups.push(() => server.stop());
    expect(server.url).toBe(`rediss://127.0.0.1:${server.port}`);
    expect(server.tls?.ca).toContain('BEGIN CERTIFICATE');
    const ok = await redisCli(server, ['--tls', '--cacert', server.tls!.caFile, 'PING']);
    expect(ok.trim()).toBe('PONG');
    // Plain text on the TLS port gets no PONG.
    const s = await connect(server.port);
    s.on('error', () => {});
    expect(await command(s, ['PING'], 1_000)).not.toBe('+PONG');
    s.destroy();
    await server.stop();
  });
});

describe('startTcpProxy', () => {
  it('forwards, stalls without closing, resumes, and cuts', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.stop());
    const proxy: TcpProxy = await startTcpProxy({ targetPort: server.port });
    cleanups.push(() => proxy.close());
    const s = await connect(proxy.port);
    expect(await command(s, ['PING'], 5_000)).toBe('+PONG');
    proxy.stall();
    let closed = false;
    s.on('close', () => {
      closed = true;
    });
    expect(await command(s, ['PING'], 500)).toBe('TIMEOUT');
    expect(closed).toBe(false);
    proxy.resume();
    // The stalled PING reply arrives now; then the link works as before.
    await new Promise<void>((resolve) => s.once('data', () => resolve()));
    expect(await command(s, ['PING'], 5_000)).toBe('+PONG');
    const gone = new Promise<void>((resolve) => s.once('close', () => resolve()));
    s.on('error', () => {});
    proxy.cut();
    await gone;
    expect(closed).toBe(true);
    const s2 = await connect(proxy.port);
    expect(await command(s2, ['PING'], 5_000)).toBe('+PONG');
    s2.destroy();
    await proxy.close();
  });
});

describe('startRedisCluster', () => {
  it('starts 3 masters that serve every slot', async () => {
    const cluster = await startRedisCluster({ masters: 3 });
    cleanups.push(() => cluster.stop());
    expect(cluster.nodes).toHaveLength(3);
    const first = cluster.servers[0]!;
    const info = await redisCli(first, ['cluster', 'info']);
    expect(info).toContain('cluster_slots_assigned:16384');
    expect(info).toContain('cluster_known_nodes:3');
    await cluster.stop();
  });
});
