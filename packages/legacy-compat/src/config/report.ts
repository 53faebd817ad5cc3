import { ErrorCode, HubError } from '@hub/protocol';

/** A legacy option a migration could not carry over, and why. */
export interface DroppedOption {
  /** Where it was in the legacy config, as written there (e.g. `redis_config.pool_size`). */
  option: string;
  reason: string;
}

/** The migrated options and every legacy option left behind. */
export interface Migration<T> {
  options: T;
  dropped: DroppedOption[];
}

export interface MigrateOptions {
  /**
   * Called once with every option that was not carried over (also when there
   * is none). @default a one-line `console.warn` when something was left behind
   */
  onDropped?: (dropped: readonly DroppedOption[]) => void;
}

export function reportDropped(what: string, m: Migration<unknown>, opts?: MigrateOptions): void {
  if (opts?.onDropped) {
    opts.onDropped(m.dropped);
    return;
  }
  if (m.dropped.length === 0) return;
  console.warn(
    `[hub:legacy] ${what}: not carried over: ${m.dropped.map((d) => `${d.option} (${d.reason})`).join('; ')}`,
  );
}

/** `pool_size` → `poolSize`; camelCase stays as it is. */
export const camel = (key: string): string =>
  key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

export const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function badOption(what: string, option: string, why: string, got: unknown): HubError {
  return new HubError(
    ErrorCode.INVALID_CONFIG,
    `[hub:legacy] ${what}: option \`${option}\` ${why}, got ${typeof got === 'string' ? JSON.stringify(got) : String(got)}`,
  );
}

/** A number, or the number a numeric text (an env value) spells; undefined for anything else. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && /^\s*-?[0-9]+(\.[0-9]+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

/** A boolean, or the boolean an env value spells (`true`/`false`/`1`/`0`/`yes`/`no`). */
export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes' || s === 'on') return true;
  if (s === 'false' || s === '0' || s === 'no' || s === 'off') return false;
  return undefined;
}

/** `host:port` pairs separated by commas or spaces (`REDIS_SENTINELS=a:26379,b:26379`). */
export function hostPorts(
  what: string,
  option: string,
  v: unknown,
): Array<{ host: string; port: number }> {
  const items: unknown[] = Array.isArray(v) ? v : typeof v === 'string' ? v.split(/[\s,]+/) : [];
  const out: Array<{ host: string; port: number }> = [];
  for (const item of items) {
    if (item === '') continue;
    if (isRecord(item) && typeof item.host === 'string' && num(item.port) !== undefined) {
      out.push({ host: item.host, port: num(item.port)! });
      continue;
    }
    const m = typeof item === 'string' ? /^(.+):([0-9]{1,5})$/.exec(item) : null;
    if (!m) throw badOption(what, option, 'must list host:port pairs', item);
    out.push({ host: m[1]!, port: Number(m[2]) });
  }
  if (out.length === 0) throw badOption(what, option, 'must list at least one host:port', v);
  return out;
}
