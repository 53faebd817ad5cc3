import { type RedisClient, withRedirectRetry } from './connection.js';
import { ENTRY_VERSION } from './stream-entry.js';

/**
 * Writes of one tick as one script call, for throughput (a round trip per
 * message was the largest cost of a send over raw ioredis): the
 * same commands, in the same order, as a run of single commands, with one
 * command and one reply instead of one per message. Each send still gets its
 * own reply (entry id, receiver count). A batch of one is the plain command.
 * On one server, after a tick that had at most one message (a request
 * waiting for its reply, an idle sender), the next tick's first message is
 * written at once as the plain command and the ones after it are batched:
 * a lone request or reply leaves without waiting for the end of the tick.
 *
 * The script goes by EVAL with its body, never by EVALSHA: a batch refused
 * with NOSCRIPT (a restart, a failover or SCRIPT FLUSH empties the cache)
 * would be resent after later writes had already run, out of order. The body
 * is ~250 bytes a call and Redis keeps the compiled script.
 *
 * A batch is bounded in entries and in bytes, and a large message goes alone:
 * what a script publishes is buffered for subscribers until the script ends
 * (a big batch would push them past their output-buffer limit and get them
 * disconnected), and one huge call would stall the connection long enough to
 * fail every send in it on a timeout.
 */
export const MAX_BATCH_ENTRIES = 256;
/** Bytes (UTF-16 code units) of message text per call, at most. */
export const MAX_BATCH_BYTES = 512 * 1024;
/** A message this large is written on its own, as the plain command. */
export const LONE_BYTES = 64 * 1024;

/**
 * Redis spends about a third of a batch's script time turning its arguments
 * into Lua strings (~9,000 instructions for a 750-byte envelope, measured
 * with callgrind); the loop itself keeps to locals and a
 * counter (`#out` walks the table: ~500 instructions more per entry). A
 * pipeline of plain XADDs costs Redis less but the client twice as much
 * (a command object and a promise per entry), so batches stay scripts.
 */
const XADD_SCRIPT = `local out, n, key, max = {}, 0, KEYS[1], ARGV[1]
for i = 2, #ARGV, 2 do
  n = n + 1
  out[n] = redis.call('XADD', key, 'MAXLEN', '~', max, '*', 'v', '${ENTRY_VERSION}', 'id', ARGV[i], 'env', ARGV[i + 1])
end
return out`;

const publishScript = (command: 'PUBLISH' | 'SPUBLISH') => `local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = redis.call('${command}', ARGV[i], ARGV[i + 1])
end
return out`;

const PUBLISH_SCRIPT = publishScript('PUBLISH');
/**
 * A script may SPUBLISH only to channels of a slot its node owns (Redis
 * refuses any other with "Script attempted to access a non local key"): a
 * batch is one channel, passed as the script's key, so it runs on that node.
 */
const SPUBLISH_SCRIPT = publishScript('SPUBLISH');

interface Batch<R> {
  readonly key: string;
  /** EVAL arguments: body, numkeys, keys and fixed arguments, then two per message. */
  readonly args: string[];
  readonly first: number;
  bytes: number;
  readonly resolves: Array<(r: R) => void>;
  readonly rejects: Array<(err: unknown) => void>;
}

interface Kind {
  readonly script: string;
  /** numkeys, keys and fixed arguments of the script call for `key`. */
  head(key: string): string[];
  /** The plain command for a batch of one. */
  single(c: RedisClient, key: string, a: string, b: string): Promise<unknown>;
}

class WriteBatcher<R> {
  private readonly open = new Map<string, Batch<R>>();
  private queued: Batch<R>[] = [];
  private scheduled = false;
  /** Messages added since the last flush (the one written at once included). */
  private added = 0;
  /**
   * The last tick had at most one message (one request in flight waiting for
   * its reply, an idle sender): the next tick's first message is written at
   * once instead of at the end of the tick.
   */
  private quiet = true;
  /** The client's reply is the send's result and its error the send's error (PUBLISH). */
  private readonly asIs: boolean;

  constructor(
    private readonly kind: Kind,
    private readonly client: () => RedisClient | undefined,
    /** The send's result from its reply (accounting included). */
    private readonly ok: (reply: unknown) => R,
    /** The error a send rejects with (accounting included). */
    private readonly fail: (err: unknown) => unknown,
    /**
     * One server (not a Cluster): no command is ever redirected, so nothing
     * is retried on MOVED/ASK, and a quiet tick's first message goes at once.
     */
    private readonly standalone: boolean,
  ) {
    this.asIs = ok === (Number as unknown) && fail === same;
  }

  /** Queue one message (`a`, `b`: id and envelope, or channel and text). */
  add(key: string, a: string, b: string): Promise<R> {
    this.added++;
    if (!this.scheduled) {
      this.scheduled = true;
      process.nextTick(this.flush);
      // The first message of a quiet tick is written now: at one request in
      // flight, the ~5 µs between here and the end of the tick (the rest of
      // the handler's bookkeeping, the unwinding of the socket read) were
      // spent before each hop's PUBLISH left. The messages after it in this
      // tick are batched behind it, in order, as before; a busy sender (more
      // than one message a tick) batches from the first message on.
      if (this.standalone && this.quiet) return this.writeOne(key, a, b);
    }
    const size = a.length + b.length;
    let batch = this.open.get(key);
    if (
      batch === undefined ||
      size >= LONE_BYTES ||
      batch.resolves.length >= MAX_BATCH_ENTRIES ||
      batch.bytes + size > MAX_BATCH_BYTES
    ) {
      const head = this.kind.head(key);
      batch = {
        key,
        args: ['', ...head],
        first: head.length + 1,
        bytes: 0,
        resolves: [],
        rejects: [],
      };
      this.queued.push(batch);
      // A large message closes its batch behind it: the next one starts a new batch.
      if (size >= LONE_BYTES) this.open.delete(key);
      else this.open.set(key, batch);
    }
    batch.args.push(a, b);
    batch.bytes += size;
    const target = batch;
    return new Promise<R>((resolve, reject) => {
      target.resolves.push(resolve);
      target.rejects.push(reject);
    });
  }

  /** One message as the plain command, now (one server only: no redirection to follow). */
  private writeOne(key: string, a: string, b: string): Promise<R> {
    const c = this.client();
    if (c === undefined) return Promise.reject(this.fail(closedError()));
    let reply: Promise<unknown>;
    try {
      reply = this.kind.single(c, key, a, b);
    } catch (err) {
      return Promise.reject(this.fail(err));
    }
    // PUBLISH: ioredis's own promise is the send's (no promise and no hop of ours).
    if (this.asIs) return reply as Promise<R>;
    return reply.then(this.ok, this.rethrow);
  }

  private readonly rethrow = (err: unknown): never => {
    throw this.fail(err);
  };

  private readonly flush = (): void => {
    const batches = this.queued;
    this.quiet = this.added <= 1;
    this.added = 0;
    this.queued = [];
    // Cleared, not replaced: a new Map per tick was ~600 bytes of garbage per send at one in flight.
    this.open.clear();
    this.scheduled = false;
    const c = this.client();
    for (const b of batches) {
      if (c === undefined) {
        this.rejectAll(b, closedError());
        continue;
      }
      const write = () =>
        b.resolves.length === 1
          ? this.kind.single(c, b.key, b.args[b.first]!, b.args[b.first + 1]!).then(one)
          : call(c, this.kind.script, b.args);
      // A redirection (Cluster: the slot moved, or is moving) means the call did
      // not run: the whole batch is sent again, in order, without a duplicate.
      // One server never redirects: no retry loop (and no async frame) around it.
      let replies: Promise<unknown>;
      try {
        replies = this.standalone ? write() : withRedirectRetry(write);
      } catch (err) {
        replies = Promise.reject(err);
      }
      replies.then(
        (r) => this.resolveAll(b, r),
        (err: unknown) => this.rejectAll(b, err),
      );
    }
  };

  private resolveAll(b: Batch<R>, replies: unknown): void {
    const n = b.resolves.length;
    if (!Array.isArray(replies) || replies.length !== n) {
      this.rejectAll(b, new Error(`batched write returned ${String(replies).slice(0, 40)}`));
      return;
    }
    const results: R[] = [];
    try {
      for (let i = 0; i < n; i++) results.push(this.ok(replies[i]));
    } catch (err) {
      this.rejectAll(b, err);
      return;
    }
    for (let i = 0; i < n; i++) b.resolves[i]!(results[i]!);
  }

  private rejectAll(b: Batch<R>, err: unknown): void {
    for (const reject of b.rejects) {
      let e: unknown;
      try {
        e = this.fail(err);
      } catch (thrown) {
        e = thrown;
      }
      reject(e);
    }
  }
}

const closedError = (): Error => new Error('the commands connection is closed');

/** The error as is (a batcher whose caller wraps and counts errors itself). */
export const same = (err: unknown): unknown => err;

const one = (reply: unknown): unknown[] => [reply];

function call(c: RedisClient, script: string, args: string[]): Promise<unknown> {
  args[0] = script;
  return c.call('EVAL', args) as Promise<unknown>;
}

/** XADDs of one tick to one stream; resolves with `ok(entry id)`. */
export function xaddBatcher<R>(
  client: () => RedisClient | undefined,
  maxLen: string,
  ok: (entryId: unknown) => R,
  fail: (err: unknown) => unknown,
  standalone: boolean,
): WriteBatcher<R> {
  return new WriteBatcher<R>(
    {
      script: XADD_SCRIPT,
      head: (key) => ['1', key, maxLen],
      single: (c, key, id, env) =>
        c.call('XADD', [key, 'MAXLEN', '~', maxLen, '*', 'v', ENTRY_VERSION, 'id', id, 'env', env]),
    },
    client,
    ok,
    fail,
    standalone,
  );
}

/**
 * PUBLISHes of one tick; resolves with the receiver count. On one node
 * (`perChannel` false), one batch for all channels. On a Cluster (`perChannel`), one batch per channel,
 * with the channel as the script's key: the batch goes to the node owning the
 * channel's slot, so the messages of one channel keep their order (a call
 * without a key would go to any node, each batch to another).
 *
 * `sharded` (a Cluster only): SPUBLISH instead, one batch per channel as
 * well; the owning node alone handles the message instead of forwarding it
 * to every master.
 */
export function publishBatcher(
  client: () => RedisClient | undefined,
  perChannel = false,
  sharded = false,
): WriteBatcher<number> {
  return new WriteBatcher<number>(
    sharded
      ? {
          script: SPUBLISH_SCRIPT,
          head: (channel) => ['1', channel],
          single: (c, _key, channel, text) => c.spublish(channel, text),
        }
      : {
          script: PUBLISH_SCRIPT,
          head: perChannel ? (channel) => ['1', channel] : () => ['0'],
          single: (c, _key, channel, text) => c.publish(channel, text),
        },
    client,
    Number,
    same,
    !perChannel,
  );
}

export type { WriteBatcher };
