import type { RedisClient } from './connection.js';
import { BatchScript } from './script.js';

/**
 * The PUBLISHes of one tick, as one script call (issue #4: "batch PUBLISH"):
 * the same messages to the same channels in the same order as a run of
 * PUBLISHes, each send getting its own receiver count back (the listener-set
 * logic needs it); one command and one reply instead of one per message. A lone
 * PUBLISH stays a plain PUBLISH. When the call fails, every send of the batch
 * fails with that error; the messages already published stay published, as
 * with a PUBLISH whose reply was lost.
 */
const SCRIPT = new BatchScript(`local out = {}
for i = 1, #ARGV, 2 do
  out[#out + 1] = redis.call('PUBLISH', ARGV[i], ARGV[i + 1])
end
return out`);

/** Messages per script call: bounds one reply and the time Redis spends in one script. */
export const MAX_PUBLISH_BATCH = 256;

interface Batch {
  /** Script arguments: (body slot), numkeys 0, then channel and message of each. */
  readonly args: string[];
  readonly resolves: Array<(receivers: number) => void>;
  readonly rejects: Array<(err: unknown) => void>;
}

export class PublishBatcher {
  private current: Batch | undefined;
  private queued: Batch[] = [];
  private scheduled = false;

  constructor(private readonly client: () => RedisClient | undefined) {}

  /** Queue one PUBLISH; resolves with the number of subscribers that received it. */
  add(channel: string, message: string): Promise<number> {
    let b = this.current;
    if (b === undefined || b.resolves.length >= MAX_PUBLISH_BATCH) {
      b = { args: ['', '0'], resolves: [], rejects: [] };
      this.current = b;
      this.queued.push(b);
      if (!this.scheduled) {
        this.scheduled = true;
        process.nextTick(this.flush);
      }
    }
    b.args.push(channel, message);
    const batch = b;
    return new Promise<number>((resolve, reject) => {
      batch.resolves.push(resolve);
      batch.rejects.push(reject);
    });
  }

  private readonly flush = (): void => {
    const batches = this.queued;
    this.queued = [];
    this.current = undefined;
    this.scheduled = false;
    const c = this.client();
    for (const b of batches) {
      if (c === undefined) {
        for (const reject of b.rejects) reject(new Error('the commands connection is closed'));
        continue;
      }
      try {
        this.run(c, b);
      } catch (err) {
        for (const reject of b.rejects) reject(err);
      }
    }
  };

  private run(c: RedisClient, b: Batch): void {
    const { args, resolves, rejects } = b;
    const fail = (err: unknown) => {
      for (const reject of rejects) reject(err);
    };
    if (resolves.length === 1) {
      c.publish(args[2]!, args[3]!).then(resolves[0]!, fail);
      return;
    }
    SCRIPT.run(c, args)
      .then((counts) => {
        if (!Array.isArray(counts) || counts.length !== resolves.length) {
          throw new Error(`batched PUBLISH returned ${String(counts).slice(0, 40)}`);
        }
        for (let i = 0; i < resolves.length; i++) resolves[i]!(Number(counts[i]));
      })
      .catch(fail);
  }
}
