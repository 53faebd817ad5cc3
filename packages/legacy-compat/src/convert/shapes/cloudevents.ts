import {
  type CloudEventObject,
  type Envelope,
  fromCloudEvent,
  isValidTraceparent,
  toCloudEvent,
} from '@hub/protocol';
import {
  assignAll,
  bag,
  HEADER_VALUE_RE,
  KEYS_HEADER,
  put,
  RESERVED_HEADERS,
  readExtensions,
  SHAPE_HEADER,
  writeExtensions,
} from '../headers.js';
import { toAddress, toId, toTopic, toType } from '../names.js';
import type { LegacyShape } from '../shape.js';
import { isObject } from './plain-json.js';

const JSON_TYPE = 'application/json';
const BYTES_TYPE = 'application/octet-stream';
/** Attributes @hub/protocol's CloudEvents mapping reads itself. */
const MAPPED = new Set(['specversion', 'id', 'source', 'type', 'time', 'datacontenttype', 'data']);

/**
 * CloudEvents 1.0 in structured form. A CloudEvent a hub wrote (it has
 * `hubkind`) maps back exactly through @hub/protocol's mapping. A foreign one
 * becomes an event on the topic named by its `type`; string extension
 * attributes become `ce-<name>` headers, other values the extensions.
 */
export const cloudEvents: LegacyShape<CloudEventObject> = {
  name: 'cloudevents',
  detect: (v) => isObject(v) && v.specversion !== undefined,
  toEnvelope(input) {
    if (input.hubkind !== undefined) return fromCloudEvent(input);
    const ce: Record<string, unknown> = bag();
    const ext = bag();
    const keys: string[] = [];
    for (const k of Object.keys(input)) {
      const v = input[k];
      if (MAPPED.has(k)) {
        ce[k] = v;
        if (k === 'time' || k === 'datacontenttype') keys.push(k);
      } else if (k === 'data_base64' && typeof v === 'string') {
        ce[k] = v;
        if (Buffer.from(v, 'base64').toString('base64') !== v) put(ext, k, v);
      } else if (k === 'traceparent' && isValidTraceparent(v)) ce[k] = v;
      else if (
        /^[a-z0-9]{1,20}$/.test(k) &&
        !k.startsWith('hub') &&
        typeof v === 'string' &&
        HEADER_VALUE_RE.test(v)
      ) {
        ce[k] = v;
      } else put(ext, k, v);
    }
    // Values the envelope spells differently: the envelope gets a fitting one, the extensions the original.
    const fit = (k: string, to: (v: unknown) => string | undefined) => {
      const fitted = to(input[k]);
      if (fitted !== undefined && fitted !== input[k]) {
        ce[k] = fitted;
        put(ext, k, input[k]);
      }
    };
    fit('id', toId);
    fit('source', toAddress);
    fit('type', toType);
    const type = typeof ce.type === 'string' ? ce.type : undefined;
    const topic = toTopic(type);
    if (topic !== undefined && topic !== type) ce.hubtopic = topic;
    const time = input.time;
    if (typeof time === 'string' && !Number.isNaN(Date.parse(time))) {
      if (new Date(Date.parse(time)).toISOString() !== time) put(ext, 'time', time);
    }
    const env = fromCloudEvent(ce);
    env.headers[SHAPE_HEADER] = this.name;
    env.headers[KEYS_HEADER] = keys.join(',');
    writeExtensions(env.headers, ext);
    return env;
  },
  fromEnvelope(env: Envelope): CloudEventObject {
    const own = env.headers[SHAPE_HEADER] === this.name && env.headers[KEYS_HEADER] !== undefined;
    if (!own) return toCloudEvent(env);
    const present = new Set(env.headers[KEYS_HEADER]!.split(','));
    const out: CloudEventObject = {
      specversion: '1.0',
      id: env.id,
      source: env.source,
      type: env.type,
    };
    if (present.has('time')) out.time = new Date(env.timestamp).toISOString();
    const body = env.kind === 'message' ? env.payload : env.data;
    const contentType = env.headers['content-type'];
    if (body instanceof Uint8Array) out.data_base64 = Buffer.from(body).toString('base64');
    else if (body !== undefined) out.data = body;
    if (present.has('datacontenttype')) {
      out.datacontenttype = contentType ?? (body instanceof Uint8Array ? BYTES_TYPE : JSON_TYPE);
    }
    if (env.traceparent !== undefined) out.traceparent = env.traceparent;
    let others: Record<string, string> | undefined;
    for (const [name, value] of Object.entries(env.headers)) {
      if (name.startsWith('ce-')) put(out, name.slice(3), value);
      else if (!RESERVED_HEADERS.has(name) && name !== 'content-type') {
        others ??= {};
        others[name] = value;
      }
    }
    // Headers the hub added (such as the bridge's loop marker) travel where the mapping reads them.
    if (others !== undefined) out.hubheaders = JSON.stringify(others);
    assignAll(out, readExtensions(env));
    return out;
  },
};
