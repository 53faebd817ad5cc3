import { ErrorCode, HubError } from '@hub/protocol';
import { optionNames, rejectUnknownOptions } from '../config/unknown-options.js';
import type {
  BroadcastNotificationInput,
  CloseOptions,
  HeartbeatInput,
  RequestOptions,
} from './hub.js';
import type { ConsumeOptions, SubscribeOptions } from './types.js';

const CONSUME_OPTIONS = optionNames<ConsumeOptions>({
  concurrency: true,
  prefetch: true,
  maxDeliveries: true,
  adapter: true,
  group: true,
  handlerTimeoutMs: true,
  guarantees: true,
});
const SUBSCRIBE_OPTIONS = [...CONSUME_OPTIONS, 'replay', 'startFrom'];
const REPLAY_OPTIONS = ['sinceMs', 'limit'] as const;
const REQUEST_OPTIONS = optionNames<RequestOptions>({ timeoutMs: true });
const CLOSE_OPTIONS = optionNames<CloseOptions>({ drainTimeoutMs: true });
const NOTIFICATION_INPUT = optionNames<BroadcastNotificationInput>({
  fromSource: true,
  notificationData: true,
  priority: true,
  topic: true,
});
const HEARTBEAT_INPUT = optionNames<HeartbeatInput>({ agentId: true, statusData: true });
const PROMISE_CALLS = {
  close: CLOSE_OPTIONS,
  broadcastNotification: NOTIFICATION_INPUT,
  sendHeartbeat: HEARTBEAT_INPUT,
} as const;

const describe = (v: unknown): string =>
  typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : String(v);

/** An options argument must be an object (or left out); then no option may be unknown. */
function checkOptions(where: string, options: unknown, known: readonly string[]): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] ${where} options must be an object, got ${describe(options)}`,
    );
  }
  // Every request passes here: look for an unknown key without the array
  // Object.keys allocates, and let rejectUnknownOptions name it when there is one.
  for (const key in options) {
    if (!known.includes(key) && Object.hasOwn(options, key)) {
      rejectUnknownOptions(where, options, known);
      return;
    }
  }
}

/** `onMessage(endpoint, handler, options)` / `subscribe(pattern, handler, options)`: the handler and the options. */
export function checkConsumeCall(
  call: 'onMessage' | 'subscribe',
  handler: unknown,
  options: unknown,
): void {
  if (typeof handler !== 'function') {
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub] ${call} handler must be a function, got ${describe(handler)}`,
    );
  }
  checkOptions(call, options, call === 'subscribe' ? SUBSCRIBE_OPTIONS : CONSUME_OPTIONS);
  const replay = (options as SubscribeOptions | undefined)?.replay;
  if (call === 'subscribe' && typeof replay === 'object' && replay !== null) {
    rejectUnknownOptions('subscribe.replay', replay, REPLAY_OPTIONS);
  }
  const start = (options as SubscribeOptions | undefined)?.startFrom;
  if (call === 'subscribe' && start !== undefined) checkStartFrom(start);
}

/** `subscribe`'s `startFrom`: 'last', 'now', `{ id: '<ms>-<seq>' }` or `{ time: <ms> }`. */
function checkStartFrom(start: unknown): void {
  if (start === 'last' || start === 'now') return;
  if (typeof start === 'object' && start !== null && !Array.isArray(start)) {
    const keys = Object.keys(start);
    const o = start as { id?: unknown; time?: unknown };
    if (keys.length === 1 && typeof o.id === 'string' && /^\d{1,20}-\d{1,20}$/.test(o.id)) return;
    if (
      keys.length === 1 &&
      typeof o.time === 'number' &&
      Number.isSafeInteger(o.time) &&
      o.time >= 0
    ) {
      return;
    }
  }
  throw new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub] subscribe startFrom must be 'last', 'now', { id: '<ms>-<seq>' } or { time: <ms since epoch> }, got ${describe(typeof start === 'object' ? JSON.stringify(start) : start)}`,
  );
}

/** `request(message, options)`. */
export function checkRequestOptions(options: unknown): void {
  // Every request passes here, most with `{ timeoutMs }`: its one option name
  // is compared directly (a comparison of two constant strings), not looked up
  // in the list. Anything else takes the general check, which names the problem.
  if (typeof options === 'object' && options !== null && !Array.isArray(options)) {
    let other = false;
    for (const key in options) {
      if (key !== 'timeoutMs') {
        other = true;
        break;
      }
    }
    if (!other) return;
  }
  checkOptions('request', options, REQUEST_OPTIONS);
}

/**
 * The options (or input object) of a call that returns a promise and never
 * throws synchronously: the problem as an error to reject with, if any.
 */
export function optionsError(
  call: keyof typeof PROMISE_CALLS,
  options: unknown,
): HubError | undefined {
  if (call === 'sendHeartbeat' && typeof options === 'string') return undefined;
  try {
    checkOptions(call, options, PROMISE_CALLS[call]);
    return undefined;
  } catch (err) {
    return err as HubError;
  }
}
