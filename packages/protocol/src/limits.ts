import { ErrorCode, HubError } from './errors.js';

/**
 * Bounds enforced on every envelope at the boundary. String lengths count
 * UTF-16 code units (for the ASCII-only fields that is bytes).
 * Build a custom set with {@link createLimits}; every check reads the same object.
 */
export interface ProtocolLimits {
  /**
   * Largest payload (`payload` / `data`), as its estimated JSON size in bytes.
   * Strings are measured in exact UTF-8 bytes once they could matter.
   * @default 1_048_576 (1 MiB)
   */
  readonly maxPayloadBytes: number;
  /**
   * Largest encoded envelope a codec accepts before it even parses
   * (payload + everything else). Checked on the raw input length.
   * @default 1_114_112 (1 MiB + 64 KiB)
   */
  readonly maxEnvelopeBytes: number;
  /**
   * Deepest nesting of arrays/objects inside the payload. Also what stops a
   * cyclic payload.
   * @default 64
   */
  readonly maxPayloadDepth: number;
  /** Most headers on one envelope. @default 64 */
  readonly maxHeaders: number;
  /** Longest header name. @default 128 */
  readonly maxHeaderKeyLength: number;
  /** Longest header value. @default 8192 */
  readonly maxHeaderValueLength: number;
  /** Longest address: `source`, `destination`, `replyTo`, `topic`. @default 256 */
  readonly maxAddressLength: number;
  /** Longest id: `id`, `correlationId`. @default 128 */
  readonly maxIdLength: number;
  /** Longest `type`. @default 256 */
  readonly maxTypeLength: number;
  /** Longest `partitionKey`. @default 256 */
  readonly maxPartitionKeyLength: number;
  /**
   * Earliest accepted `timestamp` / `expiresAt`, ms since epoch. Catches
   * seconds-instead-of-milliseconds and zeroed clocks.
   * @default 946_684_800_000 (2000-01-01T00:00:00Z)
   */
  readonly minTimestamp: number;
  /**
   * How far in the future (relative to the receiver's clock) a `timestamp`
   * may be. Catches microsecond timestamps and broken clocks.
   * @default 86_400_000 (24 h)
   */
  readonly maxClockSkewMs: number;
}

/** The limits every `parse*` / `validate*` / codec uses when given none. */
export const DEFAULT_LIMITS: ProtocolLimits = Object.freeze({
  maxPayloadBytes: 1_048_576,
  maxEnvelopeBytes: 1_114_112,
  maxPayloadDepth: 64,
  maxHeaders: 64,
  maxHeaderKeyLength: 128,
  maxHeaderValueLength: 8192,
  maxAddressLength: 256,
  maxIdLength: 128,
  maxTypeLength: 256,
  maxPartitionKeyLength: 256,
  minTimestamp: 946_684_800_000,
  maxClockSkewMs: 86_400_000,
});

/**
 * Defaults overridden by `overrides`, checked and frozen. Resolve once at
 * start-up and pass the result around: the hot path never merges options.
 * @throws HubError `HUB_INVALID_CONFIG` when a value is not a non-negative integer.
 */
export function createLimits(overrides: Partial<ProtocolLimits> = {}): ProtocolLimits {
  const out: Record<string, number> = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(overrides) as (keyof ProtocolLimits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS)) {
      throw new HubError(ErrorCode.INVALID_CONFIG, `[hub:protocol] unknown limit '${key}'`);
    }
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:protocol] limit '${key}' must be a non-negative integer, got ${String(value)}`,
      );
    }
    out[key] = value;
  }
  return Object.freeze(out) as unknown as ProtocolLimits;
}
