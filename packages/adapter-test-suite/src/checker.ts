import { type DeliveryGuarantee, HubError } from '@hub/protocol';

/**
 * Error code of a failed delivery check. Match on it to tell a broken
 * delivery (lost, duplicated, unexpected messages) from other test failures.
 */
export const DELIVERY_CHECK_FAILED = 'HUB_DELIVERY_CHECK_FAILED';

/** Error code of a conformance case whose other assertions failed (order, attempts, metrics, ...). */
export const CASE_FAILED = 'HUB_CONFORMANCE_FAILED';

/** What a {@link DeliveryRecorder} saw, as Jepsen's queue checker reports it. */
export interface DeliveryReport {
  /** Distinct ids a sender tried to send. */
  readonly attempted: number;
  /** Distinct ids whose `send` resolved. */
  readonly acknowledged: number;
  /** Every receipt, duplicates included. */
  readonly received: number;
  /** Distinct ids received. */
  readonly uniqueReceived: number;
  /** Acknowledged but never received. */
  readonly lost: string[];
  /** Received but never attempted (corruption, leaks across addresses). */
  readonly unexpected: string[];
  /** Received more than once. */
  readonly duplicates: string[];
  /** Receipts per receiving instance (ids with no instance count under `''`). */
  readonly byInstance: Readonly<Record<string, number>>;
}

/**
 * Records what was attempted, acknowledged and received, by message id, so a
 * case can be judged afterwards:
 * lost = acknowledged − received, unexpected = received − attempted,
 * duplicates = received more than once.
 */
export class DeliveryRecorder {
  private readonly attemptedIds = new Set<string>();
  private readonly acknowledgedIds = new Set<string>();
  private readonly receipts = new Map<string, number>();
  private readonly instances = new Map<string, number>();
  private total = 0;

  /** A sender is about to send `id`. */
  attempted(id: string): void {
    this.attemptedIds.add(id);
  }

  /** `send` resolved for `id`: from now on losing it is a failure (at-least-once and stronger). */
  acknowledged(id: string): void {
    // an ack implies an attempt; tolerate harnesses that only record acks
    this.attemptedIds.add(id);
    this.acknowledgedIds.add(id);
  }

  /** A handler (on `instance`, if given) received `id`. */
  received(id: string, instance?: string): void {
    this.receipts.set(id, (this.receipts.get(id) ?? 0) + 1);
    const key = instance ?? '';
    this.instances.set(key, (this.instances.get(key) ?? 0) + 1);
    this.total++;
  }

  /** How many times `id` was received. */
  timesReceived(id: string): number {
    return this.receipts.get(id) ?? 0;
  }

  /** Distinct ids received so far. */
  get uniqueReceived(): number {
    return this.receipts.size;
  }

  /** Receipts so far, duplicates included. */
  get receivedTotal(): number {
    return this.total;
  }

  /** True once every acknowledged id was received at least once. */
  allAcknowledgedReceived(): boolean {
    for (const id of this.acknowledgedIds) if (!this.receipts.has(id)) return false;
    return true;
  }

  check(): DeliveryReport {
    const lost: string[] = [];
    for (const id of this.acknowledgedIds) if (!this.receipts.has(id)) lost.push(id);
    const unexpected: string[] = [];
    const duplicates: string[] = [];
    for (const [id, n] of this.receipts) {
      if (!this.attemptedIds.has(id)) unexpected.push(id);
      if (n > 1) duplicates.push(id);
    }
    return {
      attempted: this.attemptedIds.size,
      acknowledged: this.acknowledgedIds.size,
      received: this.total,
      uniqueReceived: this.receipts.size,
      lost,
      unexpected,
      duplicates,
      byInstance: Object.fromEntries(this.instances),
    };
  }
}

export interface ExpectDeliveryOptions {
  /**
   * The guarantee the messages were sent under. `best-effort` tolerates lost
   * messages; every other guarantee requires lost = 0.
   */
  guarantee: DeliveryGuarantee;
  /**
   * Tolerate duplicates: only meaningful after injected faults and only under
   * `at-least-once` and `ordered`. `best-effort` ("never duplicated by us") and
   * `exactly-once` always require duplicates = 0.
   * @default false
   */
  allowDuplicates?: boolean;
  /**
   * Require lost = 0 even under `best-effort`, for this reason (shown in the
   * failure), e.g. events in a run without injected faults.
   * @default none: only guarantees other than best-effort require it
   */
  noLossBecause?: string;
  /** Prefix for the failure message, e.g. the case id. @default 'delivery check' */
  label?: string;
  /** How many ids of each kind the failure message lists. @default 5 */
  sampleSize?: number;
}

const sample = (ids: readonly string[], n: number): string =>
  ids.length === 0
    ? ''
    : ` [${ids.slice(0, n).join(', ')}${ids.length > n ? `, … ${ids.length - n} more` : ''}]`;

/** One line with every number of a report, for failure messages and logs. */
export function formatDeliveryReport(report: DeliveryReport, sampleSize = 5): string {
  const instances = Object.entries(report.byInstance)
    .map(([k, v]) => `${k || '?'}=${v}`)
    .join(' ');
  return (
    `attempted ${report.attempted}, acknowledged ${report.acknowledged}, ` +
    `received ${report.received} (${report.uniqueReceived} unique), ` +
    `lost ${report.lost.length}${sample(report.lost, sampleSize)}, ` +
    `unexpected ${report.unexpected.length}${sample(report.unexpected, sampleSize)}, ` +
    `duplicated ${report.duplicates.length}${sample(report.duplicates, sampleSize)}` +
    (instances ? `; per instance: ${instances}` : '')
  );
}

/**
 * Judge a recorder against a guarantee. Throws a `HubError`
 * ({@link DELIVERY_CHECK_FAILED}) whose message carries every number and the
 * first few offending ids; returns the report when the check holds.
 */
export function expectDelivery(
  recorder: DeliveryRecorder,
  options: ExpectDeliveryOptions,
): DeliveryReport {
  const report = recorder.check();
  const { guarantee } = options;
  const dupsAllowed =
    options.allowDuplicates === true && (guarantee === 'at-least-once' || guarantee === 'ordered');
  const broken: string[] = [];
  if (report.unexpected.length > 0) broken.push('unexpected must be 0');
  if (report.lost.length > 0) {
    if (guarantee !== 'best-effort') broken.push(`lost must be 0 under ${guarantee}`);
    else if (options.noLossBecause) broken.push(`lost must be 0: ${options.noLossBecause}`);
  }
  if (!dupsAllowed && report.duplicates.length > 0) {
    broken.push(
      guarantee === 'exactly-once' || guarantee === 'best-effort'
        ? `duplicated must be 0 under ${guarantee}`
        : 'duplicated must be 0 without faults',
    );
  }
  if (broken.length > 0) {
    throw new HubError(
      DELIVERY_CHECK_FAILED,
      `[hub:adapter-test-suite] ${options.label ?? 'delivery check'} failed (${broken.join('; ')}): ` +
        formatDeliveryReport(report, options.sampleSize ?? 5),
    );
  }
  return report;
}
