import { type Envelope, type Headers, parseEnvelope, type UnifiedEvent } from '@hub/protocol';
import {
  bag,
  KEYS_HEADER,
  put,
  readExtensions,
  SHAPE_HEADER,
  writeExtensions,
} from '../headers.js';
import { toTopic, toType } from '../names.js';
import type { LegacyShape } from '../shape.js';

type Packet = [string, ...unknown[]];

/**
 * Socket.IO-style `[event, ...args]` arrays become events on the topic named
 * by the event. One argument is the event's data as is; none or several are
 * its data as an array (`legacy-keys: n=<count>` says which, for the way back).
 * Acknowledgement callbacks have no wire form: the payload check refuses them.
 */
export const socketIo: LegacyShape<Packet> = {
  name: 'socket.io',
  detect: (v) => Array.isArray(v) && v.length > 0 && typeof v[0] === 'string',
  toEnvelope(packet, ctx) {
    const name = packet[0];
    const type = toType(name) ?? '_';
    const args = packet.slice(1);
    const headers: Headers = { [SHAPE_HEADER]: this.name, [KEYS_HEADER]: `n=${args.length}` };
    if (type !== name) {
      const ext = bag();
      put(ext, 'event', name);
      writeExtensions(headers, ext);
    }
    const event: UnifiedEvent = {
      kind: 'event',
      version: 1,
      id: ctx.newId(),
      timestamp: ctx.now(),
      source: ctx.defaultSource,
      type,
      topic: toTopic(type) as string,
      headers,
      data: args.length === 1 ? args[0] : args,
    };
    return parseEnvelope(event);
  },
  fromEnvelope(env: Envelope): Packet {
    const body = env.kind === 'message' ? env.payload : env.data;
    const own = env.headers[SHAPE_HEADER] === this.name;
    const n = own ? Number(env.headers[KEYS_HEADER]?.slice(2)) : 1;
    const ext = own ? readExtensions(env) : bag();
    const name = typeof ext.event === 'string' ? ext.event : env.type;
    if (n === 1) return [name, body];
    return [name, ...(Array.isArray(body) ? body : [body])];
  },
};
