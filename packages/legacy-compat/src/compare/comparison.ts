/**
 * What a team needs to decide to switch: each message published on both the
 * legacy path and the hub, and what each path's consumers saw of it.
 */
export type Path = 'legacy' | 'hub';

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export interface PayloadMismatch {
  id: string;
  path: Path;
  sent: unknown;
  seen: unknown;
}

export interface ComparisonReport {
  /** Messages published on each path (attempted). */
  sent: Record<Path, number>;
  /** Publishes that failed on each path. */
  failed: Record<Path, number>;
  /** Distinct published messages each path's consumers saw. */
  seen: Record<Path, number>;
  /** Published messages seen on both paths. */
  seenOnBoth: number;
  /** Ids published on a path and not (yet) seen there. */
  missing: Record<Path, string[]>;
  /** Messages a path delivered with a payload other than the one published. */
  payloadMismatches: PayloadMismatch[];
  /** Deliveries beyond the first of a message, per path. */
  duplicates: Record<Path, number>;
  /** Deliveries of ids this comparison never published, per path. */
  unexpected: Record<Path, number>;
  /** Publish → seen, per path, in milliseconds. */
  latencyMs: Record<Path, LatencySummary>;
}

/** JSON with sorted keys: two payloads are equal when their canonical texts are. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
    return sorted;
  });
}

function summary(values: number[]): LatencySummary {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) =>
    s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  const sum = s.reduce((a, b) => a + b, 0);
  return {
    count: s.length,
    p50: at(0.5),
    p99: at(0.99),
    max: s.at(-1) ?? 0,
    mean: s.length === 0 ? 0 : sum / s.length,
  };
}

interface Sent {
  payload: string;
  at: number;
  paths: Set<Path>;
}

/** Records what was published and seen on each path; `report()` compares them. */
export class Comparison {
  private readonly published = new Map<string, Sent>();
  private readonly seenIds: Record<Path, Set<string>> = { legacy: new Set(), hub: new Set() };
  private readonly latencies: Record<Path, number[]> = { legacy: [], hub: [] };
  private readonly counts = {
    sent: { legacy: 0, hub: 0 },
    failed: { legacy: 0, hub: 0 },
    duplicates: { legacy: 0, hub: 0 },
    unexpected: { legacy: 0, hub: 0 },
  };
  private readonly mismatches: PayloadMismatch[] = [];

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** `id` was published on `path` with `payload`. */
  sent(path: Path, id: string, payload: unknown, at = this.now()): void {
    this.counts.sent[path]++;
    let s = this.published.get(id);
    if (s === undefined) {
      s = { payload: canonical(payload), at, paths: new Set() };
      this.published.set(id, s);
    }
    s.paths.add(path);
  }

  /** Publishing `id` on `path` failed. */
  failed(path: Path, _id: string): void {
    this.counts.failed[path]++;
  }

  /** A consumer on `path` received `id` with `payload`. */
  seen(path: Path, id: string, payload: unknown, at = this.now()): void {
    const s = this.published.get(id);
    if (s === undefined || !s.paths.has(path)) {
      this.counts.unexpected[path]++;
      return;
    }
    if (this.seenIds[path].has(id)) {
      this.counts.duplicates[path]++;
      return;
    }
    this.seenIds[path].add(id);
    this.latencies[path].push(at - s.at);
    const got = canonical(payload);
    if (got !== s.payload) {
      this.mismatches.push({ id, path, sent: JSON.parse(s.payload), seen: payload });
    }
  }

  report(): ComparisonReport {
    const missing: Record<Path, string[]> = { legacy: [], hub: [] };
    let both = 0;
    for (const [id, s] of this.published) {
      for (const path of s.paths) if (!this.seenIds[path].has(id)) missing[path].push(id);
      if (this.seenIds.legacy.has(id) && this.seenIds.hub.has(id)) both++;
    }
    return {
      sent: { ...this.counts.sent },
      failed: { ...this.counts.failed },
      seen: { legacy: this.seenIds.legacy.size, hub: this.seenIds.hub.size },
      seenOnBoth: both,
      missing,
      payloadMismatches: [...this.mismatches],
      duplicates: { ...this.counts.duplicates },
      unexpected: { ...this.counts.unexpected },
      latencyMs: { legacy: summary(this.latencies.legacy), hub: summary(this.latencies.hub) },
    };
  }
}

const ms = (v: number) => `${v.toFixed(2)} ms`;

/** The report as the text a team reads before switching (fixed-width, one line per figure). */
export function formatComparisonReport(r: ComparisonReport): string {
  const row = (label: string, legacy: string | number, hub: string | number) =>
    `${label.padEnd(22)}${String(legacy).padStart(14)}${String(hub).padStart(14)}`;
  const lines = [
    row('', 'legacy', 'hub'),
    row('sent', r.sent.legacy, r.sent.hub),
    row('send failed', r.failed.legacy, r.failed.hub),
    row('seen', r.seen.legacy, r.seen.hub),
    row('missing', r.missing.legacy.length, r.missing.hub.length),
    row('duplicates', r.duplicates.legacy, r.duplicates.hub),
    row('unexpected', r.unexpected.legacy, r.unexpected.hub),
    row(
      'payload mismatches',
      r.payloadMismatches.filter((m) => m.path === 'legacy').length,
      r.payloadMismatches.filter((m) => m.path === 'hub').length,
    ),
    row('latency p50', ms(r.latencyMs.legacy.p50), ms(r.latencyMs.hub.p50)),
    row('latency p99', ms(r.latencyMs.legacy.p99), ms(r.latencyMs.hub.p99)),
    row('latency max', ms(r.latencyMs.legacy.max), ms(r.latencyMs.hub.max)),
    `seen on both: ${r.seenOnBoth}`,
  ];
  for (const path of ['legacy', 'hub'] as const) {
    if (r.missing[path].length > 0) {
      lines.push(
        `missing on ${path}: ${r.missing[path].slice(0, 20).join(', ')}${r.missing[path].length > 20 ? ', …' : ''}`,
      );
    }
  }
  for (const m of r.payloadMismatches.slice(0, 20)) {
    lines.push(
      `mismatch on ${m.path} ${m.id}: sent ${canonical(m.sent)}, seen ${canonical(m.seen)}`,
    );
  }
  return lines.join('\n');
}
