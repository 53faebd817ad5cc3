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

/**
 * Compose the inbound steps; undefined when there are none. Like the
 * outbound side, synchronous while the steps are (the security layer's
 * verify, decrypt and policy check with its keys at hand), so an arrival
 * costs no promise; the first step that returns a promise makes the rest
 * wait on it, and a step that throws throws.
 */
export function composeInbound(list: readonly Middleware[]): InboundStep | undefined {
  const steps = list.filter((m) => m.inbound).map((m) => m.inbound!.bind(m));
  if (steps.length === 0) return undefined;
  const rest = async (
    pending: Promise<Envelope | null>,
    from: number,
    context: InboundContext,
  ): Promise<Envelope | null> => {
    let env = await pending;
    for (let i = from; i < steps.length; i++) {
      if (env === null) return null;
      env = await steps[i]!(env, context);
    }
    return env;
  };
  return (envelope, context) => {
    let env: Envelope | null = envelope;
    for (let i = 0; i < steps.length; i++) {
      if (env === null) return null;
      const out: Envelope | null | Promise<Envelope | null> = steps[i]!(env, context);
      if (isThenable(out)) return rest(Promise.resolve(out), i + 1, context);
      env = out;
    }
    return env;
  };
}
