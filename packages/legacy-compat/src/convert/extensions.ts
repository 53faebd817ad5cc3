import type { Envelope } from '@hub/protocol';
import { bag, put, readExtensions, writeExtensions } from './headers.js';

/**
 * Keep `fields` (legacy fields the envelope has no place for) in the
 * envelope's `legacy-extensions` header, merged with any already there, so a
 * custom shape's `fromEnvelope` can write them back with `readExtensions`.
 * @throws InvalidMessageError when a value has no JSON form or they outgrow a header.
 */
export function withExtensions<E extends Envelope>(
  envelope: E,
  fields: Record<string, unknown>,
): E {
  const all = readExtensions(envelope);
  for (const k of Object.keys(fields)) put(all, k, fields[k]);
  writeExtensions(envelope.headers, Object.keys(all).length > 0 ? all : bag());
  return envelope;
}

export { readExtensions };
