import type { Envelope, UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import type { InboundDelivery } from '../adapter/contract.js';
import { DeadLetterError } from '../adapter/errors.js';
import { perf } from '../common/clock.js';
import { isThenable } from '../common/thenable.js';
import type { HandlerContext, InboundContext } from '../common/types.js';
import { matchTopic } from '../event-bus/pattern.js';
import type { Logger } from '../logger.js';
import { type BackoffOptions, backoffDelay } from '../resilience/backoff.js';
import { TimeoutError } from '../resilience/timeout.js';
import type { DedupStore } from './dedup.js';
import { PriorityQueue, RingDeque } from './priority-queue.js';

/** What a consumer reports; the hub turns it into metrics and events. */
export interface ConsumerObserver {
  delivered(env: Envelope, adapter: string): void;
  /** `handlerMs` is negative when this delivery's handler time was not sampled. */
  acked(env: Envelope, adapter: string, handlerMs: number): void;
  failed(env: Envelope, adapter: string, error: unknown, attempt: number): void;
  retried(env: Envelope, adapter: string): void;
  deadLettered(env: Envelope, adapter: string, reason: string, attempts: number): void;
  duplicate(env: Envelope, adapter: string): void;
  expired(env: Envelope, adapter: string): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

/** What a consumer needs from its hub. */
export interface ConsumerHost {
  readonly logger: Logger;
  readonly observer: ConsumerObserver;
  readonly dedup: DedupStore;
  readonly dedupWindowMs: number;
  readonly dedupLeaseMs: number;
  readonly retryBackoff: BackoffOptions;
  /**
   * Send `payload` as the reply to `request`, which arrived by `delivery`.
   * Undefined when the reply was handed over at once and cannot fail any
   * more (the direct local path): no promise to wait on or to catch.
   */
  reply(
    request: UnifiedMessage,
    payload: unknown,
    delivery: InboundDelivery,
  ): Promise<unknown> | undefined;
  /** Inbound middleware; undefined when there is none (the fast path). */
  readonly inbound:
    | ((env: Envelope, context: InboundContext) => Envelope | null | Promise<Envelope | null>)
    | undefined;
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
  /**
   * Deliveries the transport may hand this consumer before it has settled
   * them (the subscription's prefetch): the direct local path holds to the
   * same window. @default concurrency
   */
  readonly prefetch?: number;
}

/** Numbers topic subscriptions, so each has its own key in inbound middleware (`InboundContext.consumer`). */
let topicConsumers = 0;

/** Topics whose match result a topic consumer remembers. */
const TOPIC_CACHE_SIZE = 1024;
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
  /** Holds a dedup lease (exactly-once, verdict 'new'): only then may it abort one. */
  leased = false;
  /** In the consumer's {@link TimedJobs}: 0 not listed, 1 listed and stopped, 2 running with a timer. */
  timedState = 0;

  constructor(
    readonly consumer: ReceivePipeline,
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
    // The host resolves with the send's result; callers see Promise<void>.
    return (this.consumer.host.reply(env, payload, this.delivery) ?? RESOLVED) as Promise<void>;
  }
}

/**
 * The running jobs that have a handler-timeout timer. A job that stops is only
 * flagged; the list is rebuilt with the running ones once it holds twice as
 * many entries as run, plus a few. Not a Set with an add and a delete per
 * job: V8 rebuilds a Set's table when deleted entries fill it, and the old
 * table keeps its entries and a link to the new one; once such a table is in
 * the old generation (after a full collection), every later table, with the
 * jobs and their envelopes, survives each young collection until the next
 * full one. With 100 handlers in flight nearly all of it was promoted.
 */
class TimedJobs {
  private list: Job[] = [];
  /** Jobs running with a timer. */
  private live = 0;

  add(job: Job): void {
    if (job.timedState === 2) return;
    if (job.timedState === 0) {
      if (this.list.length >= 2 * this.live + 32) this.list = this.running(true);
      this.list.push(job);
    }
    job.timedState = 2;
    this.live++;
  }

  delete(job: Job): void {
    if (job.timedState !== 2) return;
    job.timedState = 1;
    this.live--;
  }

  /** The jobs running with a timer now (a new array); with `unlist`, the others leave the list. */
  running(unlist = false): Job[] {
    const out: Job[] = [];
    for (const job of this.list) {
      if (job.timedState === 2) out.push(job);
      else if (unlist) job.timedState = 0;
    }
    return out;
  }
}

/**
 * The receiving half of the core: expiry, priorities, ordered lanes, dedup,
 * retries with backoff, dead-lettering, and flow control, for one endpoint or
 * topic subscription over any number of adapters.
 */
export class ReceivePipeline {
  private active = 0;
  /** Slots promised to deliveries of the hub's direct local path, handed over in a microtask. */
  private reserved = 0;
  private readonly queue = new PriorityQueue<Job>();
  /** Busy ordered keys → jobs waiting behind the one in progress. */
  private readonly lanes = new Map<string, Job[]>();
  private readonly retryTimers = new Set<Job>();
  /** Running jobs with a handler-timeout timer (only with `handlerTimeoutMs`). */
  private readonly timed = new TimedJobs();
  /** Jobs that hold a slot and wait to begin; drained by one loop so finishing never recurses. */
  private readonly runnable = new RingDeque<Job>();
  private running = false;
  private paused = false;
  /** Between drain() and its deadline: jobs that cannot be redelivered still run. */
  private draining = false;
  /** Deliveries inside async inbound middleware (not yet queued). */
  private inInbound = 0;
  private timingSample = 0;
  private idleWaiters: Array<() => void> = [];
  /** The pattern has wildcards (else an exact topic comparison is enough). */
  private readonly filterTopic: boolean;
  private readonly topicCache = new Map<string, boolean>();
  /** Who this consumer is to inbound middleware (`InboundContext.consumer`). */
  private readonly consumerKey: string;

  /** The last settle promise watched (see settle); per consumer, never shared between hubs. */
  private lastWatched: Promise<void> | undefined;

  /**
   * Settle a delivery without letting a transport's rejected ack/nack become an
   * unhandled rejection (which would crash the process). Synchronous adapters
   * return undefined, so the common case allocates nothing.
   */
  private settle(result: void | Promise<void>, what: string, id: string): void {
    if (result === undefined || typeof (result as Promise<void>).then !== 'function') return;
    // Transports that batch acks hand every ack of a batch the same promise:
    // watch it once, not once per message (a promise and a reaction each).
    if (result === this.lastWatched) return;
    this.lastWatched = result as Promise<void>;
    const logger = this.host.logger;
    (result as Promise<void>).then(undefined, (err: unknown) => {
      logger.warn(`[hub:consumer] ${what} of ${id} failed`, { error: String(err) });
    });
  }

  constructor(
    readonly host: ConsumerHost,
    readonly opts: ConsumerOptions,
  ) {
    this.filterTopic =
      opts.kind === 'topic' && (opts.address.includes('*') || opts.address.includes('#'));
    this.consumerKey =
      opts.kind === 'endpoint'
        ? `endpoint:${opts.address}`
        : `topic#${++topicConsumers}:${opts.address}`;
  }

  /** Exact pattern match, remembered per topic (a consumer sees few distinct topics). */
  private matches(topic: string): boolean {
    let hit = this.topicCache.get(topic);
    if (hit === undefined) {
      hit = matchTopic(this.opts.address, topic);
      if (this.topicCache.size >= TOPIC_CACHE_SIZE) this.topicCache.clear();
      this.topicCache.set(topic, hit);
    }
    return hit;
  }

  /**
   * Number of deliveries held: holding a slot (running, or waiting for a
   * retry, which keeps its slot), queued, or waiting in a lane.
   */
  get inFlight(): number {
    let waiting = 0;
    for (const lane of this.lanes.values()) waiting += lane.length;
    return this.active + this.queue.length + waiting;
  }

  /**
   * Reserve room for a delivery of the hub's direct local path, within the
   * window a transport has (the prefetch: deliveries running or queued here);
   * past it, requests go the normal way and wait in the transport's queue.
   * The concurrency limit applies to direct deliveries as to any other:
   * those past it wait in this consumer's queue, by priority.
   */
  reserve(): boolean {
    const window = this.opts.prefetch ?? this.opts.concurrency;
    if (this.paused || this.active + this.queue.length + this.reserved >= window) return false;
    this.reserved++;
    return true;
  }

  /** The reserved delivery is about to be accepted (or was given up). */
  unreserve(): void {
    this.reserved--;
  }

  /** The adapter-facing entry point; bind one per adapter subscription. */
  accept(delivery: InboundDelivery, adapter: string): void {
    const env = delivery.envelope;
    if (this.paused) {
      // Left unsettled: closing the subscription right after the drain hands it
      // back. A nack here would come straight back to this paused consumer, in a
      // loop that burns CPU and the message's attempts.
      return;
    }
    if (this.opts.kind === 'topic') {
      // Transports may match a superset (Redis globs cross dots); we match exactly.
      if (
        env.kind !== 'event' ||
        (this.filterTopic ? !this.matches(env.topic) : env.topic !== this.opts.address)
      ) {
        this.settle(delivery.ack(), 'ack', env.id);
        return;
      }
    } else if (env.kind !== 'message') {
      this.settle(delivery.ack(), 'ack', env.id);
      return;
    }
    if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) {
      this.settle(delivery.ack(), 'ack', env.id);
      this.host.observer.expired(env, adapter);
      return;
    }
    this.host.observer.delivered(env, adapter);
    const inbound = this.host.inbound;
    if (inbound === undefined) {
      this.enqueue(new Job(this, delivery, adapter, env));
      return;
    }
    // Synchronous middleware (the security layer with its keys at hand)
    // answers at once: the delivery is queued without a promise.
    let out: Envelope | null | Promise<Envelope | null>;
    try {
      out = inbound(env, { attempt: delivery.attempt, consumer: this.consumerKey });
    } catch (err) {
      this.inboundRefused(delivery, adapter, err);
      return;
    }
    if (!isThenable(out)) {
      if (out === null) this.settle(delivery.ack(), 'ack', env.id);
      else this.enqueue(new Job(this, delivery, adapter, out));
      return;
    }
    // Counted until it lands in the queue (or is settled), so a drain waits for it.
    this.inInbound++;
    Promise.resolve(out).then(
      (opened) => {
        this.inInbound--;
        if (opened === null) this.settle(delivery.ack(), 'ack', env.id);
        else this.enqueue(new Job(this, delivery, adapter, opened));
        this.wakeIfIdle();
      },
      (err: unknown) => {
        this.inInbound--;
        this.wakeIfIdle();
        this.inboundRefused(delivery, adapter, err);
      },
    );
  }

  /** Inbound middleware threw or rejected: the delivery is dead-lettered. */
  private inboundRefused(delivery: InboundDelivery, adapter: string, err: unknown): void {
    const env = delivery.envelope;
    const log = this.host.logger;
    log.warn(`[hub:consumer] inbound middleware rejected ${env.id}`, {
      error: String(err),
    });
    const reason = `inbound middleware: ${errorMessage(err)}`;
    Promise.resolve()
      .then(() => delivery.deadLetter(reason, delivery.attempt))
      .then(
        () => this.host.observer.deadLettered(env, adapter, reason, delivery.attempt),
        (dlqErr: unknown) => {
          log.error(`[hub:consumer] dead-lettering ${env.id} failed; released`, {
            error: String(dlqErr),
          });
          this.settle(
            delivery.nack({ reason: 'dead-letter failed', delayMs: 1000 }),
            'nack',
            env.id,
          );
        },
      );
  }

  /** While draining, a delivery the transport cannot redeliver is run rather than handed back (lost). */
  private keeps(job: Job): boolean {
    return this.draining && job.delivery.redeliverable === false;
  }

  private enqueue(job: Job): void {
    const env = job.envelope;
    if (this.paused && !this.keeps(job)) {
      // Inbound middleware finished after close began.
      this.release(job, 'consumer closing');
      return;
    }
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
      this.launch(job);
    } else {
      this.queue.push(job, env.priority ?? 2);
    }
  }

  /** Begin a job that already holds a slot; a job finished meanwhile begins the next in the same loop. */
  private launch(job: Job): void {
    if (this.running) {
      this.runnable.push(job);
      return;
    }
    this.running = true;
    try {
      let next: Job | undefined = job;
      while (next !== undefined) {
        this.begin(next);
        next = this.runnable.shift();
      }
    } finally {
      this.running = false;
    }
  }

  /** Start a job that already holds a concurrency slot. */
  private begin(job: Job): void {
    if (this.paused && !this.keeps(job)) {
      this.release(job, 'consumer closing');
      this.finish(job);
      return;
    }
    const env = job.envelope;
    // It may have expired while it waited in the buffer or its lane.
    if (env.expiresAt !== undefined && env.expiresAt <= Date.now()) {
      this.settle(job.delivery.ack(), 'ack', env.id);
      this.host.observer.expired(env, job.adapter);
      this.finish(job);
      return;
    }
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
            this.settle(
              job.delivery.nack({ reason: 'dedup store failed', delayMs: 500 }),
              'nack',
              env.id,
            );
            this.finish(job);
          },
        );
      return;
    }
    this.invoke(job);
  }

  private afterDedup(job: Job, verdict: 'new' | 'done' | 'busy'): void {
    const id = job.envelope.id;
    if (verdict === 'new') {
      job.leased = true;
      if (this.paused) {
        this.release(job, 'consumer closing');
        this.finish(job);
        return;
      }
      this.invoke(job);
      return;
    }
    if (verdict === 'done') {
      this.settle(job.delivery.ack(), 'ack', id);
      this.host.observer.duplicate(job.envelope, job.adapter);
    } else {
      // Another holder is processing it right now: try again after its lease may have moved on.
      this.settle(
        job.delivery.nack({ reason: 'duplicate in progress', delayMs: DUPLICATE_BUSY_RETRY_MS }),
        'nack',
        id,
      );
    }
    this.finish(job);
  }

  private invoke(job: Job): void {
    const run = ++job.run;
    // Handler latency is sampled (one job in 8): a clock read costs as much as a fast handler.
    job.startedAt = (++this.timingSample & 7) === 1 ? perf.now() : -1;
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
        this.timed.add(job);
        job.timer = setTimeout(() => {
          job.timer = undefined;
          this.timed.delete(job);
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
          if (timeout !== undefined) this.stopTimeout(job);
          this.succeeded(job, value);
        },
        (err: unknown) => {
          if (job.run !== run) return;
          if (timeout !== undefined) this.stopTimeout(job);
          this.failed(job, err);
        },
      );
      return;
    }
    this.succeeded(job, result);
  }

  private stopTimeout(job: Job): void {
    this.timed.delete(job);
    this.clearTimer(job);
  }

  private clearTimer(job: Job): void {
    if (job.timer !== undefined) {
      clearTimeout(job.timer);
      job.timer = undefined;
    }
  }

  private succeeded(job: Job, value: unknown): void {
    const env = job.envelope;
    const handlerMs = job.startedAt < 0 ? -1 : perf.now() - job.startedAt;
    if (value !== undefined && env.kind === 'message' && env.replyTo !== undefined) {
      this.host.reply(env, value, job.delivery)?.catch((err: unknown) => {
        this.host.logger.warn(`[hub:consumer] reply to ${env.replyTo} failed`, {
          error: String(err),
        });
      });
    }
    if (env.kind === 'message' && env.deliveryGuarantee === 'exactly-once') {
      job.leased = false; // committed: the lease became the done marker
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
    this.settle(job.delivery.ack(), 'ack', job.envelope.id);
    this.host.observer.acked(job.envelope, job.adapter, handlerMs);
    this.finish(job);
  }

  private failed(job: Job, err: unknown): void {
    const env = job.envelope;
    this.host.observer.failed(env, job.adapter, err, job.attempt);
    if (this.paused && !this.keeps(job)) {
      // Closing: hand it back for another instance instead of retrying here.
      this.release(job, 'consumer closing');
      this.finish(job);
      return;
    }
    // A DeadLetterError says no attempt would do better: dead-lettered now.
    if (job.attempt < this.opts.maxDeliveries && !(err instanceof DeadLetterError)) {
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
    this.abortLease(job);
    const delivery = job.delivery;
    const log = this.host.logger;
    let written: Promise<void>;
    try {
      written = Promise.resolve(delivery.deadLetter(reason, attempts));
    } catch (thrown) {
      written = Promise.reject(thrown);
    }
    written.then(
      () => this.host.observer.deadLettered(env, job.adapter, reason, attempts),
      (dlqErr: unknown) => {
        // The DLQ write failed: keep the message rather than lose it.
        log.error(`[hub:consumer] dead-lettering ${env.id} failed; released`, {
          error: String(dlqErr),
        });
        this.settle(delivery.nack({ reason: 'dead-letter failed', delayMs: 1000 }), 'nack', env.id);
      },
    );
    this.finish(job);
  }

  /**
   * Let go of a job while closing: its dedup lease (if it holds one) is freed,
   * and the delivery is left unsettled for the subscription's close to hand
   * back (see accept), so its attempt count does not grow in a nack loop.
   */
  private release(job: Job, _reason: string): void {
    this.abortLease(job);
  }

  /** Free the dedup lease this job holds; never one another copy holds. */
  private abortLease(job: Job): void {
    if (!job.leased) return;
    job.leased = false;
    void Promise.resolve(this.host.dedup.abort(job.envelope.id)).catch(() => {});
  }

  /** A job holding a slot is done: hand the slot to its lane, then to the queue. */
  private finish(job: Job): void {
    let done = job;
    while (done.lane !== undefined) {
      const key = done.lane;
      const next = this.lanes.get(key)?.shift();
      if (next === undefined) {
        this.lanes.delete(key);
        break;
      }
      if (!this.paused) {
        this.launch(next);
        return;
      }
      this.release(next, 'consumer closing');
      done = next;
    }
    this.active--;
    while (this.active < this.opts.concurrency && this.queue.length > 0) {
      const next = this.queue.shift()!;
      if (this.paused && !this.keeps(next)) {
        this.releaseQueued(next);
        continue;
      }
      this.active++;
      this.launch(next);
    }
    this.wakeIfIdle();
  }

  /** Wake drain() once nothing runs and nothing is inside inbound middleware. */
  private wakeIfIdle(): void {
    if (this.active === 0 && this.inInbound === 0 && this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Release a queued job (it holds no slot) and, as it heads its lane, everything behind it. */
  private releaseQueued(job: Job): void {
    this.release(job, 'consumer closing');
    if (job.lane === undefined) return;
    const lane = this.lanes.get(job.lane);
    this.lanes.delete(job.lane);
    if (lane) for (const waiting of lane) this.release(waiting, 'consumer closing');
  }

  /**
   * Stop taking deliveries, let running handlers finish for up to `timeoutMs`,
   * then hand everything not finished back to the transport for redelivery.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.paused = true;
    this.draining = timeoutMs > 0;
    // Redeliverable jobs go back now (another instance takes them sooner);
    // the others stay queued and run while the drain lasts.
    const kept: Job[] = [];
    for (const job of this.queue.clear()) {
      if (this.keeps(job)) kept.push(job);
      else this.releaseQueued(job);
    }
    for (const job of kept) this.queue.push(job, job.envelope.priority ?? 2);
    for (const job of [...this.retryTimers]) {
      if (this.keeps(job)) continue; // its retry still runs while the drain lasts
      this.clearTimer(job);
      this.retryTimers.delete(job);
      this.release(job, 'consumer closing');
      this.finish(job);
    }
    if ((this.active > 0 || this.inInbound > 0) && timeoutMs > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        timer = setTimeout(resolve, timeoutMs);
      });
      clearTimeout(timer);
    }
    this.draining = false;
    // What could not run in time is let go (unsettled: lost if not redeliverable).
    for (const job of this.queue.clear()) this.releaseQueued(job);
    for (const job of [...this.retryTimers]) {
      this.clearTimer(job);
      this.retryTimers.delete(job);
      this.release(job, 'consumer closing');
      this.finish(job);
    }
    // Handlers still running past the drain: give their deliveries back now and
    // stop their timeout timers, so nothing fires after close; a late result is ignored.
    for (const job of this.timed.running()) {
      this.stopTimeout(job);
      job.run++;
      this.release(job, 'consumer closing');
      this.finish(job);
    }
  }
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
}

export type { UnifiedEvent, UnifiedMessage };

/** @deprecated The receive pipeline's former name; use {@link ReceivePipeline}. */
export const Consumer = ReceivePipeline;
/** @deprecated The receive pipeline's former name; use {@link ReceivePipeline}. */
export type Consumer = ReceivePipeline;
