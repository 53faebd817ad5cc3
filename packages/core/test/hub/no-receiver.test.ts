import { createMessage, ErrorCode } from '@hub/protocol';
import { expect, it } from 'vitest';
import { createHub, memory, silentLogger } from '../../src/index.js';

it('memory: a best-effort send to an endpoint nobody serves fails with HUB_NO_RECEIVER, once', async () => {
  const hub = createHub({ adapters: [memory()], logger: silentLogger });
  await hub.start();
  const send = (destination: string) =>
    hub.send(
      createMessage({ source: 't', destination, payload: 1, deliveryGuarantee: 'best-effort' }),
    );
  const err = await send('nobody').then(
    () => undefined,
    (e: { code?: string }) => e,
  );
  expect(err?.code).toBe(ErrorCode.NO_RECEIVER);
  // Not retried (one failed attempt) and not a broken link.
  expect(hub.metrics().totals.sendFailed).toBe(1);
  expect(hub.health().adapters.memory?.circuit).toBe('closed');
  const got: unknown[] = [];
  await hub.onMessage('served', (m) => {
    got.push(m.payload);
  });
  await expect(send('served')).resolves.toMatchObject({ success: true });
  await hub.close();
});
