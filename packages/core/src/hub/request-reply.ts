/**
 * Request/reply: a request is a message whose `replyTo` is this hub's private
 * inbox endpoint; the reply is a message carrying the request's
 * `correlationId`. This module keeps the waiting requests, their deadlines
 * (HUB_TIMEOUT at the deadline) and the inbox, and builds replies.
 */
import {
  createReply,
  DeliveryGuarantee,
  ErrorCode,
  HubError,
  type UnifiedMessage,
} from '@hub/protocol';
import type { Logger } from '../logger.js';
import { TimeoutError } from '../resilience/timeout.js';
import type { ConsumeOptions, MessageHandler, MessageResult, Unsubscribe } from './types.js';

/** Prefix of every hub's private reply endpoint: `_inbox.<instanceId>`. */
export const INBOX_PREFIX = '_inbox.';

interface PendingRequest {
  resolve: (reply: UnifiedMessage) => void;
  reject: (err: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

export interface RequestReplyHost {
  readonly instanceId: string;
  readonly logger: Logger;
  /** Default request timeout. */
  readonly timeoutMs: number;
  /** Serve an endpoint (the hub's `onMessage`). */
  serve(address: string, handler: MessageHandler, options: ConsumeOptions): Promise<Unsubscribe>;
  /** Send a validated message through the pipeline (the hub's `send`). */
  send(message: UnifiedMessage): Promise<MessageResult>;
}

export class RequestReply {
  private readonly pending = new Map<string, PendingRequest>();
  private inboxAddress: string | undefined;
  private inboxReady: Promise<void> | undefined;
  private readonly host: RequestReplyHost;

  constructor(host: RequestReplyHost) {
    this.host = host;
  }

  /**
   * Send `message` (already validated) with this hub's inbox as `replyTo` and
   * resolve with the reply. Rejects with HUB_TIMEOUT after `timeoutMs`.
   */
  async request<Res>(
    message: UnifiedMessage,
    timeoutMs: number = this.host.timeoutMs,
  ): Promise<UnifiedMessage<Res>> {
    await this.ensureInbox();
    const correlationId = message.correlationId ?? message.id;
    if (this.pending.has(correlationId)) {
      throw new HubError(
        ErrorCode.INVALID_MESSAGE,
        `[hub] a request with correlationId "${correlationId}" is already waiting`,
      );
    }
    if (typeof timeoutMs !== 'number' || !(timeoutMs > 0)) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub] request options.timeoutMs must be a positive number, got ${String(timeoutMs)}`,
      );
    }
    const reply = new Promise<UnifiedMessage<Res>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new TimeoutError(
            `[hub] request ${message.id} to "${message.destination}" got no reply within ${timeoutMs}ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(correlationId, {
        resolve: resolve as (m: UnifiedMessage) => void,
        reject,
        timer,
      });
    });
    // The timer may fire while the send is still under way (slow transport,
    // retries, backpressure): the caller gets the rejection below, never the process.
    reply.catch(() => {});
    try {
      await this.host.send({ ...message, replyTo: this.inboxAddress!, correlationId });
    } catch (err) {
      const p = this.pending.get(correlationId);
      if (p) clearTimeout(p.timer);
      this.pending.delete(correlationId);
      throw err;
    }
    return reply;
  }

  /** Answer `request` with `payload` (a handler's return value or `ctx.reply`). */
  async reply(request: UnifiedMessage, payload: unknown): Promise<void> {
    const reply = createReply(request, { payload });
    // Replies to a requester's private inbox are best-effort: the requester times out and may retry.
    if (request.replyTo?.startsWith(INBOX_PREFIX))
      reply.deliveryGuarantee = DeliveryGuarantee.BEST_EFFORT;
    await this.host.send(reply);
  }

  /** Fail every waiting request (the hub is closing). */
  rejectAll(err: Error): void {
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(err);
      this.pending.delete(id);
    }
  }

  private ensureInbox(): Promise<void> {
    this.inboxReady ??= (async () => {
      const address = `${INBOX_PREFIX}${this.host.instanceId}`;
      await this.host.serve(
        address,
        (reply) => {
          const id = reply.correlationId;
          const p = id === undefined ? undefined : this.pending.get(id);
          if (!p) {
            this.host.logger.debug(`[hub] late or unknown reply ${reply.id} dropped`);
            return;
          }
          clearTimeout(p.timer);
          this.pending.delete(id!);
          p.resolve(reply);
        },
        // Replies to the inbox are best-effort (see reply()).
        { concurrency: 64, guarantees: [DeliveryGuarantee.BEST_EFFORT] },
      );
      this.inboxAddress = address;
    })().catch((err: unknown) => {
      // A transient subscribe failure must not fail every later request.
      this.inboxReady = undefined;
      throw err;
    });
    return this.inboxReady;
  }
}
