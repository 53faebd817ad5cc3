import { type Envelope, parseEnvelope } from '@hub/protocol';
import type { LegacyShape } from '../shape.js';
import { isObject } from './plain-json.js';

/** A Hub envelope already (a service that moved first): validated and passed through unchanged. */
export const hubEnvelope: LegacyShape<Envelope> = {
  name: 'hub',
  detect: (v) =>
    isObject(v) && (v.kind === 'message' || v.kind === 'event') && typeof v.version === 'number',
  toEnvelope: (input) => parseEnvelope(input),
  fromEnvelope: (env) => env,
};
