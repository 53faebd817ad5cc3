import type { Envelope } from '@hub/protocol';

/**
 * A step on the way out (before routing) or in (before the handler).
 * Return the envelope (changed or not) to continue, or `null` on the way in
 * to drop it (it is acknowledged). Throwing on the way out rejects the send;
 * on the way in it dead-letters the message with the error as reason.
 * Auth, tracing, compression and encryption plug in here.
 */
export interface Middleware {
  readonly name: string;
  outbound?(envelope: Envelope): Envelope | Promise<Envelope>;
  inbound?(envelope: Envelope): Envelope | null | Promise<Envelope | null>;
}

type Step<R> = (envelope: Envelope) => R | Promise<R>;

/** Compose the outbound steps; undefined when there are none, so the send path skips it. */
export function composeOutbound(list: readonly Middleware[]): Step<Envelope> | undefined {
  const steps = list.filter((m) => m.outbound).map((m) => m.outbound!.bind(m));
  if (steps.length === 0) return undefined;
  return async (envelope) => {
    let env = envelope;
    for (const step of steps) env = await step(env);
    return env;
  };
}

/** Compose the inbound steps; undefined when there are none. */
export function composeInbound(list: readonly Middleware[]): Step<Envelope | null> | undefined {
  const steps = list.filter((m) => m.inbound).map((m) => m.inbound!.bind(m));
  if (steps.length === 0) return undefined;
  return async (envelope) => {
    let env: Envelope | null = envelope;
    for (const step of steps) {
      if (env === null) return null;
      env = await step(env);
    }
    return env;
  };
}
