import { AdapterError } from '@hub/core';
import { ErrorCode } from '@hub/protocol';

/**
 * Whether a status is worth another attempt, decided here and nowhere else:
 * 408, 429 and 5xx are the receiver saying "not now"; every other non-2xx
 * is its final answer about this message.
 */
export const isRetryableStatus = (status: number): boolean =>
  status === 408 || status === 429 || status >= 500;

/** The receiver answered with a status that is not a success. */
export class HttpStatusError extends AdapterError {
  readonly status: number;
  /** The first bytes of the response body, as text. */
  readonly bodyExcerpt: string;
  constructor(adapter: string, status: number, url: string, bodyExcerpt: string) {
    super(
      adapter,
      `send failed: ${url} answered ${status}${bodyExcerpt ? `: ${bodyExcerpt}` : ''}`,
      {
        code: status === 401 || status === 403 ? ErrorCode.AUTH_FAILED : ErrorCode.ADAPTER_FAILED,
        retryable: isRetryableStatus(status),
      },
    );
    this.name = 'HttpStatusError';
    this.status = status;
    this.bodyExcerpt = bodyExcerpt;
  }
}

/** undici error codes meaning nothing reached the receiver: a retry cannot duplicate. */
const NOT_SENT = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** undici error codes where the request may have been processed: an uncertain send. */
const UNCERTAIN = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_SOCKET',
  'ECONNRESET',
  'EPIPE',
]);

/**
 * Classify a failure of the HTTP client. A refused connection is a retryable
 * connection failure; a timeout or a socket lost after the write is
 * `HUB_TIMEOUT` (the receiver may have it: the hub retries guaranteed sends,
 * whose duplicates the receiver's dedup absorbs, but not best-effort ones);
 * a refused private target is final.
 */
export function classifyClientError(adapter: string, url: string, err: unknown): AdapterError {
  if (err instanceof AdapterError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const reason = err instanceof Error ? err.message : String(err);
  if (code === 'HUB_PRIVATE_TARGET') {
    return new AdapterError(adapter, `send failed: ${reason}`, { cause: err, retryable: false });
  }
  if (typeof code === 'string' && UNCERTAIN.has(code)) {
    return new AdapterError(adapter, `send to ${url} failed, outcome unknown: ${reason}`, {
      code: ErrorCode.TIMEOUT,
      cause: err,
    });
  }
  return new AdapterError(adapter, `send to ${url} failed: ${reason}`, {
    code:
      typeof code === 'string' && NOT_SENT.has(code)
        ? ErrorCode.CONNECTION_FAILED
        : ErrorCode.ADAPTER_FAILED,
    cause: err,
  });
}

/** A `Retry-After` value (seconds or an HTTP date) in ms from now; undefined when absent or unreadable. */
export function retryAfterMs(
  value: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === '') return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
