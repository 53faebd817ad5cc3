import { spawn } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CleanExitChildSpec } from '../clean-exit-child.js';
import type { CaseContext } from '../context.js';
import { fail } from './helpers.js';

const ID = 'R18';

interface ChildLine {
  closed?: boolean;
  handled?: number;
  events?: number;
  replied?: boolean;
  resources?: string[];
  exited?: boolean;
  code?: number;
  afterCloseMs?: number;
}

/**
 * R18 clean exit: a child process builds the adapter (the `cleanExit`
 * option), serves, sends, publishes, requests and closes its hub; it must
 * exit on its own within `exitWithinMs` of `close()` resolving. The child
 * measures that itself (close resolved → its 'exit' event), so the parent's
 * load does not count.
 */
export async function cleanExit(ctx: CaseContext): Promise<void> {
  const opt = ctx.options.cleanExit;
  if (!opt) fail(ID, 'needs the cleanExit option');
  const within = opt.exitWithinMs ?? 200;
  const here = fileURLToPath(import.meta.url);
  // The child next to this file: .ts from sources, .js from the build.
  const script = fileURLToPath(new URL(`../clean-exit-child${extname(here)}`, import.meta.url));
  const spec: CleanExitChildSpec = {
    module: opt.module,
    export: opt.export ?? 'createAdapter',
    args: typeof opt.args === 'function' ? await opt.args() : opt.args,
    endpoint: ctx.unique('r18ep'),
    topic: ctx.unique('r18topic'),
  };
  const child = spawn(process.execPath, [...(opt.execArgv ?? []), script, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: ChildLine[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => {
    buffered += d;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('{')) {
        try {
          lines.push(JSON.parse(line) as ChildLine);
        } catch {
          // not one of ours
        }
      }
      nl = buffered.indexOf('\n');
    }
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 10_000) stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    // Startup and the traffic may take long on a loaded machine; the exit may not.
    const closed = await ctx.waitFor(() => lines.find((l) => l.closed), {
      timeoutMs: ctx.ms(60_000),
      message: () =>
        `the child never closed its hub (exit ${child.exitCode}): ${stderr.slice(-2_000)}`,
    });
    if (closed.handled !== 2 || closed.events !== 1 || !closed.replied) {
      fail(
        ID,
        `the child's traffic did not complete before close: handled ${closed.handled}/2 messages, ${closed.events}/1 events, replied ${closed.replied}`,
      );
    }
    // Exit is measured in the child; the parent only bounds how long it listens.
    const exit = await Promise.race([
      exited.then(() => lines.find((l) => l.exited)),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), ctx.ms(5_000) + within).unref()),
    ]);
    if (exit === undefined) {
      fail(
        ID,
        `the process did not exit within ${ctx.ms(5_000) + within} ms after close() resolved; still active right after close: ${(closed.resources ?? []).join(', ') || 'nothing reported'}`,
      );
    }
    if ((exit.afterCloseMs ?? Number.POSITIVE_INFINITY) > within) {
      fail(
        ID,
        `the process exited ${Math.round(exit.afterCloseMs ?? -1)} ms after close() resolved (limit ${within} ms); active right after close: ${(closed.resources ?? []).join(', ')}`,
      );
    }
    if (exit.code !== 0)
      fail(ID, `the child exited with code ${exit.code}: ${stderr.slice(-2_000)}`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}
