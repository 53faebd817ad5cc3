import { createHub, silentLogger } from '@hub/core';
import { ErrorCode } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { wsClient, wsServer } from '../src/index.js';

describe('options are checked, naming the field', () => {
  const hub = createHub({ logger: silentLogger });

  it('wsServer', async () => {
    await expect(wsServer({ hub, port: -1 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_CONFIG,
      message: expect.stringContaining('"port"'),
    });
    await expect(wsServer({ hub, port: 0, window: 0 })).rejects.toThrow(
      /"window" must be a positive number/,
    );
    await expect(wsServer({ hub, port: 0, path: 'hub' })).rejects.toThrow(/"path"/);
    await expect(wsServer({ hub, port: 0, tokens: [''] })).rejects.toThrow(/"tokens"/);
    await expect(
      wsServer({ hub, port: 0, maxPayloads: 10 } as unknown as Parameters<typeof wsServer>[0]),
    ).rejects.toThrow(/maxPayloads/);
    await expect(
      wsServer({ port: 0 } as unknown as Parameters<typeof wsServer>[0]),
    ).rejects.toThrow(/"hub"/);
  });

  it('wsClient', () => {
    expect(() => wsClient({ url: 'http://127.0.0.1/' })).toThrow(
      /"url" must be a ws:\/\/ or wss:\/\/ URL/,
    );
    expect(() => wsClient({ url: 'ws://127.0.0.1/', maxOutbox: -5 })).toThrow(/"maxOutbox"/);
    expect(() =>
      wsClient({ url: 'ws://127.0.0.1/', reconnectt: {} } as unknown as Parameters<
        typeof wsClient
      >[0]),
    ).toThrow(/reconnectt/);
  });
});
