import { describe, expect, it } from 'vitest';
import { main as websocket } from '../src/websocket.js';

describe('examples: websocket', () => {
  it('a remote agent serves an endpoint, a remote caller requests it and gets the server hub’s events', async () => {
    const r = await websocket(() => {});
    expect(r.reply).toBe('HELLO');
    expect(r.seen).toEqual(['news.local: gateway up']);
    expect(r.connections).toBe(2);
  });
});
