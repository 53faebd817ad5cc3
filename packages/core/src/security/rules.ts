import { ErrorCode, HubError } from '@hub/protocol';
import { rejectUnknownOptions } from '../config/unknown-options.js';
import { matchSegments, normalizePattern } from '../event-bus/pattern.js';

/** What a rule can allow. */
export type AccessVerb = 'send' | 'publish' | 'subscribe' | 'serve';
export const ACCESS_VERBS: readonly AccessVerb[] = ['send', 'publish', 'subscribe', 'serve'];

/**
 * One rule: whom it is about (identities, sources or both), and the
 * addresses each verb may use. Every list holds patterns in the topic syntax
 * (`*` one dot-separated segment, `**` or `#` any number): `orders.*`,
 * `billing`, `**`.
 */
export interface AccessRule {
  /**
   * Identity patterns this rule applies to (`gateway.*`, `orders-service`, `**`).
   * A rule names `identities`, `sources` or both; with both, both must match.
   */
  identities?: readonly string[];
  /**
   * Patterns of the envelope's `source` field this rule applies to
   * (`shop.*`, `billing`). Only `send` and `publish` carry an envelope, so a
   * rule with `sources` may not allow `subscribe` or `serve`. The source is
   * what the sender wrote: signed between hubs when signing is on, but chosen
   * freely by a client of an entry point, so pair it with `identities` to
   * trust it.
   */
  sources?: readonly string[];
  /** Destinations of messages it may send. */
  send?: readonly string[];
  /** Topics of events it may publish. */
  publish?: readonly string[];
  /** Topic patterns it may subscribe to: the pattern asked for must lie within one of these. */
  subscribe?: readonly string[];
  /** Endpoints it may serve. */
  serve?: readonly string[];
  /** Shown in audit events as the rule that decided. @default `rules[<index>]` */
  name?: string;
}

/**
 * A rule set. Everything not allowed by some rule is refused (deny by
 * default); an empty set refuses everything.
 */
export interface AccessPolicy {
  rules: readonly AccessRule[];
}

const RULE_OPTIONS = [
  'identities',
  'sources',
  'send',
  'publish',
  'subscribe',
  'serve',
  'name',
] as const;

interface CompiledRule {
  readonly name: string;
  /** Undefined: any identity (the rule selects by source alone). */
  readonly identities: readonly string[][] | undefined;
  /** Undefined: any source. */
  readonly sources: readonly string[][] | undefined;
  readonly verbs: { readonly [V in AccessVerb]: readonly string[][] };
}

const invalid = (field: string, why: string) =>
  new HubError(ErrorCode.INVALID_CONFIG, `[hub:security] ${field} ${why}`);

function patterns(list: unknown, field: string): string[][] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalid(field, 'must be an array of patterns');
  return list.map((p, i) => {
    if (typeof p !== 'string' || p.length === 0 || p.length > 256) {
      throw invalid(
        `${field}[${i}]`,
        `must be a pattern of 1-256 characters, got ${JSON.stringify(p)}`,
      );
    }
    return normalizePattern(p);
  });
}

/**
 * Does the allowed pattern `a` cover every address the requested pattern `r`
 * can match? A literal is covered by a pattern that matches it; `*` only by
 * `*` or `**`; `**` only by `**`. So `orders.*` does not cover `orders.**`.
 */
export function covers(a: readonly string[], r: readonly string[]): boolean {
  const memo = new Map<number, boolean>();
  const walk = (i: number, j: number): boolean => {
    const key = i * 64 + j;
    const hit = memo.get(key);
    if (hit !== undefined) return hit;
    let out: boolean;
    if (i === a.length) out = j === r.length;
    else if (a[i] === '**') out = walk(i + 1, j) || (j < r.length && walk(i, j + 1));
    else if (j === r.length) out = false;
    else if (r[j] === '**') out = false;
    else if (a[i] === '*') out = walk(i + 1, j + 1);
    else out = a[i] === r[j] && walk(i + 1, j + 1);
    memo.set(key, out);
    return out;
  };
  return walk(0, 0);
}

/** A checked, compiled rule set. Throws HUB_INVALID_CONFIG naming the bad field. */
export class CompiledPolicy {
  readonly rules: readonly CompiledRule[];

  constructor(policy: AccessPolicy, field = 'security.policy') {
    if (typeof policy !== 'object' || policy === null || !Array.isArray(policy.rules)) {
      throw invalid(field, 'must be an object { rules: AccessRule[] }');
    }
    rejectUnknownOptions(field, policy, ['rules']);
    this.rules = policy.rules.map((rule, i) => {
      const at = `${field}.rules[${i}]`;
      if (typeof rule !== 'object' || rule === null) throw invalid(at, 'must be an object');
      rejectUnknownOptions(at, rule, RULE_OPTIONS);
      const identities = patterns(rule.identities, `${at}.identities`);
      const sources = patterns(rule.sources, `${at}.sources`);
      if (rule.identities === undefined && rule.sources === undefined)
        throw invalid(`${at}.identities`, 'or sources must be given');
      if (rule.identities !== undefined && identities.length === 0)
        throw invalid(`${at}.identities`, 'must name at least one identity pattern');
      if (rule.sources !== undefined && sources.length === 0)
        throw invalid(`${at}.sources`, 'must name at least one source pattern');
      if (rule.sources !== undefined && (rule.subscribe !== undefined || rule.serve !== undefined))
        throw invalid(
          `${at}.sources`,
          'applies to send and publish only: subscribe and serve carry no envelope to take a source from',
        );
      if (rule.name !== undefined && typeof rule.name !== 'string')
        throw invalid(`${at}.name`, 'must be a string');
      return {
        name: rule.name ?? `rules[${i}]`,
        identities: rule.identities === undefined ? undefined : identities,
        sources: rule.sources === undefined ? undefined : sources,
        verbs: {
          send: patterns(rule.send, `${at}.send`),
          publish: patterns(rule.publish, `${at}.publish`),
          subscribe: patterns(rule.subscribe, `${at}.subscribe`),
          serve: patterns(rule.serve, `${at}.serve`),
        },
      };
    });
  }

  /**
   * The name of the first rule that lets `identity` do `verb` on `address`,
   * or undefined when none does. `subscribe` addresses are patterns and must
   * lie within an allowed one; the others are concrete addresses. `source`
   * is the envelope's (send and publish); a rule with `sources` never
   * matches without one.
   */
  allows(identity: string, verb: AccessVerb, address: string, source?: string): string | undefined {
    const who = identity.split('.');
    const what = verb === 'subscribe' ? normalizePattern(address) : address.split('.');
    /** Split only when a rule selects by source: most policies have none. */
    let from: string[] | undefined;
    for (const rule of this.rules) {
      if (rule.identities !== undefined && !rule.identities.some((p) => matchSegments(p, who)))
        continue;
      if (rule.sources !== undefined) {
        if (source === undefined) continue;
        from ??= source.split('.');
        const segments = from;
        if (!rule.sources.some((p) => matchSegments(p, segments))) continue;
      }
      const allowed = rule.verbs[verb];
      const ok =
        verb === 'subscribe'
          ? allowed.some((p) => covers(p, what))
          : allowed.some((p) => matchSegments(p, what));
      if (ok) return rule.name;
    }
    return undefined;
  }
}
