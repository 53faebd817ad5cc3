/**
 * Topic patterns, the one syntax used everywhere (event bus, Redis, ws):
 *
 * - A topic is dot-separated segments, e.g. `orders.eu.created`. Each segment is
 *   non-empty and made of `[A-Za-z0-9_\-:@/]`; at most 256 characters and 32 segments.
 * - A pattern is a topic whose segments may also be wildcards:
 *   `*` matches exactly one segment; `**` (or its alias `#`) matches zero or more
 *   segments, anywhere in the pattern and any number of times. So `orders.**`
 *   matches `orders`, `orders.eu` and `orders.eu.created`; `**.created` matches
 *   `created` and `orders.eu.created`. A wildcard mixed with text (`ab*`) is invalid.
 */
import { ErrorCode, HubError } from '@hub/protocol';

/** Error code for a malformed subscription pattern. */
export const INVALID_PATTERN_CODE = 'HUB_INVALID_PATTERN';

/** Longest topic or pattern, in characters. */
export const MAX_TOPIC_LENGTH = 256;
/** Most segments in a topic or pattern. */
export const MAX_TOPIC_SEGMENTS = 32;

const SEGMENT_RE = /^[A-Za-z0-9_\-:@/]+$/;
const INVALID_CHAR_RE = /[^A-Za-z0-9_\-:@/]/;

function describe(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
}

function check(value: unknown, field: string, code: string, allowWildcards: boolean): string {
  if (typeof value !== 'string') {
    const got = value === null ? 'null' : typeof value;
    throw new HubError(code, `[hub:event-bus] ${field} must be a string, got ${got}`);
  }
  const fail = (reason: string): never => {
    throw new HubError(code, `[hub:event-bus] ${field} ${describe(value)} is invalid: ${reason}`);
  };
  if (value.length === 0) fail('it is empty');
  if (value.length > MAX_TOPIC_LENGTH) {
    fail(`it is longer than ${MAX_TOPIC_LENGTH} characters (${value.length})`);
  }
  const segments = value.split('.');
  if (segments.length > MAX_TOPIC_SEGMENTS) {
    fail(`it has more than ${MAX_TOPIC_SEGMENTS} segments (${segments.length})`);
  }
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    if (seg.length === 0) fail(`segment ${i + 1} is empty`);
    if (SEGMENT_RE.test(seg)) continue;
    if (allowWildcards && (seg === '*' || seg === '**' || seg === '#')) continue;
    const hasWildcard = seg.includes('*') || seg.includes('#');
    if (hasWildcard) {
      if (!allowWildcards) fail(`segment ${describe(seg)} contains a wildcard (topics cannot)`);
      if (/^[*#]+$/.test(seg)) fail(`segment ${describe(seg)} is not a wildcard (use *, ** or #)`);
      if (!INVALID_CHAR_RE.test(seg.replace(/[*#]/g, ''))) {
        fail(`segment ${describe(seg)} mixes a wildcard with text`);
      }
    }
    const bad = INVALID_CHAR_RE.exec(seg.replace(/[*#]/g, ''))?.[0] ?? seg;
    fail(`segment ${describe(seg)} contains the invalid character ${describe(bad)}`);
  }
  return value;
}

/**
 * Check a concrete topic; returns it unchanged.
 * @throws HubError `HUB_INVALID_MESSAGE` naming `field` and the reason.
 */
export function validateTopic(topic: unknown, field = 'topic'): string {
  return check(topic, field, ErrorCode.INVALID_MESSAGE, false);
}

/**
 * Check a subscription pattern; returns it unchanged.
 * @throws HubError {@link INVALID_PATTERN_CODE} naming `field` and the reason.
 */
export function validatePattern(pattern: unknown, field = 'pattern'): string {
  return check(pattern, field, INVALID_PATTERN_CODE, true);
}

/** True when the pattern contains `*`, `**` or `#`. */
export function isWildcardPattern(pattern: string): boolean {
  return pattern.includes('*') || pattern.includes('#');
}

/**
 * Split a pattern into segments with `#` spelled `**` and runs of `**`
 * collapsed: `a.**.#.b` → `['a', '**', 'b']` (same meaning, fewer states).
 */
export function normalizePattern(pattern: string): string[] {
  const out: string[] = [];
  for (const raw of pattern.split('.')) {
    const seg = raw === '#' ? '**' : raw;
    if (seg === '**' && out[out.length - 1] === '**') continue;
    out.push(seg);
  }
  return out;
}

/**
 * Match already split segments: the classic glob walk with one backtrack point
 * (the last `**`), where `*` plays the role of `?`. O(p·t) worst case, linear
 * in practice.
 */
export function matchSegments(pattern: readonly string[], topic: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let starP = -1;
  let starT = 0;
  while (t < topic.length) {
    const seg = pattern[p];
    if (seg === '**' || seg === '#') {
      starP = p++;
      starT = t;
    } else if (seg !== undefined && (seg === '*' || seg === topic[t])) {
      p++;
      t++;
    } else if (starP >= 0) {
      p = starP + 1;
      t = ++starT;
    } else {
      return false;
    }
  }
  while (p < pattern.length && (pattern[p] === '**' || pattern[p] === '#')) p++;
  return p === pattern.length;
}

/**
 * Does `topic` match `pattern`? No validation: give it validated input.
 * Use {@link TopicMatcher} to match one topic against many patterns.
 */
export function matchTopic(pattern: string, topic: string): boolean {
  if (!isWildcardPattern(pattern)) return pattern === topic;
  return matchSegments(pattern.split('.'), topic.split('.'));
}

/** The values added under one pattern. */
class Entry<T> {
  /** Copy-on-write so a walk in progress never sees the array shift under it. */
  values: readonly T[] = [];
  constructor(
    readonly pattern: string,
    /** Creation order; matches are reported in this order. */
    readonly seq: number,
    readonly exact: boolean,
  ) {}
}

class TrieNode<T> {
  literal: Map<string, TrieNode<T>> | undefined = undefined;
  star: TrieNode<T> | undefined = undefined;
  globstar: TrieNode<T> | undefined = undefined;
  /** Patterns ending here (`a.#` and `a.**` share a node). */
  entries: Entry<T>[] | undefined = undefined;
  /** Walk bookkeeping: `(node, position)` states already visited in walk `epoch`. */
  epoch = 0;
  seenLo = 0;
  seenHi = 0;
  collected = 0;

  /** Reached through a `**` edge, so it may also swallow further segments. */
  constructor(readonly isGlobstar: boolean) {}

  isEmpty(): boolean {
    return (
      this.entries === undefined &&
      this.star === undefined &&
      this.globstar === undefined &&
      (this.literal === undefined || this.literal.size === 0)
    );
  }
}

export interface TopicMatcherOptions {
  /**
   * How many distinct topics keep their list of matching wildcard patterns
   * cached. The cache is dropped whenever a wildcard pattern appears or
   * disappears; 0 disables it.
   * @default 10_000
   */
  cacheSize?: number;
}

const EMPTY: readonly never[] = Object.freeze([]);

/**
 * Many patterns against one topic, fast: exact patterns sit in a Map, wildcard
 * patterns in a segment trie (literal / `*` / `**` children), and each topic's
 * list of matching wildcard patterns is cached until the pattern set changes.
 *
 * A (pattern, value) pair is stored once: adding it again is a no-op. The same
 * value added under two patterns that both match a topic is reported twice, once
 * per pattern — dedupe by value in the caller if one delivery per subscriber is
 * wanted. Matches come in the order their patterns were first added, and within
 * a pattern in the order the values were added.
 */
export class TopicMatcher<T> {
  readonly #byPattern = new Map<string, Entry<T>>();
  readonly #root = new TrieNode<T>(false);
  readonly #cache = new Map<string, readonly Entry<T>[]>();
  readonly #cacheSize: number;
  #wildcards = 0;
  #size = 0;
  #seq = 0;
  #epoch = 0;
  #segments: readonly string[] = EMPTY;
  #out: Entry<T>[] = [];

  constructor(options: TopicMatcherOptions = {}) {
    const cacheSize = options.cacheSize ?? 10_000;
    if (!Number.isInteger(cacheSize) || cacheSize < 0) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        `[hub:event-bus] cacheSize must be a non-negative integer, got ${String(cacheSize)}`,
      );
    }
    this.#cacheSize = cacheSize;
  }

  /** Number of (pattern, value) pairs. */
  get size(): number {
    return this.#size;
  }

  /**
   * Add `value` under `pattern` (validated).
   * @throws HubError {@link INVALID_PATTERN_CODE} for a malformed pattern.
   */
  add(pattern: string, value: T): void {
    let entry = this.#byPattern.get(pattern);
    if (entry === undefined) {
      validatePattern(pattern);
      const exact = !isWildcardPattern(pattern);
      entry = new Entry<T>(pattern, this.#seq++, exact);
      this.#byPattern.set(pattern, entry);
      if (!exact) {
        let node = this.#root;
        for (const seg of normalizePattern(pattern)) node = this.#child(node, seg);
        node.entries ??= [];
        node.entries.push(entry);
        this.#wildcards++;
        this.#cache.clear();
      }
    } else if (entry.values.includes(value)) {
      return;
    }
    entry.values = [...entry.values, value];
    this.#size++;
  }

  /** Remove one (pattern, value) pair; false if it was not there. */
  remove(pattern: string, value: T): boolean {
    const entry = this.#byPattern.get(pattern);
    if (entry === undefined) return false;
    const i = entry.values.indexOf(value);
    if (i < 0) return false;
    entry.values = entry.values.length === 1 ? EMPTY : entry.values.filter((_, j) => j !== i);
    this.#size--;
    if (entry.values.length === 0) this.#drop(entry);
    return true;
  }

  /** Whether any value is registered under exactly this pattern string. */
  has(pattern: string): boolean {
    return this.#byPattern.has(pattern);
  }

  /** Distinct patterns, in the order they were first added. */
  patterns(): string[] {
    return [...this.#byPattern.keys()];
  }

  clear(): void {
    this.#byPattern.clear();
    this.#cache.clear();
    const root = this.#root;
    root.literal = undefined;
    root.star = undefined;
    root.globstar = undefined;
    root.entries = undefined;
    this.#wildcards = 0;
    this.#size = 0;
  }

  /** Values whose pattern matches `topic` (a new array; see the class doc for order and repeats). */
  match(topic: string): T[] {
    const out: T[] = [];
    this.forEachMatch(topic, (value) => {
      out.push(value);
    });
    return out;
  }

  /**
   * Call `fn` for every (value, pattern) matching `topic`, without allocating
   * once the topic is cached. `fn` may add or remove subscriptions: a value
   * removed before its turn is skipped, and whether a pattern added during the
   * walk is visited is unspecified. An error thrown by `fn` propagates and
   * stops the walk.
   */
  forEachMatch(topic: string, fn: (value: T, pattern: string) => void): void {
    let exact = this.#byPattern.get(topic);
    if (exact !== undefined && !exact.exact) exact = undefined;
    if (this.#wildcards > 0) {
      const list = this.#lookup(topic);
      for (let i = 0; i < list.length; i++) {
        const entry = list[i]!;
        if (exact !== undefined && exact.seq < entry.seq) {
          emit(exact, fn);
          exact = undefined;
        }
        emit(entry, fn);
      }
    }
    if (exact !== undefined) emit(exact, fn);
  }

  #child(node: TrieNode<T>, seg: string): TrieNode<T> {
    if (seg === '**') {
      node.globstar ??= new TrieNode<T>(true);
      return node.globstar;
    }
    if (seg === '*') {
      node.star ??= new TrieNode<T>(false);
      return node.star;
    }
    node.literal ??= new Map();
    let child = node.literal.get(seg);
    if (child === undefined) {
      child = new TrieNode<T>(false);
      node.literal.set(seg, child);
    }
    return child;
  }

  #drop(entry: Entry<T>): void {
    this.#byPattern.delete(entry.pattern);
    if (entry.exact) return;
    this.#wildcards--;
    this.#cache.clear();
    // Walk down remembering the path, then prune nodes left empty so churn
    // does not grow the trie forever.
    const path: TrieNode<T>[] = [this.#root];
    const segs = normalizePattern(entry.pattern);
    let node: TrieNode<T> | undefined = this.#root;
    for (const seg of segs) {
      node = seg === '**' ? node.globstar : seg === '*' ? node.star : node.literal?.get(seg);
      if (node === undefined) return;
      path.push(node);
    }
    const entries = node.entries;
    if (entries !== undefined) {
      const i = entries.indexOf(entry);
      if (i >= 0) entries.splice(i, 1);
      if (entries.length === 0) node.entries = undefined;
    }
    for (let depth = segs.length; depth > 0; depth--) {
      const child = path[depth]!;
      if (!child.isEmpty()) break;
      const parent = path[depth - 1]!;
      const seg = segs[depth - 1]!;
      if (seg === '**') parent.globstar = undefined;
      else if (seg === '*') parent.star = undefined;
      else parent.literal?.delete(seg);
    }
  }

  /** Wildcard entries matching `topic`, in creation order; cached. */
  #lookup(topic: string): readonly Entry<T>[] {
    const cached = this.#cache.get(topic);
    if (cached !== undefined) return cached;
    this.#segments = topic.split('.');
    this.#out = [];
    this.#epoch++;
    this.#walk(this.#root, 0);
    const out = this.#out;
    this.#out = [];
    this.#segments = EMPTY;
    if (out.length > 1) out.sort((a, b) => a.seq - b.seq);
    const result: readonly Entry<T>[] = out.length === 0 ? EMPTY : out;
    if (this.#cacheSize > 0) {
      if (this.#cache.size >= this.#cacheSize) {
        // Oldest-inserted first: cheap, and hot topics come straight back.
        const oldest = this.#cache.keys().next();
        if (oldest.done !== true) this.#cache.delete(oldest.value);
      }
      this.#cache.set(topic, result);
    }
    return result;
  }

  /**
   * Visit state (node, i): `node` reached with topic segments [0, i) consumed.
   * Each state is visited once per walk (bitmask per node), so overlapping `**`
   * paths cost nothing extra and never report a pattern twice.
   */
  #walk(node: TrieNode<T>, i: number): void {
    const epoch = this.#epoch;
    if (node.epoch !== epoch) {
      node.epoch = epoch;
      node.seenLo = 0;
      node.seenHi = 0;
    }
    if (i < 31) {
      const bit = 1 << i;
      if ((node.seenLo & bit) !== 0) return;
      node.seenLo |= bit;
    } else if (i < 62) {
      const bit = 1 << (i - 31);
      if ((node.seenHi & bit) !== 0) return;
      node.seenHi |= bit;
    }
    const segs = this.#segments;
    const n = segs.length;
    if (i === n && node.entries !== undefined && node.collected !== epoch) {
      node.collected = epoch;
      for (const entry of node.entries) this.#out.push(entry);
    }
    // `**` first as zero segments, then (inside the globstar node) eating one more.
    if (node.globstar !== undefined) this.#walk(node.globstar, i);
    if (i === n) return;
    if (node.isGlobstar) this.#walk(node, i + 1);
    if (node.star !== undefined) this.#walk(node.star, i + 1);
    const lit = node.literal?.get(segs[i]!);
    if (lit !== undefined) this.#walk(lit, i + 1);
  }
}

function emit<T>(entry: Entry<T>, fn: (value: T, pattern: string) => void): void {
  const values = entry.values;
  const pattern = entry.pattern;
  for (let i = 0; i < values.length; i++) fn(values[i]!, pattern);
}
