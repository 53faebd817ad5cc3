import { waitFor } from '@hub/adapter-test-suite';
import { createEvent } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CLOUDEVENTS_SUBPROTOCOL } from '../src/index.js';
import { startServer } from './helpers.js';

describe('CloudEvents WebSocket binding (subprotocol cloudevents.json)', () => {
  it('structured CloudEvents in are published on the hub; matching hub events go out as CloudEvents', async () => {
    const { hub, gateway } = await startServer();
    const inbound: unknown[] = [];
    await hub.subscribe('sensors.*', (e) => {
      inbound.push({ topic: e.topic, data: e.data, source: e.source });
    });
    const ws = new WebSocket(`${gateway.url}?subscribe=alerts.*`, [CLOUDEVENTS_SUBPROTOCOL]);
    const received: Array<Record<string, unknown>> = [];
    ws.on('message', (d) => received.push(JSON.parse(String(d))));
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    await new Promise<void>((r, j) => {
      ws.once('open', () => r());
      ws.once('error', j);
    });
    expect(ws.protocol).toBe(CLOUDEVENTS_SUBPROTOCOL);
    ws.send(
      JSON.stringify({
        specversion: '1.0',
        id: 'ce-1',
        source: '/sensors/7',
        type: 'sensors.temperature',
        datacontenttype: 'application/json',
        data: { celsius: 21.5 },
      }),
    );
    await waitFor(() => inbound.length === 1);
    expect(inbound[0]).toMatchObject({ topic: 'sensors.temperature', data: { celsius: 21.5 } });

    await waitFor(async () => {
      await hub.publish(createEvent({ source: 'hub', topic: 'alerts.fire', data: { level: 3 } }));
      return received.length > 0;
    });
    expect(received[0]).toMatchObject({
      specversion: '1.0',
      type: 'alerts.fire',
      data: { level: 3 },
    });

    ws.send('{"not":"a cloudevent"}');
    expect(await closed).toBe(1007);
  });
});
