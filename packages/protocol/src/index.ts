export * from './cloudevents.js';
export * from './codec/json.js';
export type * from './codec/types.js';
export * from './enums.js';
export * from './errors.js';
export * from './factories.js';
export {
  ADDRESS_PATTERN,
  EVENT_FIELDS,
  type FieldRule,
  type FieldSpec,
  HEADER_KEY_PATTERN,
  HEADER_VALUE_PATTERN,
  ID_PATTERN,
  MAX_TIME_MS,
  MESSAGE_FIELDS,
  TAG_KEY,
  TOPIC_PATTERN,
  TRACEPARENT_PATTERN,
  TYPE_PATTERN,
} from './fields.js';
export * from './limits.js';
export * from './schema.js';
export * from './types.js';
export * from './validate.js';
