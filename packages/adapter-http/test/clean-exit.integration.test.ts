import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanup, downstream, json } from './helpers.js';

const jobs = cleanup();
afterEach(() => jobs.run());

describe('R18 clean exit', () => {
  it('after close() no socket, server or timer of the adapter or the endpoint holds the process', async () => {
    // Peers that keep their connections open: only the child's own closing can end them.
    const down = jobs.add(await downstream((_r, res) => json(res, 200, { ok: true })));
    down.server.keepAliveTimeout = 60_000;
    const agent = jobs.add(new Agent({ keepAliveTimeout: 60_000 }));

    const cwd = fileURLToPath(new URL('..', import.meta.url));
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@hub/source', 'test/fixtures/serve-and-close.ts', down.url],
      { cwd, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const deadline = setTimeout(() => child.kill('SIGKILL'), 30_000);
    jobs.add({ close: () => child.kill('SIGKILL') });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await expect.poll(() => /READY (\S+)/.exec(out)?.[1], { timeout: 20_000 }).toBeTruthy();
    const endpoint = /READY (\S+)/.exec(out)![1]!;

    // A keep-alive call and an open event stream on the child's endpoint.
    const call = await request(`${endpoint}/messages`, {
      dispatcher: agent,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"destination":"orders","payload":1}',
    });
    expect(call.statusCode).toBe(202);
    await call.body.dump();
    const stream = await request(`${endpoint}/stream?topic=a.*`, { dispatcher: agent });
    expect(stream.statusCode).toBe(200);
    stream.body.on('error', () => {});
    stream.body.resume();

    child.stdin.write('close\n');
    const code = await exited;
    clearTimeout(deadline);
    expect(code, err).toBe(0);
    // The child reports what still held its event loop after everything closed.
    const m = /CLOSED (\d+) (\[.*\])/.exec(out);
    expect(m, out + err).not.toBeNull();
    expect(JSON.parse(m![2]!)).toEqual([]);
    expect(Number(m![1])).toBeLessThan(200);
  });
});
