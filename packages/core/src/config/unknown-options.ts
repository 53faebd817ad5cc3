import { ErrorCode, HubError } from '@hub/protocol';

/** Edit distance (insertions, deletions, substitutions, adjacent swaps) between two short strings. */
function distance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) =>
    Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}

/** The known option closest to `name`, when it is close enough to be a typo. */
export function closestOption(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = name.toLowerCase();
  for (const candidate of known) {
    const dist = distance(lower, candidate.toLowerCase());
    if (dist < bestDistance) {
      best = candidate;
      bestDistance = dist;
    }
  }
  // Two edits for ordinary names, three for long ones (`maxConcurentMessages`).
  const allowed = name.length > 12 ? 3 : 2;
  if (bestDistance <= allowed) return best;
  // A known option the name begins (`status` for `statusData`).
  return lower.length >= 4 ? known.find((k) => k.toLowerCase().startsWith(lower)) : undefined;
}

/**
 * Throw HUB_INVALID_CONFIG for the first own key of `options` that `known`
 * does not list, naming it as `where.option` and the option probably meant
 * ("did you mean `name`?"). Plain JavaScript callers get no compile-time
 * check, so a misspelt option would otherwise be ignored silently.
 */
export function rejectUnknownOptions(
  where: string,
  options: object,
  known: readonly string[],
): void {
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
