/**
 * The send pipeline: from a validated envelope to a transport's acceptance.
 * Outbound middleware, the hub-wide concurrency limit (wait or reject past
 * it), routing, circuit breakers, retries with backoff and failover, the
 * broadcast strategy, and the send metrics. The hub validates and then calls
 * {@link SendPipeline.dispatch}.
 */
import {
  DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  isRetryable,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type { SendResult } from '../adapter/contract.js';
import { takeHandedOver } from '../adapter/payload-ownership.js';
import { perf } from '../common/clock.js';
import { isThenable } from '../common/thenable.js';
import { type MessageResult, RoutingStrategy } from '../common/types.js';
import { type BackoffOptions, backoffDelay } from '../resilience/backoff.js';
import { sleep } from '../resilience/retry.js';
import type { RouteDecision, Router, RouteTarget } from '../router/router.js';
import type { HubMetrics } from './metrics.js';

export interface SendPipelineOptions {
  /** Hub name, for error messages. */
  readonly name: string;
  readonly router: Router;
  readonly metrics: HubMetrics;
  /** Sends in flight at once. */
  readonly maxConcurrent: number;
  /** Past the limit: wait for room (bounded) or reject at once. */
  readonly overload: 'wait' | 'reject';
  /** Attempts per send, the first included. */
  readonly sendAttempts: number;
  readonly sendBackoff: BackoffOptions;
  /** Composed outbound middleware, if any. */
  readonly outbound: ((env: Envelope) => Envelope | Promise<Envelope>) | undefined;
}

type Sendable = UnifiedMessage | UnifiedEvent;

/** `perf.now()` + this is wall-clock ms (the circuit breaker's clock), without a second clock read. */
export const TIME_ORIGIN = perf.timeOrigin;

const isBestEffort = (env: Envelope): boolean =>
  (env.deliveryGuarantee ?? DeliveryGuarantee.BEST_EFFORT) === DeliveryGuarantee.BEST_EFFORT;

function toSendError(env: Envelope, err: unknown): HubError {
  if (err instanceof HubError) return err;
  return new HubError(ErrorCode.ADAPTER_FAILED, `[hub] send of ${env.id} failed: ${String(err)}`, {
    cause: err,
  });
}

export class SendPipeline {
  /** Sends holding a slot now. */
  inFlight = 0;
  private routeSample = 0;
  private sendWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly o: SendPipelineOptions;

  constructor(options: SendPipelineOptions) {
    this.o = options;
  }

  /** Fail every send waiting for a slot (the hub is closing). */
  rejectWaiting(err: Error): void {
    for (const w of this.sendWaiters.splice(0)) w.reject(err);
  }

  /**
   * Send through the router with a concurrency slot. The common case (no
   * outbound middleware, a free slot) is not an async function: an async
   * frame holding this path's locals measured ~680 bytes of garbage per send,
   * the largest allocation of the whole send → handler round trip.
   */
  dispatch(envelope: Sendable): Promise<MessageResult> {
    let env: Sendable | Promise<Envelope> = envelope;
    if (this.o.outbound !== undefined) {
      try {
        env = this.o.outbound(envelope) as Sendable | Promise<Envelope>;
      } catch (err) {
        return Promise.reject(err);
      }
    }
    if (isThenable(env) || this.inFlight >= this.o.maxConcurrent) {
      return this.dispatchQueued(env);
    }
    this.inFlight++;
    return this.sendHeld(env, true);
  }

  /**
   * {@link dispatch} for a caller that answers as soon as the send is
   * accepted (see `Hub.sendEager`): when the first attempt is accepted by
   * its transport synchronously (the in-process one), the result is returned
   * as is, accounted as `dispatch` accounts it, with no promise and no
   * microtask. Anything else (middleware, a wait for a slot, a broadcast,
   * an open circuit, an asynchronous transport, a failure and its retries)
   * returns the promise `dispatch` would.
   */
  dispatchEager(env: Sendable): MessageResult | Promise<MessageResult> {
    if (this.o.outbound !== undefined || this.inFlight >= this.o.maxConcurrent) {
      return this.dispatch(env);
    }
    this.inFlight++;
    return this.sendFirst(env, true, true);
  }

  /**
   * For the direct local path: the adapter a send of `env` would try first
   * now, when the send could start at once (no outbound middleware, a free
   * slot) and go to one adapter (not a broadcast), with its circuit letting
   * it through: the caller then holds the breaker's permit and must end it
   * with {@link sentDirect}. Undefined otherwise (send the normal way).
   */
  directTarget(env: UnifiedMessage): RouteTarget | undefined {
    if (this.o.outbound !== undefined || this.inFlight >= this.o.maxConcurrent) return undefined;
    let decision: RouteDecision;
    try {
      decision = this.route(env);
    } catch {
      return undefined; // the normal path reports it
    }
    const targets = decision.targets;
    if (decision.strategy === RoutingStrategy.BROADCAST && targets.length > 1) return undefined;
    const target = targets[0];
    return target?.breaker.tryAcquire() ? target : undefined;
  }

  /**
   * A send the direct local path made through `target` (which it acquired
   * with {@link directTarget}): accounted as the normal path accounts it.
   * The hand-over is a few field writes, recorded as 0 ms without reading
   * the clock (two reads would cost more than the hand-over itself); `at` is
   * the wall-clock time the caller read last (the breaker's bucket).
   */
  sentDirect(env: Sendable, target: RouteTarget, at: number): void {
    target.breaker.onSuccess(0, at);
    target.observe(0);
    this.o.metrics.sent(env, target.name, 0);
  }

  /** The direct local path gave up on `target` before sending: release its permit. */
  releaseDirect(target: RouteTarget): void {
    target.breaker.release();
  }

  /** The direct local path's send through `target` failed for good (a refused envelope). */
  failedDirect(target: RouteTarget): void {
    this.o.metrics.sendFailed(target.name);
    target.breaker.release();
  }

  /** Route `env`; one decision in 16 is timed (routing takes ~100 ns). */
  private route(env: Sendable): RouteDecision {
    const metrics = this.o.metrics;
    const timed = metrics.enabled && (++this.routeSample & 15) === 1;
    const t0 = timed ? perf.now() : 0;
    const decision = this.o.router.route(env);
    if (timed) metrics.routing.record(perf.now() - t0);
    return decision;
  }

  /** Asynchronous outbound middleware, or waiting for a free slot (see waitForRoom). */
  private async dispatchQueued(envelope: Sendable | Promise<Envelope>): Promise<MessageResult> {
    const env = (await envelope) as Sendable;
    // A finishing send hands its slot straight to the oldest waiter, so a
    // newcomer can never slip in between and push inFlight past the limit.
    if (this.inFlight >= this.o.maxConcurrent) await this.waitForRoom(env);
    else this.inFlight++;
    try {
      return await this.sendHeld(env, false);
    } finally {
      this.releaseSlot();
    }
  }

  /** Give a send slot back: to the oldest waiter, or to the pool. */
  private releaseSlot(): void {
    const next = this.sendWaiters.shift();
    if (next === undefined) this.inFlight--;
    else next.resolve();
  }

  private readonly releaseAfter = <T>(p: Promise<T>): Promise<T> =>
    p.finally(() => this.releaseSlot());

  /**
   * Route and send while holding a slot. With `release`, the slot is given
   * back when the send settles (first attempt inline; retries, failover and
   * broadcast go the long way).
   */
  private sendHeld(env: Sendable, release: boolean): Promise<MessageResult> {
    return this.sendFirst(env, release, false) as Promise<MessageResult>;
  }

  /**
   * {@link sendHeld}; with `eager`, a first attempt its transport accepted
   * synchronously returns the bare result (see {@link dispatchEager}).
   */
  private sendFirst(
    env: Sendable,
    release: boolean,
    eager: boolean,
  ): MessageResult | Promise<MessageResult> {
    let decision: RouteDecision;
    try {
      decision = this.route(env);
    } catch (err) {
      if (release) this.releaseSlot();
      return Promise.reject(err);
    }
    const targets = decision.targets;
    if (decision.strategy === RoutingStrategy.BROADCAST && targets.length > 1) {
      const all = this.sendToAll(env, targets);
      return release ? this.releaseAfter(all) : all;
    }
    const target = targets[0]!;
    if (!target.breaker.tryAcquire()) {
      const via = this.sendVia(env, targets, 1, 0, undefined);
      return release ? this.releaseAfter(via) : via;
    }
    const started = perf.now();
    let accepted: SendResult | Promise<SendResult>;
    try {
      accepted = eager ? target.sendEager(env) : target.send(env);
    } catch (err) {
      accepted = Promise.reject(err);
    }
    if (eager && !isThenable(accepted)) {
      if (release) this.releaseSlot();
      try {
        return this.sendSucceeded(env, target, started, accepted);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    // Promise.resolve returns a native promise as is; it guards an adapter
    // whose send returns a bare value (the slot must still come back).
    const sent = Promise.resolve(accepted);
    return sent.then(
      (result) => {
        if (release) this.releaseSlot();
        return this.sendSucceeded(env, target, started, result);
      },
      (err: unknown) => {
        const retried = this.retryAfterFirst(env, targets, target, err);
        return release ? this.releaseAfter(retried) : retried;
      },
    );
  }

  /** The first attempt failed: account it, then retry on the next target (or give up). */
  private async retryAfterFirst(
    env: Sendable,
    targets: readonly RouteTarget[],
    target: RouteTarget,
    err: unknown,
  ): Promise<MessageResult> {
    if (!this.sendFailed(target, err, env) || this.o.sendAttempts <= 1) {
      throw toSendError(env, err);
    }
    await sleep(backoffDelay(1, this.o.sendBackoff));
    return this.sendVia(env, targets, 2, 1, err);
  }

  private sendSucceeded(
    env: Sendable,
    target: RouteTarget,
    started: number,
    result: SendResult,
  ): MessageResult {
    const ended = perf.now();
    const latencyMs = ended - started;
    target.breaker.onSuccess(latencyMs, TIME_ORIGIN + ended);
    target.succeeded(env, latencyMs);
    this.o.metrics.sent(env, target.name, latencyMs);
    return {
      success: true,
      messageId: env.id,
      protocol: result.protocol ?? target.name,
      adapter: target.name,
      latencyMs,
    };
  }

  /** Account a failed transport send; true when another attempt may succeed. */
  private sendFailed(target: RouteTarget, err: unknown, env: Sendable): boolean {
    this.o.metrics.sendFailed(target.name);
    target.failed(env, err);
    if (!isRetryable(err)) {
      // The transport answered: a refused envelope (invalid, overloaded) is not a broken link.
      target.breaker.release();
      return false;
    }
    target.breaker.onFailure(err);
    // A timed-out send may have gone out. Best-effort has no dedup to absorb a
    // second copy, so it is not retried: lost is allowed, duplicated is not.
    if (isBestEffort(env) && (err as { code?: unknown } | null)?.code === ErrorCode.TIMEOUT) {
      return false;
    }
    return true;
  }

  private waitForRoom(env: Envelope): Promise<void> {
    const max = this.o.maxConcurrent;
    if (this.o.overload === 'reject' || this.sendWaiters.length >= max) {
      this.o.metrics.totals.rejected++;
      return Promise.reject(
        new HubError(
          ErrorCode.OVERLOADED,
          `[hub] ${this.o.name} has ${this.inFlight} sends in flight (maxConcurrentMessages ${max}); ${env.id} rejected`,
        ),
      );
    }
    return new Promise((resolve, reject) => this.sendWaiters.push({ resolve, reject }));
  }

  /**
   * Try the targets in order with retries and backoff (same id every time);
   * each failure feeds its circuit breaker. Starts at `attempt`, with the
   * target at `index`.
   */
  private async sendVia(
    env: Sendable,
    targets: readonly RouteTarget[],
    firstAttempt: number,
    firstIndex: number,
    previousError: unknown,
  ): Promise<MessageResult> {
    let lastError: unknown = previousError;
    let index = firstIndex;
    const attempts = this.o.sendAttempts;
    for (let attempt = firstAttempt; attempt <= attempts; attempt++) {
      const target = targets[index % targets.length]!;
      if (!target.breaker.tryAcquire()) {
        lastError ??= target.breaker.openError();
        index++;
        continue;
      }
      const started = perf.now();
      try {
        return this.sendSucceeded(env, target, started, await target.send(env));
      } catch (err) {
        lastError = err;
        if (!this.sendFailed(target, err, env)) break;
        index++;
        if (attempt < attempts) await sleep(backoffDelay(attempt, this.o.sendBackoff));
      }
    }
    throw toSendError(env, lastError);
  }

  private async sendToAll(env: Sendable, targets: readonly RouteTarget[]): Promise<MessageResult> {
    // Several transports get this envelope, one of them maybe after a retry:
    // a payload handed over (handOverPayload) must be copied by each, or a
    // handler of the first could change what a later one sends.
    takeHandedOver(env);
    const started = perf.now();
    const results = await Promise.all(
      targets.map((t) =>
        this.sendVia(env, [t], 1, 0, undefined).catch(
          (error: Error): MessageResult => ({
            success: false,
            messageId: env.id,
            protocol: t.name,
            adapter: t.name,
            latencyMs: perf.now() - started,
            error,
          }),
        ),
      ),
    );
    const failed = results.filter((r) => !r.success);
    if (failed.length === results.length) throw failed[0]!.error;
    return {
      success: failed.length === 0,
      messageId: env.id,
      protocol: results.map((r) => r.protocol).join(','),
      adapter: results.map((r) => r.adapter).join(','),
      latencyMs: perf.now() - started,
      results,
    };
  }
}
