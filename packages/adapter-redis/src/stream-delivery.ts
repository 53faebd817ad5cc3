/** One handover of a stream entry to the handler, settled once through its subscription. */
import type { InboundDelivery, NackOptions } from '@hub/core';
import type { Envelope } from '@hub/protocol';
import type { Held } from './held-entries.js';

/** How a delivery settles its entry (see StreamSubscription.settler). */
export interface Settler {
  ack(h: Held): Promise<void>;
  nack(h: Held, o?: NackOptions): void;
  deadLetter(h: Held, reason: string, envelope: Envelope, attempts?: number): Promise<void>;
  /** A second settlement of one delivery: ignored, with a warning. */
  twice(what: string, id: string): void;
}

/** One handover to the handler; settles once, later calls are ignored. */
export class StreamDelivery implements InboundDelivery {
  settled = false;
  readonly attempt: number;

  constructor(
    private readonly settler: Settler,
    private readonly held: Held,
    readonly envelope: Envelope,
  ) {
    this.attempt = held.attempt;
  }

  private once(what: string): boolean {
    if (!this.settled) {
      this.settled = true;
      return true;
    }
    this.settler.twice(what, this.envelope.id);
    return false;
  }

  ack(): Promise<void> | undefined {
    return this.once('ack') ? this.settler.ack(this.held) : undefined;
  }

  nack(o?: NackOptions): void {
    if (this.once('nack')) this.settler.nack(this.held, o);
  }

  async deadLetter(reason: string, attempts?: number): Promise<void> {
    if (!this.once('deadLetter')) return;
    await this.settler.deadLetter(this.held, reason, this.envelope, attempts);
  }
}
