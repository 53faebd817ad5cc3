/**
 * Keeps a stream of like warnings (one per rejected inbound entry) from
 * flooding the log: the first is let through, then at most one per
 * `intervalMs`, and that one carries how many were held back since the
 * previous line. Nothing is lost from the counts: metrics count every entry.
 */
export class WarnLimiter {
  private last = Number.NEGATIVE_INFINITY;
  private held = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Whether to log this one: the number of warnings held back since the last
   * line (0 or more), or undefined to hold this one back too.
   */
  take(): number | undefined {
    const t = this.now();
    if (t - this.last < this.intervalMs) {
      this.held++;
      return undefined;
    }
    this.last = t;
    const n = this.held;
    this.held = 0;
    return n;
  }
}
