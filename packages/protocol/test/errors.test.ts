import { describe, expect, it } from 'vitest';
import { ErrorCode, HubError, InvalidMessageError, isRetryable, RETRYABLE } from '../src/index.js';

/** The codes a send is never retried on: a second attempt meets the same refusal. */
const FINAL: readonly string[] = [
  ErrorCode.INVALID_MESSAGE,
  ErrorCode.OVERLOADED,
  ErrorCode.CLOSED,
  ErrorCode.AUTH_FAILED,
  ErrorCode.GUARANTEE_UNSUPPORTED,
  ErrorCode.NO_RECEIVER,
  ErrorCode.FORBIDDEN,
  ErrorCode.INTEGRITY_FAILED,
  ErrorCode.REPLAYED,
];

describe('retryable, decided on the error', () => {
  it('every code has its entry, and exactly the final codes are not retryable', () => {
    expect(Object.keys(RETRYABLE).sort()).toEqual(Object.values(ErrorCode).sort());
    for (const code of Object.values(ErrorCode)) {
      const err = new HubError(code, 'x');
      expect({ code, retryable: err.retryable }).toEqual({
        code,
        retryable: !FINAL.includes(code),
      });
      expect(isRetryable(err)).toBe(err.retryable);
    }
  });

  it('retryable: false makes any error final; true cannot make a final code retryable', () => {
    expect(new HubError(ErrorCode.ADAPTER_FAILED, 'x', { retryable: false }).retryable).toBe(false);
    expect(new HubError(ErrorCode.NO_RECEIVER, 'x', { retryable: true }).retryable).toBe(false);
    expect(new InvalidMessageError('missing', 'id', 'x').retryable).toBe(false);
  });

  it('errors that are not HubErrors: retryable unless they say otherwise or carry a final code', () => {
    expect(isRetryable(new Error('socket closed'))).toBe(true);
    expect(isRetryable('a string')).toBe(true);
    expect(isRetryable(null)).toBe(true);
    expect(isRetryable(Object.assign(new Error('x'), { retryable: false }))).toBe(false);
    // A HubError of another copy of the package: instanceof fails, its code still counts.
    expect(isRetryable(Object.assign(new Error('x'), { code: ErrorCode.NO_RECEIVER }))).toBe(false);
    expect(isRetryable(Object.assign(new Error('x'), { code: 'MY_TRANSPORT_BUSY' }))).toBe(true);
  });
});
