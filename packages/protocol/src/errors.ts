/**
 * Stable error codes. A code never changes meaning once published; match on
 * `err.code`, not on the message text.
 */
export const ErrorCode = {
  INVALID_MESSAGE: 'HUB_INVALID_MESSAGE',
  INVALID_CONFIG: 'HUB_INVALID_CONFIG',
  DECODE_FAILED: 'HUB_DECODE_FAILED',
  NO_ROUTE: 'HUB_NO_ROUTE',
  GUARANTEE_UNSUPPORTED: 'HUB_GUARANTEE_UNSUPPORTED',
  TIMEOUT: 'HUB_TIMEOUT',
  OVERLOADED: 'HUB_OVERLOADED',
  CIRCUIT_OPEN: 'HUB_CIRCUIT_OPEN',
  ADAPTER_FAILED: 'HUB_ADAPTER_FAILED',
  CONNECTION_FAILED: 'HUB_CONNECTION_FAILED',
  AUTH_FAILED: 'HUB_AUTH_FAILED',
  NOT_STARTED: 'HUB_NOT_STARTED',
  CLOSED: 'HUB_CLOSED',
  EXPIRED: 'HUB_EXPIRED',
  HANDLER_FAILED: 'HUB_HANDLER_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface HubErrorOptions {
  cause?: unknown;
}

/** The one base error of every Hub package. */
export class HubError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: HubErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
  }
}

export const isHubError = (err: unknown): err is HubError => err instanceof HubError;
