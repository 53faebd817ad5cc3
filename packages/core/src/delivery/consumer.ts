import type { Envelope, UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import type { InboundDelivery } from '../adapter/contract.js';
import { matchTopic } from '../event-bus/pattern.js';
import type { HandlerContext } from '../hub/types.js';
import type { Logger } from '../logger.js';
import { type BackoffOptions, backoffDelay } from '../resilience/backoff.js';
import { TimeoutError } from '../resilience/timeout.js';
import type { DedupStore } from './dedup.js';
import { PriorityQueue } from './priority-queue.js';

/** What a consumer reports; the hub turns it into metrics and events. */
export interface ConsumerObserver {
  delivered(env: Envelope, adapter: string): void;
  acked(env: Envelope, adapter: string, handlerMs: number): void;
  failed(env: Envelope, adapter: string, error: unknown, attempt: number): void;
  retried(env: Envelope, adapter: string): void;
  deadLettered(env: Envelope, adapter: string, reason: string, attempts: number): void;
  duplicate(env: Envelope, adapter: string): void;
  expired(env: Envelope, adapter: string): void;
}

/** What a consumer needs from its hub. */
export interface ConsumerHost {
  readonly logger: Logger;
  readonly observer: ConsumerObserver;
  readonly dedup: DedupStore;
  readonly dedupWindowMs: number;
  readonly dedupLeaseMs: number;
  readonly retryBackoff: BackoffOptions;
  /** Send `payload` as the reply to `request`. */
  reply(request: UnifiedMessage, payload: unknown): Promise<void>;
  /** Inbound middleware; undefined when there is none (the fast path). */
  readonly inbound: ((env: Envelope) => Envelope | null | Promise<Envelope | null>) | undefined;
}

export type AnyHandler = (envelope: never, ctx: HandlerContext) => unknown;

export interface ConsumerOptions {
  readonly kind: 'endpoint' | 'topic';
  /** Endpoint id or topic pattern. */
  readonly address: string;
  readonly handler: (envelope: Envelope, ctx: HandlerContext) => unknown;
  readonly concurrency: number;
  readonly maxDeliveries: number;
  readonly handlerTimeoutMs: number | undefined;
}

const DUPLICATE_BUSY_RETRY_MS = 250;

/**
 * One delivery on its way through the consumer: also the handler's context,
 * so a delivery costs one allocation.
 */
class Job implements HandlerContext {
  attempt: number;
  /** Ordered-lane key, when the envelope asks for ordering. */
  lane: string | undefined;
  /** Bumped on each attempt so a late result of a timed-out attempt is ignored. */
  run = 0;
  startedAt = 0;
  timer: ReturnType<typeof setTimeout> | undefined;
  envelope: Envelope;

  constructor(
    readonly consumer: Consumer,
    readonly delivery: InboundDelivery,
    readonly adapter: string,
    envelope: Envelope,
  ) {
    this.envelope = envelope;
    this.attempt = delivery.attempt;
  }

  reply<R>(payload: R): Promise<void> {
    const env = this.envelope;
    if (env.kind !== 'message' || env.replyTo === undefined) return Promise.resolve();
    return this.consumer.host.reply(env, payload);
  }
}

/**
 * The receiving half of the core: expiry, priorities, ordered lanes, dedup,
 * retries with backoff, dead-lettering, and flow control, for one endpoint or
 * topic subscription over any number of adapters.
 */
export class Consumer {
  private active = 0;
  private readonly queue = new PriorityQueue<Job>();
  /** Busy ordered keys → jobs waiting behind the one in progress. */
  private readonly lanes = new Map<string, Job[]>();
  private readonly retryTimers = new Set<Job>();
  private paused = false;
  private idleWaiters: Array<() => void> = [];
  private readonly filterTopic: boolean;

  constructor(
    readonly host: ConsumerHost,
    readonly opts: ConsumerOptions,
  ) {
    this.filterTopic =
      opts.kind === 'topic' && (opts.address.includes('*') || opts.address.includes('#'));
  }

  /** Number of deliveries held (running, queued, waiting in lanes or for a retry). */
  get inFlight(): number {
    let waiting = 0;
    for (const lane of this.lanes.values()) waiting += lane.length;
    return this.active + this.queue.length + waiting + this.retryTimers.size;
  }

  /** The adapter-facing entry point; bind one per adapter subscription. */
  accept(delivery: InboundDelivery, adapter: string): void {
    if (this.paused) {
      void delivery.nack({ reason: 'consumer closing' });
      return;
    }
    const env = delivery.envelope;
    if (this.opts.kind === 'topic') {
      // Transports may match a superset (Redis globs cross dots); we match exactly.
      if (env.kind !== 'event' || (this.filterTopic && !matchTopic(this.opts.address, env.topic))) {
        void delivery.ack();
        return;
      }
    } else if (env.kind !== 'message') {
      void delivery.ack();
      return;
    }
    if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) {
      void delivery.ack();
      this.host.observer.expired(env, adapter);
      return;
    }
    this.host.observer.delivered(env, adapter);
    const inbound = this.host.inbound;
    if (inbound === undefined) {
      this.enqueue(new Job(this, delivery, adapter, env));
      return;
    }
    Promise.resolve()
      .then(() => inbound(env))
      .then(
        (out) => {
          if (out === null) void delivery.ack();
          else this.enqueue(new Job(this, delivery, adapter, out));
        },
        (err: unknown) => {
          this.host.logger.warn(`[hub:consumer] inbound middleware rejected ${env.id}`, {
            error: String(err),
          });
          void delivery.deadLetter(`inbound middleware: ${errorMessage(err)}`);
        },
      );
  }

  private enqueue(job: Job): void {
    const env = job.envelope;
    if (env.kind === 'message' && env.deliveryGuarantee === 'ordered') {
      const key = env.partitionKey ?? env.destination;
      job.lane = key;
      const lane = this.lanes.get(key);
      if (lane !== undefined) {
        lane.push(job);
        return;
      }
      this.lanes.set(key, []);
    }
    if (this.active < this.opts.concurrency && this.queue.length === 0) {
      this.active++;
      this.begin(job);
    } else {
      this.queue.push(job, env.priority ?? 2);
    }
  }

  /** Start a job that already holds a concurrency slot. */
  private begin(job: Job): void {
    const env = job.envelope;
    if (env.kind === 'message' && env.deliveryGuarantee === 'exactly-once') {
      const verdict = this.host.dedup.begin(env.id, this.host.dedupLeaseMs);
      if (typeof verdict === 'string') this.afterDedup(job, verdict);
      else
        verdict.then(
          (v) => this.afterDedup(job, v),
          (err: unknown) => {
            this.host.logger.warn(`[hub:consumer] dedup store failed for ${env.id}; will retry`, {
              error: String(err),
            });
            void job.delivery.nack({ reason: 'dedup store failed', delayMs: 500 });
            this.finish(job);
          },
        );
      return;
    }
    this.invoke(job);
  }

  private afterDedup(job: Job, verdict: 'new' | 'done' | 'busy'): void {
    if (verdict === 'new') {
      this.invoke(job);
      return;
    }
    if (verdict === 'done') {
      void job.delivery.ack();
      this.host.observer.duplicate(job.envelope, job.adapter);
    } else {
      // Another holder is processing it right now: try again after its lease may have moved on.
      void job.delivery.nack({ reason: 'duplicate in progress', delayMs: DUPLICATE_BUSY_RETRY_MS });
    }
    this.finish(job);
  }

  private invoke(job: Job): void {
    const run = ++job.run;
    job.startedAt = performance.now();
    let result: unknown;
    try {
      result = this.opts.handler(job.envelope, job);
    } catch (err) {
      this.failed(job, err);
      return;
    }
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as Promise<unknown>).then === 'function'
    ) {
      const timeout = this.opts.handlerTimeoutMs;
      if (timeout !== undefined) {
        job.timer = setTimeout(() => {
          job.timer = undefined;
          if (job.run !== run) return;
          job.run++;
          this.failed(
            job,
            new TimeoutError(
              `[hub:consumer] handler for ${job.envelope.id} timed out after ${timeout}ms`,
            ),
          );
        }, timeout);
      }
      (result as Promise<unknown>).then(
        (value) => {
          if (job.run !== run) return;
          this.clearTimer(job);
          this.succeeded(job, value);
        },
        (err: unknown) => {
          if (job.run !== run) return;
          this.clearTimer(job);
          this.failed(job, err);
        },
      );
      return;
    }
    this.succeeded(job, result);
  }

  private clearTimer(job: Job): void {
    if (job.timer !== undefined) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
  }

  private succeeded(job: Job, value: unknown): void {
    const env = job.envelope;
    const handlerMs = performance.now() - job.startedAt;
    if (value !== undefined && env.kind === 'message' && env.replyTo !== undefined) {
      this.host.reply(env, value).catch((err: unknown) => {
        this.host.logger.warn(`[hub:consumer] reply to ${env.replyTo} failed`, {
          error: String(err),
        });
      });
    }
    if (env.kind === 'message' && env.deliveryGuarantee === 'exactly-once') {
      Promise.resolve(this.host.dedup.commit(env.id, this.host.dedupWindowMs)).then(
        () => this.settleAck(job, handlerMs),
        (err: unknown) => {
          this.host.logger.warn(`[hub:consumer] dedup commit failed for ${env.id}`, {
            error: String(err),
          });
          this.settleAck(job, handlerMs);
        },
      );
      return;
    }
    this.settleAck(job, handlerMs);
  }

  private settleAck(job: Job, handlerMs: number): void {
    void job.delivery.ack();
    this.host.observer.acked(job.envelope, job.adapter, handlerMs);
    this.finish(job);
  }

  private failed(job: Job, err: unknown): void {
    const env = job.envelope;
    this.host.observer.failed(env, job.adapter, err, job.attempt);
    if (this.paused) {
      // Closing: hand it back for another instance instead of retrying here.
      this.release(job, 'consumer closing');
      this.finish(job);
      return;
    }
    if (job.attempt < this.opts.maxDeliveries) {
      this.host.observer.retried(env, job.adapter);
      const delay = backoffDelay(job.attempt, this.host.retryBackoff);
      this.retryTimers.add(job);
      job.timer = setTimeout(() => {
        job.timer = undefined;
        this.retryTimers.delete(job);
        job.attempt++;
        job.envelope = { ...env, attempt: job.attempt } as Envelope;
        this.invoke(job);
      }, delay);
      return;
    }
    const reason = errorMessage(err);
    const attempts = job.attempt;
    if (env.kind === 'message' && env.deliveryGuarantee === 'exactly-once') {
      void Promise.resolve(this.host.dedup.abort(env.id)).catch(() => {});
    }
    job.delivery.deadLetter(reason, attempts).then(
      () => this.host.observer.deadLettered(env, job.adapter, reason, attempts),
      (dlqErr: unknown) => {
        // The DLQ write failed: keep the message rather than lose it.
        this.host.logger.error(`[hub:consumer] dead-lettering ${env.id} failed; released`, {
          error: String(dlqErr),
        });
        void job.delivery.nack({ reason: 'dead-letter failed', delayMs: 1000 });
      },
    );
    this.finish(job);
  }

  private release(job: Job, reason: string): void {
    if (job.envelope.kind === 'message' && job.envelope.deliveryGuarantee === 'exactly-once') {
      void Promise.resolve(this.host.dedup.abort(job.envelope.id)).catch(() => {});
    }
    void job.delivery.nack({ reason });
  }

  /** A job holding a slot is done: hand the slot to its lane, then to the queue. */
  private finish(job: Job): void {
    if (job.lane !== undefined) {
      const lane = this.lanes.get(job.lane);
      const next = lane?.shift();
      if (next !== undefined) {
        if (this.paused) {
          this.release(next, 'consumer closing');
          this.finish(next);
          return;
        }
        this.begin(next);
        return;
      }
      this.lanes.delete(job.lane);
    }
    this.active--;
    while (this.active < this.opts.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (this.paused) {
        this.release(next, 'consumer closing');
        continue;
      }
      this.active++;
      this.begin(next);
    }
    if (this.active === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /**
   * Stop taking deliveries, let running handlers finish for up to `timeoutMs`,
   * then hand everything not finished back to the transport for redelivery.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.paused = true;
    for (const job of this.queue.clear()) {
      this.release(job, 'consumer closing');
      this.active++;
      this.finish(job);
    }
    for (const job of this.retryTimers) {
      this.clearTimer(job);
      this.retryTimers.delete(job);
      this.release(job, 'consumer closing');
      this.finish(job);
    }
    if (this.active > 0 && timeoutMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}

export type { UnifiedEvent, UnifiedMessage };
