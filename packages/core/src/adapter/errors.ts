import { ErrorCode, HubError, type HubErrorOptions } from '@hub/protocol';

/** A transport failed (client error, lost connection, refused command). */
export class AdapterError extends HubError {
  readonly adapter: string;
  /**
   * `retryable` (inherited) is true when retrying the same call may succeed
   * (connection blips, timeouts): by the code, `HUB_ADAPTER_FAILED` unless
   * given, and `options.retryable: false` makes it final.
   */
  constructor(adapter: string, message: string, options?: HubErrorOptions & { code?: string }) {
    super(options?.code ?? ErrorCode.ADAPTER_FAILED, `[hub:${adapter}] ${message}`, options);
    this.name = 'AdapterError';
    this.adapter = adapter;
  }
}

/** Wrap anything a client library threw, naming the adapter and the operation. */
export function wrapAdapterError(
  adapter: string,
  operation: string,
  err: unknown,
  retryable = true,
): HubError {
  if (err instanceof HubError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new AdapterError(adapter, `${operation} failed: ${reason}`, { cause: err, retryable });
}

/**
 * A handler's refusal that is final: a handler that throws (or rejects with)
 * one has its delivery dead-lettered at once, with this error's message as the
 * reason, rather than retried up to `maxDeliveries`. For a failure that every
 * further attempt would meet the same way, e.g. a remote consumer that has
 * already dead-lettered its copy.
 */
export class DeadLetterError extends HubError {
  constructor(message: string, options?: HubErrorOptions) {
    super(ErrorCode.HANDLER_FAILED, message, { ...options, retryable: false });
    this.name = 'DeadLetterError';
  }
}
