import { type Hub, PriorityQueue, type Unsubscribe } from '@hub/core';
import {
  type DeliveryGuarantee,
  type Envelope,
  ErrorCode,
  HubError,
  type UnifiedMessage,
} from '@hub/protocol';
import type { PendingDelivery, Session } from './session.js';

/**
 * An endpoint served by clients of one gateway: ONE handler on the hub (so
 * the hub's transports see one consumer, and several clients serving it share
 * its work), dispatching each message to a live serving client with room in
 * its window, round robin. A message no client can take yet waits here, its
 * hub handler held (the hub's flow control stops further deliveries).
 */
export class ServedEndpoint {
  /** Serving sessions and each one's subscription id for this endpoint. */
  private readonly sessions = new Map<Session, string>();
  /** Highest priority first, like the hub's own queue (its handlers already hold these). */
  private readonly waiting = new PriorityQueue<PendingDelivery>();
  private rr = 0;
  private closing = false;
  readonly ready: Promise<Unsubscribe>;

  constructor(
    private readonly hub: Hub,
    readonly address: string,
    concurrency: number,
    guarantees: readonly DeliveryGuarantee[] | undefined,
  ) {
    this.ready = hub.onMessage(address, this.handle, {
      concurrency,
      ...(guarantees === undefined ? {} : { guarantees }),
    });
    // a failed onMessage is reported to the client by whoever awaits `ready`
    this.ready.catch(() => {});
  }

  get size(): number {
    return this.sessions.size;
  }

  private readonly handle = (message: UnifiedMessage, ctx: { attempt: number }): Promise<void> => {
    const security = this.hub.security;
    if (security?.opensProtection !== true) return this.offer(message, undefined, ctx.attempt);
    return security
      .forClients(message)
      .then(({ plain, sealed }) => this.offer(plain as UnifiedMessage, sealed, ctx.attempt));
  };

  private offer(
    message: UnifiedMessage,
    sealed: Envelope | undefined,
    attempt: number,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      if (this.closing) {
        reject(released(this.address));
        return;
      }
      this.dispatch({
        envelope: message,
        sealed,
        attempt,
        endpoint: this,
        sub: '',
        seq: 0,
        resolve,
        reject,
      });
    });
  }

  add(session: Session, sub: string): void {
    this.sessions.set(session, sub);
    this.pump();
  }

  /** Hand `p` to a live client with room, or keep it until one has room. */
  dispatch(p: PendingDelivery): void {
    const target = this.pick();
    if (target === undefined) {
      this.waiting.push(p, p.envelope.priority ?? 2);
      return;
    }
    p.sub = this.sessions.get(target)!;
    target.push(p);
  }

  pump(): void {
    while (this.waiting.length > 0) {
      const target = this.pick();
      if (target === undefined) return;
      const p = this.waiting.shift()!;
      p.sub = this.sessions.get(target)!;
      target.push(p);
    }
  }

  hasLiveSessionBesides(session: Session): boolean {
    for (const s of this.sessions.keys()) if (s !== session && s.link !== undefined) return true;
    return false;
  }

  private pick(): Session | undefined {
    if (this.sessions.size === 1) {
      // one serving client (an inbox, a single agent): no list to rotate through
      for (const [s, sub] of this.sessions)
        return s.link !== undefined && s.hasRoomFor(sub) ? s : undefined;
    }
    const list = [...this.sessions.keys()];
    for (let i = 0; i < list.length; i++) {
      const s = list[(this.rr + i) % list.length]!;
      if (s.link !== undefined && s.hasRoomFor(this.sessions.get(s)!)) {
        this.rr = (this.rr + i + 1) % list.length;
        return s;
      }
    }
    return undefined;
  }

  /**
   * A session stops serving (unserve, or expired). What it held goes to another
   * serving client; with none left the endpoint closes. Resolves true when it closed.
   */
  async remove(session: Session, held: PendingDelivery[]): Promise<boolean> {
    this.sessions.delete(session);
    if (this.sessions.size > 0) {
      for (const p of held) this.dispatch(p);
      return false;
    }
    await this.close(held);
    return true;
  }

  /**
   * Stop serving on the hub. Held deliveries are failed at once, after the
   * unsubscribe has begun, so the hub hands them back to its transport (for
   * another instance, or this client when it serves again) instead of
   * retrying them here.
   */
  async close(held: PendingDelivery[] = []): Promise<void> {
    this.closing = true;
    const off = this.ready.then((unsubscribe) => unsubscribe()).catch(() => {});
    const error = released(this.address);
    for (const p of [...held, ...this.waiting.clear()]) p.reject(error);
    await off;
  }
}

const released = (address: string): HubError =>
  new HubError(
    ErrorCode.CLOSED,
    `[hub:ws] no client serves "${address}" any more; the message goes back to the hub`,
  );
