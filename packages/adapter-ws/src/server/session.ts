import type { TopicStart, Unsubscribe } from '@hub/core';
import type { Envelope } from '@hub/protocol';
import type { ServedEndpoint } from './endpoint.js';

/**
 * One delivery from the hub to a client, held until the client acks or nacks
 * it: the hub handler that produced it awaits `resolve` / `reject`.
 */
export interface PendingDelivery {
  readonly envelope: Envelope;
  /** The envelope sealed with the hub's protection, for clients that open it themselves. */
  readonly sealed?: Envelope | undefined;
  readonly attempt: number;
  /** Set for deliveries to a served endpoint (they may move to another client). */
  readonly endpoint: ServedEndpoint | undefined;
  /** Client subscription id the delivery is for (set when handed to a session). */
  sub: string;
  seq: number;
  resolve(): void;
  reject(err: Error): void;
}

/** What a session writes to (the live connection), or nothing while the client is away. */
export interface SessionLink {
  /** Write one delivery; false when the link refused it (cut for a full buffer). */
  deliver(p: PendingDelivery): boolean;
}

/**
 * A topic subscription in a named group on a hub that keeps events (durable
 * topics): the transport holds what the group has not acked, so while the
 * client is away its hub subscription is closed (parked) and what it held
 * goes back to the group, for another member — the same client back on
 * another gateway — or for this session when it resumes here.
 */
export interface KeptTopic {
  readonly group: string;
  /** Where the group starts, for the first opening only: reopenings continue where it left off. */
  startFrom: TopicStart | undefined;
  /** The hub subscription is closed while the client is away. */
  parked: boolean;
}

export interface TopicSub {
  readonly kind: 'topic';
  readonly pattern: string;
  off: Promise<Unsubscribe>;
  /** Bumped at each opening: deliveries of an earlier (closing) hub subscription are handed back. */
  opening: number;
  /** Set for a subscription whose events the transport keeps for its group. */
  readonly kept: KeptTopic | undefined;
}

export type SessionSub = (
  | TopicSub
  | { readonly kind: 'endpoint'; readonly endpoint: ServedEndpoint }
) & {
  /** Most unsettled deliveries of this subscription at once (the client's prefetch). */
  readonly prefetch: number;
  /** Unsettled deliveries of this subscription now. */
  inFlight: number;
};

/**
 * A client's state that outlives one connection: its subscriptions, served
 * endpoints and the deliveries it has not settled yet, numbered by `seq` in
 * the order they were handed over (the per-connection order). Two limits hold
 * a delivery back: the connection's window (all subscriptions) and the
 * subscription's own prefetch. A client that comes back within the resume
 * window gets the unsettled ones again in seq order; one that does not is
 * expired and its deliveries go back to the hub.
 */
export class Session {
  link: SessionLink | undefined;
  /** Handed over, not yet settled, by seq (insertion order is seq order). */
  readonly unacked = new Map<number, PendingDelivery>();
  /** Topic deliveries waiting for room, in arrival order. */
  private readonly waiting: PendingDelivery[] = [];
  readonly subs = new Map<string, SessionSub>();
  private nextSeq = 0;
  expireTimer: ReturnType<typeof setTimeout> | undefined;
  expired = false;

  constructor(
    readonly id: string,
    readonly window: number,
  ) {}

  /** Room in the window and in subscription `sub`'s prefetch. */
  hasRoomFor(sub: string): boolean {
    const s = this.subs.get(sub);
    return this.unacked.size < this.window && s !== undefined && s.inFlight < s.prefetch;
  }

  /** Hand a delivery over now (the caller checked `hasRoomFor`). */
  push(p: PendingDelivery): void {
    p.seq = ++this.nextSeq;
    this.unacked.set(p.seq, p);
    const sub = this.subs.get(p.sub);
    if (sub !== undefined) sub.inFlight++;
    this.link?.deliver(p);
  }

  /** A topic delivery: handed over when there is room, else queued. */
  offer(p: PendingDelivery): void {
    if (this.waiting.length === 0 && this.hasRoomFor(p.sub)) this.push(p);
    else this.waiting.push(p);
  }

  /** The client settled `seq`; false when it is unknown (settled already, or from an old session). */
  settle(seq: number, error: Error | undefined): boolean {
    const p = this.unacked.get(seq);
    if (p === undefined) return false;
    this.unacked.delete(seq);
    const sub = this.subs.get(p.sub);
    if (sub !== undefined) sub.inFlight--;
    if (error === undefined) p.resolve();
    else p.reject(error);
    this.refill();
    return true;
  }

  /** Room came free: queued topic deliveries first, then the endpoints this client serves. */
  refill(): void {
    for (let i = 0; i < this.waiting.length && this.unacked.size < this.window; ) {
      const p = this.waiting[i]!;
      if (this.hasRoomFor(p.sub)) {
        this.waiting.splice(i, 1);
        this.push(p);
      } else {
        i++;
      }
    }
    if (this.unacked.size >= this.window || this.link === undefined) return;
    for (const sub of this.subs.values()) {
      if (sub.kind === 'endpoint') sub.endpoint.pump();
      if (this.unacked.size >= this.window) return;
    }
  }

  /** Unsettled seqs the client says it has received (up to `last`): it settles or asks again. */
  receivedUnsettled(last: number): number[] {
    const out: number[] = [];
    for (const seq of this.unacked.keys()) if (seq <= last) out.push(seq);
    return out;
  }

  /**
   * A new connection took over: every unsettled delivery the client has not
   * received (seq above `last`) again, in seq order.
   */
  attach(link: SessionLink, last = 0): void {
    this.link = link;
    if (this.expireTimer !== undefined) clearTimeout(this.expireTimer);
    this.expireTimer = undefined;
    for (const p of this.unacked.values()) if (p.seq > last) link.deliver(p);
    this.refill();
  }

  /** The connection is gone; endpoint deliveries another live client can take move there now. */
  detach(): void {
    this.link = undefined;
    for (const [seq, p] of this.unacked) {
      if (p.endpoint?.hasLiveSessionBesides(this)) {
        this.unacked.delete(seq);
        const sub = this.subs.get(p.sub);
        if (sub !== undefined) sub.inFlight--;
        p.endpoint.dispatch(p);
      }
    }
  }

  /** Queued topic deliveries of one subscription, removed (it is closing). */
  dropWaiting(sub: string): PendingDelivery[] {
    const out: PendingDelivery[] = [];
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      if (this.waiting[i]!.sub === sub) out.push(...this.waiting.splice(i, 1));
    }
    return out.reverse();
  }

  /**
   * What one subscription holds (unsettled and queued), removed from the
   * session: its client no longer settles them here. Another delivery may
   * take the room at once.
   */
  takeSub(subId: string): PendingDelivery[] {
    const out = this.dropWaiting(subId);
    for (const [seq, p] of this.unacked) {
      if (p.sub !== subId) continue;
      this.unacked.delete(seq);
      out.push(p);
    }
    const sub = this.subs.get(subId);
    if (sub !== undefined) sub.inFlight = 0;
    return out;
  }

  /** Everything still held (unsettled and queued), removed from the session. */
  takeAll(): PendingDelivery[] {
    const all = [...this.unacked.values(), ...this.waiting];
    this.unacked.clear();
    this.waiting.length = 0;
    for (const sub of this.subs.values()) sub.inFlight = 0;
    return all;
  }
}
