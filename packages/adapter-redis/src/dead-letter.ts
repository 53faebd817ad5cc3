import type { RedisClient } from './connection.js';

/**
 * Moves one pending entry to the DLQ and acks it, in one script: the XADD runs
 * first, and when it fails (the DLQ key holds another type, a permission is
 * missing, memory is full) the script stops there, so the XACK never runs and
 * the entry stays pending, to be redelivered later. (A MULTI would not do:
 * Redis runs the rest of a transaction after a command fails at run time.)
 *
 * The body is copied from the stream itself, inside Redis, so the client never
 * sends it back: the bytes are exact whatever they hold (invalid UTF-8
 * included). In `raw` mode (entries that are not ours to handle) the copy is
 * capped: `env` (or, for an entry without one, every original field as
 * `raw.<name>`) keeps at most ARGV[4] bytes, `size` records the original body
 * size and `truncated` is `1` when something was cut.
 *
 * KEYS[1] = DLQ, KEYS[2] = source stream.
 * ARGV[1] = MAXLEN of the DLQ, ARGV[2] = group, ARGV[3] = entry id,
 * ARGV[4] = byte cap of the raw copy ('' = copy `env` whole), ARGV[5] = the
 * `env` to keep when the entry is gone (trimmed by MAXLEN while pending) and
 * `env` is copied whole, ARGV[6..] = the DLQ entry's own field/value pairs.
 * Returns the XACK count.
 */
const DEAD_LETTER_SCRIPT = `
local out = {}
for i = 6, #ARGV do out[#out + 1] = ARGV[i] end
local e = redis.call('XRANGE', KEYS[2], ARGV[3], ARGV[3])
local body = (e[1] and e[1][2]) or {}
local env
local size = 0
for i = 1, #body, 2 do
  size = size + #body[i] + #(body[i + 1] or '')
  if env == nil and body[i] == 'env' then env = body[i + 1] end
end
if ARGV[4] == '' then
  out[#out + 1] = 'env'
  out[#out + 1] = env or ARGV[5]
else
  local budget = tonumber(ARGV[4])
  local cut = false
  local function take(s)
    if #s > budget then
      s = string.sub(s, 1, budget)
      cut = true
    end
    budget = budget - #s
    return s
  end
  out[#out + 1] = 'env'
  if env ~= nil then
    out[#out + 1] = take(env)
  else
    out[#out + 1] = ''
    for i = 1, #body, 2 do
      -- (bounded in count too: unpack below has a limited stack)
      if budget <= 0 or #out > 2000 then
        cut = true
        break
      end
      out[#out + 1] = 'raw.' .. take(body[i])
      out[#out + 1] = take(body[i + 1] or '')
    end
  end
  out[#out + 1] = 'size'
  out[#out + 1] = tostring(size)
  if cut then
    out[#out + 1] = 'truncated'
    out[#out + 1] = '1'
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(out))
return redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])`;

export interface DeadLetterWrite {
  readonly dlq: string;
  readonly stream: string;
  readonly group: string;
  readonly entryId: string;
  readonly maxLen: number;
  /** Byte cap of the raw copy; undefined copies the envelope whole (a hub message the handler gave up on). */
  readonly rawCap: number | undefined;
  /** With `rawCap` undefined: the `env` to keep if the entry is no longer in the stream. */
  readonly fallbackEnv: string;
  /** The DLQ entry's own fields (v, id, reason, attempts, at, …). */
  readonly fields: readonly string[];
}

/**
 * Write the DLQ entry, then ack the original, atomically; rejects (and leaves
 * the entry pending) when the DLQ write fails.
 */
export function deadLetterEntry(c: RedisClient, w: DeadLetterWrite): Promise<unknown> {
  return c.eval(
    DEAD_LETTER_SCRIPT,
    2,
    w.dlq,
    w.stream,
    String(w.maxLen),
    w.group,
    w.entryId,
    w.rawCap === undefined ? '' : String(w.rawCap),
    w.fallbackEnv,
    ...w.fields,
  );
}
