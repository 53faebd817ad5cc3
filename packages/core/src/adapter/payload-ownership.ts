import type { Envelope } from '@hub/protocol';

/**
 * Envelopes whose payload nobody but the envelope holds, marked by the entry
 * point that made them. Beside the objects (not a field or header), so nothing
 * a remote sender writes can set the mark, and a copy of the envelope (an
 * outbound middleware's, the tracer's) does not carry it.
 */
const handedOver = new WeakSet<object>();

/**
 * Hand `envelope`'s payload (or an event's `data`) over to the hub: for an
 * entry point that decoded the envelope from bytes it read itself (an HTTP
 * request body, a WebSocket frame) and sends it once. No caller holds the
 * payload or anything inside it, so nothing can change it after the send; the
 * in-process transport then takes it as it is, instead of copying it to
 * protect the receivers from the sender. It still checks it as the wire does.
 *
 * The caller must not keep or touch the payload once it has called
 * `hub.send` / `hub.publish` with the envelope. The mark holds for one send:
 * the first transport that takes the payload uncopied clears it, so a second
 * send of the same object is copied as usual, and a broadcast to several
 * adapters clears it before its sends (each transport copies).
 */
export function handOverPayload<E extends Envelope>(envelope: E): E {
  handedOver.add(envelope);
  return envelope;
}

/**
 * For a transport: true once for an envelope handed over with
 * {@link handOverPayload} (the mark is cleared), after which the transport
 * owns its payload. Not exported from the package: only the in-process
 * transport copies payloads, and a third-party transport that copies can
 * always copy.
 */
export function takeHandedOver(envelope: Envelope): boolean {
  return handedOver.delete(envelope);
}
