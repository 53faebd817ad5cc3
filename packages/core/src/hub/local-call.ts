/**
 * The direct local path of request/reply. A best-effort request whose
 * destination is served by a handler of this same hub over `memory()`, with
 * no middleware, is handed straight to that handler's consumer (in a
 * microtask, as the broker would), and the reply straight back to the
 * waiting request: no broker queue, no second trip through the send
 * pipeline, no inbox consumer. Everything a handler and a caller can observe
 * stays as on the normal path: the consumer's concurrency limit, handler
 * timeouts, retries and dead-lettering run in the same ReceivePipeline; the request
 * keeps its deadline (HUB_TIMEOUT) and a late reply is dropped and counted;
 * each hop is routed, passes the circuit breaker and is counted in the hub's
 * and the adapter's metrics as a send and a delivery; the payloads are
 * checked and copied as the memory transport copies them. Whenever one of
 * those conditions does not hold, the request goes the normal way.
 */
import type { UnifiedMessage } from '@hub/protocol';
import type { DeliverFn, InboundDelivery, NackOptions } from '../adapter/contract.js';
import { MemoryAdapter } from '../adapters/memory.js';
import { RingDeque } from '../delivery/priority-queue.js';
import type { ConsumerObserver, ReceivePipeline } from '../delivery/receive-pipeline.js';
import type { RouteTarget } from '../router/router.js';
import type { Waiting } from './request-reply.js';
import type { SendPipeline } from './send-pipeline.js';

const RESOLVED: Promise<void> = Promise.resolve();

/** The hub's consumer serving one endpoint, and its deliver function per adapter. */
export interface LocalEndpoint {
  readonly consumer: ReceivePipeline;
  readonly deliverers: ReadonlyMap<string, DeliverFn>;
}

export interface LocalCallHost {
  readonly pipeline: SendPipeline;
  readonly observer: ConsumerObserver;
  /** The one consumer of this hub serving `address`, if exactly one does. */
  endpoint(address: string): LocalEndpoint | undefined;
  /** Hand a reply to the waiting request (a late one is dropped and counted). */
  answer(reply: UnifiedMessage, waiting: Waiting): void;
  /** Build the reply a handler's `payload` makes to `request`, with a headers object of its own. */
  buildReply(request: UnifiedMessage, payload: unknown): UnifiedMessage;
  /**
   * A tracer provider is registered: the direct path makes no spans (nor
   * does its handler run, even when a provider is registered meanwhile), so
   * requests then take the traced path. Asked only once a local handler is
   * found, so a request to another process pays nothing for it.
   */
  traced(): boolean;
}

/** One request on the direct path: the delivery its handler's consumer settles. */
export class LocalCall implements InboundDelivery<UnifiedMessage> {
  readonly attempt = 1;
  /** Nothing queued it, so nothing can hand it back: a draining consumer runs it. */
  readonly redeliverable = false;
  constructor(
    readonly envelope: UnifiedMessage,
    readonly target: RouteTarget,
    readonly adapter: MemoryAdapter,
    readonly consumer: ReceivePipeline,
    readonly deliver: DeliverFn,
    /** The request as it waits for this reply. */
    readonly waiting: Waiting,
  ) {}

  /** Nothing to settle: the broker never held it. */
  ack(): void {}

  /**
   * Give it back: sent again through the adapter, the normal way (queued).
   * The consumer nacks only when dedup or a dead-letter write fails, which
   * a best-effort request never meets.
   */
  nack(_options?: NackOptions): void {
    this.adapter.send(this.envelope).then(undefined, () => {});
  }

  deadLetter(reason: string, attempts?: number): Promise<void> {
    this.adapter.deadLetterDirect(this.envelope, reason, attempts ?? this.attempt);
    return RESOLVED;
  }
}

export class LocalCalls {
  private readonly queue = new RingDeque<LocalCall>();
  private scheduled = false;
  private readonly drainFn = (): void => this.drain();

  constructor(private readonly host: LocalCallHost) {}

  /**
   * Take `request` (best-effort, validated, addressed to this hub's inbox,
   * an object built for this send) on the direct path; false when it must go
   * the normal way. Once taken it cannot fail: the handler runs in a
   * microtask, as a broker delivery would. `at`: wall-clock ms when the
   * request was made; `waiting`: the request as it waits for its reply.
   */
  trySend(request: UnifiedMessage, at: number, waiting: Waiting): boolean {
    const host = this.host;
    const local = host.endpoint(request.destination);
    if (local === undefined || host.traced()) return false;
    const pipeline = host.pipeline;
    const target = pipeline.directTarget(request);
    if (target === undefined) return false;
    const adapter = target.adapter;
    const deliver = local.deliverers.get(target.name);
    if (deliver === undefined || !(adapter instanceof MemoryAdapter) || !local.consumer.reserve()) {
      pipeline.releaseDirect(target);
      return false;
    }
    const env = adapter.takeDirect(request, deliver);
    if (env === undefined) {
      local.consumer.unreserve();
      pipeline.releaseDirect(target);
      return false;
    }
    pipeline.sentDirect(env, target, at);
    this.queue.push(new LocalCall(env, target, adapter, local.consumer, deliver, waiting));
    if (!this.scheduled) {
      this.scheduled = true;
      RESOLVED.then(this.drainFn);
    }
    return true;
  }

  /**
   * The handler's answer to a request of the direct path: straight back to
   * the waiting request when the reply would go through the same memory
   * adapter (true: done, nothing left that can fail); a rejected promise
   * when the wire would refuse the reply; undefined when it must be sent
   * the normal way.
   */
  reply(call: LocalCall, payload: unknown): true | Promise<never> | undefined {
    const host = this.host;
    const reply = host.buildReply(call.envelope, payload);
    const pipeline = host.pipeline;
    const target = pipeline.directTarget(reply);
    if (target === undefined) return undefined;
    if (target !== call.target) {
      pipeline.releaseDirect(target);
      return undefined;
    }
    let direct: boolean;
    try {
      direct = call.adapter.replyDirect(reply);
    } catch (err) {
      // A payload the wire refuses: the send fails as `send` would fail it.
      pipeline.failedDirect(target);
      return Promise.reject(err);
    }
    if (!direct) {
      pipeline.releaseDirect(target);
      return undefined;
    }
    // The reply's timestamp was read from the clock as it was built.
    pipeline.sentDirect(reply, target, reply.timestamp);
    const observer = host.observer;
    observer.delivered(reply, target.name);
    host.answer(reply, call.waiting);
    observer.acked(reply, target.name, -1);
    return true;
  }

  private drain(): void {
    this.scheduled = false;
    const queue = this.queue;
    // Bounded: calls taken while this runs (handlers that request) wait for the next drain.
    for (let n = queue.size; n > 0; n--) {
      const call = queue.shift() as LocalCall;
      call.consumer.unreserve();
      call.deliver(call);
    }
  }
}
