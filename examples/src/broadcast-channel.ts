// broadcast-channel.ts — a complete custom transport: Node's BroadcastChannel (in process and across worker threads)
import { BroadcastChannel } from 'node:worker_threads';
import {
  type AdapterCapabilities,
  type AdapterContext,
  type AdapterFeatures,
  BaseAdapter,
  type DeadLetterEntry,
  type DeadLetterReader,
  type Envelope,
  type InboundDelivery,
  jsonCodec,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/core';

export interface BroadcastChannelAdapterOptions {
  /** Channel name prefix; adapters with the same prefix reach each other. @default 'hub' */
  prefix?: string;
  /** Dead letters kept per address. @default 1000 */
  maxDeadLetters?: number;
}

/** One handover. Best-effort: nothing to ack, and nothing brings an unsettled one back. */
class BroadcastDelivery implements InboundDelivery {
  readonly attempt = 1;
  readonly redeliverable = false;
  constructor(
    readonly envelope: Envelope,
    private readonly toDeadLetters: (entry: DeadLetterEntry) => void,
  ) {}
  ack(): void {}
  nack(): void {}
  async deadLetter(reason: string, attempts = this.attempt): Promise<void> {
    this.toDeadLetters({ envelope: this.envelope, reason, attempts, deadLetteredAt: Date.now() });
  }
}

export class BroadcastChannelAdapter extends BaseAdapter implements DeadLetterReader {
  readonly name = 'broadcast-channel';
  readonly capabilities: AdapterCapabilities = {
    guarantees: ['best-effort'],
    persistent: false,
    ordered: false,
    broadcast: true,
    // Every event reaches every topic subscription; the core filters patterns exactly.
    patterns: true,
    consumerGroups: false,
  };
  // Optional parts, declared: the hub reads dead letters from this adapter.
  readonly features: AdapterFeatures = { deadLetters: true };
  private readonly prefix: string;
  private readonly maxDeadLetters: number;
  private readonly deadLetters = new Map<string, DeadLetterEntry[]>();
  private readonly senders = new Map<string, BroadcastChannel>();

  constructor(opts: BroadcastChannelAdapterOptions = {}) {
    super();
    this.prefix = opts.prefix ?? 'hub';
    this.maxDeadLetters = opts.maxDeadLetters ?? 1000;
  }

  /** One channel per endpoint, one for all events. */
  private channelName(kind: 'endpoint' | 'topic', address: string): string {
    return kind === 'topic' ? `${this.prefix}:ev` : `${this.prefix}:ep:${address}`;
  }

  protected async doConnect(_ctx: AdapterContext): Promise<void> {
    // Nothing to open: channels are created on first use. A networked adapter
    // connects its clients here (and may learn capabilities.maxPayloadBytes).
  }

  protected async doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const name =
      envelope.kind === 'event'
        ? this.channelName('topic', envelope.topic)
        : this.channelName('endpoint', envelope.destination);
    let channel = this.senders.get(name);
    if (!channel) {
      channel = new BroadcastChannel(name);
      channel.unref();
      this.senders.set(name, channel);
    }
    // Encoded like any wire: Date, Uint8Array and bigint travel as tags.
    channel.postMessage(jsonCodec.encode(envelope));
    return { protocol: 'broadcast-channel' };
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    // A push-only, best-effort transport cannot keep messages waiting, so
    // spec.prefetch does not apply; a queue or a stream hands over at most
    // spec.prefetch unsettled deliveries.
    const channel = new BroadcastChannel(this.channelName(spec.kind, spec.address));
    channel.unref();
    const toDeadLetters = (entry: DeadLetterEntry) => this.addDeadLetter(spec.address, entry);
    channel.onmessage = (event) => {
      const raw = (event as { data: unknown }).data;
      let envelope: Envelope;
      try {
        // decode validates every field and revives the tagged values
        envelope = jsonCodec.decode(raw as string);
      } catch (err) {
        spec.reject(err as Error, raw);
        return;
      }
      spec.deliver(new BroadcastDelivery(envelope, toDeadLetters));
    };
    channel.onmessageerror = (event) =>
      spec.reject(new Error(`undecodable message on ${spec.address}`), event);
    return { close: async () => channel.close() };
  }

  private addDeadLetter(address: string, entry: DeadLetterEntry): void {
    const list = this.deadLetters.get(address) ?? [];
    list.push(entry);
    if (list.length > this.maxDeadLetters) list.shift();
    this.deadLetters.set(address, list);
  }

  async readDeadLetters(address: string, limit = 100): Promise<DeadLetterEntry[]> {
    return (this.deadLetters.get(address) ?? []).slice(-limit);
  }

  protected async doClose(): Promise<void> {
    // BaseAdapter.close() has closed every subscription already; close what is left.
    for (const channel of this.senders.values()) channel.close();
    this.senders.clear();
  }
}

/** Factory in the usual shape. */
export const broadcastChannel = (opts?: BroadcastChannelAdapterOptions) =>
  new BroadcastChannelAdapter(opts);
