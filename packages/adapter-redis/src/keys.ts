import type { Priority } from '@hub/protocol';

/**
 * Key layout. Every key of one endpoint carries the hash tag `{<destination>}`,
 * so its streams, consumer groups, leases and DLQ live in one Redis Cluster
 * slot: multi-stream XREADGROUP and the dead-letter script (XADD dlq, XACK) work there.
 */
export interface KeyLayout {
  readonly prefix: string;
  /** Pub/Sub channel for best-effort messages to `destination`. */
  channel(destination: string): string;
  /** Pub/Sub channel for events of `topic`. */
  eventChannel(topic: string): string;
  /** Glob over event channels that matches a superset of `pattern`. */
  eventPattern(pattern: string): string;
  /** Stream for one priority level (1..5). */
  priorityStream(destination: string, priority: Priority): string;
  /** Stream for one ordered partition. */
  partitionStream(destination: string, partition: number): string;
  /** Dead-letter stream. */
  dlq(destination: string): string;
  /** Lease that makes one consumer of `group` the only reader of an ordered partition. */
  lease(destination: string, group: string, partition: number): string;
  /** Live consumers of `group` (sorted set, score = expiry ms), to share ordered partitions fairly. */
  members(destination: string, group: string): string;
  /** Exactly-once dedup record. */
  dedup(id: string): string;
  /** Pub/Sub channel of one instance (`member`) of an endpoint's `group`, for best-effort messages. */
  memberChannel(destination: string, group: string, member: string): string;
  /** Instances listening for an endpoint's best-effort messages (sorted set of `group\nchannel`, score = expiry ms). */
  pubsubMembers(destination: string): string;
  /** Claim on one event by one instance of a topic `group` subscribed to `pattern` (SET NX PX). */
  eventClaim(group: string, pattern: string, id: string): string;
  /** Registry of durable topics (sorted set: topic, score = first kept ms). */
  topicRegistry(): string;
  /** Pub/Sub channel announcing a topic new to the registry (message = the topic). */
  topicNotices(): string;
  /** When each durable topic group first subscribed (hash: group → Redis time ms). */
  topicGroups(): string;
}

/**
 * The address whose stream keys hold a durable topic's events:
 * `<prefix>:{~ev:<topic>}:p<1..5>` and `…:o0`, its DLQ `…:dlq`. `~` is not
 * allowed in endpoint ids, so no endpoint's keys can collide with a topic's.
 */
export const topicAddress = (topic: string): string => `~ev:${topic}`;

/** Hash tags end at the first `}`; keep the tag well-formed whatever the destination holds. */
const tag = (destination: string) => `{${destination.replaceAll('}', '%7D')}}`;

export function keyLayout(prefix: string): KeyLayout {
  return {
    prefix,
    channel: (d) => `${prefix}:ch:${d}`,
    eventChannel: (t) => `${prefix}:ev:${t}`,
    eventPattern: (p) => `${escapeGlob(`${prefix}:ev:`)}${topicPatternToGlob(p)}`,
    priorityStream: (d, p) => `${prefix}:${tag(d)}:p${p}`,
    partitionStream: (d, n) => `${prefix}:${tag(d)}:o${n}`,
    dlq: (d) => `${prefix}:${tag(d)}:dlq`,
    lease: (d, g, n) => `${prefix}:${tag(d)}:lease:${g}:o${n}`,
    members: (d, g) => `${prefix}:${tag(d)}:members:${g}`,
    dedup: (id) => `${prefix}:dedup:${id}`,
    memberChannel: (d, g, m) => `${prefix}:chm:${m}:${g}:${d}`,
    pubsubMembers: (d) => `${prefix}:${tag(d)}:listeners`,
    eventClaim: (g, p, id) => `${prefix}:evclaim:${JSON.stringify([g, p])}:${id}`,
    topicRegistry: () => `${prefix}:topics`,
    topicNotices: () => `${prefix}:topics:new`,
    topicGroups: () => `${prefix}:topic-groups`,
  };
}

const escapeGlob = (s: string) => s.replace(/[\\*?[\]]/g, (c) => `\\${c}`);

/**
 * Translate a hub topic pattern (`*` = one dot-separated segment, `**` or `#`
 * = any number of segments) into a Redis glob that matches a SUPERSET of it:
 * Redis `*` also crosses dots, and a many-segment wildcard swallows its
 * neighbouring dots so it may match zero segments. The core filters exactly.
 */
export function topicPatternToGlob(pattern: string): string {
  let out = '';
  let afterMany = false;
  for (const [i, seg] of pattern.split('.').entries()) {
    if (seg === '**' || seg === '#') {
      if (!afterMany) out += '*';
      afterMany = true;
      continue;
    }
    if (i > 0 && !afterMany) out += '.';
    out += seg === '*' ? '*' : escapeGlob(seg);
    afterMany = false;
  }
  return out;
}

/** FNV-1a (32-bit) over the UTF-8 bytes: the partition function, documented for other languages. */
export function partitionOf(key: string, partitions: number): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % partitions;
}
