/**
 * The Lua scripts of a stream subscription: each is one step that must not be
 * split by another client's command (read a sweep within the credit, claim
 * without pulling oversized bodies, hold or release entries only while still
 * ours, renew or release a lease only while still ours, drop idle consumers
 * only when they own nothing).
 */
import { MARK_OVERSIZE_LUA } from './refusal.js';

/**
 * Sets the idle time of entries still owned by ARGV[2] (0 = refresh: "I am alive
 * and working on it"; huge = release: "take it now"). Never steals from another
 * consumer, so a live slow handler is not robbed and a dead one's entries are not
 * taken back. Returns how many were updated.
 */
export const HOLD_SCRIPT = `
local n = 0
for i = 4, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'IDLE', ARGV[3], 'JUSTID')
    n = n + 1
  end
end
return n`;

/**
 * One round trip for a whole non-blocking sweep: reads KEYS in order (ordered
 * partitions first, one entry each, then priority streams highest first) and
 * stops at the credit, so priorities hold and we never take more than we may
 * hand over. Same reply shape as XREADGROUP. All keys share one hash tag.
 * An entry whose body (names and values) is over ARGV[5] bytes comes back as
 * `hub:oversize <size> id <id>` instead: the client never receives (nor
 * parses) its bytes, and refuses it by that size.
 */
export const READ_SCRIPT = `${MARK_OVERSIZE_LUA}
local credit = tonumber(ARGV[3])
local singles = tonumber(ARGV[4])
local max = tonumber(ARGV[5])
local out = {}
for i, key in ipairs(KEYS) do
  if credit <= 0 then break end
  local count = credit
  if i <= singles then count = 1 end
  local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', count, 'STREAMS', key, '>')
  if r and r[1] then
    markOversize(r[1][2], max)
    credit = credit - #r[1][2]
    out[#out + 1] = r[1]
  end
end
return out`;

/**
 * XAUTOCLAIM (KEYS[1], ARGV as the command's after the key) with oversized
 * bodies replaced (see READ_SCRIPT): a reclaim must not pull them either.
 * ARGV[1] = max entry bytes.
 */
export const CLAIM_SCRIPT = `${MARK_OVERSIZE_LUA}
local r = redis.call('XAUTOCLAIM', KEYS[1], unpack(ARGV, 2))
if r[2] then markOversize(r[2], tonumber(ARGV[1])) end
return r`;

export const RENEW_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

export const RELEASE_LEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * Drop a closing consumer from the group of one stream, but only when it owns no
 * pending entry: DELCONSUMER would drop those from the PEL, and nobody could
 * reclaim them. Checked and deleted in one step, so a late reply cannot slip in.
 */
export const DELETE_IDLE_CONSUMER = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) == 0 then
  return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
end
return -1`;

/**
 * Drop consumers of the group that own no pending entry and have been idle at
 * least ARGV[2] ms (crashed instances, once their entries were reclaimed), never
 * ARGV[1]'s own. Safe for data whatever the threshold: the check and the delete
 * are one step, and a live consumer that was idle is recreated by its next read.
 */
export const PRUNE_IDLE_CONSUMERS = `
local n = 0
for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
  local info = {}
  for i = 1, #c, 2 do info[c[i]] = c[i + 1] end
  if info['name'] ~= ARGV[2] and info['pending'] == 0 and info['idle'] >= tonumber(ARGV[3]) then
    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], info['name'])
    n = n + 1
  end
end
return n`;
