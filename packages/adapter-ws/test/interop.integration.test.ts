import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage } from '@hub/protocol';
import { describe, expect, it } from 'vitest';
import { startServer, track } from './helpers.js';

// I4: a client we did not write, Python `websockets` (Debian's
// python3-websockets, on the system python), written from docs/ws-protocol.md.
const PYTHON = '/usr/bin/python3';
const hasPythonWebsockets =
  spawnSync(PYTHON, ['-c', 'import websockets'], { stdio: 'ignore' }).status === 0;
const script = fileURLToPath(new URL('./fixtures/python_client.py', import.meta.url));

describe('interop with Python websockets', () => {
  it.skipIf(!hasPythonWebsockets).each([
    ['one frame per WebSocket frame (no features listed)', false],
    ['with the batch feature', true],
  ])(
    'serves, subscribes, sends and answers requests from the protocol document alone, %s (skipped only when python3-websockets is not installed)',
    async (_name, batch) => {
      const { hub, gateway } = await startServer();
      const fromPython: unknown[] = [];
      await hub.onMessage('node_worker', (m) => {
        fromPython.push(m.payload);
      });
      const child = spawn(PYTHON, [script, gateway.url, ...(batch ? ['--batch'] : [])], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const exit = new Promise<number | null>((r) => child.once('exit', r));
      track({
        close: async () => {
          child.kill('SIGKILL');
        },
      });
      const lines: Array<Record<string, unknown>> = [];
      let stderr = '';
      let buf = '';
      child.stdout.on('data', (d) => {
        buf += d;
        const parts = buf.split('\n');
        buf = parts.pop() ?? '';
        for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      await waitFor(() => lines.some((l) => l.ready) && lines.some((l) => l.sent), {
        message: () => `python: ${JSON.stringify(lines)} ${stderr}`,
      });
      await waitFor(() => fromPython.length === 1);
      expect(fromPython).toEqual([{ from: 'python' }]);
      const reply = await hub.request(
        createMessage({ source: 'node', destination: 'py_agent', payload: 'q?' }),
        { timeoutMs: 10_000 },
      );
      expect(reply.payload).toEqual({ answer: 'q?' });
      await hub.publish(createEvent({ source: 'node', topic: 'py.news', data: 'hello' }));
      await hub.publish(
        createEvent({ source: 'node', topic: 'other.news', data: 'not for python' }),
      );
      await hub.publish(createEvent({ source: 'node', topic: 'py.news', data: 'bye' }));
      expect(await exit).toBe(0);
      expect(lines.filter((l) => l.event)).toEqual([
        { event: 'py.news', data: 'hello' },
        { event: 'py.news', data: 'bye' },
      ]);
      expect(lines.some((l) => l.error)).toBe(false);
      // both sides use the feature only when both listed it
      expect(lines.find((l) => 'batching' in l)).toEqual({ batching: batch });
      if (!batch) expect(lines.some((l) => l.got_batch)).toBe(false);
    },
  );
});
