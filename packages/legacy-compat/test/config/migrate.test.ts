import { createServer } from 'node:http';
import { isHubError } from '@hub/protocol';
import { describe, expect, it, vi } from 'vitest';
import {
  type DroppedOption,
  migrateRedisConfig,
  migrateWsConfig,
  planConfigMigration,
  planRedisMigration,
  planWsMigration,
  REDIS_ADAPTER_OPTIONS,
  WS_CLIENT_OPTIONS,
  WS_SERVER_OPTIONS,
} from '../../src/index.js';

const options = (d: DroppedOption[]) => d.map((x) => x.option);

/** `plan` throws HUB_INVALID_CONFIG naming the option `name`. */
function expectBadOption(plan: () => unknown, name: string): void {
  try {
    plan();
  } catch (err) {
    expect(isHubError(err) && err.code).toBe('HUB_INVALID_CONFIG');
    expect((err as Error).message).toContain(`\`${name}\``);
    return;
  }
  throw new Error('expected a throw');
}

/** Every key the adapter does not take would be refused by `redis()`: none may appear. */
function onlyAdapterOptions(o: object): void {
  for (const k of Object.keys(o)) expect(REDIS_ADAPTER_OPTIONS).toContain(k);
}

describe('migrateRedisConfig', () => {
  it('a legacy ConnectionConfig, snake_case, with connection_params', () => {
    const m = planRedisMigration({
      protocol: 'redis_streams',
      host: 'cache.internal',
      port: '6380',
      pool_size: 20,
      connection_params: {
        password: 's3cret',
        db: 2,
        ssl: true,
        decode_responses: true,
        health_check_interval: 10,
        socket_connect_timeout: 5,
      },
    });
    expect(m.options).toEqual({
      host: 'cache.internal',
      port: 6380,
      password: 's3cret',
      db: 2,
      tls: true,
      heartbeatMs: 10_000,
    });
    onlyAdapterOptions(m.options);
    expect(options(m.dropped)).toEqual([
      'protocol',
      'pool_size',
      'connection_params.decode_responses',
      'connection_params.socket_connect_timeout',
    ]);
    for (const d of m.dropped) expect(d.reason.length).toBeGreaterThan(10);
  });

  it('a URL, and ioredis options with per-connection settings the adapter owns', () => {
    expect(migrateRedisConfig('rediss://u:p@h:6390/1')).toEqual({ url: 'rediss://u:p@h:6390/1' });
    const m = planRedisMigration({
      host: '10.0.0.5',
      port: 6379,
      keyPrefix: 'app:',
      connectTimeout: 2_000,
      commandTimeout: 750,
      maxRetriesPerRequest: 3,
      enableOfflineQueue: false,
      retryStrategy: () => 100,
      family: 4,
    });
    expect(m.options).toEqual({
      host: '10.0.0.5',
      port: 6379,
      commandTimeoutMs: 750,
      redisOptions: { connectTimeout: 2_000, family: 4 },
    });
    onlyAdapterOptions(m.options);
    expect(options(m.dropped).sort()).toEqual([
      'enableOfflineQueue',
      'keyPrefix',
      'maxRetriesPerRequest',
      'retryStrategy',
    ]);
  });

  it('Sentinel', () => {
    const m = planRedisMigration({
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'mymaster',
      password: 'pw',
      sentinelPassword: 'spw',
      role: 'master',
    });
    expect(m.options).toEqual({
      password: 'pw',
      sentinels: {
        sentinels: [
          { host: 's1', port: 26379 },
          { host: 's2', port: 26379 },
        ],
        name: 'mymaster',
        password: 'pw',
        sentinelPassword: 'spw',
      },
    });
    expect(options(m.dropped)).toEqual(['role']);
  });

  it('Cluster, as nodes + options and as a bare node list', () => {
    const m = planRedisMigration({
      startupNodes: ['10.0.0.1:7000', '10.0.0.2:7000'],
      clusterOptions: {
        scaleReads: 'slave',
        redisOptions: { password: 'pw', tls: {} },
        clusterRetryStrategy: () => 10,
      },
    });
    expect(m.options).toEqual({
      cluster: {
        nodes: [
          { host: '10.0.0.1', port: 7000 },
          { host: '10.0.0.2', port: 7000 },
        ],
        options: { scaleReads: 'slave', redisOptions: { password: 'pw', tls: {} } },
      },
    });
    expect(options(m.dropped)).toEqual(['clusterOptions.clusterRetryStrategy']);
    expect(migrateRedisConfig([{ host: 'a', port: 1 }])).toEqual({
      cluster: { nodes: [{ host: 'a', port: 1 }] },
    });
  });

  it('environment variable sets; unrelated variables are ignored', () => {
    const env = {
      PATH: '/usr/bin',
      REDIS_HOST: 'redis.svc',
      REDIS_PORT: '6379',
      REDIS_PASSWORD: 'pw',
      REDIS_DB: '3',
      REDIS_TLS: 'true',
      REDIS_POOL_SIZE: '10',
    };
    const m = planRedisMigration(env);
    expect(m.options).toEqual({ host: 'redis.svc', port: 6379, password: 'pw', db: 3, tls: true });
    expect(options(m.dropped)).toEqual(['REDIS_POOL_SIZE']);
    expect(migrateRedisConfig({ REDIS_URL: 'redis://x:1' })).toEqual({ url: 'redis://x:1' });
    expect(
      migrateRedisConfig({ REDIS_SENTINELS: 'a:26379,b:26379', REDIS_SENTINEL_NAME: 'm' }),
    ).toEqual({
      sentinels: {
        sentinels: [
          { host: 'a', port: 26379 },
          { host: 'b', port: 26379 },
        ],
        name: 'm',
      },
    });
    expect(migrateRedisConfig({ REDIS_CLUSTER_NODES: 'a:7000 b:7001' })).toEqual({
      cluster: {
        nodes: [
          { host: 'a', port: 7000 },
          { host: 'b', port: 7001 },
        ],
      },
    });
  });

  it('reports through onDropped, and a warning by default', () => {
    const seen: DroppedOption[][] = [];
    migrateRedisConfig({ host: 'h', pool_size: 3 }, { onDropped: (d) => seen.push([...d]) });
    expect(seen).toEqual([[{ option: 'pool_size', reason: expect.any(String) }]]);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      migrateRedisConfig({ host: 'h', pool_size: 3 });
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/not carried over: pool_size \(/));
    } finally {
      warn.mockRestore();
    }
  });

  it('unusable values are typed errors naming the option', () => {
    const bad = (input: unknown, name: string) =>
      expectBadOption(() => planRedisMigration(input), name);
    bad({ port: 'http' }, 'port');
    bad({ connection_params: { db: -1 } }, 'connection_params.db');
    bad({ url: 'http://x' }, 'url');
    bad({ REDIS_SENTINELS: 'nope' }, 'REDIS_SENTINELS');
    bad({ name: 'm' }, 'name');
    bad(42, 'config');
  });
});

/** The adapter refuses any option it does not know: the output must hold only its own. */
function onlyWsOptions(o: object, known: readonly string[]): void {
  for (const k of Object.keys(o)) expect(known).toContain(k);
}

describe('migrateWsConfig', () => {
  it('ws server options → wsServer options (without hub), the rest reported', () => {
    const m = planWsMigration({
      port: 8080,
      host: '0.0.0.0',
      path: 'ws',
      maxPayload: 1_048_576,
      perMessageDeflate: false,
      clientTracking: true,
      verifyClient: () => true,
      backlog: 511,
      handleProtocols: () => 'x',
    });
    expect(m.role).toBe('server');
    expect(m.options).toEqual({ port: 8080, host: '0.0.0.0', path: '/ws', maxPayload: 1_048_576 });
    onlyWsOptions(m.options, WS_SERVER_OPTIONS);
    expect(options(m.dropped)).toEqual([
      'clientTracking',
      'verifyClient',
      'handleProtocols',
      'backlog',
    ]);
    for (const d of m.dropped) expect(d.reason.length).toBeGreaterThan(10);
  });

  it('a Python websockets serve() dict and an http.Server to mount on', () => {
    const http = createServer();
    const m = planWsMigration({
      server: http,
      path: '/hub',
      origins: ['https://app.example', null],
      max_size: 65_536,
      ping_interval: 20,
      ping_timeout: 20,
      open_timeout: 5,
      max_queue: 32,
      write_limit: 65_536,
      compression: null,
    });
    expect(m.options).toEqual({
      server: http,
      path: '/hub',
      allowedOrigins: ['https://app.example'],
      maxPayload: 65_536,
      pingIntervalMs: 20_000,
      handshakeTimeoutMs: 5_000,
    });
    onlyWsOptions(m.options, WS_SERVER_OPTIONS);
    expect(options(m.dropped)).toEqual(['ping_timeout', 'max_queue', 'write_limit']);
  });

  it('ws client options → wsClient options; a bearer header becomes the token', () => {
    const m = planWsMigration({
      address: 'wss://gw.example/ws',
      protocols: ['hub.v1'],
      handshakeTimeout: 5_000,
      headers: { Authorization: 'Bearer t0k', 'X-Team': 'a' },
      origin: 'https://app.example',
      rejectUnauthorized: false,
      perMessageDeflate: true,
      maxPayload: 1024,
      followRedirects: true,
    });
    expect(m.role).toBe('client');
    expect(m.options).toEqual({
      url: 'wss://gw.example/ws',
      token: 't0k',
      connectTimeoutMs: 5_000,
    });
    onlyWsOptions(m.options, WS_CLIENT_OPTIONS);
    expect(options(m.dropped)).toEqual([
      'protocols',
      'perMessageDeflate',
      'followRedirects',
      'headers',
      'origin',
      'rejectUnauthorized',
      'maxPayload',
    ]);
    expect(m.dropped.find((d) => d.option === 'headers')?.reason).toMatch(/token/);
  });

  it('a legacy ConnectionConfig (host, port, path, ssl, ping_interval) connects: a client URL', () => {
    const m = planWsMigration({
      protocol: 'websocket',
      host: 'gw.internal',
      port: '8765',
      path: '/hub',
      ssl: true,
      pool_size: 4,
      connection_params: {
        ping_interval: 20,
        ping_timeout: 20,
        max_size: 2 ** 20,
        compression: 'deflate',
        reconnect: { initial_delay_ms: 200, max_delay_ms: 10_000 },
        access_token: 's3cret',
      },
    });
    expect(m.role).toBe('client');
    expect(m.options).toEqual({
      url: 'wss://gw.internal:8765/hub',
      token: 's3cret',
      pingIntervalMs: 20_000,
      reconnect: { initialDelayMs: 200, maxDelayMs: 10_000 },
    });
    onlyWsOptions(m.options, WS_CLIENT_OPTIONS);
    expect(options(m.dropped)).toEqual([
      'protocol',
      'pool_size',
      'connection_params.ping_timeout',
      'connection_params.compression',
      'connection_params.max_size',
    ]);
    // camelCase, IPv6, no path: the same
    expect(
      migrateWsConfig(
        { host: '::1', port: 9000, poolSize: 2, connectionParams: { pingInterval: 5 } },
        { onDropped: () => {} },
      ),
    ).toEqual({ url: 'ws://[::1]:9000/', pingIntervalMs: 5_000 });
  });

  it('the role: a listen address makes a server, `role` decides, a mix is refused', () => {
    expect(planWsMigration({ protocol: 'websocket', host: '0.0.0.0', port: 8765 }).role).toBe(
      'server',
    );
    expect(planWsMigration({ protocol: 'websocket', host: '127.0.0.1', port: 0 }).role).toBe(
      'server',
    );
    expect(planWsMigration({ port: 8080 }).role).toBe('server');
    expect(planWsMigration('ws://127.0.0.1:1/').options).toEqual({ url: 'ws://127.0.0.1:1/' });
    const asClient = planWsMigration({ host: 'h', port: 80, backlog: 5 }, { role: 'client' });
    expect(asClient.options).toEqual({ url: 'ws://h:80/' });
    expect(asClient.dropped).toEqual([
      { option: 'backlog', reason: expect.stringMatching(/server/) },
    ]);
    const asServer = planWsMigration({ url: 'ws://h:1/', port: 1 }, { role: 'server' });
    expect(asServer.options).toEqual({ port: 1 });
    expect(options(asServer.dropped)).toEqual(['url']);
    expect(() => planWsMigration({ url: 'ws://h/', backlog: 5 })).toThrow(
      /`url` is a client option but `backlog` is a server option/,
    );
  });

  it('already-migrated options come back unchanged (the migration is idempotent)', () => {
    const clientOptions = {
      url: 'ws://h:1/x',
      token: 't',
      name: 'edge',
      reconnect: { initialDelayMs: 10, maxDelayMs: 100, factor: 3, jitter: 'none' as const },
      maxOutbox: 50,
      connectTimeoutMs: 1000,
      pingIntervalMs: 2000,
    };
    expect(planWsMigration(clientOptions)).toEqual({
      role: 'client',
      options: clientOptions,
      dropped: [],
    });
    const serverOptions = {
      name: 'gw',
      port: 1,
      host: '127.0.0.1',
      path: '/x',
      tokens: ['a'],
      allowedOrigins: ['https://a'],
      maxPayload: 1,
      window: 2,
      endpointConcurrency: 3,
      rateLimit: 4,
      rateBurst: 5,
      maxBufferedBytes: 6,
      maxConnections: 7,
      maxConnectionsPerIp: 8,
      pingIntervalMs: 9,
      handshakeTimeoutMs: 10,
      resumeWindowMs: 11,
    };
    expect(planWsMigration(serverOptions)).toEqual({
      role: 'server',
      options: serverOptions,
      dropped: [],
    });
    // every adapter option has a way in
    expect(Object.keys(serverOptions).sort()).toEqual(
      WS_SERVER_OPTIONS.filter((k) => k !== 'server' && k !== 'authenticate').sort(),
    );
    expect(Object.keys(clientOptions).sort()).toEqual(
      WS_CLIENT_OPTIONS.filter((k) => k !== 'WebSocket').sort(),
    );
  });

  it('unusable values are typed errors naming the option', () => {
    const bad = (input: unknown, name: string) =>
      expectBadOption(() => planWsMigration(input), name);
    bad({ url: 'http://x' }, 'url');
    bad({ protocol: 'websocket', port: 'http' }, 'port');
    bad({ protocol: 'websocket', port: 80 }, 'port'); // a client needs a host
    bad({ connection_params: { ping_interval: -1 } }, 'connection_params.ping_interval');
    bad({ server: 'gw.internal' }, 'server');
    bad(42, 'config');
  });
});

describe('migrateConfig', () => {
  it('the seed shape, snake_case, every option accounted for', () => {
    const m = planConfigMigration({
      name: 'LegacyHub',
      max_concurrent_messages: 5000,
      message_timeout_ms: 15_000,
      redis_config: { protocol: 'redis_pubsub', host: 'r', port: 6379, pool_size: 8 },
      websocket_config: { protocol: 'websocket', host: 'gw', port: 8765, pool_size: 2 },
      enable_metrics: true,
      enable_health_monitoring: 'false',
      health_check_interval: 15,
      default_routing_strategy: 'ROUND_ROBIN',
      log_level: 'INFO',
      enable_compression: true,
    });
    const { adapters, ...rest } = m.options;
    expect(adapters?.map((a) => a.name)).toEqual(['redis', 'ws']);
    expect(rest).toEqual({
      name: 'LegacyHub',
      maxConcurrentMessages: 5000,
      messageTimeoutMs: 15_000,
      redisConfig: { host: 'r', port: 6379 },
      websocketConfig: { url: 'ws://gw:8765/' },
      enableMetrics: true,
      enableHealthMonitoring: false,
      healthCheckInterval: 15,
      defaultRoutingStrategy: 'round-robin',
    });
    expect(options(m.dropped)).toEqual([
      'redis_config.protocol',
      'redis_config.pool_size',
      'websocket_config.protocol',
      'websocket_config.pool_size',
      'log_level',
      'enable_compression',
    ]);
  });

  it('WebSocket server settings are not hub settings: reported with what to call instead', () => {
    const m = planConfigMigration({ websocket_config: { host: '0.0.0.0', port: 8765 } });
    expect(m.options).toEqual({});
    expect(m.dropped).toEqual([
      { option: 'websocket_config', reason: expect.stringMatching(/wsServer\(\{ hub, /) },
    ]);
  });

  it('camelCase and bad values', () => {
    const m = planConfigMigration({ name: 'x', maxConcurrentMessages: 10, messageTimeout: 2 });
    expect(m.options).toEqual({ name: 'x', maxConcurrentMessages: 10, messageTimeoutMs: 2000 });
    expect(() => planConfigMigration({ max_concurrent_messages: -1 })).toThrow(
      /`max_concurrent_messages` must be a positive integer/,
    );
    expect(() => planConfigMigration({ default_routing_strategy: 'random' })).toThrow(
      /must be one of/,
    );
  });
});
