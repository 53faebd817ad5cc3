import { rejectUnknownOptions } from '@hub/core';
import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import type { Redis } from 'ioredis';
import { nanoid } from 'nanoid';
import { connect, type LegacyRedis } from '../bridge/connection.js';
import type { BridgeHub } from '../bridge/context.js';
import { createLegacyConverter, type LegacyConverter } from '../convert/converter.js';
import { Comparison, type ComparisonReport } from './comparison.js';

/** The legacy path a dual publisher writes to. */
export type LegacyPath =
  | { to: 'pubsub'; channel: string }
  | { to: 'list'; key: string }
  | { to: 'stream'; key: string; field?: string };

export interface DualPublisherOptions {
  hub: Pick<BridgeHub, 'send' | 'publish'>;
  /** The legacy Redis: a `redis://` URL or ioredis options. */
  redis: LegacyRedis;
  legacy: LegacyPath;
  /** @default createLegacyConverter() */
  converter?: LegacyConverter;
  /** Told about each failed publish. @default a console.warn line */
  onError?: (error: unknown, path: 'legacy' | 'hub') => void;
}

export interface DualPublisher {
  /**
   * Publish one legacy message on both paths: as is on the legacy path, and
   * converted on the hub. A plain JSON message without an id gets one (`id`),
   * so the two copies can be matched. Resolves with the id once both publishes settled.
   */
  publish(input: unknown): Promise<string>;
  /** Call from the legacy consumer with each message it receives (the raw JSON or object). */
  observeLegacy(raw: unknown): void;
  /** Call from the hub consumer (handler) with each envelope it receives. */
  observeHub(envelope: Envelope): void;
  report(): ComparisonReport;
  close(): Promise<void>;
}

const LEGACY_OPTIONS: Record<LegacyPath['to'], readonly string[]> = {
  pubsub: ['to', 'channel'],
  list: ['to', 'key'],
  stream: ['to', 'key', 'field'],
};

function check(o: DualPublisherOptions): void {
  const bad = (msg: string) =>
    new HubError(ErrorCode.INVALID_CONFIG, `[hub:legacy] createDualPublisher: ${msg}`);
  if (typeof o !== 'object' || o === null) throw bad('options must be an object');
  rejectUnknownOptions('createDualPublisher', o, [
    'hub',
    'redis',
    'legacy',
    'converter',
    'onError',
  ]);
  if (typeof o.hub?.send !== 'function') throw bad('option `hub` must be a hub');
  const known = LEGACY_OPTIONS[o.legacy?.to];
  if (known === undefined) throw bad('option `legacy.to` must be pubsub, list or stream');
  rejectUnknownOptions('createDualPublisher.legacy', o.legacy, known);
  const name = o.legacy.to === 'pubsub' ? o.legacy.channel : o.legacy.key;
  if (typeof name !== 'string' || name === '') {
    throw bad(
      `option \`legacy.${o.legacy.to === 'pubsub' ? 'channel' : 'key'}\` must be a non-empty string`,
    );
  }
}

const bodyOf = (env: Envelope): unknown => (env.kind === 'message' ? env.payload : env.data);

/**
 * Dual-publish mode: every message goes on the legacy path and on the hub,
 * and the consumers on each side report what they saw, so the comparison
 * report says whether the hub path delivers the same as the old one.
 * Do not also bridge the same legacy path into the hub (it would arrive twice).
 */
export function createDualPublisher(options: DualPublisherOptions): DualPublisher {
  check(options);
  const converter = options.converter ?? createLegacyConverter();
  const report =
    options.onError ??
    ((err: unknown, path: string) =>
      console.warn(
        `[hub:legacy] dual publish on ${path} failed: ${err instanceof Error ? err.message : String(err)}`,
      ));
  const comparison = new Comparison();
  let client: Redis | undefined;
  const redis = () => {
    client ??= connect(options.redis, 'dual-publish', (err) => report(err, 'legacy'));
    return client;
  };
  const legacy = options.legacy;
  const write = (text: string): Promise<unknown> => {
    switch (legacy.to) {
      case 'pubsub':
        return redis().publish(legacy.channel, text);
      case 'list':
        return redis().lpush(legacy.key, text);
      case 'stream':
        return redis().xadd(legacy.key, '*', legacy.field ?? 'data', text);
    }
  };

  /** The message and its envelope, with an id both copies carry. */
  const prepare = (input: unknown): { text: string; env: Envelope } => {
    // Converting first refuses what is not a legacy message with a typed error.
    let env = converter.convertMessage(input);
    let message = typeof input === 'string' ? (JSON.parse(input) as unknown) : input;
    let text = JSON.stringify(message);
    if (converter.convertMessage(text).id !== env.id) {
      if (typeof message !== 'object' || message === null || Array.isArray(message)) {
        throw new HubError(
          ErrorCode.INVALID_MESSAGE,
          '[hub:legacy] dual publish needs messages that carry an id (this shape has none), to match the two copies',
        );
      }
      message = { ...message, id: nanoid() };
      text = JSON.stringify(message);
      env = converter.convertMessage(text);
    }
    return { text, env };
  };

  return {
    async publish(input) {
      const { text, env } = prepare(input);
      const body = bodyOf(env);
      comparison.sent('legacy', env.id, body);
      comparison.sent('hub', env.id, body);
      const [l, h] = await Promise.allSettled([
        write(text),
        env.kind === 'message' ? options.hub.send(env) : options.hub.publish(env),
      ]);
      if (l.status === 'rejected') {
        comparison.failed('legacy', env.id);
        report(l.reason, 'legacy');
      }
      if (h.status === 'rejected') {
        comparison.failed('hub', env.id);
        report(h.reason, 'hub');
      }
      return env.id;
    },
    observeLegacy(raw) {
      const at = performance.now();
      try {
        const env = converter.convertMessage(raw);
        comparison.seen('legacy', env.id, bodyOf(env), at);
      } catch {
        comparison.seen('legacy', '', undefined, at);
      }
    },
    observeHub(env) {
      comparison.seen('hub', env.id, bodyOf(env));
    },
    report: () => comparison.report(),
    async close() {
      if (client) await client.quit().catch(() => client?.disconnect());
    },
  };
}
