import {
  type AdapterCapabilities,
  createHub,
  createMessage,
  ErrorCode,
  silentLogger,
} from '@hub/core';
import { describe, expect, it } from 'vitest';
import { TestAdapter } from './helpers.js';

/** Announces its payload limit only once connected, as a NATS server does in its INFO. */
class AnnouncingAdapter extends TestAdapter {
  override capabilities: AdapterCapabilities = {
    guarantees: ['best-effort', 'at-least-once'],
    persistent: false,
    ordered: false,
    broadcast: true,
    patterns: true,
    consumerGroups: true,
  };
  protected override async doConnect(): Promise<void> {
    this.capabilities = { ...this.capabilities, maxPayloadBytes: 2_048 };
  }
}

describe('capabilities.maxPayloadBytes', () => {
  it('a limit the adapter learns at connect is enforced by the hub before send', async () => {
    const adapter = new AnnouncingAdapter({ name: 'announcing' });
    const hub = createHub({ logger: silentLogger, adapters: [adapter] });
    await hub.start();
    const big = createMessage({ source: 's', destination: 'd', payload: 'x'.repeat(4_000) });
    await expect(hub.send(big)).rejects.toMatchObject({
      code: ErrorCode.INVALID_MESSAGE,
      field: 'payload',
      message: expect.stringMatching(
        /over the limit of 2048 bytes of adapter "announcing" \(capabilities\.maxPayloadBytes\)/,
      ),
    });
    expect(adapter.sent.map((e) => e.id)).not.toContain(big.id);
    const small = createMessage({ source: 's', destination: 'd', payload: 'x'.repeat(100) });
    await expect(hub.send(small)).resolves.toMatchObject({ success: true });
    expect(adapter.sent.map((e) => e.id)).toContain(small.id);
    await hub.close();
  });
});
