import { tableShape } from '../table-shape.js';

const TYPE_FIELDS = [
  'type',
  'event',
  'action',
  'message_type',
  'messageType',
  'event_type',
  'eventType',
] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** What an object in no known shape lacks, naming the fields each shape is recognised by. */
export const UNRECOGNISED = `[hub:legacy] unrecognised legacy message: no field names its type (expected one of ${TYPE_FIELDS.join(', ')} for plain JSON; specversion for CloudEvents; ver, sender and event or action for Moleculer; name, data and opts for BullMQ; kind and version for a Hub envelope)`;

/**
 * Plain JSON objects with the field names legacy systems commonly use, in
 * snake_case or camelCase. A message when it names a recipient (`to`,
 * `recipient`, `target`, `destination`), else an event whose topic is its
 * `topic`/`channel` or its type.
 */
export const plainJson = tableShape({
  name: 'plain-json',
  kind: 'auto',
  fields: {
    ...Object.fromEntries(TYPE_FIELDS.map((f) => [f, 'type'])),
    data: 'body',
    payload: 'body',
    body: 'body',
    from: 'source',
    sender: 'source',
    source: 'source',
    to: 'destination',
    recipient: 'destination',
    target: 'destination',
    destination: 'destination',
    id: 'id',
    message_id: 'id',
    messageId: 'id',
    timestamp: 'timestamp',
    ts: 'timestamp',
    time: 'timestamp',
    created_at: 'timestamp',
    createdAt: 'timestamp',
    priority: 'priority',
    correlation_id: 'correlationId',
    correlationId: 'correlationId',
    reply_to: 'replyTo',
    replyTo: 'replyTo',
    topic: 'topic',
    channel: 'topic',
    headers: 'headers',
  },
  defaults: {
    type: 'type',
    body: 'data',
    source: 'from',
    destination: 'to',
    id: 'id',
    timestamp: 'timestamp',
    priority: 'priority',
    correlationId: 'correlation_id',
    replyTo: 'reply_to',
    topic: 'topic',
    headers: 'headers',
  },
  detect(input) {
    if (!isObject(input)) return false;
    for (const f of TYPE_FIELDS) if (typeof input[f] === 'string') return true;
    return false;
  },
  missingType: UNRECOGNISED,
});

export { isObject, TYPE_FIELDS };
