import net from 'node:net';

export interface StartTcpProxyOptions {
  readonly targetPort: number;
  /** @default '127.0.0.1' */
  readonly targetHost?: string;
}

/** A TCP forwarder on 127.0.0.1 that can fake a dead link (stall) or a dropped one (cut). */
export interface TcpProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Links currently open. */
  readonly connections: number;
  /** Links accepted since the proxy started: a reconnect shows as a new one. */
  readonly accepted: number;
  /** Whether the proxy is stalled. */
  readonly stalled: boolean;
  /**
   * Stop forwarding in both directions without closing anything, like a link
   * whose far end vanished: bytes stay queued, nobody gets FIN or RST. Links
   * opened while stalled are stalled too.
   */
  stall(): void;
  /** Forward again, including what was queued during the stall. */
  resume(): void;
  /**
   * Hold every chunk this long (ms) in each direction before forwarding it,
   * like a slow link; order is kept, 0 forwards at once again.
   */
  setDelay(ms: number): void;
  /** Destroy every current link (both sides see a reset); new links still work. */
  cut(): void;
  /** Stop listening and destroy every link. Idempotent. */
  close(): Promise<void>;
}

interface Link {
  client: net.Socket;
  upstream: net.Socket;
}

/** Start a proxy from a free 127.0.0.1 port to `targetHost:targetPort`. */
export async function startTcpProxy(opts: StartTcpProxyOptions): Promise<TcpProxy> {
  const targetHost = opts.targetHost ?? '127.0.0.1';
  const links = new Set<Link>();
  let stalled = false;
  let accepted = 0;
  let delayMs = 0;
  /** Forward `d` to `to` after the delay, never before a chunk queued earlier in that direction. */
  const forwarder = (to: net.Socket) => {
    let lastDue = 0;
    return (d: Buffer) => {
      const now = Date.now();
      if (delayMs === 0 && lastDue <= now) {
        to.write(d);
        return;
      }
      lastDue = Math.max(now + delayMs, lastDue);
      setTimeout(() => {
        if (!to.destroyed) to.write(d);
      }, lastDue - now);
    };
  };

  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: targetHost, port: opts.targetPort });
    const link: Link = { client, upstream };
    links.add(link);
    const drop = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    // Pausing the readers (instead of buffering here) leaves the bytes in kernel
    // buffers, which is what a silent link looks like to both ends.
    client.on('data', forwarder(upstream));
    upstream.on('data', forwarder(client));
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  let closed: Promise<void> | undefined;

  return {
    host: '127.0.0.1',
    port,
    get connections() {
      return links.size;
    },
    get accepted() {
      return accepted;
    },
    get stalled() {
      return stalled;
    },
    stall() {
      stalled = true;
      for (const l of links) {
        l.client.pause();
        l.upstream.pause();
      }
    },
    resume() {
      stalled = false;
      for (const l of links) {
        l.client.resume();
        l.upstream.resume();
      }
    },
    setDelay(ms: number) {
      delayMs = ms;
    },
    cut() {
      for (const l of [...links]) {
        links.delete(l);
        l.client.resetAndDestroy();
        l.upstream.resetAndDestroy();
      }
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        for (const l of [...links]) {
          l.client.destroy();
          l.upstream.destroy();
        }
        links.clear();
        server.close(() => resolve());
      });
      return closed;
    },
  };
}
