import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';

/** TLS material of a server started with `tls: true`: a self-signed certificate made for the test. */
export interface RedisServerTls {
  /** PEM of the self-signed CA the server certificate chains to; pass it as `ca` to the client. */
  readonly ca: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export interface StartRedisServerOptions {
  /** Append-only file with `appendfsync always`, so every acknowledged write survives SIGKILL. @default false */
  aof?: boolean;
  /** Extra `redis-server` arguments, e.g. `['--cluster-enabled', 'yes']`. @default [] */
  args?: string[];
  /** `requirepass` for the default user. @default undefined (no auth) */
  password?: string;
  /**
   * Serve TLS only (`--port 0 --tls-port <port>`) with a certificate for 127.0.0.1
   * generated with openssl in the server's temp dir. @default false
   */
  tls?: boolean;
  /** How long to wait for the server to answer PING. @default 30_000 */
  startTimeoutMs?: number;
}

export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `redis://127.0.0.1:<port>` or `rediss://…` with TLS; includes the password when set. */
  readonly url: string;
  /** Working dir (AOF, nodes.conf); removed by `stop()`. */
  readonly dir: string;
  /** Pid of the current process (changes on `restart()`). */
  readonly pid: number;
  readonly tls?: RedisServerTls;
  /** SIGKILL, then wait for the exit. Idempotent. */
  kill(): Promise<void>;
  /** Start again on the same port and dir (AOF data survives); kills first if still running. */
  restart(): Promise<void>;
  /** Kill and remove the dir. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  // A crashed or aborted test run must not leave servers behind on a shared machine.
  process.once('exit', () => {
    for (const child of live) {
      try {
        child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/**
 * Exit hooks do not run when the test process is killed (a runner tearing down a
 * timed-out worker): a detached shell kills the server once our process is gone.
 */
function watchdog(serverPid: number): void {
  // Checks the command line too, so a recycled pid is never killed.
  const ours = `grep -q redis-server /proc/${serverPid}/cmdline 2>/dev/null`;
  const script = `while kill -0 ${process.pid} 2>/dev/null && ${ours}; do sleep 1; done; ${ours} && kill -9 ${serverPid} 2>/dev/null`;
  try {
    const w = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    w.on('error', () => {});
    w.unref();
  } catch {
    // best effort: the exit hook still covers normal exits
  }
}

/** A port the OS just handed out on 127.0.0.1; may race with other processes, so callers retry. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One RESP PING; resolves true on PONG or NOAUTH (the server is up and serving). */
function pingOnce(port: number, useTls: boolean): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(ok);
    };
    const socket: net.Socket = useTls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(1_000, () => finish(false));
    socket.on('error', () => finish(false));
    socket.once(useTls ? 'secureConnect' : 'connect', () => socket.write('*1\r\n$4\r\nPING\r\n'));
    let buf = '';
    socket.on('data', (d) => {
      buf += d.toString('utf8');
      if (buf.includes('\r\n')) finish(buf.startsWith('+PONG') || buf.startsWith('-NOAUTH'));
    });
  });
}

function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function makeCert(dir: string): Promise<RedisServerTls> {
  const caKey = join(dir, 'ca.key');
  const caFile = join(dir, 'ca.crt');
  const keyFile = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const certFile = join(dir, 'server.crt');
  const ext = join(dir, 'server.ext');
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=hub-test-ca',
    '-keyout',
    caKey,
    '-out',
    caFile,
  ]);
  await run('openssl', [
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=127.0.0.1',
    '-keyout',
    keyFile,
    '-out',
    csr,
  ]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    ext,
    '-out',
    certFile,
  ]);
  return { ca: readFileSync(caFile, 'utf8'), caFile, certFile, keyFile };
}

/**
 * Spawn a real `redis-server` on a free 127.0.0.1 port in a fresh temp dir and
 * wait until it answers PING. Persistence is off unless `aof` is set.
 */
export async function startRedisServer(opts: StartRedisServerOptions = {}): Promise<RedisServer> {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'hub-redis-'));
  const startTimeout = opts.startTimeoutMs ?? 30_000;
  const tlsMaterial = opts.tls ? await makeCert(dir) : undefined;
  let port = 0;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = '';

  const argsFor = (p: number): string[] => {
    const a = ['--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'no'];
    if (tlsMaterial) {
      a.push('--port', '0', '--tls-port', String(p));
      a.push('--tls-cert-file', tlsMaterial.certFile, '--tls-key-file', tlsMaterial.keyFile);
      a.push('--tls-ca-cert-file', tlsMaterial.caFile, '--tls-auth-clients', 'no');
    } else {
      a.push('--port', String(p));
    }
    if (opts.aof) a.push('--appendonly', 'yes', '--appendfsync', 'always', '--save', '');
    else a.push('--appendonly', 'no', '--save', '');
    if (opts.password !== undefined) a.push('--requirepass', opts.password);
    a.push(...(opts.args ?? []));
    return a;
  };

  const launch = async (p: number): Promise<boolean> => {
    output = '';
    const c = spawn('redis-server', argsFor(p), { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    child = c;
    live.add(c);
    if (c.pid !== undefined) watchdog(c.pid);
    let gone = false;
    exited = new Promise<void>((resolve) => {
      c.once('exit', () => {
        gone = true;
        live.delete(c);
        resolve();
      });
      c.once('error', () => {
        gone = true;
        live.delete(c);
        resolve();
      });
    });
    const keep = (d: Buffer) => {
      output = (output + d.toString('utf8')).slice(-4_000);
    };
    c.stdout?.on('data', keep);
    c.stderr?.on('data', keep);
    const deadline = Date.now() + startTimeout;
    while (Date.now() < deadline) {
      if (gone) return false;
      if (await pingOnce(p, tlsMaterial !== undefined)) return true;
      await sleep(50);
    }
    c.kill('SIGKILL');
    await exited;
    throw new Error(
      `redis-server on port ${p} did not answer PING in ${startTimeout} ms:\n${output}`,
    );
  };

  // The port may be taken between freePort() and bind by another process on a shared box.
  for (let tries = 0; ; tries++) {
    port = await freePort();
    if (await launch(port)) break;
    if (tries >= 5) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`redis-server failed to start:\n${output}`);
    }
  }

  const kill = async (): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    c.kill('SIGKILL');
    await exited;
  };
  let stopped = false;
  const scheme = tlsMaterial ? 'rediss' : 'redis';
  const auth = opts.password !== undefined ? `:${encodeURIComponent(opts.password)}@` : '';
  const server: RedisServer = {
    host: '127.0.0.1',
    port,
    url: `${scheme}://${auth}127.0.0.1:${port}`,
    dir,
    get pid() {
      return child?.pid ?? -1;
    },
    ...(tlsMaterial ? { tls: tlsMaterial } : {}),
    kill,
    async restart() {
      await kill();
      // Same port: clients reconnect to the address they know. Retry briefly if the
      // kernel has not released it yet.
      const deadline = Date.now() + startTimeout;
      while (!(await launch(port))) {
        if (Date.now() > deadline) throw new Error(`redis-server restart failed:\n${output}`);
        await sleep(100);
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Run `redis-cli` against a server and return its stdout (for interop tests and setup). */
export function redisCli(server: Pick<RedisServer, 'port'>, args: string[]): Promise<string> {
  return run('redis-cli', ['-h', '127.0.0.1', '-p', String(server.port), ...args]);
}
