import type { Envelope } from '@hub/protocol';
import { isThenable } from '../common/thenable.js';
import type { InboundContext, Middleware } from '../common/types.js';

export type { InboundContext, Middleware } from '../common/types.js';

type Step<R> = (envelope: Envelope) => R | Promise<R>;
type InboundStep = (
  envelope: Envelope,
  context: InboundContext,
) => Envelope | null | Promise<Envelope | null>;

/**
 * Compose the outbound steps; undefined when there are none, so the send path
 * skips it. While the steps answer synchronously the result is synchronous
 * too (a step that throws throws), so a send through synchronous middleware
 * (the security layer's identity stamp and policy check) costs no
 * asynchronous hop; the first step that returns a promise makes the rest wait on it.
 */
export function composeOutbound(list: readonly Middleware[]): Step<Envelope> | undefined {
  const steps = list.filter((m) => m.outbound).map((m) => m.outbound!.bind(m));
  if (steps.length === 0) return undefined;
  const rest = async (pending: Promise<Envelope>, from: number): Promise<Envelope> => {
    let env = await pending;
    for (let i = from; i < steps.length; i++) env = await steps[i]!(env);
    return env;
  };
  return (envelope) => {
    let env = envelope;
    for (let i = 0; i < steps.length; i++) {
      const out = steps[i]!(env);
      if (isThenable(out)) return rest(Promise.resolve(out), i + 1);
      env = out;
    }
    return env;
  };
}

/** Compose the inbound steps; undefined when there are none. */
export function composeInbound(list: readonly Middleware[]): InboundStep | undefined {
  const steps = list.filter((m) => m.inbound).map((m) => m.inbound!.bind(m));
  if (steps.length === 0) return undefined;
  return async (envelope, context) => {
    let env: Envelope | null = envelope;
    for (const step of steps) {
      if (env === null) return null;
      env = await step(env, context);
    }
    return env;
  };
}
