/**
 * Server-Sent Events for a topic pattern: `GET /stream?topic=orders.*`.
 * Each event is one SSE event whose `id` is the event id and whose `data` is
 * the Hub JSON envelope. A client that reconnects with `Last-Event-ID` gets
 * what it missed from the hub's event history, then live events; when that
 * id is no longer in the history (past the window), it first gets an
 * `event: resync` telling it that events may have been missed.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Hub, runAs, validatePattern } from '@hub/core';
import { ErrorCode, jsonCodec, type UnifiedEvent } from '@hub/protocol';
import { problem, problemFromError, sendProblem } from './problem.js';

export interface OpenStream {
  close(): Promise<void>;
}

export interface StreamRegistry {
  readonly open: Set<OpenStream>;
}

/** A client that does not read is cut off past this many unsent bytes. */
const MAX_BUFFERED_BYTES = 1_048_576;
const HEARTBEAT_MS = 15_000;

export async function openStream(
  hub: Hub,
  registry: StreamRegistry,
  maxStreams: number,
  url: URL,
  req: IncomingMessage,
  res: ServerResponse,
  identity: string,
): Promise<void> {
  const topic = url.searchParams.get('topic');
  try {
    validatePattern(topic, 'topic');
  } catch (err) {
    const p = problemFromError(err);
    p.field = 'topic';
    return sendProblem(res, p);
  }
  // The hub's policy decides for the client's identity, not the hub's own, and
  // before the stream opens, so a refusal is still a 403 problem (audited by
  // the hub's security); the subscription below runs as that identity too.
  const security = hub.security;
  if (security !== undefined) {
    try {
      runAs(identity, () => security.checkConsume('subscribe', topic!));
    } catch (err) {
      return sendProblem(res, problemFromError(err));
    }
  }
  if (registry.open.size >= maxStreams) {
    return sendProblem(res, {
      ...problem(503, ErrorCode.OVERLOADED, `${maxStreams} streams are open already`),
      retryAfter: 5,
    });
  }
  const header = req.headers['last-event-id'];
  const lastEventId =
    (Array.isArray(header) ? header[0] : header) ??
    url.searchParams.get('lastEventId') ??
    undefined;

  let closed = false;
  let off: (() => Promise<void>) | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  const stream: OpenStream = {
    close: async () => {
      if (closed) return;
      closed = true;
      registry.open.delete(stream);
      clearInterval(heartbeat);
      if (!res.writableEnded) res.end();
      await off?.().catch(() => {});
    },
  };
  const write = (chunk: string) => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > MAX_BUFFERED_BYTES) void stream.close();
  };
  const writeEvent = (event: UnifiedEvent) =>
    write(`id: ${event.id}\ndata: ${jsonCodec.encode(event)}\n\n`);

  registry.open.add(stream);
  req.on('close', () => void stream.close());
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  write('retry: 2000\n\n');
  heartbeat = setInterval(() => write(': ping\n\n'), HEARTBEAT_MS);
  heartbeat.unref();

  // Until the replay is written, events (replayed, then live) are held in
  // order; afterwards they go straight out.
  let held: UnifiedEvent[] | undefined = [];
  try {
    off = await runAs(identity, () =>
      hub.subscribe(
        topic!,
        (event) => {
          if (held !== undefined) held.push(event);
          else writeEvent(event);
        },
        { concurrency: 1, ...(lastEventId === undefined ? {} : { replay: true }) },
      ),
    );
  } catch (err) {
    await stream.close();
    throw err;
  }
  const pending = held;
  held = undefined;
  let start = 0;
  if (lastEventId !== undefined) {
    const at = pending.findIndex((e) => e.id === lastEventId);
    if (at >= 0) start = at + 1;
    else {
      write(
        `event: resync\ndata: ${JSON.stringify({ lastEventId, reason: 'not in the event history any more; events may have been missed' })}\n\n`,
      );
    }
  }
  for (const event of pending.slice(start)) writeEvent(event);
  if (closed) await off();
}
