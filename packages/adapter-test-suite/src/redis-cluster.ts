import { execFile } from 'node:child_process';
import { type RedisServer, startRedisServer } from './redis-server.js';

export interface StartRedisClusterOptions {
  /** Master nodes, each owning a share of the 16384 slots (no replicas). @default 3 */
  masters?: number;
  /** How long to wait for `cluster_state:ok`. @default 60_000 */
  readyTimeoutMs?: number;
}

export interface RedisCluster {
  readonly nodes: ReadonlyArray<{ host: '127.0.0.1'; port: number }>;
  readonly servers: readonly RedisServer[];
  /** Kill every node and remove their dirs. Idempotent. */
  stop(): Promise<void>;
}

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-cli', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err)
        reject(new Error(`redis-cli ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Start a local Redis Cluster of `masters` real redis-server processes and wait until it serves. */
export async function startRedisCluster(
  opts: StartRedisClusterOptions = {},
): Promise<RedisCluster> {
  const masters = opts.masters ?? 3;
  const servers: RedisServer[] = [];
  const stop = async () => {
    await Promise.allSettled(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer({
          args: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-node-timeout',
            '5000',
          ],
        }),
      );
    }
    await cli([
      '--cluster',
      'create',
      ...servers.map((s) => `127.0.0.1:${s.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    // cluster_state:ok on each node is not enough: clients read the slot map from one
    // node, so wait until every node agrees on it (gossip converged).
    for (const s of servers) {
      for (;;) {
        const check = await cli(['--cluster', 'check', `127.0.0.1:${s.port}`]).catch(
          (e: Error) => e.message,
        );
        if (check.includes('All nodes agree') && check.includes('All 16384 slots covered')) break;
        if (Date.now() > deadline) throw new Error(`cluster slots did not converge:\n${check}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    for (const s of servers) {
      for (;;) {
        const info = await cli(['-h', '127.0.0.1', '-p', String(s.port), 'cluster', 'info']);
        if (info.includes('cluster_state:ok')) break;
        if (Date.now() > deadline) throw new Error(`cluster did not become ok:\n${info}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    nodes: servers.map((s) => ({ host: '127.0.0.1' as const, port: s.port })),
    servers,
    stop,
  };
}
