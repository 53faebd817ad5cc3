/** Counters of one bridge route. Monotonic; read them with `bridge.stats()`. */
export interface RouteStats {
  /** Route name, e.g. `list:orders` or `topic:user_events -> pubsub:legacy.events`. */
  readonly route: string;
  /** Items read from the source. */
  received: number;
  /** Items the destination accepted (hub send resolved, or the legacy write succeeded). */
  forwarded: number;
  /** Items a bridge had already carried, so not carried again. */
  loopsPrevented: number;
  /** Items that could not be converted or were refused for good (moved to the dead key where there is one). */
  failed: number;
  /** Items found in a processing list or pending list at start, left by a bridge that stopped mid-way. */
  recovered: number;
  /** Retries of a hub send or legacy write that failed for a reason that may pass. */
  retries: number;
}

export const routeStats = (route: string): RouteStats => ({
  route,
  received: 0,
  forwarded: 0,
  loopsPrevented: 0,
  failed: 0,
  recovered: 0,
  retries: 0,
});
