/**
 * The endpoint's OpenAPI 3.1 document, built from the protocol package's
 * JSON Schema of the envelope (the schema the validator implements), so the
 * two cannot drift: the envelope definitions become `components.schemas`.
 */
import {
  buildEnvelopeSchema,
  CLOUDEVENTS_JSON,
  type JsonSchema,
  type JsonSchemaValue,
} from '@hub/protocol';
import { CLOUDEVENTS_BATCH, MAX_BATCH } from './parse.js';
import { PROBLEM_JSON } from './problem.js';

type Doc = Record<string, unknown>;

/** `#/$defs/x` → `#/components/schemas/x`, everywhere in the tree. */
function rehome(value: JsonSchemaValue): JsonSchemaValue {
  if (Array.isArray(value)) return value.map(rehome);
  if (typeof value === 'object' && value !== null) {
    const out: JsonSchema = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] =
        k === '$ref' && typeof v === 'string'
          ? v.replace('#/$defs/', '#/components/schemas/')
          : rehome(v);
    }
    return out;
  }
  return value;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

const problemResponse = (description: string) => ({
  description,
  content: { [PROBLEM_JSON]: { schema: ref('Problem') } },
});

const errors = {
  '400': problemResponse('Refused input: `code` and `field` say what and where'),
  '401': problemResponse('Missing or bad credentials or signature'),
  '413': problemResponse('Body over the limit'),
  '429': problemResponse('Rate limit exceeded; see Retry-After'),
  '503': problemResponse('Overloaded or no healthy transport; see Retry-After'),
};

function postBody(kind: 'message' | 'event', batch: boolean): Doc {
  const one =
    kind === 'message'
      ? { oneOf: [ref('message'), ref('ShortMessage')] }
      : { oneOf: [ref('event'), ref('ShortEvent')] };
  const content: Doc = {
    'application/json': {
      schema: batch
        ? { oneOf: [one, { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: one }] }
        : one,
    },
    [CLOUDEVENTS_JSON]: { schema: ref('CloudEvent') },
  };
  if (batch)
    content[CLOUDEVENTS_BATCH] = {
      schema: { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: ref('CloudEvent') },
    };
  return { required: true, content };
}

const accepted = {
  description: 'Accepted by the hub under the requested delivery guarantee',
  content: {
    'application/json': {
      schema: {
        type: 'object',
        required: ['accepted'],
        properties: {
          accepted: { const: true },
          id: { type: 'string' },
          ids: { type: 'array', items: { type: 'string' } },
        },
      },
    },
  },
};

const headerParams = [
  {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    schema: { type: 'string' },
    description:
      'The message id of a short-form message; a repeat within the window is not sent again.',
  },
  {
    name: 'traceparent',
    in: 'header',
    required: false,
    schema: { type: 'string' },
    description: 'W3C trace context, continued by the hub.',
  },
];

export function openApiDocument(basePath: string): Doc {
  const envelope = buildEnvelopeSchema();
  const defs = rehome((envelope.$defs ?? {}) as JsonSchemaValue) as JsonSchema;
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hub HTTP endpoint',
      version: '1.0.0',
      description:
        'Send messages and events into a Hub, call request/reply, stream events. Errors are RFC 9457 problem details carrying the Hub error code.',
    },
    servers: [{ url: basePath === '' ? '/' : basePath }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...defs,
        Envelope: { oneOf: [ref('message'), ref('event')] },
        ShortMessage: {
          type: 'object',
          description: 'A message the endpoint completes (id, version, timestamp, defaults).',
          required: ['destination', 'payload'],
          properties: {
            destination: { type: 'string' },
            payload: {},
            source: { type: 'string' },
            type: { type: 'string' },
            priority: { type: 'integer' },
            deliveryGuarantee: { type: 'string' },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
            correlationId: { type: 'string' },
            partitionKey: { type: 'string' },
            ttlMs: { type: 'integer' },
          },
          not: { anyOf: [{ required: ['version'] }, { required: ['kind'] }] },
        },
        ShortEvent: {
          type: 'object',
          description: 'An event the endpoint completes (id, version, timestamp, defaults).',
          required: ['topic', 'data'],
          properties: {
            topic: { type: 'string' },
            data: {},
            source: { type: 'string' },
            type: { type: 'string' },
            headers: { type: 'object', additionalProperties: { type: 'string' } },
            ttlMs: { type: 'integer' },
          },
          not: { anyOf: [{ required: ['version'] }, { required: ['kind'] }] },
        },
        CloudEvent: {
          type: 'object',
          description: 'CloudEvents 1.0, structured mode.',
          required: ['specversion', 'id', 'source', 'type'],
          properties: {
            specversion: { const: '1.0' },
            id: { type: 'string' },
            source: { type: 'string' },
            type: { type: 'string' },
          },
        },
        Problem: {
          type: 'object',
          description: 'RFC 9457 problem details with the Hub error code.',
          required: ['type', 'title', 'status', 'code'],
          properties: {
            type: { type: 'string' },
            title: { type: 'string' },
            status: { type: 'integer' },
            detail: { type: 'string' },
            code: { type: 'string' },
            field: { type: 'string' },
          },
        },
      },
    },
    security: [{}, { bearer: [] }],
    paths: {
      '/messages': {
        post: {
          operationId: 'sendMessage',
          summary: 'Send a message (or a batch) to its destination endpoint',
          parameters: headerParams,
          requestBody: postBody('message', true),
          responses: { '202': accepted, ...errors },
        },
      },
      '/events': {
        post: {
          operationId: 'publishEvent',
          summary: 'Publish an event (or a batch): Hub JSON, CloudEvents binary or structured',
          parameters: headerParams,
          requestBody: postBody('event', true),
          responses: { '202': accepted, ...errors },
        },
      },
      '/request': {
        post: {
          operationId: 'request',
          summary: 'Send a message and answer with its reply payload',
          parameters: [
            ...headerParams,
            {
              name: 'hub-timeout-ms',
              in: 'header',
              required: false,
              schema: { type: 'integer', minimum: 1 },
            },
          ],
          requestBody: postBody('message', false),
          responses: {
            '200': {
              description: 'The reply payload',
              content: { 'application/json': { schema: {} } },
            },
            ...errors,
            '504': problemResponse('No reply in time (code HUB_TIMEOUT)'),
          },
        },
      },
      '/stream': {
        get: {
          operationId: 'streamEvents',
          summary: 'Server-Sent Events for a topic pattern; resume with Last-Event-ID',
          parameters: [
            { name: 'topic', in: 'query', required: true, schema: { type: 'string' } },
            { name: 'Last-Event-ID', in: 'header', required: false, schema: { type: 'string' } },
          ],
          responses: {
            '200': {
              description: 'An event stream',
              content: { 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errors,
          },
        },
      },
      '/health/live': {
        get: {
          operationId: 'live',
          security: [],
          responses: { '200': { description: 'The process serves' } },
        },
      },
      '/health/ready': {
        get: {
          operationId: 'ready',
          security: [],
          responses: {
            '200': { description: 'The hub takes traffic' },
            '503': { description: 'The hub does not take traffic' },
          },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          responses: {
            '200': {
              description: 'Prometheus text format',
              content: { 'text/plain': { schema: { type: 'string' } } },
            },
          },
        },
      },
      '/openapi.json': {
        get: {
          operationId: 'openapi',
          responses: {
            '200': {
              description: 'This document',
              content: { 'application/json': { schema: {} } },
            },
          },
        },
      },
    },
  };
}
