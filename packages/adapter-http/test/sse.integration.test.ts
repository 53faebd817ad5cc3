import { createEvent } from '@hub/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { httpServer } from '../src/index.js';
import { cleanup, startedHub } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

/** An SSE client over fetch: parses the stream as it arrives. */
async function sse(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController();
  const res = await fetch(url, { headers, signal: controller.signal });
  const events: SseEvent[] = [];
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const pump = (async () => {
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      let at = buffer.indexOf('\n\n');
      while (at >= 0) {
        const block = buffer.slice(0, at);
        buffer = buffer.slice(at + 2);
        const ev: SseEvent = { data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) ev.id = line.slice(4);
          else if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) ev.data += line.slice(6);
        }
        if (ev.data !== '') events.push(ev);
        at = buffer.indexOf('\n\n');
      }
    }
  })();
  return {
    res,
    events,
    ids: () => events.filter((e) => e.event === undefined).map((e) => e.id),
    close: async () => {
      controller.abort();
      await pump;
    },
  };
}

describe('Server-Sent Events', () => {
  it('streams events of a topic pattern; resumes from Last-Event-ID; signals resync past the window', async () => {
    const hub = jobs.add(await startedHub({ history: { maxPerTopic: 3 } }));
    const endpoint = jobs.add(await httpServer({ hub }));
    const url = `${endpoint.url}/stream?topic=orders.*`;
    const publish = (n: number, topic = 'orders.created') =>
      hub.publish(createEvent({ source: 's', topic, data: { n }, id: `e${n}` }));

    const first = jobs.add(await sse(url));
    expect(first.res.status).toBe(200);
    expect(first.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await expect.poll(() => hub.metrics().consumers).toBeGreaterThan(0);
    await publish(1);
    await publish(2, 'billing.created'); // another topic: not streamed
    await publish(3);
    await expect.poll(first.ids).toEqual(['e1', 'e3']);
    expect(JSON.parse(first.events[0]!.data)).toMatchObject({
      kind: 'event',
      topic: 'orders.created',
      data: { n: 1 },
    });
    await first.close();

    // Missed while away: e4, e5. Resume after e3.
    await publish(4);
    await publish(5);
    const resumed = jobs.add(await sse(url, { 'last-event-id': 'e3' }));
    await expect.poll(resumed.ids).toEqual(['e4', 'e5']);
    await publish(6);
    await expect.poll(resumed.ids).toEqual(['e4', 'e5', 'e6']);
    expect(resumed.events.some((e) => e.event === 'resync')).toBe(false);
    await resumed.close();

    // e1 has left the history (3 per topic): the client is told to resync, then gets what is kept.
    const late = jobs.add(await sse(url, { 'last-event-id': 'e1' }));
    await expect.poll(() => late.events.length).toBeGreaterThanOrEqual(4);
    expect(late.events[0]!.event).toBe('resync');
    expect(late.ids()).toEqual(['e4', 'e5', 'e6']);
  });

  it('a bad pattern → 400 naming the topic field; streams are counted and closed with the endpoint', async () => {
    const hub = jobs.add(await startedHub({}));
    const endpoint = await httpServer({ hub });
    jobs.add(endpoint);
    const bad = await fetch(`${endpoint.url}/stream?topic=a..b`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'topic' });
    const missing = await fetch(`${endpoint.url}/stream`);
    expect(missing.status).toBe(400);
    const open = await sse(`${endpoint.url}/stream?topic=x.*`);
    await expect
      .poll(async () =>
        (await (await fetch(`${endpoint.url}/metrics`)).text()).includes(
          'hub_http_endpoint_streams 1',
        ),
      )
      .toBe(true);
    await endpoint.close();
    await open.close();
    await expect.poll(() => hub.metrics().consumers).toBe(0);
  });
});
