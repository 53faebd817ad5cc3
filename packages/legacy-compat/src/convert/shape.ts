import type { DeliveryGuarantee, Envelope } from '@hub/protocol';

/** What every shape's conversion may use: defaults and a clock, resolved once per converter. */
export interface ConvertContext {
  /** Source of messages whose legacy form names no sender. */
  readonly defaultSource: string;
  /** Destination of messages whose legacy form names none (BullMQ jobs without a queue name). */
  readonly defaultDestination: string;
  /** Guarantee of converted messages. */
  readonly deliveryGuarantee: DeliveryGuarantee;
  /** A new envelope id, for legacy messages without one. */
  newId(): string;
  now(): number;
}

/**
 * One legacy message format. Built-in shapes cover plain JSON, CloudEvents,
 * Socket.IO arrays, Moleculer packets and BullMQ jobs; register your own with
 * `createLegacyConverter({ shapes: [...] })`.
 *
 * Obligations: `toEnvelope` keeps every field of the input, either in an
 * envelope field or in the extensions header (`withExtensions`), and
 * `fromEnvelope` (when given) writes them back, so a round trip returns the
 * input unchanged. Refuse input with an `InvalidMessageError` naming the field.
 */
export interface LegacyShape<L = unknown> {
  /** Stable name; recorded in the `legacy-shape` header of every converted envelope. */
  readonly name: string;
  /** True when `input` is in this shape. Cheap: it runs for every message until a shape claims it. */
  detect(input: unknown): boolean;
  /** The envelope for `input` (validated by the converter afterwards). */
  toEnvelope(input: L, ctx: ConvertContext): Envelope;
  /** The legacy form of `envelope`; omit when the shape cannot be written back. */
  fromEnvelope?(envelope: Envelope): L;
}
