import type { RedisClient } from './connection.js';
import type { KeyLayout } from './keys.js';

/**
 * Best-effort messages to an endpoint over Pub/Sub, handled by ONE instance
 * of each consumer group, as on Streams.
 *
 * Pub/Sub has no consumer groups: a PUBLISH reaches every subscriber. So each
 * instance subscribed to an endpoint also listens on a channel of its own
 * (`memberChannel`) and registers it in the endpoint's member set (a sorted
 * set, score = expiry, refreshed every third of the TTL). A sender keeps a
 * cached view of the set (re-read in the background once a second) and
 * publishes each message to one member per group, round robin. A member that
 * died without leaving shows up as a PUBLISH that reached nobody: the sender
 * drops it from its view and tries the next member of that group, so a crash
 * loses nothing that another member could take (outside Redis Cluster, where
 * PUBLISH counts only one node's subscribers and a zero proves nothing).
 *
 * Nobody in the set (no subscriber yet, or plain clients): the message goes
 * to the endpoint's shared channel, as before.
 */

/** A sender's view of one endpoint: member channels per group, a round-robin cursor per group. */
export interface MemberView {
  groups: string[][];
  cursors: number[];
  /** Set by a timer once the view is older than VIEW_TTL_MS: no clock read per send. */
  stale: boolean;
  /** False until the first read of the set succeeded: sends wait for it instead of guessing. */
  loaded: boolean;
  loading: Promise<MemberView> | undefined;
}

interface Membership {
  readonly key: string;
  readonly entry: string;
  count: number;
}

const VIEW_TTL_MS = 1_000;
const MAX_VIEWS = 10_000;
const SEP = '\n';

export interface MembersHost {
  readonly commands: RedisClient;
  readonly keys: KeyLayout;
  readonly instanceId: string;
  readonly ttlMs: number;
  report(operation: string, err: unknown): void;
}

export class PubSubMembers {
  private readonly views = new Map<string, MemberView>();
  private readonly joined = new Map<string, Membership>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: MembersHost) {}

  // ------------------------------------------------------------- receiving

  /** This instance's own channel for `destination` within `group`. */
  channelFor(destination: string, group: string): string {
    return this.host.keys.memberChannel(destination, group, this.host.instanceId);
  }

  /** Register (or count one more subscription of) this instance as a member of `group`. */
  async join(destination: string, group: string): Promise<void> {
    const id = `${destination}${SEP}${group}`;
    const have = this.joined.get(id);
    if (have) {
      have.count++;
      return;
    }
    const m: Membership = {
      key: this.host.keys.pubsubMembers(destination),
      entry: `${group}${SEP}${this.channelFor(destination, group)}`,
      count: 1,
    };
    this.joined.set(id, m);
    try {
      await this.host.commands.zadd(m.key, Date.now() + this.host.ttlMs, m.entry);
    } catch (err) {
      this.joined.delete(id);
      throw err;
    }
    this.timer ??= this.startHeartbeat();
  }

  /** One subscription fewer; the last one takes this instance out of the set. */
  async leave(destination: string, group: string): Promise<void> {
    const id = `${destination}${SEP}${group}`;
    const m = this.joined.get(id);
    if (!m || --m.count > 0) return;
    this.joined.delete(id);
    await this.host.commands.zrem(m.key, m.entry);
  }

  private startHeartbeat(): NodeJS.Timeout {
    const t = setInterval(
      () => {
        const c = this.host.commands;
        const now = Date.now();
        for (const m of this.joined.values()) {
          c.zadd(m.key, now + this.host.ttlMs, m.entry).catch((err: unknown) =>
            this.host.report('pubsub membership', err),
          );
          // Members that stopped refreshing (a crashed process) age out.
          c.zremrangebyscore(m.key, '-inf', now).catch(() => {});
        }
      },
      Math.max(50, Math.floor(this.host.ttlMs / 3)),
    );
    t.unref();
    return t;
  }

  /** Stop refreshing (close): the entries of a cleanly closing instance are removed by leave(). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  // --------------------------------------------------------------- sending

  /** The cached view of `destination`, refreshed in the background when stale; undefined until first loaded. */
  view(destination: string): MemberView | undefined {
    const v = this.views.get(destination);
    if (v === undefined || !v.loaded) return undefined;
    if (v.stale && v.loading === undefined) {
      v.loading = this.load(destination, v);
      v.loading.catch(() => {});
    }
    return v;
  }

  /** Read the member set (first send to a destination waits for this once). */
  load(destination: string, into?: MemberView): Promise<MemberView> {
    const existing = into ?? this.views.get(destination);
    if (existing?.loading) return existing.loading;
    const view: MemberView = existing ?? {
      groups: [],
      cursors: [],
      stale: true,
      loaded: false,
      loading: undefined,
    };
    if (!existing) {
      if (this.views.size >= MAX_VIEWS) this.views.clear();
      this.views.set(destination, view);
    }
    const p = this.host.commands
      .zrangebyscore(this.host.keys.pubsubMembers(destination), Date.now(), '+inf')
      .then(
        (entries: string[]) => {
          const byGroup = new Map<string, string[]>();
          for (const e of entries) {
            const i = e.indexOf(SEP);
            if (i < 0) continue;
            const g = e.slice(0, i);
            const list = byGroup.get(g);
            if (list) list.push(e.slice(i + 1));
            else byGroup.set(g, [e.slice(i + 1)]);
          }
          const groups = [...byGroup.values()];
          // Keep cursors where they were so a refresh does not restart every group at member 0.
          view.cursors = groups.map((_, i) => view.cursors[i] ?? 0);
          view.groups = groups;
          view.loading = undefined;
          view.loaded = true;
          view.stale = false;
          staleAfter(view, VIEW_TTL_MS);
          return view;
        },
        (err: unknown) => {
          view.loading = undefined;
          // Retry on a send after a short pause, not on every send.
          view.stale = false;
          staleAfter(view, 100);
          throw err;
        },
      );
    view.loading = p;
    return p;
  }

  /** A member that a PUBLISH did not reach: out of this view until the next refresh. */
  drop(view: MemberView, group: number, channel: string): void {
    const list = view.groups[group];
    if (!list) return;
    const i = list.indexOf(channel);
    if (i >= 0) list.splice(i, 1);
  }
}

function staleAfter(view: MemberView, ms: number): void {
  setTimeout(() => {
    view.stale = true;
  }, ms).unref();
}

/** The next member channel of `group` in `view`, round robin; undefined when the group is empty. */
export function nextMember(view: MemberView, group: number): string | undefined {
  const list = view.groups[group]!;
  if (list.length === 0) return undefined;
  const i = view.cursors[group]! % list.length;
  view.cursors[group] = i + 1;
  return list[i];
}
