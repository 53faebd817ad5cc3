import { ErrorCode, HubError } from '@hub/protocol';

/** An option that breaks its rule: a typed error naming the call and the field. */
export function optionError(call: string, field: string, rule: string, value: unknown): HubError {
  const got = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:ws] ${call} option "${field}" must be ${rule}, got ${got}`,
  );
}

/** Each of `fields` left out, or a positive finite number. */
export function checkPositive<T extends object>(
  call: string,
  options: T,
  fields: readonly (keyof T & string)[],
): void {
  for (const key of fields) {
    const v = options[key] as unknown;
    if (v !== undefined && (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v))) {
      throw optionError(call, key, 'a positive number', v);
    }
  }
}
