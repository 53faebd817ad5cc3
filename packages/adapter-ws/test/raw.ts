import { WebSocket } from 'ws';
import { SUBPROTOCOL } from '../src/index.js';

/** What an upgrade attempt came to: open, or refused with an HTTP status. */
export type UpgradeResult = { ws: WebSocket; status: 101 } | { status: number };

/** Open a plain `ws` socket (not our client) and wait for the upgrade's outcome. */
export function upgrade(
  url: string,
  options: { headers?: Record<string, string>; origin?: string } = {},
): Promise<UpgradeResult> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, [SUBPROTOCOL], {
      ...(options.headers ? { headers: options.headers } : {}),
      ...(options.origin ? { origin: options.origin } : {}),
    });
    ws.on('open', () => resolve({ ws, status: 101 }));
    ws.on('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.on('error', (err) => reject(err));
  });
}

/** A raw frame client speaking the protocol by hand: hello, then frames as objects. */
export async function rawSession(
  url: string,
  hello: { sealed?: boolean } = {},
): Promise<{
  ws: WebSocket;
  frames: Array<Record<string, unknown>>;
  send(frame: Record<string, unknown>): void;
  closed: Promise<{ code: number; reason: string }>;
}> {
  const res = await upgrade(url);
  if (!('ws' in res)) throw new Error(`upgrade refused: ${res.status}`);
  const { ws } = res;
  const frames: Array<Record<string, unknown>> = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d))));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
  );
  ws.on('error', () => {});
  const send = (frame: Record<string, unknown>) => ws.send(JSON.stringify(frame));
  send({ type: 'hello', v: 1, ...hello });
  return { ws, frames, send, closed };
}
