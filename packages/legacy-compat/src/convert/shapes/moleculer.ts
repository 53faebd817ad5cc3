import { MessageType } from '@hub/protocol';
import { tableShape } from '../table-shape.js';
import { isObject } from './plain-json.js';

/** Moleculer's transit protocol version written for envelopes that did not come from Moleculer. */
const PROTOCOL_VERSION = '4';

const isPacket = (v: unknown): v is Record<string, unknown> =>
  isObject(v) && v.ver !== undefined && typeof v.sender === 'string';

/**
 * Moleculer EVENT packets (`{ ver, sender, id, event, data, groups, meta, ... }`)
 * become events on the topic named by `event`; everything else of the packet
 * (groups, meta, level, tracing ids) rides in the extensions.
 */
export const moleculerEvent = tableShape({
  name: 'moleculer-event',
  kind: 'event',
  fields: { event: 'type', data: 'body', sender: 'source', id: 'id' },
  defaults: { type: 'event', body: 'data', source: 'sender', id: 'id' },
  extra: () => ({ ver: PROTOCOL_VERSION }),
  detect: (v) => isPacket(v) && typeof v.event === 'string',
});

/**
 * Moleculer REQUEST packets (`{ ver, sender, id, action, params, meta, timeout, ... }`)
 * become `request` messages addressed to the action (e.g. `posts.find`);
 * `requestID` is the correlation id.
 */
export const moleculerRequest = tableShape({
  name: 'moleculer-request',
  kind: 'message',
  fixedType: MessageType.REQUEST,
  fields: {
    action: 'destination',
    params: 'body',
    sender: 'source',
    id: 'id',
    requestID: 'correlationId',
  },
  defaults: {
    destination: 'action',
    body: 'params',
    source: 'sender',
    id: 'id',
    correlationId: 'requestID',
  },
  extra: () => ({ ver: PROTOCOL_VERSION }),
  detect: (v) => isPacket(v) && typeof v.action === 'string',
});
