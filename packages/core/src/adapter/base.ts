import {
  DeliveryGuarantee,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { EventEmitter } from 'eventemitter3';
import { silentLogger } from '../logger.js';
import type {
  AdapterCapabilities,
  AdapterContext,
  AdapterHealth,
  AdapterState,
  ProtocolAdapter,
  SendResult,
  Subscription,
  SubscriptionSpec,
} from './contract.js';
import { wrapAdapterError } from './errors.js';

export interface BaseAdapterEvents {
  error: (error: HubError) => void;
  state: (state: AdapterState) => void;
}

/**
 * Lifecycle, dispatch, counters and error plumbing shared by every adapter.
 *
 * What a subclass supplies:
 * - `doConnect(ctx)`, `doSubscribe(spec)`, `doClose()`;
 * - sending: `doSend(envelope)`, every envelope of a transport with one way
 *   to send. A transport that sends some kinds another way also overrides
 *   `doSendEvent` (events) and/or `doSendBestEffort` (best-effort messages),
 *   which default to `doSend`; `doSend` then gets the rest. `send` chooses
 *   between them, counts, and wraps what they throw or reject with;
 * - optionally `classifySendError(err)` (a transport's own reading of a client
 *   error: a permission error is final, a timeout uncertain) and
 *   `healthDetail()`.
 *
 * What it calls back: `setState(state)` on a lifecycle change (reported to the
 * hub through `ctx.reportState`) and `fail(operation, err)` for a background
 * failure (through `ctx.reportError`). Everything it throws is wrapped into a
 * `HubError` naming the adapter and the operation.
 */
export abstract class BaseAdapter
  extends EventEmitter<BaseAdapterEvents>
  implements ProtocolAdapter, AsyncDisposable
{
  abstract readonly name: string;
  abstract readonly capabilities: AdapterCapabilities;

  // The base's own state is in #private fields: a subclass is free to name its
  // own fields `ctx`, `stats`, `subs`, `state` ... without clashing with them.
  #ctx: AdapterContext = {
    hubName: 'hub',
    instanceId: 'local',
    logger: silentLogger,
    reportError: () => {},
    reportState: () => {},
  };
  #stats = { sent: 0, sendFailures: 0, delivered: 0 };
  #state: AdapterState = 'idle';
  #lastError: string | undefined;
  #connecting: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  readonly #subs = new Set<Subscription>();
  /** The last result a template method returned as is, and the promise `send` gave for it. */
  #syncResult: SendResult | undefined;
  #syncSettled: Promise<SendResult> | undefined;

  get state(): AdapterState {
    return this.#state;
  }

  /** The context the hub handed to `connect` (a placeholder before that). */
  protected get adapterContext(): AdapterContext {
    return this.#ctx;
  }

  /**
   * Send counters shown in `health().detail`. `send` keeps them; a subclass
   * that also sends some other way (the memory adapter's direct local path
   * for requests) counts those sends here.
   */
  protected get sendCounters(): { sent: number; sendFailures: number } {
    return this.#stats;
  }

  /** Change the lifecycle state: reported to the hub (`ctx.reportState`) and emitted as `state`. */
  protected setState(state: AdapterState): void {
    if (state === this.#state) return;
    this.#state = state;
    try {
      this.#ctx.reportState(state);
    } catch {
      // a faulty reporter must not take the transport down
    }
    this.emit('state', state);
  }

  /** Record and surface a background failure without ever throwing. */
  protected fail(operation: string, err: unknown): HubError {
    const wrapped = wrapAdapterError(this.name, operation, err);
    this.#lastError = wrapped.message;
    try {
      this.#ctx.reportError(wrapped);
    } catch {
      // a faulty reporter must not take the transport down
    }
    if (this.listenerCount('error') > 0) this.emit('error', wrapped);
    return wrapped;
  }

  async connect(ctx: AdapterContext): Promise<void> {
    if (this.#state === 'ready' || this.#state === 'degraded') return;
    if (this.#connecting) return this.#connecting;
    if (this.#state === 'closing' || this.#state === 'closed') {
      throw new HubError(ErrorCode.CLOSED, `[hub:${this.name}] connect called after close`);
    }
    this.#ctx = ctx;
    this.setState('connecting');
    this.#connecting = this.doConnect(ctx).then(
      () => {
        this.#connecting = undefined;
        this.setState('ready');
      },
      (err: unknown) => {
        this.#connecting = undefined;
        this.setState('failed');
        throw this.fail('connect', err);
      },
    );
    return this.#connecting;
  }

  /**
   * The dispatch: an event to `doSendEvent`, a best-effort message to
   * `doSendBestEffort`, any other message (at-least-once, exactly-once,
   * ordered) to `doSend`; anything that is neither a message nor an event is
   * refused here (`HUB_INVALID_MESSAGE`), so a template method gets the kind
   * it is named for. Counted and its failure wrapped here. A template method
   * may return its result as is (a transport that accepts synchronously)
   * instead of a promise; the same result object returned again gets the
   * same settled promise.
   * Not async: one promise and one microtask hop less per message on the hot path.
   */
  send(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const sent = this.sendEager(envelope);
    if (sent instanceof Promise) return sent;
    if (sent !== this.#syncResult) {
      // A transport that accepts synchronously returns one frozen result
      // (the memory adapter): one settled promise for all its sends.
      this.#syncResult = sent;
      this.#syncSettled = Promise.resolve(sent);
    }
    return this.#syncSettled as Promise<SendResult>;
  }

  /**
   * @internal {@link send} with a synchronous acceptance returned as the
   * bare result, not a settled promise: for the hub's send pipeline, which
   * then answers a gateway's client without a microtask hop (see
   * `Hub.sendEager`). Counted and wrapped as `send` counts and wraps.
   */
  sendEager(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> | SendResult {
    let pending: Promise<SendResult> | SendResult;
    try {
      if (typeof envelope !== 'object' || envelope === null)
        throw notAnEnvelope(this.name, envelope);
      const kind = envelope.kind;
      if (kind === 'event') pending = this.doSendEvent(envelope);
      else if (kind !== 'message') throw unknownKind(this.name, kind);
      else if (envelope.deliveryGuarantee === DeliveryGuarantee.BEST_EFFORT) {
        pending = this.doSendBestEffort(envelope);
      } else pending = this.doSend(envelope);
    } catch (err) {
      return Promise.reject(this.sendFailed(err));
    }
    if (typeof (pending as Promise<SendResult>).then !== 'function') {
      this.#stats.sent++;
      return pending as SendResult;
    }
    // Promise.resolve: a template method's thenable becomes a native promise.
    return Promise.resolve(
      (pending as Promise<SendResult>).then(this.sendOk, this.sendFailedBound),
    );
  }

  /** Send an event (to every subscriber of its topic). @default doSend */
  protected doSendEvent(event: UnifiedEvent): Promise<SendResult> | SendResult {
    return this.doSend(event);
  }

  /** Send a best-effort message. @default doSend */
  protected doSendBestEffort(message: UnifiedMessage): Promise<SendResult> | SendResult {
    return this.doSend(message);
  }

  /**
   * A transport's own reading of a send failure before it is wrapped (a
   * permission error made final, a client timeout made `HUB_TIMEOUT`).
   * @default the error as is
   */
  protected classifySendError(err: unknown): unknown {
    return err;
  }

  /** Counts an accepted send; a subclass chaining its own send promise may reuse it. */
  protected readonly sendOk = (result: SendResult): SendResult => {
    this.#stats.sent++;
    return result;
  };

  /** Counts, wraps and rethrows a failed send (see sendOk). */
  protected readonly sendFailedBound = (err: unknown): never => {
    throw this.sendFailed(err);
  };

  /** Counts a failed send and wraps its error into a HubError naming this adapter. */
  protected sendFailed(err: unknown): HubError {
    this.#stats.sendFailures++;
    const wrapped = wrapAdapterError(this.name, 'send', this.classifySendError(err));
    this.#lastError = wrapped.message;
    return wrapped;
  }

  async subscribe(spec: SubscriptionSpec): Promise<Subscription> {
    let inner: Subscription;
    try {
      inner = await this.doSubscribe(spec);
    } catch (err) {
      throw wrapAdapterError(this.name, `subscribe(${spec.kind} ${spec.address})`, err);
    }
    const subs = this.#subs;
    let closed: Promise<void> | undefined;
    const sub: Subscription = {
      close: () => {
        closed ??= (async () => {
          subs.delete(sub);
          await inner.close();
        })();
        return closed;
      },
    };
    if (inner.pause) {
      const pause = inner.pause.bind(inner);
      sub.pause = async () => {
        if (!closed) await pause();
      };
    }
    subs.add(sub);
    return sub;
  }

  health(): AdapterHealth {
    const state = this.#state;
    const base: AdapterHealth = {
      state,
      healthy: state === 'ready',
      detail: { ...this.#stats, subscriptions: this.#subs.size, ...this.healthDetail() },
    };
    return this.#lastError === undefined ? base : { ...base, lastError: this.#lastError };
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.setState('closing');
      const subs = [...this.#subs];
      await Promise.allSettled(subs.map((s) => s.close()));
      try {
        await this.doClose();
      } catch (err) {
        this.fail('close', err);
      }
      this.setState('closed');
      this.removeAllListeners();
    })();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Extra fields for `health().detail`. */
  protected healthDetail(): Record<string, unknown> {
    return {};
  }

  protected abstract doConnect(ctx: AdapterContext): Promise<void>;
  /**
   * Send an envelope: every one, unless `doSendEvent` / `doSendBestEffort` are
   * overridden (then the messages they do not take: at-least-once,
   * exactly-once, ordered). May return the result as is instead of a promise.
   */
  protected abstract doSend(
    envelope: UnifiedMessage | UnifiedEvent,
  ): Promise<SendResult> | SendResult;
  protected abstract doSubscribe(spec: SubscriptionSpec): Promise<Subscription>;
  protected abstract doClose(): Promise<void>;
}

function notAnEnvelope(adapter: string, envelope: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_MESSAGE,
    `[hub:${adapter}] send: envelope must be an object, got ${envelope === null ? 'null' : typeof envelope}`,
  );
}

function unknownKind(adapter: string, kind: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_MESSAGE,
    `[hub:${adapter}] send: envelope.kind must be "message" or "event", got ${JSON.stringify(kind)}`,
  );
}
