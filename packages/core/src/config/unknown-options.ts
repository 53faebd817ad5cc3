import { ErrorCode, HubError } from '@hub/protocol';

/**
 * Edit distance between two strings (insertions, deletions, substitutions and
 * swaps of two neighbouring characters each cost 1), compared case-insensitively.
 */
export function editDistance(a: string, b: string): number {
  const s = a.toLowerCase();
  const t = b.toLowerCase();
  if (s === t) return 0;
  // Three rolling rows: the swap rule looks two rows back.
  let before = new Array<number>(t.length + 1).fill(0);
  let prev = Array.from({ length: t.length + 1 }, (_, j) => j);
  let row = new Array<number>(t.length + 1).fill(0);
  for (let i = 1; i <= s.length; i++) {
    row[0] = i;
    for (let j = 1; j <= t.length; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1;
      let d = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1]) {
        d = Math.min(d, before[j - 2]! + 1);
      }
      row[j] = d;
    }
    [before, prev, row] = [prev, row, before];
  }
  return prev[t.length]!;
}

/**
 * The known name closest to `name`, when it is close enough to be the one
 * meant: at most 1 edit for names up to 4 characters, 2 up to 8, else 3.
 * Returns `undefined` when nothing is that close.
 */
export function closestOption(name: string, known: readonly string[]): string | undefined {
  const limit = name.length <= 4 ? 1 : name.length <= 8 ? 2 : 3;
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Throw `HUB_INVALID_CONFIG` when `obj` has an own key that is not in `known`:
 * plain JavaScript callers get no compile-time check, and a misspelt option
 * would otherwise be ignored in silence (and its default used instead).
 *
 * The message names the option and, when one is close, the option probably
 * meant: `[hub:redis] unknown option "urll" (did you mean "url"?)`.
 *
 * @param where  Prefix naming the call, e.g. `hub:config` or `hub:redis`.
 * @param obj    The options object as given; anything that is not a plain
 *               object is left alone (the caller checks its type).
 * @param known  Every option name the call accepts.
 */
export function rejectUnknownOptions(where: string, obj: unknown, known: readonly string[]): void {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return;
  for (const key of Object.keys(obj)) {
    if (known.includes(key)) continue;
    const meant = closestOption(key, known);
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[${where}] unknown option "${key}"${meant === undefined ? '' : ` (did you mean "${meant}"?)`}`,
    );
  }
}
