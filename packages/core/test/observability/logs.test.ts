/**
 * Structured logs: every line about a message carries its id and trace id,
 * a pino logger receives them as fields, and nothing secret is ever logged.
 */
import { Writable } from 'node:stream';
import { createHub, createMessage, type Hub, memory, pinoLogger } from '@hub/core';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../hub/helpers.js';

const hubs: Hub[] = [];
afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.close()));
});

const SECRET = 's3cr3t-token-value';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

/** A real pino logger at debug level writing JSON records into an array. */
function pinoRecords(): {
  records: Array<Record<string, unknown>>;
  raw: string[];
  logger: pino.Logger;
} {
  const records: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      const line = String(chunk);
      raw.push(line);
      records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { records, raw, logger: pino({ level: 'debug' }, stream) };
}

describe('structured logs', () => {
  it('a pino logger gets the message id and trace id as fields; no header or payload value is logged', async () => {
    const { records, raw, logger } = pinoRecords();
    const hub = createHub({
      logger: pinoLogger(logger),
      adapters: [memory()],
      maxDeliveries: 2,
      retry: { initialDelayMs: 1, maxDelayMs: 2 },
    });
    hubs.push(hub);
    await hub.onMessage('worker', () => {
      throw new Error('handler failed');
    });
    await hub.start();
    const msg = createMessage({
      source: 'test',
      destination: 'worker',
      payload: { password: SECRET },
      headers: { authorization: `Bearer ${SECRET}`, cookie: SECRET },
      traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
    });
    await hub.send(msg);
    await waitFor(
      () => records.some((r) => String(r.msg).includes('dead-lettered')),
      'the dead-letter line',
    );
    const about = records.filter((r) => String(r.msg).includes(msg.id));
    // two failed attempts (debug) and the dead letter (warn)
    expect(about.length).toBeGreaterThanOrEqual(3);
    for (const r of about) {
      expect(r.messageId).toBe(msg.id);
      expect(r.traceId).toBe(TRACE_ID);
    }
    expect(raw.join('')).not.toContain(SECRET);
  });

  it('sendMessage failures name the message id; the secret in a refused message stays out', async () => {
    const { records, raw, logger } = pinoRecords();
    const hub = createHub({ logger: pinoLogger(logger), adapters: [memory()] });
    hubs.push(hub);
    await hub.start();
    const msg = createMessage({
      source: 'test',
      destination: 'worker',
      payload: { password: SECRET },
      headers: { authorization: `Bearer ${SECRET}` },
    });
    const result = await hub.sendMessage({ ...msg, priority: 99 as never });
    expect(result.success).toBe(false);
    const line = records.find((r) => String(r.msg).includes('sendMessage'))!;
    expect(line.messageId).toBe(msg.id);
    expect(raw.join('')).not.toContain(SECRET);
  });
});
