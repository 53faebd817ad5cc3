import {
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  InvalidMessageError,
  isHubError,
  parseEnvelope,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { nanoid } from 'nanoid';
import { SHAPE_HEADER } from './headers.js';
import type { ConvertContext, LegacyShape } from './shape.js';
import { bullmq } from './shapes/bullmq.js';
import { cloudEvents } from './shapes/cloudevents.js';
import { hubEnvelope } from './shapes/hub-envelope.js';
import { moleculerEvent, moleculerRequest } from './shapes/moleculer.js';
import { plainJson, UNRECOGNISED } from './shapes/plain-json.js';
import { socketIo } from './shapes/socket-io.js';

/** The built-in shapes, in detection order (the most specific first; plain JSON last). */
/**
 * The built-in shape of `input`: the same answer as asking each shape's
 * `detect` in BUILTIN_SHAPES order, with each property read once (this runs
 * for every message).
 */
function detectBuiltin(input: unknown): LegacyShape | undefined {
  if (Array.isArray(input)) return socketIo.detect(input) ? socketIo : undefined;
  if (typeof input !== 'object' || input === null) return undefined;
  if (hubEnvelope.detect(input)) return hubEnvelope;
  const o = input as Record<string, unknown>;
  if (o.specversion !== undefined) return cloudEvents;
  if (o.ver !== undefined && typeof o.sender === 'string') {
    if (typeof o.event === 'string') return moleculerEvent;
    if (typeof o.action === 'string') return moleculerRequest;
  }
  if (bullmq.detect(o)) return bullmq;
  return plainJson.detect(o) ? plainJson : undefined;
}

export const BUILTIN_SHAPES: readonly LegacyShape[] = Object.freeze([
  hubEnvelope,
  cloudEvents,
  socketIo,
  moleculerEvent,
  moleculerRequest,
  bullmq,
  plainJson,
] as LegacyShape[]);

export interface LegacyConverterOptions {
  /** Your own shapes; tried before the built-in ones, in order. @default [] */
  shapes?: readonly LegacyShape[];
  /** Source of converted messages whose legacy form names no sender. @default 'legacy' */
  defaultSource?: string;
  /** Destination of converted messages whose legacy form names none. @default 'legacy' */
  defaultDestination?: string;
  /** Guarantee given to converted messages. @default DeliveryGuarantee.AT_LEAST_ONCE */
  deliveryGuarantee?: DeliveryGuarantee;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/** An envelope and the shape it was recognised as. */
export interface Conversion<E extends Envelope = Envelope> {
  shape: string;
  envelope: E;
}

export interface LegacyConverter {
  /** Every shape this converter knows, in detection order. */
  readonly shapes: readonly LegacyShape[];
  /** The name of the first shape that claims `input`, or undefined (also for text that is not JSON). JSON text is parsed first. */
  detect(input: unknown): string | undefined;
  /**
   * Convert a legacy message (an object, or JSON text / bytes) and say which
   * shape it was recognised as.
   * @throws InvalidMessageError (`HUB_INVALID_MESSAGE`) naming the missing or bad field; nothing else.
   */
  convert(input: unknown): Conversion;
  /** `convert(input).envelope`. */
  convertMessage(input: unknown): Envelope;
  /**
   * The legacy form of `envelope` in `shape`. An envelope converted from that
   * shape comes back as it arrived (same field names, formats and unknown fields).
   * @throws HubError `HUB_INVALID_CONFIG` for an unknown shape or one that cannot be written back.
   */
  toLegacy(shape: string, envelope: Envelope): unknown;
}

function parseText(input: unknown): unknown {
  let text: string;
  if (typeof input === 'string') text = input;
  else if (input instanceof Uint8Array) text = Buffer.from(input).toString('utf8');
  else return input;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new InvalidMessageError(
      'malformed',
      '',
      `[hub:legacy] legacy message is not JSON: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

function unrecognised(input: unknown): InvalidMessageError {
  if (Array.isArray(input)) {
    return new InvalidMessageError(
      'missing',
      '0',
      '[hub:legacy] unrecognised legacy message: an array must start with the event name (Socket.IO [event, ...args])',
    );
  }
  if (typeof input !== 'object' || input === null) {
    return new InvalidMessageError(
      'wrong_type',
      '',
      `[hub:legacy] unrecognised legacy message: expected a JSON object or array, got ${input === null ? 'null' : typeof input}`,
    );
  }
  return new InvalidMessageError('missing', 'type', UNRECOGNISED);
}

/** Anything a user shape throws that is not a HubError becomes one, naming the shape. */
function typed(err: unknown, shape: string): HubError {
  if (isHubError(err)) return err;
  return new InvalidMessageError(
    'malformed',
    '',
    `[hub:legacy] shape '${shape}' failed: ${err instanceof Error ? err.message : String(err)}`,
    { cause: err },
  );
}

/** A converter over the built-in shapes plus your own. Resolve once; it holds no other state. */
export function createLegacyConverter(options: LegacyConverterOptions = {}): LegacyConverter {
  const custom = options.shapes ?? [];
  for (const [i, s] of custom.entries()) {
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s.name !== 'string' ||
      s.name === '' ||
      typeof s.detect !== 'function' ||
      typeof s.toEnvelope !== 'function'
    ) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:legacy] shapes[${i}] must be { name, detect(input), toEnvelope(input, ctx), fromEnvelope?(envelope) }`,
      );
    }
  }
  const shapes = Object.freeze([...custom, ...BUILTIN_SHAPES]);
  const byName = new Map<string, LegacyShape>();
  for (const s of [...shapes].reverse()) byName.set(s.name, s);
  const ctx: ConvertContext = {
    defaultSource: options.defaultSource ?? 'legacy',
    defaultDestination: options.defaultDestination ?? 'legacy',
    deliveryGuarantee: options.deliveryGuarantee ?? DeliveryGuarantee.AT_LEAST_ONCE,
    newId: () => nanoid(),
    now: options.now ?? Date.now,
  };
  const customCount = custom.length;
  const isCustom = new Set<LegacyShape>(custom);

  const find = (input: unknown): LegacyShape | undefined => {
    // A user shape's detect may throw anything; the built-in ones never throw.
    for (let i = 0; i < customCount; i++) {
      const s = shapes[i]!;
      try {
        if (s.detect(input)) return s;
      } catch (err) {
        throw typed(err, s.name);
      }
    }
    return detectBuiltin(input);
  };

  /** User shapes see text and bytes as they came (a format of their own need not be JSON). */
  const findRaw = (raw: unknown): LegacyShape | undefined => {
    if (customCount === 0 || (typeof raw !== 'string' && !(raw instanceof Uint8Array))) {
      return undefined;
    }
    for (let i = 0; i < customCount; i++) {
      const s = shapes[i]!;
      try {
        if (s.detect(raw)) return s;
      } catch (err) {
        throw typed(err, s.name);
      }
    }
    return undefined;
  };

  const convert = (raw: unknown): Conversion => {
    let input = raw;
    let shape = findRaw(raw);
    if (shape === undefined) {
      input = parseText(raw);
      shape = find(input);
    }
    if (shape === undefined) throw unrecognised(input);
    // The built-in shapes throw only InvalidMessageError (the property tests hold them to it).
    if (!isCustom.has(shape)) return { shape: shape.name, envelope: shape.toEnvelope(input, ctx) };
    try {
      // A user shape's envelope is checked like any other and labelled with its shape.
      const envelope = parseEnvelope(shape.toEnvelope(input, ctx));
      envelope.headers[SHAPE_HEADER] ??= shape.name;
      return { shape: shape.name, envelope };
    } catch (err) {
      throw typed(err, shape.name);
    }
  };

  return {
    shapes,
    detect(input) {
      const raw = findRaw(input);
      if (raw !== undefined) return raw.name;
      let parsed: unknown;
      try {
        parsed = parseText(input);
      } catch {
        return undefined;
      }
      return find(parsed)?.name;
    },
    convert,
    convertMessage: (input) => convert(input).envelope,
    toLegacy(name, envelope) {
      const shape = byName.get(name);
      if (shape === undefined) {
        throw new HubError(
          ErrorCode.INVALID_CONFIG,
          `[hub:legacy] unknown shape '${name}' (known: ${[...byName.keys()].join(', ')})`,
        );
      }
      if (shape.fromEnvelope === undefined) {
        throw new HubError(
          ErrorCode.INVALID_CONFIG,
          `[hub:legacy] shape '${name}' cannot be written back: it has no fromEnvelope`,
        );
      }
      try {
        return shape.fromEnvelope(envelope);
      } catch (err) {
        throw typed(err, name);
      }
    },
  };
}

const defaultConverter = createLegacyConverter();

/**
 * Convert a legacy message to a Hub envelope, recognising its shape (plain
 * JSON, CloudEvents, Socket.IO array, Moleculer packet, BullMQ job, or a Hub
 * envelope). The shape is in the envelope's `legacy-shape` header; fields
 * the envelope has no place for are kept in `legacy-extensions` and come back
 * from `toLegacy`. Pass `shapes` (or use `createLegacyConverter`) for your own.
 * @throws InvalidMessageError naming what was missing or wrong.
 */
export function convertLegacyMessage<T = unknown>(
  input: unknown,
  options?: LegacyConverterOptions,
): UnifiedMessage<T> | UnifiedEvent<T> {
  const c = options === undefined ? defaultConverter : createLegacyConverter(options);
  return c.convertMessage(input) as UnifiedMessage<T> | UnifiedEvent<T>;
}

/** Convert and report the recognised shape: `{ shape, envelope }`. */
export function convertLegacy(input: unknown, options?: LegacyConverterOptions): Conversion {
  const c = options === undefined ? defaultConverter : createLegacyConverter(options);
  return c.convert(input);
}

/** The name of the built-in shape `input` is in, or undefined. */
export function detectLegacyShape(input: unknown): string | undefined {
  return defaultConverter.detect(input);
}

/** The legacy form of `envelope` in a built-in `shape`; see LegacyConverter.toLegacy. */
export function toLegacy(shape: string, envelope: Envelope): unknown {
  return defaultConverter.toLegacy(shape, envelope);
}
