/**
 * JSON Schema (draft 2020-12) of the wire format, rendered from the same
 * field tables and patterns the validator runs (fields.ts), so they cannot
 * drift. Two runtime rules have no schema form and live in descriptions:
 * the clock-skew bound on `timestamp` and the payload byte/depth limits.
 */
import { DELIVERY_GUARANTEES } from './enums.js';
import {
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
import { DEFAULT_LIMITS, type ProtocolLimits } from './limits.js';
import { ENVELOPE_VERSION } from './types.js';

/** A JSON Schema document (plain JSON data). */
export type JsonSchema = { [key: string]: JsonSchemaValue };
export type JsonSchemaValue =
  | string
  | number
  | boolean
  | null
  | JsonSchemaValue[]
  | { [key: string]: JsonSchemaValue };

/** `$id` of the envelope schema for this envelope version. */
export const ENVELOPE_SCHEMA_ID = `https://hub.dev/schema/envelope/v${ENVELOPE_VERSION}.json`;

function ruleDefs(limits: ProtocolLimits): Record<Exclude<FieldRule, 'kind'>, JsonSchema> {
  return {
    version: {
      type: 'integer',
      minimum: 1,
      maximum: ENVELOPE_VERSION,
      description: `Envelope format version. Readers refuse versions newer than their own (reason unsupported_version).`,
    },
    id: { type: 'string', minLength: 1, maxLength: limits.maxIdLength, pattern: ID_PATTERN },
    timestamp: {
      type: 'integer',
      minimum: limits.minTimestamp,
      maximum: MAX_TIME_MS,
      description: `Milliseconds since the Unix epoch. Runtime rule: at most ${limits.maxClockSkewMs} ms ahead of the receiver's clock.`,
    },
    address: {
      type: 'string',
      minLength: 1,
      maxLength: limits.maxAddressLength,
      pattern: ADDRESS_PATTERN,
    },
    topic: {
      type: 'string',
      minLength: 1,
      maxLength: limits.maxAddressLength,
      pattern: TOPIC_PATTERN,
    },
    type: { type: 'string', minLength: 1, maxLength: limits.maxTypeLength, pattern: TYPE_PATTERN },
    priority: { type: 'integer', minimum: 1, maximum: 5 },
    guarantee: { type: 'string', enum: [...DELIVERY_GUARANTEES] },
    headers: {
      type: 'object',
      maxProperties: limits.maxHeaders,
      propertyNames: { maxLength: limits.maxHeaderKeyLength, pattern: HEADER_KEY_PATTERN },
      additionalProperties: {
        type: 'string',
        maxLength: limits.maxHeaderValueLength,
        pattern: HEADER_VALUE_PATTERN,
      },
    },
    payload: {
      description: `Any JSON value. Date, binary, bigint and undefined array slots travel as tag objects (see $defs/tag). Runtime rules: estimated JSON size at most ${limits.maxPayloadBytes} bytes, nesting at most ${limits.maxPayloadDepth} levels.`,
    },
    partitionKey: { type: 'string', minLength: 1, maxLength: limits.maxPartitionKeyLength },
    positiveInt: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
    expiresAt: { type: 'integer', minimum: limits.minTimestamp, maximum: MAX_TIME_MS },
    traceparent: { type: 'string', pattern: TRACEPARENT_PATTERN },
  };
}

function objectSchema(kind: 'message' | 'event', fields: readonly FieldSpec[]): JsonSchema {
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const spec of fields) {
    properties[spec.name] =
      spec.rule === 'kind'
        ? { const: kind, description: spec.description }
        : { $ref: `#/$defs/${spec.rule}`, description: spec.description };
    if (spec.required) required.push(spec.name);
  }
  return {
    type: 'object',
    required,
    properties,
    // Readers ignore fields they do not know, so producers of a later minor revision interoperate.
    additionalProperties: true,
  };
}

/**
 * Build the JSON Schema of the envelope for `limits`. Pure data; the
 * committed `schema/envelope.schema.json` is this with the default limits.
 */
export function buildEnvelopeSchema(limits: ProtocolLimits = DEFAULT_LIMITS): JsonSchema {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: ENVELOPE_SCHEMA_ID,
    title: 'Hub envelope',
    description: `One Hub message or event as it travels on the wire (envelope version ${ENVELOPE_VERSION}). Generated from @hub/protocol; see docs/protocol.md.`,
    oneOf: [{ $ref: '#/$defs/message' }, { $ref: '#/$defs/event' }],
    $defs: {
      message: objectSchema('message', MESSAGE_FIELDS),
      event: objectSchema('event', EVENT_FIELDS),
      ...ruleDefs(limits),
      tag: {
        description: `How the JSON codec carries a value JSON has no form for, anywhere inside payload/data. An application key "${TAG_KEY}" (or "${TAG_KEY}" followed by "$"s) is written with one extra "$".`,
        type: 'object',
        required: [TAG_KEY],
        properties: {
          [TAG_KEY]: { enum: ['date', 'bytes', 'bigint', 'undefined'] },
          v: {
            type: 'string',
            description:
              'date: ISO 8601 (Date#toISOString); bytes: standard base64; bigint: decimal; undefined: absent.',
          },
        },
        additionalProperties: false,
      },
    },
  };
}
