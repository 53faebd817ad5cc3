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
 * The known option closest to `name`, when it is close enough to be a typo:
 * two edits for ordinary names, three for long ones (`maxConcurentMessages`),
 * or a known option the name begins (`status` for `statusData`).
 */
export function closestOption(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  const allowed = name.length > 12 ? 3 : 2;
  if (bestDistance <= allowed && bestDistance < name.length) return best;
  const lower = name.toLowerCase();
  return lower.length >= 4 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
}

/**
 * Throw HUB_INVALID_CONFIG for the first own key of `options` that `known`
 * does not list, naming it as `where.option` and the option probably meant
 * ("did you mean `name`?"). Plain JavaScript callers get no compile-time
 * check, so a misspelt option would otherwise be ignored in silence (and its
 * default used instead). Anything that is not a plain object is left alone:
 * the caller checks its type.
 *
 * @param where  The call and path, e.g. `createHub.retry` or `redis`.
 */
export function rejectUnknownOptions(
  where: string,
  options: unknown,
  known: readonly string[],
): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) return;
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const meant = closestOption(key, known);
    const hint =
      meant === undefined ? ` (known: ${known.join(', ')})` : `; did you mean \`${meant}\`?`;
    throw new HubError(
      ErrorCode.INVALID_CONFIG,
      `[hub:config] unknown option \`${where}.${key}\`${hint}`,
    );
  }
}

/**
 * The option names of an options type, from an object that must list every
 * one of them (the compiler fails when the type gains an option the list lacks).
 */
export const optionNames = <T extends object>(all: { readonly [K in keyof Required<T>]: true }) =>
  Object.freeze(Object.keys(all)) as readonly string[];
