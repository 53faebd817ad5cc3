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
  /**
   * The security policy refused the call: the identity may not send to that
   * destination, publish to or subscribe to that topic, or serve that
   * endpoint. Not retried: the same call meets the same rule.
   */
  FORBIDDEN: 'HUB_FORBIDDEN',
  /**
   * An envelope's protection did not check out on arrival: its signature does
   * not verify, its ciphertext, IV, tag or bound metadata were changed, its
   * key id is unknown, or it decompresses past the cap. Not retried.
   */
  INTEGRITY_FAILED: 'HUB_INTEGRITY_FAILED',
  /**
   * A signed envelope arrived again (the same id at the same consumer on a
   * first delivery) within the replay window, or was signed outside it. Not
   * retried: the same copy meets the same check.
   */
  REPLAYED: 'HUB_REPLAYED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/**
 * Whether another attempt of the same call may succeed, per code: the one
 * place the hub's send retries (and `retry()`) learn it from, through
 * {@link HubError.retryable}. False for a refusal the same input meets again
 * (invalid, unsupported, not permitted, closed) or a retry would worsen
 * (overloaded), and for a best-effort message nobody receives (nothing keeps
 * it for a later attempt).
 */
export const RETRYABLE: { readonly [C in ErrorCode]: boolean } = {
  HUB_INVALID_MESSAGE: false,
  HUB_INVALID_CONFIG: true,
  HUB_DECODE_FAILED: true,
  HUB_NO_ROUTE: true,
  HUB_GUARANTEE_UNSUPPORTED: false,
  HUB_TIMEOUT: true,
  HUB_OVERLOADED: false,
  HUB_CIRCUIT_OPEN: true,
  HUB_ADAPTER_FAILED: true,
  HUB_CONNECTION_FAILED: true,
  HUB_AUTH_FAILED: false,
  HUB_NOT_STARTED: true,
  HUB_CLOSED: false,
  HUB_EXPIRED: true,
  HUB_HANDLER_FAILED: true,
  HUB_NO_RECEIVER: false,
  HUB_FORBIDDEN: false,
  HUB_INTEGRITY_FAILED: false,
  HUB_REPLAYED: false,
};

/** Codes of other packages (not in {@link ErrorCode}) are retryable unless the error says otherwise. */
const retryableCode = (code: string): boolean =>
  (RETRYABLE as Readonly<Record<string, boolean>>)[code] ?? true;

export interface HubErrorOptions {
  cause?: unknown;
  /**
   * `false`: no attempt of the same call can succeed, whatever the code says
   * (a permission error, say). `true` cannot make a code that is never
   * retryable (see {@link RETRYABLE}) retryable. @default by the code
   */
  retryable?: boolean;
}

/** The one base error of every Hub package. */
export class HubError extends Error {
  readonly code: string;
  /** True when retrying the same call may succeed: by the code ({@link RETRYABLE}) unless the thrower said `false`. */
  readonly retryable: boolean;
  constructor(code: string, message: string, options?: HubErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.retryable = options?.retryable !== false && retryableCode(code);
  }
}

/**
 * Whether a failure is worth another attempt: a `HubError` says so itself
 * ({@link HubError.retryable}). Anything else is retryable unless it carries
 * `retryable: false` or a code that never is (an error of another copy of
 * this package, whose class `instanceof` does not know).
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof HubError) return err.retryable;
  if (typeof err !== 'object' || err === null) return true;
  const e = err as { retryable?: unknown; code?: unknown };
  if (e.retryable === false) return false;
  return typeof e.code !== 'string' || retryableCode(e.code);
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
