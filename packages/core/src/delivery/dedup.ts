/**
 * Receiver-side dedup for exactly-once: effectively-once processing within a
 * window. Two phases so a crash mid-handler never marks a message done:
 * `begin` takes a short lease, `commit` records it done for the window,
 * `abort` drops the lease so a redelivery can process it.
 */
export type DedupBegin = 'new' | 'done' | 'busy';

export interface DedupStore {
  /** 'new': the caller owns processing; 'done': already processed; 'busy': another holder is processing it. */
  begin(id: string, leaseMs: number): DedupBegin | Promise<DedupBegin>;
  commit(id: string, windowMs: number): void | Promise<void>;
  abort(id: string): void | Promise<void>;
  close?(): void | Promise<void>;
}
