import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@hub/adapter-test-suite';
import { createEvent, createMessage } from '@hub/protocol';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { wsServer } from '../src/index.js';
import type { PageApi } from './fixtures/browser-entry.js';
import { startServer, track } from './helpers.js';

// A real browser (Debian's headless chromium) loads a page whose hub uses our
// client entry over the platform WebSocket; a Node hub talks to it.
const CHROMIUM = '/usr/bin/chromium';
const entry = fileURLToPath(new URL('./fixtures/browser-entry.ts', import.meta.url));

describe('browser', () => {
  it.skipIf(!existsSync(CHROMIUM))(
    'a page serves an endpoint, subscribes and sends through our client in chromium (skipped only when chromium is not installed)',
    async () => {
      const bundle = await build({
        entryPoints: [entry],
        bundle: true,
        write: false,
        format: 'esm',
        platform: 'browser',
        target: 'es2022',
        conditions: ['@hub/source'],
        logLevel: 'silent',
      });
      const js = bundle.outputFiles[0]!.text;
      const http = createServer((req, res) => {
        if (req.url === '/bundle.js') {
          res.writeHead(200, { 'content-type': 'text/javascript' });
          res.end(js);
          return;
        }
        res.writeHead(200, { 'content-type': 'text/html' });
        res.end('<!doctype html><script type="module" src="/bundle.js"></script>');
      });
      track({ close: () => new Promise<void>((r) => http.close(() => r())) });
      await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
      const origin = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
      const { hub } = await startServer({ port: 0 });
      // the page's origin is the only one allowed: the browser sends it on the upgrade
      track(
        await wsServer({
          hub,
          server: http,
          path: '/hub',
          allowedOrigins: [origin],
          name: 'ws_page',
        }),
      );
      const fromPage: unknown[] = [];
      await hub.onMessage('node_worker', (m) => {
        fromPage.push(m.payload);
      });

      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
      });
      track({ close: () => browser.close() });
      const page = await browser.newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(origin);
      await page.waitForFunction(
        () => typeof (globalThis as unknown as PageApi).runHub === 'function',
      );
      await page.evaluate(
        (url) => (globalThis as unknown as PageApi).runHub(url),
        `${origin.replace('http', 'ws')}/hub`,
      );

      await waitFor(() => fromPage.length === 1);
      expect(fromPage).toEqual([{ hello: 'from the page' }]);
      const reply = await hub.request(
        createMessage({ source: 'node', destination: 'browser_agent', payload: 5 }),
        { timeoutMs: 10_000 },
      );
      expect(reply.payload).toEqual({ fromBrowser: 5, ua: 'chromium' });
      await hub.publish(createEvent({ source: 'node', topic: 'browser.news', data: 'hi page' }));
      await waitFor(
        async () =>
          (await page.evaluate(() => (globalThis as unknown as PageApi).browserEvents.length)) ===
          1,
      );
      expect(await page.evaluate(() => (globalThis as unknown as PageApi).browserEvents)).toEqual([
        'hi page',
      ]);
      expect(pageErrors).toEqual([]);
    },
  );
});
