/**
 * The in-process broker behind the memory adapter: consumer groups, ready
 * queues, flow control, ordered lanes and dead-letter queues. Several memory
 * adapters (several hubs in one process) may share one broker.
 *
 * Not public API: `memory.ts` exposes the options and the adapter.
 */
import {
  clonePayload,
  type Envelope,
  ErrorCode,
  HubError,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import type {
  DeadLetterEntry,
  DeliverFn,
  InboundDelivery,
  NackOptions,
} from '../../adapter/contract.js';
import { PriorityQueue, RingDeque } from '../../delivery/priority-queue.js';
import { TopicMatcher } from '../../event-bus/pattern.js';

const QUEUED = 0;
const INFLIGHT = 1;
const DONE = 2;

const NORMAL_PRIORITY = 2;
/** Consecutive microtask drains before yielding a macrotask, so a self-feeding handler cannot starve I/O. */
const MICROTASK_DRAINS_BEFORE_YIELD = 16;

const RESOLVED: Promise<void> = Promise.resolve();

/** What the broker needs from the adapter that owns a consumer or a send. */
export interface BrokerClient {
  readonly name: string;
  /** Drops and counts, per adapter. */
  readonly counters: ClientCounters;
  /** Deliveries to this client's consumers get their own copy of headers and payload. */
  readonly copies: boolean;
  /** True when this client has delivery-side faults (delay, reorder) configured. */
  deliveryFaults: boolean;
  /** Deliver through the fault layer (delay / reorder). */
  faultDeliver(d: MemoryDelivery): void;
  /** A nack with a delay: the client owns the timer so its close() can clear it. */
  delayRequeue(d: MemoryDelivery, delayMs: number): void;
  /** Surface a background failure (handler threw). */
  report(operation: string, err: unknown): void;
}

export interface ClientCounters {
  delivered: number;
  /** Of `delivered`: handed straight to the hub's handler by its direct local path (no queue). */
  deliveredDirect: number;
  droppedNoConsumer: number;
  droppedOverflow: number;
  droppedByFault: number;
  eventsUnmatched: number;
}

/** Per-key FIFO of the `ordered` guarantee: only the head is ready or in flight. */
class Lane {
  readonly waiting = new RingDeque<MemoryDelivery>();
  constructor(readonly key: string) {}
}

/**
 * One subscription's place in a consumer group: where the group's messages
 * are handed (`deliver`), how many it may hold unsettled (`limit`, its
 * prefetch) and the deliveries it holds.
 */
export class GroupMember {
  /** Most unsettled deliveries; 0 while the owning adapter is disconnected. */
  limit: number;
  inflight = 0;
  /** Newest-first intrusive list of unsettled deliveries (no Set on the hot path). */
  first: MemoryDelivery | undefined = undefined;
  closed = false;
  constructor(
    readonly group: Group,
    readonly client: BrokerClient,
    readonly deliver: DeliverFn,
    readonly prefetch: number,
    readonly maxDeliveries: number,
  ) {
    this.limit = prefetch;
  }
}

export class Group {
  readonly ready: PriorityQueue<MemoryDelivery>;
  /** The subscriptions sharing this group's messages, served round-robin. */
  members: GroupMember[] = [];
  rr = 0;
  lanes: Map<string, Lane> | undefined = undefined;
  /** Items behind a busy lane head. */
  waiting = 0;
  inflight = 0;
  /** Nacked with a delay, waiting for their timer. */
  delayed = 0;
  dirty = false;
  removed = false;
  /** Created by a send before any subscriber (kept for a consumer to come). */
  orphan = false;
  constructor(
    readonly broker: BrokerCore,
    readonly kind: 'endpoint' | 'topic',
    /** Endpoint id or topic pattern; names the DLQ. */
    readonly address: string,
    public name: string,
    /** Private fan-out group of one topic subscription (no `group` given). */
    readonly private_: boolean,
    starvationLimit: number,
  ) {
    this.ready = new PriorityQueue<MemoryDelivery>({ starvationLimit });
  }

  get queued(): number {
    return this.ready.length + this.waiting;
  }
}

class Endpoint {
  readonly groups = new Map<string, Group>();
  /** Same groups as an array: iteration on the send path without an iterator object. */
  list: Group[] = [];
  constructor(readonly address: string) {}
}

/** One message handed to one consumer group; a redelivery is a new object so a stale settle is a no-op. */
export class MemoryDelivery implements InboundDelivery {
  envelope: Envelope;
  state = QUEUED;
  member: GroupMember | undefined = undefined;
  prev: MemoryDelivery | undefined = undefined;
  next: MemoryDelivery | undefined = undefined;
  /**
   * The first delivery of a best-effort message to its only group, sent by a
   * copying adapter: the sender-side snapshot is used by nobody else, so the
   * handler may have it without another copy.
   */
  owned = false;
  constructor(
    readonly raw: UnifiedMessage | UnifiedEvent,
    readonly group: Group,
    readonly attempt: number,
    readonly priority: number,
    readonly lane: Lane | undefined,
  ) {
    this.envelope = raw;
  }

  ack(): void {
    if (this.state === INFLIGHT) this.group.broker.settle(this, true);
  }

  nack(options?: NackOptions): void {
    if (this.state === INFLIGHT) this.group.broker.nack(this, options?.delayMs ?? 0);
  }

  /** `attempts`: handler attempts the core made (it retries locally); defaults to this delivery's attempt. */
  deadLetter(reason: string, attempts?: number): Promise<void> {
    if (this.state === INFLIGHT) {
      const n = typeof attempts === 'number' && attempts >= 1 ? attempts : this.attempt;
      this.group.broker.deadLetter(this, reason, n);
    }
    return RESOLVED;
  }

  /** Whether a delayed (fault) delivery is still owed to its consumer. */
  get live(): boolean {
    return this.state === INFLIGHT;
  }
}

export interface BrokerSettings {
  maxQueueLength: number;
  maxDeadLetters: number;
  starvationLimit: number;
  batchSize: number;
}

export interface GroupStats {
  consumers: number;
  queued: number;
  inflight: number;
  delayed: number;
}

class DeadLetterQueue {
  readonly entries = new RingDeque<DeadLetterEntry>();
  dropped = 0;
}

function link(c: GroupMember, d: MemoryDelivery): void {
  const first = c.first;
  d.next = first;
  d.prev = undefined;
  if (first !== undefined) first.prev = d;
  c.first = d;
}

function unlink(c: GroupMember, d: MemoryDelivery): void {
  const { prev, next } = d;
  if (prev === undefined) c.first = next;
  else prev.next = next;
  if (next !== undefined) next.prev = prev;
  d.prev = undefined;
  d.next = undefined;
}

export class BrokerCore {
  readonly settings: BrokerSettings;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly topics = new TopicMatcher<Group>();
  private readonly namedTopicGroups = new Map<string, Group>();
  private readonly privateTopicGroups = new Set<Group>();
  private readonly dlqs = new Map<string, DeadLetterQueue>();
  // Dirty groups, double-buffered with explicit counts (`length = 0` is a slow runtime call).
  private dirty: (Group | undefined)[] = [];
  private dirtyN = 0;
  private spare: (Group | undefined)[] = [];
  private scheduled = false;
  private microtaskDrains = 0;
  private immediate: ReturnType<typeof setImmediate> | undefined = undefined;
  private disposed = false;
  private readonly drainFn = (): void => {
    this.immediate = undefined;
    this.drain();
  };
  /** Clients whose reorder fault holds deliveries until the end of the current drain pass. */
  readonly reorderPending: { flush(): void }[] = [];
  // Event routing state for the forEachMatch callback (no closure per send).
  private evt: UnifiedEvent | undefined = undefined;
  private evtClient: BrokerClient | undefined = undefined;
  private evtMatched = 0;
  private readonly onTopicMatch = (g: Group): void => {
    this.evtMatched++;
    const env = this.evt as UnifiedEvent;
    if (g.queued >= this.settings.maxQueueLength) {
      (this.evtClient as BrokerClient).counters.droppedOverflow++;
      return;
    }
    this.enqueue(g, env, env.priority ?? NORMAL_PRIORITY, undefined);
  };

  constructor(settings: BrokerSettings) {
    this.settings = settings;
  }

  // ---------------------------------------------------------------- routing

  // Each returns the error to reject the send with, or undefined. The adapter
  // (BaseAdapter's dispatch) chooses which one an envelope takes.

  /**
   * A best-effort message: to the groups of its endpoint that have a
   * subscriber. Nobody listening: the send fails (the broker knows nobody got
   * it, and nothing keeps a best-effort message); a full group sheds it.
   */
  routeBestEffort(env: UnifiedMessage, client: BrokerClient): HubError | undefined {
    if (this.disposed) return closedError(client.name);
    const dest = env.destination;
    const ep = this.endpoints.get(dest);
    if (ep === undefined) {
      client.counters.droppedNoConsumer++;
      return noReceiver(client.name, dest);
    }
    const priority = env.priority;
    const list = ep.list;
    let reached = 0;
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as Group;
      if (g.members.length === 0) continue;
      reached++;
      if (g.queued >= this.settings.maxQueueLength) client.counters.droppedOverflow++;
      else {
        const d = this.enqueue(g, env, priority, undefined);
        if (list.length === 1 && client.copies) d.owned = true;
      }
    }
    if (reached === 0) {
      client.counters.droppedNoConsumer++;
      return noReceiver(client.name, dest);
    }
    return undefined;
  }

  /**
   * A message the broker keeps (at-least-once, exactly-once, ordered): to
   * every group of its endpoint, kept for a subscriber to come when there is
   * none; a full group refuses it (`HUB_OVERLOADED`), nothing is enqueued then.
   */
  routeMessage(env: UnifiedMessage, client: BrokerClient): HubError | undefined {
    if (this.disposed) return closedError(client.name);
    const dest = env.destination;
    let ep = this.endpoints.get(dest);
    const priority = env.priority;
    const key =
      env.deliveryGuarantee === 'ordered'
        ? (env.partitionKey ?? dest)
        : (undefined as string | undefined);
    if (ep === undefined || ep.list.length === 0) {
      ep ??= this.endpoint(dest);
      const g = this.addEndpointGroup(ep, dest);
      g.orphan = true;
    }
    const list = ep.list;
    const max = this.settings.maxQueueLength;
    for (let i = 0; i < list.length; i++) {
      const g = list[i] as Group;
      if (g.queued >= max) {
        return new HubError(
          ErrorCode.OVERLOADED,
          `[hub:${client.name}] send to "${dest}" rejected: consumer group "${g.name}" has ${g.queued} queued messages (maxQueueLength ${max})`,
        );
      }
    }
    for (let i = 0; i < list.length; i++) this.enqueue(list[i] as Group, env, priority, key);
    return undefined;
  }

  /** An event: to every group whose pattern matches its topic (none matching is counted). */
  routeEvent(env: UnifiedEvent, client: BrokerClient): HubError | undefined {
    if (this.disposed) return closedError(client.name);
    this.evt = env;
    this.evtClient = client;
    this.evtMatched = 0;
    try {
      this.topics.forEachMatch(env.topic, this.onTopicMatch);
    } finally {
      this.evt = undefined;
      this.evtClient = undefined;
    }
    if (this.evtMatched === 0) client.counters.eventsUnmatched++;
    return undefined;
  }

  private enqueue(
    g: Group,
    env: UnifiedMessage | UnifiedEvent,
    priority: number,
    key: string | undefined,
  ): MemoryDelivery {
    let d: MemoryDelivery;
    if (key !== undefined) {
      g.lanes ??= new Map();
      const lanes = g.lanes;
      const lane = lanes.get(key);
      if (lane !== undefined) {
        d = new MemoryDelivery(env, g, 1, priority, lane);
        lane.waiting.push(d);
        g.waiting++;
        return d;
      }
      const fresh = new Lane(key);
      lanes.set(key, fresh);
      d = new MemoryDelivery(env, g, 1, priority, fresh);
      g.ready.push(d, priority);
    } else {
      d = new MemoryDelivery(env, g, 1, priority, undefined);
      g.ready.push(d, priority);
    }
    if (!g.dirty) this.markDirty(g);
    return d;
  }

  // ---------------------------------------------------------- subscriptions

  private endpoint(address: string): Endpoint {
    let ep = this.endpoints.get(address);
    if (ep === undefined) {
      ep = new Endpoint(address);
      this.endpoints.set(address, ep);
    }
    return ep;
  }

  private addEndpointGroup(ep: Endpoint, name: string): Group {
    const g = new Group(this, 'endpoint', ep.address, name, false, this.settings.starvationLimit);
    ep.groups.set(name, g);
    ep.list = [...ep.groups.values()];
    return g;
  }

  /** Find or create the group a new subscription joins. Throws on a bad pattern. */
  joinGroup(kind: 'endpoint' | 'topic', address: string, group: string | undefined): Group {
    if (kind === 'endpoint') {
      const ep = this.endpoint(address);
      const name = group ?? address;
      let g = ep.groups.get(name);
      if (g === undefined) {
        // A backlog kept for "a consumer to come" goes to the first group that comes.
        const orphan = ep.list.find((x) => x.orphan && x.members.length === 0);
        if (orphan !== undefined) {
          ep.groups.delete(orphan.name);
          orphan.name = name;
          ep.groups.set(name, orphan);
          ep.list = [...ep.groups.values()];
          g = orphan;
        } else {
          g = this.addEndpointGroup(ep, name);
        }
      }
      g.orphan = false;
      return g;
    }
    if (group === undefined) {
      const g = new Group(this, 'topic', address, '', true, this.settings.starvationLimit);
      this.topics.add(address, g);
      this.privateTopicGroups.add(g);
      return g;
    }
    const id = `${address}\u0000${group}`;
    let g = this.namedTopicGroups.get(id);
    if (g === undefined) {
      g = new Group(this, 'topic', address, group, false, this.settings.starvationLimit);
      this.topics.add(address, g);
      this.namedTopicGroups.set(id, g);
    }
    return g;
  }

  addMember(
    g: Group,
    client: BrokerClient,
    deliver: DeliverFn,
    prefetch: number,
    maxDeliveries: number,
  ): GroupMember {
    const c = new GroupMember(g, client, deliver, prefetch, maxDeliveries);
    g.members = [...g.members, c];
    if (g.ready.length > 0) this.markDirty(g);
    return c;
  }

  /** Stop delivering to `c`; its unsettled deliveries go back to the front of the group. */
  removeMember(c: GroupMember): void {
    if (c.closed) return;
    c.closed = true;
    const g = c.group;
    g.members = g.members.filter((x) => x !== c);
    if (g.rr >= g.members.length) g.rr = 0;
    // Newest first, each to the front: the oldest ends up first again.
    let d = c.first;
    c.first = undefined;
    while (d !== undefined) {
      const next = d.next;
      d.state = DONE;
      d.prev = undefined;
      d.next = undefined;
      g.inflight--;
      if (!g.private_ && !g.removed) {
        g.ready.unshift(
          new MemoryDelivery(d.raw, g, d.attempt + 1, d.priority, d.lane),
          d.priority,
        );
      }
      d = next;
    }
    c.inflight = 0;
    if (g.private_) this.removeGroup(g);
    else if (g.ready.length > 0) this.markDirty(g);
  }

  private removeGroup(g: Group): void {
    if (g.removed) return;
    g.removed = true;
    g.ready.clear();
    g.lanes = undefined;
    g.waiting = 0;
    if (g.kind === 'topic') {
      this.topics.remove(g.address, g);
      if (g.private_) this.privateTopicGroups.delete(g);
      else this.namedTopicGroups.delete(`${g.address}\u0000${g.name}`);
    }
  }

  /** Pause or resume delivery to a consumer (its adapter was disconnected / reconnected). */
  setPaused(c: GroupMember, paused: boolean): void {
    c.limit = paused ? 0 : c.prefetch;
    if (!paused && c.group.ready.length > 0 && !c.closed) this.markDirty(c.group);
  }

  // --------------------------------------------------------------- settling

  /** ack (and the ack half of deadLetter): forget it, free the credit, advance its lane. */
  settle(d: MemoryDelivery, advanceLane: boolean): void {
    d.state = DONE;
    const c = d.member as GroupMember;
    unlink(c, d);
    c.inflight--;
    const g = d.group;
    g.inflight--;
    const lane = d.lane;
    if (advanceLane && lane !== undefined && !g.removed) {
      const next = lane.waiting.shift();
      if (next === undefined) g.lanes?.delete(lane.key);
      else {
        g.waiting--;
        g.ready.push(next, next.priority);
      }
    }
    if (g.ready.length > 0 && !g.dirty) this.markDirty(g);
  }

  nack(d: MemoryDelivery, delayMs: number): void {
    this.settle(d, false);
    const g = d.group;
    if (g.removed) return;
    const again = new MemoryDelivery(d.raw, g, d.attempt + 1, d.priority, d.lane);
    if (delayMs > 0) {
      g.delayed++;
      (d.member as GroupMember).client.delayRequeue(again, delayMs);
    } else {
      this.requeueFront(again, false);
    }
  }

  /** Put a redelivery back at the front of its priority level. */
  requeueFront(d: MemoryDelivery, wasDelayed: boolean): void {
    const g = d.group;
    if (wasDelayed) g.delayed--;
    if (g.removed || this.disposed) return;
    g.ready.unshift(d, d.priority);
    if (!g.dirty) this.markDirty(g);
  }

  deadLetter(d: MemoryDelivery, reason: string, attempts: number): void {
    const g = d.group;
    this.appendDeadLetter(g.address, {
      envelope: d.envelope as UnifiedMessage | UnifiedEvent,
      reason: String(reason),
      attempts,
      deadLetteredAt: Date.now(),
    });
    this.settle(d, true);
  }

  /**
   * The one consumer that would receive a best-effort message to `dest` now,
   * when it belongs to `client` and nothing is queued ahead of it: one group
   * with one consumer, flow control open. The hub's direct local path hands
   * such a message straight to that consumer's handler instead of queueing it.
   */
  soleMember(dest: string, client: BrokerClient): GroupMember | undefined {
    if (this.disposed) return undefined;
    const ep = this.endpoints.get(dest);
    if (ep === undefined || ep.list.length !== 1) return undefined;
    const g = ep.list[0] as Group;
    if (g.members.length !== 1 || g.ready.length !== 0 || g.waiting !== 0) return undefined;
    const c = g.members[0] as GroupMember;
    return c.client === client && c.inflight < c.limit && !c.closed ? c : undefined;
  }

  /** Dead-letter a message the broker never queued (delivered by the direct local path). */
  deadLetterDirect(
    address: string,
    envelope: UnifiedMessage,
    reason: string,
    attempts: number,
  ): void {
    this.appendDeadLetter(address, {
      envelope,
      reason: String(reason),
      attempts,
      deadLetteredAt: Date.now(),
    });
  }

  private appendDeadLetter(address: string, entry: DeadLetterEntry): void {
    let q = this.dlqs.get(address);
    if (q === undefined) {
      q = new DeadLetterQueue();
      this.dlqs.set(address, q);
    }
    q.entries.push(entry);
    while (q.entries.size > this.settings.maxDeadLetters) {
      q.entries.shift();
      q.dropped++;
    }
  }

  readDeadLetters(address: string, limit?: number): DeadLetterEntry[] {
    const q = this.dlqs.get(address);
    if (q === undefined) return [];
    const size = q.entries.size;
    const n = limit === undefined ? size : limit >= 0 ? Math.min(size, Math.floor(limit)) : 0;
    const out = new Array<DeadLetterEntry>(n);
    for (let i = 0; i < n; i++) out[i] = q.entries.at(i) as DeadLetterEntry;
    return out;
  }

  // --------------------------------------------------------------- dispatch

  private markDirty(g: Group): void {
    if (g.dirty) return;
    g.dirty = true;
    this.dirty[this.dirtyN++] = g;
    if (!this.scheduled) {
      this.scheduled = true;
      // A then() on a settled promise is a microtask like queueMicrotask, ~40 ns cheaper.
      RESOLVED.then(this.drainFn);
    }
  }

  private drain(): void {
    if (this.disposed) {
      this.scheduled = false;
      return;
    }
    let budget = this.settings.batchSize;
    // Double buffer: groups marked dirty while we dispatch (handlers send and
    // ack inline) land in the other list and get their turn in the next pass.
    while (budget > 0 && this.dirtyN > 0) {
      const list = this.dirty;
      const n = this.dirtyN;
      this.dirty = this.spare;
      this.dirtyN = 0;
      this.spare = list;
      for (let i = 0; i < n; i++) {
        const g = list[i] as Group;
        list[i] = undefined;
        if (budget <= 0) {
          // still marked dirty: carry it over untouched
          this.dirty[this.dirtyN++] = g;
          continue;
        }
        g.dirty = false;
        if (g.removed) continue;
        budget -= this.dispatch(g, budget);
        if (budget <= 0 && g.ready.length > 0 && !g.dirty) {
          g.dirty = true;
          this.dirty[this.dirtyN++] = g;
        }
      }
    }
    const pending = this.reorderPending;
    if (pending.length > 0) {
      const flushers = pending.splice(0, pending.length);
      for (const f of flushers) f.flush();
    }
    if (this.dirtyN === 0 || this.disposed) {
      this.scheduled = false;
      this.microtaskDrains = 0;
      return;
    }
    if (++this.microtaskDrains < MICROTASK_DRAINS_BEFORE_YIELD) {
      RESOLVED.then(this.drainFn);
    } else {
      this.microtaskDrains = 0;
      this.immediate = setImmediate(this.drainFn);
    }
  }

  /** Hand ready items of `g` to consumers with credit, round-robin; returns how many. */
  private dispatch(g: Group, budget: number): number {
    let n = 0;
    while (n < budget && g.ready.length > 0) {
      const c = pickMember(g);
      if (c === undefined) break;
      const d = g.ready.shift() as MemoryDelivery;
      d.state = INFLIGHT;
      d.member = c;
      link(c, d);
      c.inflight++;
      g.inflight++;
      const client = c.client;
      d.envelope = handOut(d, client.copies);
      n++;
      client.counters.delivered++;
      if (client.deliveryFaults) client.faultDeliver(d);
      else this.invoke(d);
      if (g.removed) break;
    }
    return n;
  }

  /** Call the consumer's deliver; a throwing deliver must not lose the message or kill the drain. */
  invoke(d: MemoryDelivery): void {
    const c = d.member as GroupMember;
    try {
      c.deliver(d);
    } catch (err) {
      c.client.report('deliver', err);
      if (d.state !== INFLIGHT) return;
      if (d.attempt >= c.maxDeliveries) {
        this.deadLetter(
          d,
          `deliver threw: ${err instanceof Error ? err.message : String(err)}`,
          d.attempt,
        );
      } else {
        this.nack(d, 0);
      }
    }
  }

  // ------------------------------------------------------------ inspection

  forEachGroup(fn: (g: Group) => void): void {
    for (const ep of this.endpoints.values()) for (const g of ep.list) fn(g);
    for (const g of this.namedTopicGroups.values()) fn(g);
    for (const g of this.privateTopicGroups) fn(g);
  }

  deadLetterCounts(): { total: number; dropped: number; byAddress: Record<string, number> } {
    let total = 0;
    let dropped = 0;
    const byAddress: Record<string, number> = {};
    for (const [address, q] of this.dlqs) {
      total += q.entries.size;
      dropped += q.dropped;
      byAddress[address] = q.entries.size;
    }
    return { total, dropped, byAddress };
  }

  stats(): Record<string, unknown> {
    const endpoints: Record<string, Record<string, GroupStats>> = {};
    for (const [address, ep] of this.endpoints) {
      const groups: Record<string, GroupStats> = {};
      for (const g of ep.list) groups[g.name] = groupStats(g);
      endpoints[address] = groups;
    }
    const topics: Record<string, { groups: Record<string, GroupStats>; subscribers: number }> = {};
    const topicEntry = (pattern: string) => {
      let t = topics[pattern];
      if (t === undefined) {
        t = { groups: {}, subscribers: 0 };
        topics[pattern] = t;
      }
      return t;
    };
    for (const g of this.namedTopicGroups.values())
      topicEntry(g.address).groups[g.name] = groupStats(g);
    for (const g of this.privateTopicGroups) {
      const t = topicEntry(g.address);
      t.subscribers++;
      t.groups[`(private ${t.subscribers})`] = groupStats(g);
    }
    const dl = this.deadLetterCounts();
    return {
      endpoints,
      topics,
      deadLetters: dl.byAddress,
      deadLettersDropped: dl.dropped,
    };
  }

  /** Forget everything (private broker of a closed adapter). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.immediate !== undefined) clearImmediate(this.immediate);
    this.immediate = undefined;
    this.forEachGroup((g) => {
      g.removed = true;
      g.ready.clear();
      g.lanes = undefined;
    });
    this.endpoints.clear();
    this.namedTopicGroups.clear();
    this.privateTopicGroups.clear();
    this.topics.clear();
    this.dirty = [];
    this.dirtyN = 0;
    this.spare = [];
    this.reorderPending.length = 0;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

function pickMember(g: Group): GroupMember | undefined {
  const cs = g.members;
  const n = cs.length;
  if (n === 1) {
    const c = cs[0] as GroupMember;
    return c.inflight < c.limit ? c : undefined;
  }
  let i = g.rr;
  for (let k = 0; k < n; k++) {
    if (i >= n) i = 0;
    const c = cs[i] as GroupMember;
    i++;
    if (c.inflight < c.limit) {
      g.rr = i >= n ? 0 : i;
      return c;
    }
  }
  return undefined;
}

/**
 * The envelope a handler gets. Handlers never see (or mutate) the sender's
 * object or another group's copy; by default (`copies`) not even its headers
 * or payload, as on the wire. A delivery that owns the sender-side snapshot
 * (the first delivery of a best-effort message to its only group) gets it as
 * it is: nobody else will read it.
 */
function handOut(d: MemoryDelivery, copies: boolean): Envelope {
  const raw = d.raw;
  if (d.owned) {
    if (raw.kind === 'message') raw.attempt = d.attempt;
    return raw;
  }
  const env = { ...raw };
  if (env.kind === 'message') {
    env.attempt = d.attempt;
    if (copies) {
      env.headers = { ...raw.headers };
      env.payload = clonePayload(env.payload);
    }
  } else if (copies) {
    env.headers = { ...raw.headers };
    env.data = clonePayload(env.data);
  }
  return env;
}

function groupStats(g: Group): GroupStats {
  return {
    consumers: g.members.length,
    queued: g.queued,
    inflight: g.inflight,
    delayed: g.delayed,
  };
}

/** A best-effort message to an endpoint nobody serves (see ErrorCode.NO_RECEIVER). */
function noReceiver(adapter: string, dest: string): HubError {
  return new HubError(
    ErrorCode.NO_RECEIVER,
    `[hub:${adapter}] send to "${dest}": no receiver (nobody serves this endpoint, and a best-effort message is not kept)`,
  );
}

function closedError(name: string): HubError {
  return new HubError(ErrorCode.CLOSED, `[hub:${name}] send failed: the broker is closed`);
}
