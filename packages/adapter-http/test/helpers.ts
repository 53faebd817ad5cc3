import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHub, type Hub, type HubConfig, silentLogger } from '@hub/core';
import type { UnifiedMessage } from '@hub/protocol';
import { type HttpEndpointOptions, httpServer } from '../src/index.js';

export interface Received {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The client's port: which connection the request came on. */
  remotePort: number | undefined;
}

export interface TestServer {
  readonly url: string;
  readonly server: Server;
  readonly received: Received[];
  close(): Promise<void>;
}

/** A downstream on loopback port 0 that records every request and answers with `respond`. */
export async function downstream(
  respond: (req: Received, res: ServerResponse, n: number) => void | Promise<void>,
): Promise<TestServer> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks),
        remotePort: req.socket.remotePort,
      };
      received.push(r);
      Promise.resolve(respond(r, res, received.length)).catch(() => res.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const json = (res: ServerResponse, status: number, value: unknown, headers = {}) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(body);
};

/** Things to close in afterAll / afterEach, in reverse order, even when a test failed. */
export function cleanup() {
  const fns: Array<() => Promise<unknown> | unknown> = [];
  return {
    add<T extends { close(): Promise<unknown> | unknown }>(x: T): T {
      fns.push(() => x.close());
      return x;
    },
    async run(): Promise<void> {
      for (const fn of fns.splice(0).reverse()) {
        try {
          await fn();
        } catch {
          // keep closing the rest
        }
      }
    },
  };
}

export async function startedHub(config: HubConfig): Promise<Hub> {
  const hub = createHub({ logger: silentLogger, drainTimeoutMs: 200, ...config });
  await hub.start();
  return hub;
}

/** A started hub serving endpoint `orders` (recorded in `got`) behind a standalone endpoint. */
export async function endpointWithOrders(
  jobs: ReturnType<typeof cleanup>,
  extra: Partial<HttpEndpointOptions> = {},
) {
  const hub = jobs.add(await startedHub({}));
  const got: UnifiedMessage[] = [];
  await hub.onMessage('orders', (m) => {
    got.push(m);
  });
  const endpoint = jobs.add(await httpServer({ hub, ...extra }));
  return { hub, endpoint, got, url: endpoint.url };
}

/** Fast hub send retries, so fault tests take milliseconds, not seconds. */
export const fastRetry = { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20 };
