import { REPLY_FRAME_VERSION } from '@hub/protocol';
import type { RedisClient } from './connection.js';
import type { KeyLayout } from './keys.js';

/**
 * Best-effort messages to an endpoint over Pub/Sub, handled by ONE instance
 * of each consumer group, as on Streams.
 *
 * Pub/Sub has no consumer groups: a PUBLISH reaches every subscriber. So each
 * instance subscribed to an endpoint also listens on a channel of its own
 * (`memberChannel`) and registers it in the endpoint's listener set (a sorted
 * set of `[group, channel]` JSON entries, score = expiry, refreshed every
 * third of the TTL; the key itself expires with its last live entry; a
 * third element, the reply frame version, says the listener reads reply
 * frames, which older senders ignore, see `@hub/protocol`). A
 * sender keeps a cached view of the set and publishes each message to one
 * listener per group, round robin.
 *
 * The view is re-read in the background once it is a second old and used
 * as is up to two seconds; past that (a sender that was quiet), or when it
 * holds nobody, the send waits for a fresh read. A listener that died or
 * left shows up as a PUBLISH that reached nobody: the sender drops it and
 * tries the next listener of that group, re-reading the set once when the
 * group runs out, so a replaced or crashed listener loses nothing another
 * one could take (outside Redis Cluster, where PUBLISH counts only one
 * node's subscribers and a zero proves nothing).
 *
 * Nobody in a fresh read: the message goes to the endpoint's shared channel
 * (plain clients may listen there).
 */

/** One consumer group of an endpoint as a sender sees it. */
export interface MemberGroup {
  readonly name: string;
  /** Member channels; a channel that a PUBLISH did not reach is removed until the next read. */
  readonly channels: string[];
  /** The member channels whose listener reads reply frames (its entry says so). */
  readonly replyFrames: Set<string>;
  cursor: number;
}

/** A sender's view of one endpoint. */
export interface MemberView {
  groups: MemberGroup[];
  /** When the last read landed (performance.now()); only read once `stale` is set. */
  loadedAt: number;
  /** Set by a timer once the view is older than VIEW_TTL_MS: no clock read per send. */
  stale: boolean;
  loading: Promise<MemberView> | undefined;
}

interface Membership {
  readonly key: string;
  readonly entry: string;
  count: number;
  /** The first registration; later subscriptions of the same group wait for it. */
  ready: Promise<void>;
}

/**
 * Add or refresh our entry and keep the key alive at least as long as it:
 * never shorten the TTL another instance (maybe with a longer heartbeat) set.
 */
const REFRESH = `redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', KEYS[1]) < ttl then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1`;

/** A view this old is re-read in the background… */
const VIEW_TTL_MS = 1_000;
/** …and one this old is not used at all: the send waits for the read. */
const VIEW_MAX_AGE_MS = 2_000;
/** An empty view is re-read before a send unless it is this fresh. */
const EMPTY_VIEW_MAX_AGE_MS = 100;
const MAX_VIEWS = 10_000;
const noop = () => {};

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
  /** Entries whose ZREM failed (link down): retried by the heartbeat until gone. */
  private readonly leftBehind = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly host: MembersHost) {}

  // ------------------------------------------------------------- receiving

  /** This instance's own channel for `destination` within `group`. */
  channelFor(destination: string, group: string): string {
    return this.host.keys.memberChannel(destination, group, this.host.instanceId);
  }

  /** Register (or count one more subscription of) this instance as a listener of `group`. */
  async join(destination: string, group: string): Promise<void> {
    const id = JSON.stringify([destination, group]);
    const have = this.joined.get(id);
    if (have) {
      have.count++;
      try {
        await have.ready;
      } catch (err) {
        have.count--;
        throw err;
      }
      return;
    }
    const key = this.host.keys.pubsubMembers(destination);
    // The third element announces that this listener decodes reply frames (pubsub-router.ts).
    const entry = JSON.stringify([group, this.channelFor(destination, group), REPLY_FRAME_VERSION]);
    this.leftBehind.delete(`${key}\u0000${entry}`);
    const m: Membership = { key, entry, count: 1, ready: Promise.resolve() };
    m.ready = this.refresh(m, Date.now()).then(noop);
    this.joined.set(id, m);
    try {
      await m.ready;
    } catch (err) {
      if (this.joined.get(id) === m) this.joined.delete(id);
      throw err;
    }
    this.timer ??= this.startHeartbeat();
  }

  /** One subscription fewer; the last one takes this instance out of the set. */
  async leave(destination: string, group: string): Promise<void> {
    const id = JSON.stringify([destination, group]);
    const m = this.joined.get(id);
    if (!m || --m.count > 0) return;
    this.joined.delete(id);
    try {
      await this.host.commands.zrem(m.key, m.entry);
    } catch (err) {
      // Still listed while the link is down: the heartbeat keeps trying (unless we joined again).
      if (!this.joined.has(id)) this.leftBehind.set(`${m.key}\u0000${m.entry}`, m.key);
      throw err;
    }
  }

  /** Our entry with a new expiry; the key lives as long as its freshest entry. */
  private refresh(m: Membership, now: number): Promise<unknown> {
    const ttl = this.host.ttlMs;
    return this.host.commands.eval(REFRESH, 1, m.key, now + ttl, m.entry, ttl);
  }

  private startHeartbeat(): NodeJS.Timeout {
    const t = setInterval(
      () => {
        const now = Date.now();
        const c = this.host.commands;
        for (const m of this.joined.values()) {
          this.refresh(m, now).catch((err: unknown) => this.host.report('pubsub membership', err));
          // Listeners that stopped refreshing (a crashed process) age out.
          c.zremrangebyscore(m.key, '-inf', now).catch(noop);
        }
        const live = new Set<string>();
        for (const m of this.joined.values()) live.add(`${m.key}\u0000${m.entry}`);
        for (const [id, key] of this.leftBehind) {
          if (live.has(id)) {
            this.leftBehind.delete(id); // joined again meanwhile: the entry is ours to keep
            continue;
          }
          const entry = id.slice(key.length + 1);
          c.zrem(key, entry).then(
            () => this.leftBehind.delete(id),
            () => {},
          );
        }
      },
      Math.max(50, Math.floor(this.host.ttlMs / 3)),
    );
    t.unref();
    return t;
  }

  /** Stop refreshing (close); leave() removes the entries of a cleanly closing instance. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.leftBehind.clear();
  }

  // --------------------------------------------------------------- sending

  /**
   * The view of `destination` a send may use now, or undefined when the send
   * must wait for {@link load} (never read, too old, or empty and not fresh).
   */
  view(destination: string): MemberView | undefined {
    const v = this.views.get(destination);
    if (v === undefined || v.loadedAt === 0) return undefined;
    if (v.stale) {
      const age = performance.now() - v.loadedAt;
      if (age > VIEW_MAX_AGE_MS) return undefined;
      if (v.loading === undefined) this.load(destination).catch(() => {});
    }
    if (v.groups.length === 0 && performance.now() - v.loadedAt > EMPTY_VIEW_MAX_AGE_MS) {
      return undefined;
    }
    return v;
  }

  /** Read the listener set (at most one read per destination at a time). */
  load(destination: string): Promise<MemberView> {
    let view = this.views.get(destination);
    if (view?.loading) return view.loading;
    if (view === undefined) {
      if (this.views.size >= MAX_VIEWS) this.views.clear();
      view = { groups: [], loadedAt: 0, stale: true, loading: undefined };
      this.views.set(destination, view);
    }
    const v = view;
    const p = this.host.commands
      .zrangebyscore(this.host.keys.pubsubMembers(destination), Date.now(), '+inf')
      .then(
        (entries: string[]) => {
          v.groups = parseGroups(entries, v.groups);
          v.loadedAt = performance.now();
          v.loading = undefined;
          v.stale = false;
          setTimeout(() => {
            v.stale = true;
          }, VIEW_TTL_MS).unref();
          return v;
        },
        (err: unknown) => {
          v.loading = undefined;
          // No background re-read for a moment: a failing link must not cost a read per send.
          if (v.loadedAt > 0) {
            v.stale = false;
            setTimeout(() => {
              v.stale = true;
            }, 100).unref();
          }
          throw err;
        },
      );
    v.loading = p;
    return p;
  }
}

/** Group the set's entries; cursors carry over by group name so a re-read does not restart at member 0. */
function parseGroups(entries: readonly string[], previous: readonly MemberGroup[]): MemberGroup[] {
  const byName = new Map<string, MemberGroup>();
  for (const e of entries) {
    let group: unknown;
    let channel: unknown;
    let frames: unknown;
    try {
      [group, channel, frames] = JSON.parse(e) as unknown[];
    } catch {
      continue; // not ours
    }
    if (typeof group !== 'string' || typeof channel !== 'string') continue;
    let g = byName.get(group);
    if (g) g.channels.push(channel);
    else {
      g = { name: group, channels: [channel], replyFrames: new Set(), cursor: 0 };
      byName.set(group, g);
    }
    // A listener without the element (an older one) gets full envelopes only.
    if (typeof frames === 'number' && frames >= REPLY_FRAME_VERSION) g.replyFrames.add(channel);
  }
  for (const old of previous) {
    const g = byName.get(old.name);
    if (g) g.cursor = old.cursor;
  }
  return [...byName.values()];
}

/** The next member channel of `group`, round robin; undefined when the group is empty. */
export function nextMember(group: MemberGroup): string | undefined {
  const list = group.channels;
  if (list.length === 0) return undefined;
  const i = group.cursor % list.length;
  group.cursor = i + 1;
  return list[i];
}

/** A member that a PUBLISH did not reach: out of this group until the next read. */
export function dropMember(group: MemberGroup, channel: string): void {
  const i = group.channels.indexOf(channel);
  if (i >= 0) group.channels.splice(i, 1);
}
