/**
 * The frame protocol (docs/ws-protocol.md): JSON text frames, one object
 * each, discriminated by `type`, or (once both sides listed the `batch`
 * feature) a `batch` frame carrying several of them. Both directions are one
 * union each, decoded here and handled by one `switch` at each end.
 */

import type { TopicStart } from '@hub/core';
import {
  DELIVERY_GUARANTEES,
  type DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  jsonCodec,
  reviveEnvelope,
} from '@hub/protocol';
import { WsErrorCode } from './codes.js';

/** Version of the frame protocol; `hello` and `welcome` carry it. */
export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol that selects this frame protocol. */
export const SUBPROTOCOL = 'hub.v1';
/** The CloudEvents WebSocket binding (events only, as structured JSON CloudEvents). */
export const CLOUDEVENTS_SUBPROTOCOL = 'cloudevents.json';

/**
 * Optional features of version 1, listed in `hello` (the client's) and
 * `welcome` (the server's). A side uses one only when the other listed it, so
 * a peer written before a feature existed never sees it.
 */
export const Feature = {
  /** `batch` frames: several frames in one WebSocket frame. */
  BATCH: 'batch',
} as const;
export type Feature = (typeof Feature)[keyof typeof Feature];
/** The features this implementation speaks, in both roles. */
export const FEATURES: readonly Feature[] = [Feature.BATCH];
/** Most frames one `batch` may carry; more is a bad frame. */
export const BATCH_MAX_FRAMES = 4_096;

/** Frames a client sends. */
export type ClientFrame =
  | {
      type: 'hello';
      v: number;
      session?: string;
      last?: number;
      features?: string[];
      sealed?: boolean;
    }
  | { type: 'message'; id: string; envelope: Envelope }
  | { type: 'event'; id: string; envelope: Envelope }
  | {
      type: 'serve';
      id: string;
      sub: string;
      address: string;
      guarantees?: DeliveryGuarantee[];
      prefetch?: number;
    }
  | {
      type: 'subscribe';
      id: string;
      sub: string;
      pattern: string;
      group?: string;
      /** Kept events: where the group starts (`'last'`, `'now'`, `{ id }`, `{ time }`). */
      startFrom?: TopicStart;
      prefetch?: number;
    }
  | { type: 'unserve'; id: string; sub: string }
  | { type: 'unsubscribe'; id: string; sub: string }
  | { type: 'ack'; seq: number }
  /**
   * `final: true`: the client dead-lettered the delivery (its hub refuses it
   * for good); the server dead-letters it at once instead of redelivering it.
   */
  | { type: 'nack'; seq: number; reason?: string; final?: boolean }
  | { type: 'ping' };

/** Frames a server sends. */
export type ServerFrame =
  | {
      type: 'welcome';
      v: number;
      session: string;
      resumed: boolean;
      window: number;
      pingIntervalMs: number;
      unacked?: number[];
      features?: string[];
      /** The server's largest inbound frame in bytes: a client keeps its batches under it. */
      maxPayload?: number;
      /** The server's hub routes events asking for more than best-effort (it has durable topics). */
      durableTopics?: boolean;
    }
  | { type: 'ack'; id: string }
  | { type: 'acks'; ids: string[] }
  | { type: 'error'; id?: string; code: string; message: string }
  | { type: 'deliver'; seq: number; sub: string; attempt: number; envelope: Envelope }
  | { type: 'pong' };

export type ClientFrameType = ClientFrame['type'];

/** A frame that could not be decoded; `id` is set when the frame named one (the error frame answers it). */
export class FrameError extends HubError {
  readonly frameId: string | undefined;
  constructor(message: string, frameId?: string, code: string = WsErrorCode.BAD_FRAME) {
    super(code, `[hub:ws] ${message}`);
    this.name = 'FrameError';
    this.frameId = frameId;
  }
}

const ID_MAX = 256;

type Obj = Record<string, unknown>;

function str(obj: Obj, field: string, id?: string, max = ID_MAX): string {
  const v = obj[field];
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new FrameError(
      `frame field '${field}' must be a string of 1-${max} characters, got ${describe(v)}`,
      id,
    );
  }
  return v;
}

function optStr(obj: Obj, field: string, id?: string): string | undefined {
  return obj[field] === undefined ? undefined : str(obj, field, id);
}

function seqOf(obj: Obj): number {
  const v = obj.seq;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new FrameError(`frame field 'seq' must be a positive integer, got ${describe(v)}`);
  }
  return v;
}

const describe = (v: unknown): string =>
  v === undefined ? 'nothing' : typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : typeof v;

function parseJson(text: string): Obj {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FrameError(`frame is not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new FrameError('frame must be a JSON object');
  }
  return raw as Obj;
}

/**
 * The frames of one WebSocket text frame, parsed but not yet checked: the
 * frame itself, or the elements of a `batch` (each checked on its own, so one
 * bad element is refused by its id while the others carry on).
 * @throws FrameError when the text is not a JSON object or the batch is malformed.
 */
export function decodeFrames(text: string): Obj[] {
  const obj = parseJson(text);
  if (obj.type !== 'batch') return [obj];
  const frames = obj.frames;
  if (!Array.isArray(frames) || frames.length === 0 || frames.length > BATCH_MAX_FRAMES) {
    throw new FrameError(
      `frame field 'frames' must be an array of 1-${BATCH_MAX_FRAMES} frames, got ${Array.isArray(frames) ? `${frames.length} elements` : describe(frames)}`,
    );
  }
  for (const f of frames) {
    if (typeof f !== 'object' || f === null || Array.isArray(f)) {
      throw new FrameError(`frame field 'frames' must hold JSON objects, got ${describe(f)}`);
    }
  }
  return frames as Obj[];
}

function featuresOf(obj: Obj): string[] | undefined {
  const v = obj.features;
  // Unknown names are kept (and ignored by whoever reads them): a newer peer may list more.
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : undefined;
}

function envelopeOf(obj: Obj, id: string, kind: 'message' | 'event'): Envelope {
  let env: Envelope;
  try {
    env = reviveEnvelope(obj.envelope);
  } catch (err) {
    const e = err as HubError;
    throw new FrameError(
      `frame field 'envelope': ${e.message.replace(/^\[[^\]]*\]\s*/, '')}`,
      id,
      e.code ?? ErrorCode.INVALID_MESSAGE,
    );
  }
  if (env.kind !== kind) {
    throw new FrameError(`frame of type '${kind}' carries an envelope of kind '${env.kind}'`, id);
  }
  if (env.id !== id) {
    throw new FrameError(`frame field 'id' must equal envelope.id (${env.id})`, id);
  }
  return env;
}

function prefetchOf(obj: Obj, id: string): number | undefined {
  const v = obj.prefetch;
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw new FrameError(
      `frame field 'prefetch' must be a positive integer, got ${describe(v)}`,
      id,
    );
  }
  return v;
}

/** `'last'`, `'now'`, `{ "id": "<ms>-<seq>" }` or `{ "time": <ms since epoch> }`. */
function startFromOf(obj: Obj, id: string): TopicStart | undefined {
  const v = obj.startFrom;
  if (v === undefined || v === 'last' || v === 'now') return v;
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 1) {
    const o = v as { id?: unknown; time?: unknown };
    if (typeof o.id === 'string' && /^\d{1,20}-\d{1,20}$/.test(o.id)) return { id: o.id };
    if (typeof o.time === 'number' && Number.isSafeInteger(o.time) && o.time >= 0) {
      return { time: o.time };
    }
  }
  throw new FrameError(
    `frame field 'startFrom' must be 'last', 'now', { id: '<ms>-<seq>' } or { time: <ms since epoch> }, got ${describe(typeof v === 'object' ? JSON.stringify(v)?.slice(0, 40) : v)}`,
    id,
  );
}

function guaranteesOf(obj: Obj, id: string): DeliveryGuarantee[] | undefined {
  const v = obj.guarantees;
  if (v === undefined) return undefined;
  if (
    !Array.isArray(v) ||
    v.length === 0 ||
    v.some((g) => !DELIVERY_GUARANTEES.includes(g as DeliveryGuarantee))
  ) {
    throw new FrameError(
      `frame field 'guarantees' must be a non-empty array of ${DELIVERY_GUARANTEES.join(', ')}`,
      id,
    );
  }
  return v as DeliveryGuarantee[];
}

/**
 * Decode one client frame.
 * @throws FrameError naming the field; `frameId` is set when the frame had a usable `id`.
 */
export function parseClientFrame(text: string): ClientFrame {
  return clientFrameOf(parseJson(text));
}

/**
 * Check one parsed client frame (a whole frame, or an element of a batch).
 * @throws FrameError naming the field; `frameId` is set when the frame had a usable `id`.
 */
export function clientFrameOf(obj: Obj): ClientFrame {
  const type = obj.type;
  switch (type) {
    case 'hello': {
      const v = obj.v;
      if (typeof v !== 'number' || !Number.isInteger(v)) {
        throw new FrameError(`frame field 'v' must be an integer, got ${describe(v)}`);
      }
      const frame: ClientFrame = { type, v };
      const session = optStr(obj, 'session');
      if (session !== undefined) frame.session = session;
      if (obj.last !== undefined) {
        const last = obj.last;
        if (typeof last !== 'number' || !Number.isSafeInteger(last) || last < 0) {
          throw new FrameError(`frame field 'last' must be an integer >= 0, got ${describe(last)}`);
        }
        frame.last = last;
      }
      const features = featuresOf(obj);
      if (features !== undefined) frame.features = features;
      if (obj.sealed !== undefined) {
        if (typeof obj.sealed !== 'boolean') {
          throw new FrameError(
            `frame field 'sealed' must be a boolean, got ${describe(obj.sealed)}`,
          );
        }
        frame.sealed = obj.sealed;
      }
      return frame;
    }
    case 'message':
    case 'event': {
      const id = str(obj, 'id');
      return { type, id, envelope: envelopeOf(obj, id, type) };
    }
    case 'serve': {
      const id = str(obj, 'id');
      const frame: ClientFrame = {
        type,
        id,
        sub: str(obj, 'sub', id),
        address: str(obj, 'address', id),
      };
      const guarantees = guaranteesOf(obj, id);
      if (guarantees) frame.guarantees = guarantees;
      const prefetch = prefetchOf(obj, id);
      if (prefetch !== undefined) frame.prefetch = prefetch;
      return frame;
    }
    case 'subscribe': {
      const id = str(obj, 'id');
      const frame: ClientFrame = {
        type,
        id,
        sub: str(obj, 'sub', id),
        pattern: str(obj, 'pattern', id),
      };
      const group = optStr(obj, 'group', id);
      if (group !== undefined) frame.group = group;
      const startFrom = startFromOf(obj, id);
      if (startFrom !== undefined) frame.startFrom = startFrom;
      const prefetch = prefetchOf(obj, id);
      if (prefetch !== undefined) frame.prefetch = prefetch;
      return frame;
    }
    case 'unserve':
    case 'unsubscribe': {
      const id = str(obj, 'id');
      return { type, id, sub: str(obj, 'sub', id) };
    }
    case 'ack':
      return { type, seq: seqOf(obj) };
    case 'nack': {
      const reason = obj.reason === undefined ? undefined : String(obj.reason).slice(0, 1024);
      const frame: Extract<ClientFrame, { type: 'nack' }> =
        reason === undefined ? { type, seq: seqOf(obj) } : { type, seq: seqOf(obj), reason };
      if (obj.final !== undefined) {
        if (typeof obj.final !== 'boolean') {
          throw new FrameError(`frame field 'final' must be a boolean, got ${describe(obj.final)}`);
        }
        if (obj.final) frame.final = true;
      }
      return frame;
    }
    case 'ping':
      return { type };
    default: {
      const id = typeof obj.id === 'string' && obj.id.length <= ID_MAX ? obj.id : undefined;
      throw new FrameError(`frame field 'type' is unknown: ${describe(type)}`, id);
    }
  }
}

/**
 * Decode one server frame (the client side). The server is trusted no more
 * than any peer: the envelope of a delivery is checked like any inbound one.
 * @throws FrameError naming the field.
 */
export function parseServerFrame(text: string): ServerFrame {
  return serverFrameOf(parseJson(text));
}

/**
 * Check one parsed server frame (a whole frame, or an element of a batch).
 * @throws FrameError naming the field.
 */
export function serverFrameOf(obj: Obj): ServerFrame {
  const type = obj.type;
  switch (type) {
    case 'welcome': {
      const frame: ServerFrame = {
        type,
        v: Number(obj.v),
        session: str(obj, 'session'),
        resumed: obj.resumed === true,
        window: Number(obj.window) || 1,
        pingIntervalMs: Number(obj.pingIntervalMs) || 0,
      };
      if (Array.isArray(obj.unacked)) {
        frame.unacked = obj.unacked.filter((n): n is number => Number.isSafeInteger(n));
      }
      const features = featuresOf(obj);
      if (features !== undefined) frame.features = features;
      if (obj.durableTopics === true) frame.durableTopics = true;
      const maxPayload = obj.maxPayload;
      if (typeof maxPayload === 'number' && Number.isSafeInteger(maxPayload) && maxPayload > 0) {
        frame.maxPayload = maxPayload;
      }
      return frame;
    }
    case 'ack':
      return { type, id: str(obj, 'id') };
    case 'acks': {
      const ids = obj.ids;
      if (!Array.isArray(ids) || ids.some((x) => typeof x !== 'string')) {
        throw new FrameError(`frame field 'ids' must be an array of strings, got ${describe(ids)}`);
      }
      return { type, ids: ids as string[] };
    }
    case 'error': {
      const id = optStr(obj, 'id');
      const frame: ServerFrame = {
        type,
        code: str(obj, 'code'),
        message: String(obj.message ?? '').slice(0, 4096),
      };
      if (id !== undefined) frame.id = id;
      return frame;
    }
    case 'deliver': {
      const seq = seqOf(obj);
      const envelope = reviveEnvelope(obj.envelope);
      const attempt = Number(obj.attempt);
      return {
        type,
        seq,
        sub: str(obj, 'sub'),
        attempt: Number.isInteger(attempt) && attempt >= 1 ? attempt : 1,
        envelope,
      };
    }
    case 'pong':
      return { type };
    default:
      throw new FrameError(`frame field 'type' is unknown: ${describe(type)}`);
  }
}

/**
 * One publish fans out to many connections as the same envelope object:
 * encode it once, not once per connection. Envelopes are not changed after
 * they are sent (a redelivery is a new object). Only topic deliveries take
 * this cache: an endpoint delivery goes to one connection, and a WeakMap
 * entry per message (about a microsecond with its collection) would buy nothing.
 */
const encoded = new WeakMap<Envelope, string>();
function encodeOnce(envelope: Envelope): string {
  let text = encoded.get(envelope);
  if (text === undefined) {
    text = jsonCodec.encode(envelope);
    encoded.set(envelope, text);
  }
  return text;
}

/**
 * Encode a frame. An envelope goes through the JSON codec (which tags binary
 * payloads and enforces the payload limits); the rest is plain JSON.
 */
export function encodeFrame(frame: ClientFrame | ServerFrame): string {
  switch (frame.type) {
    case 'message':
    case 'event':
      return `{"type":"${frame.type}","id":${JSON.stringify(frame.id)},"envelope":${jsonCodec.encode(frame.envelope)}}`;
    case 'deliver':
      return `{"type":"deliver","seq":${frame.seq},"sub":${JSON.stringify(frame.sub)},"attempt":${frame.attempt},"envelope":${frame.envelope.kind === 'event' ? encodeOnce(frame.envelope) : jsonCodec.encode(frame.envelope)}}`;
    default:
      return JSON.stringify(frame);
  }
}

/**
 * Several encoded frames as one `batch` frame: the texts are spliced in as
 * they are, so a frame is encoded once whether it leaves alone or batched.
 */
export function encodeBatch(texts: readonly string[]): string {
  return `{"type":"batch","frames":[${texts.join(',')}]}`;
}

/**
 * Frames written in one turn, sent as few WebSocket frames as the peer allows.
 * Writes are queued and flushed once the current turn's work is done (after
 * its promise callbacks: `process.nextTick` scheduled from a callback runs
 * after them; `queueMicrotask` where there is no `process`), never on a timer,
 * so a lone frame leaves at once and a burst leaves together. A frame over
 * `maxChars` goes alone; a batch is cut before it would pass `maxChars`.
 *
 * A frame nobody waits on (the settlement of a delivery) is `lazy`: it leaves
 * with the next frame written, after it, or at the end of this event-loop
 * iteration (`setImmediate`) if none comes. The caller whose reply it settles
 * then runs before that write, and a request/reply loop sends its settlement
 * inside its next request's frame, behind the request, instead of a frame
 * (and a system call) of its own.
 */
export class FrameBatcher {
  private queue: string[] = [];
  /** Lazy frames, sent behind the queue. */
  private lazy: string[] = [];
  private chars = 0;
  private scheduled = false;
  private lazyScheduled = false;

  constructor(
    /** Writes one WebSocket text frame. */
    private readonly sendText: (text: string) => void,
    /** Called at the start of each flush (to add frames that wait for the flush, like acks). */
    private readonly beforeFlush: (() => void) | undefined,
    /** Largest batch, in UTF-16 units (at most 3 UTF-8 bytes each). */
    private readonly maxChars: number,
  ) {}

  push(text: string, lazy = false): void {
    if (this.chars + text.length > this.maxChars && this.chars > 0) this.sendQueued();
    if (lazy) this.lazy.push(text);
    else this.queue.push(text);
    this.chars += text.length;
    if (!lazy || later === undefined) this.schedule();
    else if (!this.lazyScheduled && !this.scheduled) {
      this.lazyScheduled = true;
      later(this.flushLater);
    }
  }

  /** Flush at the end of this turn even when nothing is queued yet (for `beforeFlush`). */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    defer(this.flush);
  }

  /** Drop what is queued (the socket is gone; the frames are resent from elsewhere if they matter). */
  clear(): void {
    this.queue = [];
    this.lazy = [];
    this.chars = 0;
  }

  readonly flush = (): void => {
    // still marked scheduled while beforeFlush adds its frames: they go out now, not in another flush
    this.beforeFlush?.();
    this.scheduled = false;
    this.sendQueued();
  };

  private readonly flushLater = (): void => {
    this.lazyScheduled = false;
    if (!this.scheduled) this.sendQueued(); // else the flush already planned takes it
  };

  private sendQueued(): void {
    let q = this.queue;
    if (this.lazy.length > 0) {
      q = q.length === 0 ? this.lazy : q.concat(this.lazy);
      this.lazy = [];
    }
    if (q.length === 0) return;
    this.queue = [];
    this.chars = 0;
    this.sendText(q.length === 1 ? q[0]! : encodeBatch(q));
  }
}

const nextTick = (globalThis as { process?: { nextTick?: (fn: () => void) => void } }).process
  ?.nextTick;
const defer: (fn: () => void) => void = nextTick ?? ((fn) => queueMicrotask(fn));
/** The end of this event-loop iteration, where there is one to name (Node); elsewhere lazy frames are not deferred. */
const later = (globalThis as { setImmediate?: (fn: () => void) => unknown }).setImmediate;
