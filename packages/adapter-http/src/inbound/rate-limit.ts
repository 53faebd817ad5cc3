/** Per-client token buckets: `rate` requests a second, bursts up to `burst`. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly maxClients = 10_000,
  ) {}

  /** 0 when the request may go on, else the seconds until a token is free. */
  take(client: string, now = Date.now()): number {
    let b = this.buckets.get(client);
    if (b === undefined) {
      if (this.buckets.size >= this.maxClients) {
        // The oldest client goes: memory stays bounded under a spread-out flood.
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / this.rate;
  }
}
