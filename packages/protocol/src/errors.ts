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
  /**
   * A best-effort message reached nobody, and the transport knows it (the
   * memory broker; Redis Pub/Sub outside a Cluster): nobody serves the
   * endpoint, and nothing keeps the message for later. Not retried.
   */
  NO_RECEIVER: 'HUB_NO_RECEIVER',
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

/**
 * Why an envelope was refused. Stable: tests and operators match on it.
 * - `missing`: a required field is absent (or `undefined`).
 * - `wrong_type`: the field has the wrong JSON type (or the payload holds a value the codecs cannot carry).
 * - `too_large`: a string, the payload or the whole encoded envelope is over its limit.
 * - `too_many`: more headers than allowed.
 * - `too_deep`: the payload nests deeper than allowed (or is cyclic).
 * - `bad_format`: a string does not match its syntax (address, id, topic, traceparent, header, tag).
 * - `out_of_range`: a number or enum value outside the allowed set.
 * - `unsupported_version`: the envelope `version` is newer than this build reads.
 * - `unknown_kind`: `kind` is not one this call accepts.
 * - `malformed`: the bytes are not JSON (truncated, bad UTF-8, syntax error).
 */
export type InvalidReason =
  | 'missing'
  | 'wrong_type'
  | 'too_large'
  | 'too_many'
  | 'too_deep'
  | 'bad_format'
  | 'out_of_range'
  | 'unsupported_version'
  | 'unknown_kind'
  | 'malformed';

/** Every {@link InvalidReason}, for docs and exhaustive tests. */
export const INVALID_REASONS: readonly InvalidReason[] = [
  'missing',
  'wrong_type',
  'too_large',
  'too_many',
  'too_deep',
  'bad_format',
  'out_of_range',
  'unsupported_version',
  'unknown_kind',
  'malformed',
];

/**
 * An envelope was refused at the boundary. `code` is always
 * `ErrorCode.INVALID_MESSAGE`; `reason` says why and `field` says where
 * (a dotted path such as `headers.x-foo` or `payload.items.3`; `''` means the
 * envelope as a whole).
 */
export class InvalidMessageError extends HubError {
  readonly reason: InvalidReason;
  readonly field: string;
  constructor(reason: InvalidReason, field: string, message: string, options?: HubErrorOptions) {
    super(ErrorCode.INVALID_MESSAGE, message, options);
    this.name = 'InvalidMessageError';
    this.reason = reason;
    this.field = field;
  }
}

export const isInvalidMessageError = (err: unknown): err is InvalidMessageError =>
  err instanceof InvalidMessageError;
