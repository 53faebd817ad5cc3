import type { RedisClient } from './connection.js';
import { BatchScript } from './script.js';
import { ENTRY_VERSION } from './stream-entry.js';

/**
 * The XADDs of one tick to one stream, as one script call (issue #4: "batch
 * XADD"). Same entries, same layout (v, id, env), same order as a run of XADDs;
 * one command and one reply instead of one per message, and two arguments per
 * entry instead of eleven. A lone entry stays a plain XADD.
 *
 * All or nothing for the callers: when the call fails, every send of the batch
 * fails with that error (retryable or not, as for one XADD). Entries a failed
 * script had already added stay, as with an XADD whose reply was lost: the
 * hub's retry may add a second copy, which at-least-once allows and
 * exactly-once removes on the consuming side.
 */
const SCRIPT = new BatchScript(`local out = {}
for i = 2, #ARGV, 2 do
  out[#out + 1] = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'v', '${ENTRY_VERSION}', 'id', ARGV[i], 'env', ARGV[i + 1])
end
return out`);

/** Entries per script call: bounds one reply and the time Redis spends in one script. */
export const MAX_XADD_BATCH = 256;

type Done<T> = (value: T) => void;

interface Batch<T> {
  readonly key: string;
  /** Script arguments: (body slot), numkeys, key, maxlen, then id and env of each entry. */
  readonly args: string[];
  readonly resolves: Done<T>[];
  readonly rejects: Done<unknown>[];
}

export class XaddBatcher<T> {
  private open = new Map<string, Batch<T>>();
  private queued: Batch<T>[] = [];
  private scheduled = false;

  /**
   * @param client the commands connection at flush time
   * @param ok turns an entry id into the send's result (accounting included)
   * @param fail turns a failure into the error the send rejects with
   */
  constructor(
    private readonly client: () => RedisClient | undefined,
    private readonly maxLen: string,
    private readonly ok: (entryId: unknown) => T,
    private readonly fail: (err: unknown) => unknown,
  ) {}

  /** Queue one entry; resolves with `ok(entry id)` once Redis added it. */
  add(key: string, id: string, env: string): Promise<T> {
    let b = this.open.get(key);
    if (b === undefined || b.resolves.length >= MAX_XADD_BATCH) {
      b = { key, args: ['', '1', key, this.maxLen], resolves: [], rejects: [] };
      this.open.set(key, b);
      this.queued.push(b);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    }
    b.args.push(id, env);
    const batch = b;
    return new Promise<T>((resolve, reject) => {
      batch.resolves.push(resolve);
      batch.rejects.push(reject);
    });
  }

  private readonly flush = (): void => {
    const batches = this.queued;
    this.queued = [];
    this.open = new Map();
    this.scheduled = false;
    const c = this.client();
    for (const b of batches) {
      if (c === undefined) {
        this.rejectAll(b, new Error('the commands connection is closed'));
        continue;
      }
      try {
        this.run(c, b);
      } catch (err) {
        this.rejectAll(b, err);
      }
    }
  };

  private run(c: RedisClient, b: Batch<T>): void {
    const { args, resolves } = b;
    if (resolves.length === 1) {
      (
        c.call('XADD', [
          b.key,
          'MAXLEN',
          '~',
          this.maxLen,
          '*',
          'v',
          ENTRY_VERSION,
          'id',
          args[4]!,
          'env',
          args[5]!,
        ]) as Promise<unknown>
      ).then(
        (id) => resolves[0]!(this.ok(id)),
        (err: unknown) => this.rejectAll(b, err),
      );
      return;
    }
    SCRIPT.run(c, args)
      .then((ids) => {
        if (!Array.isArray(ids) || ids.length !== resolves.length) {
          throw new Error(`batched XADD returned ${String(ids).slice(0, 40)}`);
        }
        for (let i = 0; i < resolves.length; i++) resolves[i]!(this.ok(ids[i]));
      })
      .catch((err: unknown) => this.rejectAll(b, err));
  }

  private rejectAll(b: Batch<T>, err: unknown): void {
    for (const reject of b.rejects) reject(this.fail(err));
  }
}
