import { ErrorCode, HubError } from '@hub/protocol';
import { optionNames, rejectUnknownOptions } from '../config/unknown-options.js';
import type { CloseOptions, RequestOptions } from './hub.js';
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
const SUBSCRIBE_OPTIONS = [...CONSUME_OPTIONS, 'replay'];
const REPLAY_OPTIONS = ['sinceMs', 'limit'] as const;
const REQUEST_OPTIONS = optionNames<RequestOptions>({ timeoutMs: true });
const CLOSE_OPTIONS = optionNames<CloseOptions>({ drainTimeoutMs: true });

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
  rejectUnknownOptions(where, options, known);
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
}

/** `request(message, options)`. */
export const checkRequestOptions = (options: unknown): void =>
  checkOptions('request', options, REQUEST_OPTIONS);

/** `close(options)`: the problem as an error to reject with (close never throws synchronously). */
export function closeOptionsError(options: unknown): HubError | undefined {
  try {
    checkOptions('close', options, CLOSE_OPTIONS);
    return undefined;
  } catch (err) {
    return err as HubError;
  }
}
