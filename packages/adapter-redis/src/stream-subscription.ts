/**
 * One endpoint subscription over Redis Streams, and its read loop. What it is
 * built from: the held entries (held-entries.ts), ack batching
 * (ack-batcher.ts), reclaim and idle holds (reclaim.ts), ordered-partition
 * leases (partition-leases.ts), the deliveries (stream-delivery.ts), what
 * operators see (stream-monitor.ts) and the Lua scripts (stream-scripts.ts).
 */
import type { AdapterContext, NackOptions, Subscription, SubscriptionSpec } from '@hub/core';
import { AdapterError } from '@hub/core';
import { type Envelope, ErrorCode, HubError, PRIORITY_LEVELS, type Priority } from '@hub/protocol';
import { Cluster } from 'ioredis';
import { AckBatcher } from './ack-batcher.js';
import { isAuthError, type RedisClient, withRedirectRetry } from './connection.js';
import { deadLetterEntry } from './dead-letter.js';
import {
  backlogged,
  type Held,
  HeldEntries,
  type PartitionState,
  readEntries,
} from './held-entries.js';
import type { KeyLayout } from './keys.js';
import { bounded, hardClose } from './link-close.js';
import type { ResolvedOptions } from './options.js';
import { PartitionLeases } from './partition-leases.js';
import { RankBuffer } from './rank-buffer.js';
import { autoclaim, RELEASED_IDLE_MS, setIdle } from './reclaim.js';
import { foreignReason, oversizeOf, type RefusalKind, refusal } from './refusal.js';
import { type Settler, StreamDelivery } from './stream-delivery.js';
import { decodeEntry, field, parseEntries, type RawEntry } from './stream-entry.js';
import { groupStats, pruneIdleConsumers, warnOnLag } from './stream-monitor.js';
import { DELETE_IDLE_CONSUMER, READ_SCRIPT } from './stream-scripts.js';

/** What a stream subscription needs from its adapter. */
export interface StreamHost {
  readonly ctx: AdapterContext;
  readonly commands: RedisClient;
  readonly keys: KeyLayout;
  readonly opts: ResolvedOptions;
  /** Report a background failure (rate-limited by the host). */
  report(operation: string, err: unknown): void;
  /** Run a backoff sleep; resolves early when `signal` aborts. */
  backoff(attempt: number, signal: AbortSignal): Promise<void>;
}

/** After an oversized entry came through a plain read, the scripted (size-checked) sweep is used this long. */
const CAREFUL_MS = 5_000;

const noop = () => {};
/** On a Cluster, the longest idle read while an ordered entry is being handled (see `blockingRead`). */
const BUSY_BLOCK_MS = 20;

const isNoGroup = (err: unknown) => err instanceof Error && err.message.includes('NOGROUP');

interface ReaderCommands {
  hubRead(numKeys: number, ...args: string[]): Promise<unknown>;
}

/**
 * One endpoint subscription over Redis Streams: a consumer in the endpoint's
 * group, reading on its own connection, with flow control, a reclaim loop for
 * abandoned entries, idle refresh for held ones, ordered-partition leases, and
 * DLQ writes. Invariants:
 * - never more than `prefetch` deliveries unsettled at the handler;
 * - an entry leaves the PEL only by XACK after ack or after its DLQ write;
 * - an ordered partition has at most one entry held, and a partition's pending
 *   entries are drained (oldest first) before new ones are read.
 */
export class StreamSubscription implements Subscription {
  readonly group: string;
  readonly consumer: string;
  readonly destination: string;
  private readonly priorityKeys: string[];
  private readonly partitionKeys: string[];
  private readonly partitions: PartitionState[];
  private readonly leases: PartitionLeases;
  private readonly held = new HeldEntries();
  private readonly buffer = new RankBuffer<Held>();
  private inflight = 0;
  private closed = false;
  private stopped = false;
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly nackTimers = new Set<NodeJS.Timeout>();
  private readonly acks: AckBatcher;
  private reclaiming = false;
  /** Index (in priorityKeys) of the one stream the last read found backlogged; undefined: sweep. */
  private hot: number | undefined;
  /** Until then, reads skip the plain (not size-checked) fast path: an oversized entry was seen. */
  private carefulUntil = 0;
  /** Counters surfaced by inspect(). */
  readonly counters = {
    delivered: 0,
    reclaimed: 0,
    trimmedWhilePending: 0,
    deadLettered: 0,
    rejected: 0,
  };

  constructor(
    readonly host: StreamHost,
    private readonly spec: SubscriptionSpec,
    private readonly conn: RedisClient,
    consumerName: string,
    /** Called once closing is done: the owner lets go of the reader connection. */
    private readonly onClosed: () => void = noop,
  ) {
    this.destination = spec.address;
    this.group = spec.group ?? spec.address;
    this.consumer = consumerName;
    this.acks = new AckBatcher(host.commands, this.group, (op, err) => host.report(op, err));
    const { keys, opts } = host;
    this.priorityKeys = PRIORITY_LEVELS.map((p) => keys.priorityStream(spec.address, p));
    this.partitionKeys = Array.from({ length: opts.partitions }, (_, n) =>
      keys.partitionStream(spec.address, n),
    );
    this.leases = new PartitionLeases(host, this.destination, this.group, this.consumer, {
      closed: () => this.closed,
      stopped: () => this.stopped,
      poke: () => this.poke(),
    });
    this.partitions = this.leases.partitions;
    // The reader connection is always ours (a duplicate), so defining a script on it is safe;
    // ioredis sends EVALSHA and falls back to EVAL after a broker restart flushed the cache.
    conn.defineCommand('hubRead', { lua: READ_SCRIPT });
    // A new link is a new client id on the server: learn it again before the next blocking read.
    if (!(conn instanceof Cluster)) conn.on('ready', () => (this.readerId = undefined));
  }

  /**
   * The reader's client id on a single Redis server, while it may be needed to cut a
   * blocking read short (CLIENT UNBLOCK): see `blockingRead`. Unused on a Cluster.
   */
  private readerId: number | undefined;
  /** A blocking XREADGROUP is outstanding on the reader connection. */
  private blocking = false;

  private get prefetch(): number {
    return Math.max(1, this.spec.prefetch);
  }

  /** Every stream this consumer reads. */
  get streamKeys(): string[] {
    return [...this.priorityKeys, ...this.partitionKeys];
  }

  /**
   * Where a group this subscription creates starts (`XGROUP CREATE … <id>`),
   * and whether an existing group is moved there (`XGROUP SETID`). Endpoints
   * keep the default: a new group reads from the beginning, so messages sent
   * before the first subscriber are delivered. Set before `start()`.
   */
  startAt: { readonly id: string; readonly reset: boolean } = { id: '0', reset: false };

  async start(): Promise<void> {
    await this.ensureGroups(this.startAt);
    const { opts } = this.host;
    const every = (ms: number, fn: () => Promise<void>) => {
      const t = setInterval(
        () => {
          fn().catch((err) => this.host.report('background', err));
        },
        Math.max(10, Math.floor(ms)),
      );
      t.unref();
      this.timers.push(t);
    };
    every(opts.claimIdleMs / 3, () => this.refreshHeld());
    every(opts.claimIdleMs / 2, () => this.reclaim());
    every(opts.partitionLeaseMs / 3, () => this.leases.maintain());
    await this.leases.maintain().catch((err) => this.host.report('lease', err));
    this.loop = this.run();
  }

  /** Create the group on every stream (recreated after a loss: from the beginning, nothing skipped). */
  private async ensureGroups(at = { id: '0', reset: false }): Promise<void> {
    const c = this.host.commands;
    await Promise.all(
      this.streamKeys.map((key) =>
        withRedirectRetry(() =>
          c.call('XGROUP', ['CREATE', key, this.group, at.id, 'MKSTREAM']),
        ).catch((err: unknown) => {
          if (err instanceof Error && err.message.startsWith('BUSYGROUP')) {
            if (at.reset)
              return withRedirectRetry(() => c.call('XGROUP', ['SETID', key, this.group, at.id]));
            return;
          }
          throw err;
        }),
      ),
    );
  }

  // ---------------------------------------------------------------- read loop

  private async run(): Promise<void> {
    let failures = 0;
    // One exit: closing, or stopped for good (a permission error, below).
    while (!this.closed && !this.stopped) {
      try {
        if (this.leases.excess > 0) await this.leases.releaseExcess();
        this.pump();
        if (this.inflight >= this.prefetch || this.buffer.length > 0) {
          await this.sleepUntilWoken();
          continue;
        }
        await this.readOnce(this.prefetch - this.inflight);
        failures = 0;
      } catch (err) {
        if (this.closed) continue;
        if (isNoGroup(err)) {
          // The broker lost the group (restart without persistence, stream deleted): recreate it.
          this.host.ctx.logger.warn('[hub:redis] consumer group missing, recreating', {
            destination: this.destination,
            group: this.group,
          });
          await this.ensureGroups().catch((e) => this.host.report('XGROUP CREATE', e));
          continue;
        }
        if (isAuthError(err)) {
          // Permissions do not fix themselves: report once and stop, do not spin.
          this.stopped = true;
          this.host.report(
            `XREADGROUP ${this.destination}`,
            new AdapterError('redis', `XREADGROUP failed: ${(err as Error).message}`, {
              code: ErrorCode.AUTH_FAILED,
              retryable: false,
              cause: err,
            }),
          );
          continue;
        }
        failures++;
        if (failures === 1) this.host.report(`XREADGROUP ${this.destination}`, err);
        // A lost reply may have left entries in our PEL: ordered partitions re-check theirs.
        for (const p of this.partitions) if (p.leased) p.draining = true;
        this.hot = undefined;
        await this.host.backoff(failures, this.abort.signal);
      }
    }
  }

  private sleepUntilWoken(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }

  /** Read at most `credit` entries, highest priority first; blocks (bounded) only when idle. */
  private async readOnce(credit: number): Promise<void> {
    let got = 0;
    // Ordered partitions: drain pending first, then one new entry per idle partition.
    const fresh: number[] = [];
    for (let n = 0; n < this.partitions.length && got < credit; n++) {
      const p = this.partitions[n]!;
      if (!p.leased || p.busy) continue;
      if (p.draining) {
        const claimed = await autoclaim(this, this.partitionKeys[n]!, 0, 1);
        if (claimed.length === 0) p.draining = false;
        else got += this.accept(this.partitionKeys[n]!, claimed, n);
        continue;
      }
      if (fresh.length < credit - got) fresh.push(n);
    }
    if (this.closed || got >= credit) return;
    const want = credit - got;
    if (this.hot !== undefined && Date.now() >= this.carefulUntil) {
      const n = await this.readHot(this.hot, want, fresh);
      if (n > 0 || this.closed) return;
    }
    const sweep = [...fresh.map((n) => this.partitionKeys[n]!), ...this.priorityKeys];
    const reply = await (this.conn as unknown as ReaderCommands).hubRead(
      sweep.length,
      ...sweep,
      this.group,
      this.consumer,
      String(want),
      String(fresh.length),
      String(this.host.opts.maxEntryBytes),
    );
    this.hot = backlogged(reply, this.priorityKeys, want);
    got += this.acceptRead(reply);
    if (got > 0 || this.closed) return;
    // Idle: one bounded blocking read over everything we may read. COUNT 1 per
    // stream; the few extra entries wait in the local buffer (still refreshed).
    const idle = this.partitions
      .map((p, n) => (p.leased && !p.busy && !p.draining ? n : -1))
      .filter((n) => n >= 0)
      .map((n) => this.partitionKeys[n]!);
    const keys = [...this.priorityKeys, ...idle];
    this.acceptRead(await this.blockingRead(keys));
  }

  /**
   * The idle read. An ordered partition whose entry is still being handled is not
   * in it (nothing may pass that entry); when the handler settles, the partition's
   * next entry must not wait out BLOCK, or a key whose handler does any I/O would
   * move one entry per `blockMs`. So while a partition is busy, the settlement cuts
   * the read short: CLIENT UNBLOCK from the command connection on a single server;
   * on a Cluster (where the reader's node connection is not ours to address) the
   * read blocks at most BUSY_BLOCK_MS instead.
   */
  private async blockingRead(keys: string[]): Promise<unknown> {
    const busy = this.partitions.some((p) => p.leased && p.busy);
    let block = this.host.opts.blockMs;
    if (busy) {
      if (this.conn instanceof Cluster) block = Math.min(block, BUSY_BLOCK_MS);
      else if (this.readerId === undefined) {
        this.readerId = Number(await this.conn.call('CLIENT', 'ID'));
        // It may have settled during that round trip.
        if (!this.partitions.some((p) => p.leased && p.busy)) block = 1;
      }
    }
    this.blocking = true;
    try {
      return await this.conn.call('XREADGROUP', [
        'GROUP',
        this.group,
        this.consumer,
        'COUNT',
        '1',
        'BLOCK',
        String(block),
        'STREAMS',
        ...keys,
        ...keys.map(() => '>'),
      ]);
    } finally {
      this.blocking = false;
    }
  }

  /** A busy ordered partition just settled: end the outstanding blocking read, if any. */
  private unblock(): void {
    const id = this.readerId;
    if (!this.blocking || id === undefined || this.closed) return;
    this.blocking = false;
    // TIMEOUT mode: the read returns as if BLOCK ran out. One that already returned
    // makes this a no-op, or at worst ends the next idle read early: harmless.
    this.host.commands
      .call('CLIENT', 'UNBLOCK', String(id))
      .catch((err) => this.host.report('CLIENT UNBLOCK', err));
  }

  /**
   * Fast read while one priority stream has a backlog: plain XREADGROUP (no
   * script, whose reply conversion costs Redis ~3 µs per entry) over that
   * stream and every higher one, plus COUNT 1 over the idle ordered partitions,
   * in one round trip. Entries that arrived meanwhile in a higher stream or a
   * partition may take the read a little past the credit; they wait in the
   * local buffer (refreshed like every held entry) and are handed best rank
   * first, and the handler never sees more than `prefetch`. Any other shape of
   * reply sends the next read back to the exact scripted sweep.
   */
  private async readHot(hot: number, want: number, fresh: number[]): Promise<number> {
    const { group, consumer } = this;
    const keys = this.priorityKeys.slice(0, hot + 1);
    // One pipeline, one write: a syscall on loopback costs as much as handling several entries.
    const pipe = this.conn.pipeline();
    // The acks of the entries just handled ride along (XACK first, so a reply lost with them
    // is only a duplicate later); a failure puts them back for the command connection.
    const acks = this.acks.takeForRead();
    if (acks) for (const [key, ids] of acks) pipe.call('XACK', key, group, ...ids);
    if (fresh.length > 0) {
      const parts = fresh.map((n) => this.partitionKeys[n]!);
      pipe.call(
        'XREADGROUP',
        'GROUP',
        group,
        consumer,
        'COUNT',
        '1',
        'STREAMS',
        ...parts,
        ...parts.map(() => '>'),
      );
    }
    pipe.call(
      'XREADGROUP',
      'GROUP',
      group,
      consumer,
      'COUNT',
      String(want),
      'STREAMS',
      ...keys,
      ...keys.map(() => '>'),
    );
    this.hot = undefined;
    const sent = pipe.exec();
    const carried = acks ? this.acks.carriedBy(sent) : undefined;
    let results: Array<[Error | null, unknown]>;
    try {
      results = (await sent) ?? [];
    } catch (err) {
      if (acks) for (const [key, ids] of acks) void this.acks.add(key, ids);
      throw err;
    } finally {
      if (carried) this.acks.landed(carried);
    }
    let i0 = 0;
    if (acks) {
      for (const [key, ids] of acks) {
        const err = results[i0++]?.[0];
        if (err) {
          this.host.report('XACK', err);
          void this.acks.add(key, ids);
        }
      }
    }
    // Every reply is taken even when another failed: the entries it carries are in our PEL already.
    let n = 0;
    let failure: unknown;
    for (let i = i0; i < results.length; i++) {
      const [err, value] = results[i]!;
      if (err) {
        failure ??= err;
        continue;
      }
      if (i === results.length - 1) this.hot = backlogged(value, this.priorityKeys, want);
      n += this.acceptRead(value);
    }
    if (failure !== undefined) {
      this.hot = undefined;
      throw failure;
    }
    return n;
  }

  /** Take an XREADGROUP-shaped reply (first deliveries: attempt 1) without intermediate copies. */
  private acceptRead(reply: unknown): number {
    if (!Array.isArray(reply)) return 0;
    let n = 0;
    for (const s of reply) {
      if (!Array.isArray(s) || !Array.isArray(s[1])) continue;
      const key = String(s[0]);
      const part = this.partitionKeys.indexOf(key);
      n += this.accept(key, readEntries(s[1]), part >= 0 ? part : undefined);
    }
    return n;
  }

  /** Take entries into the local buffer. After close they are released at once. */
  private accept(
    key: string,
    entries: ReadonlyArray<RawEntry & { attempt?: number }>,
    partition: number | undefined,
  ): number {
    let n = 0;
    const rank =
      partition === undefined
        ? this.priorityKeys.indexOf(key)
        : this.priorityKeys.length + partition;
    const max = this.host.opts.maxEntryBytes;
    for (const e of entries) {
      if (this.held.has(key, e.id)) continue;
      const h: Held = {
        key,
        id: e.id,
        rank,
        partition,
        fields: e.fields,
        attempt: e.attempt ?? 1,
        state: 'buffered',
      };
      const size = oversizeOf(e.fields, max);
      if (size !== undefined) {
        // Refused by its length, unparsed; only the (short) id is kept, the body is let go now.
        h.oversize = size;
        const id = field(e.fields, 'id');
        h.fields = id !== undefined && id.length <= 256 ? ['id', id] : [];
        // Plain reads return whole bodies: stay on the size-checked sweep for a while.
        this.hot = undefined;
        this.carefulUntil = Date.now() + CAREFUL_MS;
      }
      this.held.add(h);
      this.buffer.push(h);
      if (partition !== undefined) this.partitions[partition]!.busy = true;
      n++;
    }
    if (this.closed) {
      void this.releaseAll();
      return n;
    }
    this.pump();
    return n;
  }

  /** Hand buffered entries to the handler while credit lasts, best rank first. */
  private pump(): void {
    while (!this.closed && this.inflight < this.prefetch && this.buffer.length > 0) {
      this.hand(this.buffer.shift()!);
    }
  }

  private hand(h: Held): void {
    if (h.oversize !== undefined) {
      const max = this.host.opts.maxEntryBytes;
      void this.refuse(
        h,
        'oversize',
        new HubError(
          ErrorCode.INVALID_MESSAGE,
          `entry body of ${h.oversize} bytes is over the limit of ${max} bytes (maxEntryBytes)`,
        ),
      );
      return;
    }
    let envelope: Envelope;
    try {
      envelope = decodeEntry(h.fields);
    } catch (err) {
      void this.refuse(h, 'undecodable', err as Error);
      return;
    }
    const foreign = foreignReason(envelope, this.spec, 'the stream');
    if (foreign !== undefined) {
      void this.refuse(h, 'foreign', new HubError(ErrorCode.INVALID_MESSAGE, foreign), envelope);
      return;
    }
    h.state = 'inflight';
    this.inflight++;
    this.counters.delivered++;
    // The decoded envelope is ours alone: set the attempt in place instead of copying it.
    if (envelope.kind === 'message' && envelope.attempt !== h.attempt) {
      (envelope as { attempt: number }).attempt = h.attempt;
    }
    const delivery = new StreamDelivery(this.settler, h, envelope);
    try {
      this.spec.deliver(delivery);
    } catch (err) {
      // A throwing deliver must not stall the stream: give the entry back.
      this.host.report('deliver', err);
      if (!delivery.settled) {
        delivery.settled = true;
        this.nack(h);
      }
    }
  }

  /** Built once per consumer: deliveries share it instead of carrying four closures each. */
  private readonly settler: Settler = {
    ack: (h) => this.ack(h),
    nack: (h, o) => this.nack(h, o),
    deadLetter: (h, reason, envelope, attempts) => this.deadLetter(h, reason, envelope, attempts),
    twice: (what, id) =>
      this.host.ctx.logger.warn(`[hub:redis] ${what} ignored: delivery already settled`, { id }),
  };

  // --------------------------------------------------------------- settlement

  /** An entry left pending on an ordered partition: read the partition's pending entries before new ones. */
  private holdPartition(h: Held): void {
    if (h.partition !== undefined) this.partitions[h.partition]!.draining = true;
  }

  private forget(h: Held): void {
    if (!this.held.delete(h)) return;
    if (h.state === 'inflight' || h.state === 'waiting') this.inflight--;
    if (h.partition !== undefined) {
      this.partitions[h.partition]!.busy = false;
      this.unblock();
    }
    this.poke();
  }

  private ack(h: Held): Promise<void> {
    this.forget(h);
    return this.acks.add(h.key, h.id);
  }

  private nack(h: Held, o?: NackOptions): void {
    h.state = 'waiting';
    const redeliver = async () => {
      if (this.closed || !this.held.holds(h)) return;
      try {
        // XCLAIM (not JUSTID) raises the delivery count in Redis, so the attempt
        // number other consumers see agrees with ours.
        const reply = await this.host.commands.call('XCLAIM', [
          h.key,
          this.group,
          this.consumer,
          '0',
          h.id,
        ]);
        const [entry] = parseEntries(reply);
        if (!entry) {
          this.counters.trimmedWhilePending++;
          this.host.ctx.logger.warn('[hub:redis] nacked entry was trimmed before redelivery', {
            stream: h.key,
            entryId: h.id,
          });
          this.forget(h);
          return;
        }
        if (this.closed) return;
        this.inflight--;
        h.attempt++;
        h.fields = entry.fields;
        this.hand(h);
      } catch (err) {
        // Leave it pending; the reclaim loop (ours or another consumer's) takes it
        // later, or, on an ordered partition, the partition re-reads it first.
        this.host.report('XCLAIM', err);
        this.holdPartition(h);
        this.forget(h);
      }
    };
    const delay = Math.max(0, o?.delayMs ?? 0);
    if (delay === 0) {
      void redeliver();
      return;
    }
    const t = setTimeout(() => {
      this.nackTimers.delete(t);
      void redeliver();
    }, delay);
    this.nackTimers.add(t);
  }

  private async deadLetter(
    h: Held,
    reason: string,
    envelope: Envelope | undefined,
    // The core retries in process, so its count can exceed the Redis delivery count.
    attempts?: number,
    /** Not a hub message of ours: keep a capped copy of the raw body. */
    raw = false,
  ): Promise<void> {
    const { keys, opts, commands } = this.host;
    const fields = [
      'v',
      '1',
      'id',
      envelope?.id ?? field(h.fields, 'id') ?? '',
      'reason',
      reason,
      'attempts',
      String(Math.max(attempts ?? 0, h.attempt)),
      'at',
      String(Date.now()),
      'stream',
      h.key,
      'entry',
      h.id,
      'group',
      this.group,
    ];
    try {
      // One script, same slot (same hash tag): the XACK runs only when the DLQ write succeeded.
      await deadLetterEntry(commands, {
        dlq: keys.dlq(this.destination),
        stream: h.key,
        group: this.group,
        entryId: h.id,
        maxLen: opts.maxLen,
        rawCap: raw ? opts.deadLetterRawMaxBytes : undefined,
        fallbackEnv: raw ? '' : (field(h.fields, 'env') ?? ''),
        fields,
      });
      this.counters.deadLettered++;
    } catch (err) {
      // Still pending, so it comes back (reclaim) and is dead-lettered again then.
      // On an ordered partition nothing may pass it: re-read the partition's
      // pending entries first (as a new lease holder does).
      this.holdPartition(h);
      this.host.report(`dead-letter ${this.destination}`, err);
      throw err;
    } finally {
      this.forget(h);
    }
  }

  /**
   * An entry that is not ours to handle (undecodable, oversized, foreign): to
   * the DLQ with the reason (a capped copy of its raw bytes), acked, counted as
   * rejected and passed to `reject`; the stream moves on. When the DLQ write
   * fails it stays pending (reported) and is refused again when it comes back.
   */
  private async refuse(h: Held, kind: RefusalKind, err: Error, envelope?: Envelope): Promise<void> {
    const id = envelope?.id ?? field(h.fields, 'id');
    try {
      // A valid (foreign) envelope is kept whole, so readDeadLetters shows it.
      await this.deadLetter(
        h,
        `${kind}: ${err.message}`,
        envelope,
        undefined,
        envelope === undefined,
      );
    } catch {
      return; // reported by deadLetter; still pending, refused again when it comes back
    }
    this.counters.rejected++;
    try {
      this.spec.reject(refusal(kind, err, `stream ${h.key} entry ${h.id}`, id), h.fields);
    } catch {
      // a faulty reject callback must not stop the stream
    }
  }

  // ------------------------------------------------------------ background

  /** Take over entries abandoned by dead consumers (idle past claimIdleMs), within free credit. */
  private async reclaim(): Promise<void> {
    if (this.closed || this.stopped || this.reclaiming) return;
    this.reclaiming = true;
    try {
      for (const key of this.priorityKeys) {
        const credit = this.prefetch - this.inflight - this.buffer.length;
        if (credit <= 0 || this.closed) return;
        const claimed = await autoclaim(this, key, this.host.opts.claimIdleMs, credit);
        if (claimed.length > 0) {
          this.counters.reclaimed += claimed.length;
          this.accept(key, claimed, undefined);
        }
      }
    } finally {
      this.reclaiming = false;
    }
  }

  /** Keep held entries' idle time low so no other consumer reclaims them while we work. */
  private async refreshHeld(): Promise<void> {
    if (this.closed || this.held.size === 0) return;
    await setIdle(this, this.held.values(), 0);
  }

  private async releaseAll(): Promise<void> {
    const entries = this.held.values();
    this.held.clear();
    this.buffer.clear();
    if (entries.length > 0) await setIdle(this, entries, RELEASED_IDLE_MS);
  }

  // ---------------------------------------------------------------- inspect

  async inspect(): Promise<Record<string, unknown>> {
    const stats = await groupStats(this.host, this.streamKeys, this.group, this.destination);
    return {
      group: this.group,
      consumer: this.consumer,
      ...stats,
      unsettled: this.inflight,
      buffered: this.buffer.length,
      leasedPartitions: this.partitions.filter((p) => p.leased).length,
      stopped: this.stopped,
      ...this.counters,
    };
  }

  /** Warn when a stream's group lag nears the MAXLEN cap, then drop consumers crashed instances left. */
  async checkLag(): Promise<void> {
    await warnOnLag(this.host, this.streamKeys, this.group);
    await pruneIdleConsumers(
      this.host,
      this.streamKeys,
      this.group,
      this.consumer,
      () => this.closed,
    );
  }

  // ------------------------------------------------------------------ close

  close(): Promise<void> {
    return this.closing();
  }

  private closePromise: Promise<void> | undefined;
  private closing(): Promise<void> {
    this.closePromise ??= (async () => {
      this.closed = true;
      this.abort.abort();
      for (const t of this.timers) clearInterval(t);
      for (const t of this.nackTimers) clearTimeout(t);
      this.nackTimers.clear();
      this.poke();
      // Acks riding on a (non-blocking) read must land before the link is cut.
      const carrying = this.acks.carrying;
      if (carrying) await bounded(carrying, this.host.opts.commandTimeoutMs).catch(noop);
      // Fail the pending blocking read now instead of waiting out BLOCK.
      hardClose(this.conn);
      const { commands: c, keys, opts } = this.host;
      // Every step is bounded: close must return even when the link is dead.
      const limit = opts.commandTimeoutMs + opts.blockMs;
      // The read loop and the ack flush report their own failures.
      await bounded((this.loop ?? Promise.resolve()).catch(noop), limit);
      await bounded((this.acks.flushing ?? Promise.resolve()).catch(noop), limit);
      // Unsettled entries go back at once (idle time maxed) instead of after claimIdleMs.
      await bounded(this.releaseAll(), limit).catch((err) => this.host.report('release', err));
      await bounded(
        Promise.all([
          c.zrem(keys.members(this.destination, this.group), this.consumer),
          ...this.leases.releaseHeld(),
        ]),
        limit,
      ).catch((err) => this.host.report('lease release', err));
      // Restarts and autoscaling would otherwise leave one dead consumer per instance
      // in every stream's group; one still owning entries stays until they are reclaimed.
      await bounded(
        Promise.all(
          this.streamKeys.map((key) =>
            c.eval(DELETE_IDLE_CONSUMER, 1, key, this.group, this.consumer),
          ),
        ),
        limit,
      ).catch((err) => this.host.report('consumer cleanup', err));
      this.inflight = 0;
      this.onClosed();
    })();
    return this.closePromise;
  }
}

export type { Priority };
