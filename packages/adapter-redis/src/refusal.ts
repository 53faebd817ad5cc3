import type { SubscriptionSpec } from '@hub/core';
import { type Envelope, ErrorCode, HubError, InvalidMessageError } from '@hub/protocol';

/**
 * Marker field of an entry the read script found over `maxEntryBytes`: it
 * replaces the body (`hub:oversize <size> id <id>`), so the bytes never reach us.
 */
export const OVERSIZE_FIELD = 'hub:oversize';

/**
 * Lua: `markOversize(entries, max)` replaces, in place, the body of every
 * entry (`{id, {f, v, …}}`) whose names and values total more than `max`
 * bytes by `{OVERSIZE_FIELD, <size>, 'id', <id field, when short>}`. Used by
 * every script that reads entries, so such bodies never leave Redis.
 */
export const MARK_OVERSIZE_LUA = `
local function markOversize(entries, max)
  for _, e in ipairs(entries) do
    local f = e[2]
    if f then
      local size = 0
      for k = 1, #f do size = size + #f[k] end
      if size > max then
        local id = ''
        for k = 1, #f - 1, 2 do
          if f[k] == 'id' and #f[k + 1] <= 256 then id = f[k + 1] end
        end
        e[2] = { '${OVERSIZE_FIELD}', tostring(size), 'id', id }
      end
    end
  end
end`;

/**
 * The body size of an entry over `max` bytes (field names and values), or
 * undefined when it fits. Reads string lengths only (UTF-16 units, never more
 * than the bytes): nothing is parsed or copied.
 */
export function oversizeOf(fields: readonly string[], max: number): number | undefined {
  if (fields[0] === OVERSIZE_FIELD) return Number(fields[1]) || max + 1;
  let size = 0;
  for (const f of fields) size += f.length;
  return size > max ? size : undefined;
}

/**
 * Why a valid envelope found on a subscription's transport address is not its
 * to handle, or undefined when it is: an endpoint takes messages for itself
 * only, a topic subscription events only. (Topics are matched exactly by the
 * core: a Redis glob matches a superset, and an event of another topic on an
 * event channel is not foreign.)
 */
export function foreignReason(
  envelope: Envelope,
  spec: Pick<SubscriptionSpec, 'kind' | 'address'>,
  where: string,
  /** Appended to `where` (a channel name) only when there is something to report. */
  name?: string,
): string | undefined {
  if (spec.kind === 'topic' ? envelope.kind === 'event' : isOwnMessage(envelope, spec.address))
    return undefined;
  // Built only for a refusal: every Pub/Sub message passes here.
  const place = name === undefined ? where : `${where} ${name}`;
  if (envelope.kind === 'event') {
    return `an event (topic "${envelope.topic}") in ${place} of endpoint "${spec.address}"`;
  }
  if (spec.kind === 'topic') {
    return `a message (for "${envelope.destination}") on ${place} of topic subscription "${spec.address}"`;
  }
  return `a message for "${envelope.destination}" in ${place} of endpoint "${spec.address}"`;
}

function isOwnMessage(envelope: Envelope, address: string): boolean {
  return envelope.kind === 'message' && envelope.destination === address;
}

export type RefusalKind = 'undecodable' | 'oversize' | 'foreign';

/**
 * The error handed to a subscription's `reject` for a refused input: names
 * where it was found (stream entry id or channel) and its message id when
 * known, keeps the cause's code (and field, for an invalid envelope).
 */
export function refusal(
  kind: RefusalKind,
  cause: Error,
  where: string,
  messageId: string | undefined,
): HubError {
  const id = messageId ? ` (message ${JSON.stringify(messageId.slice(0, 128))})` : '';
  const message = `[hub:redis] refused ${kind} input, ${where}${id}: ${cause.message}`;
  if (cause instanceof InvalidMessageError) {
    return new InvalidMessageError(cause.reason, cause.field, message, { cause });
  }
  const code = cause instanceof HubError ? cause.code : ErrorCode.DECODE_FAILED;
  return new HubError(code, message, { cause });
}
