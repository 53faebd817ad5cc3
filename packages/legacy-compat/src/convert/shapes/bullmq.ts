import { toAddress } from '../names.js';
import { tableShape } from '../table-shape.js';
import { isObject } from './plain-json.js';

/**
 * BullMQ-style job objects (`{ id, name, data, opts, timestamp, attemptsMade, ... }`,
 * as `job.asJSON()` or a queue's stored job gives them) become messages of
 * type `name` addressed to the queue (`queueName`, or the name part of
 * `queueQualifiedName` such as `bull:emails`), else to the converter's
 * default destination. Job options and progress ride in the extensions.
 */
export const bullmq = tableShape({
  name: 'bullmq',
  kind: 'message',
  fields: { name: 'type', data: 'body', id: 'id', timestamp: 'timestamp' },
  defaults: { type: 'name', body: 'data', id: 'id', timestamp: 'timestamp' },
  destinationOf(job) {
    if (typeof job.queueName === 'string') return toAddress(job.queueName);
    const q = job.queueQualifiedName;
    if (typeof q === 'string') return toAddress(q.slice(q.indexOf(':') + 1));
    return undefined;
  },
  extra: (env) => ({ opts: {}, attemptsMade: env.kind === 'message' ? env.attempt - 1 : 0 }),
  detect: (v) =>
    isObject(v) &&
    typeof v.name === 'string' &&
    'data' in v &&
    ('opts' in v || 'attemptsMade' in v || 'queueQualifiedName' in v),
});
