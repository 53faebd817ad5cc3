/**
 * A complete custom transport in under 150 lines: Node's BroadcastChannel
 * (in-process and across worker threads). It declares what it honours —
 * best-effort fan-out, no consumer groups, no persistence — and the core adds
 * retries, dead-lettering, dedup and priorities on top. It passes the
 * conformance suite (examples/test/custom-adapter.test.ts), which skips the
 * cases its capabilities rule out and says why.
 */

import { BroadcastChannel } from 'node:worker_threads';
import {
  type AdapterCapabilities,
  type AdapterContext,
  BaseAdapter,
  createHub,
  type DeadLetterEntry,
  type DeadLetterReader,
  type InboundDelivery,
  ProtocolType,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
} from '@hub/core';
import {
  createMessage,
  type Envelope,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/protocol';
import { runIfMain } from './run-main.js';

export interface BroadcastChannelAdapterOptions {
  /** Channel name prefix; adapters with the same prefix reach each other. @default 'hub' */
  prefix?: string;
  /** Dead letters kept per address. @default 1000 */
  maxDeadLetters?: number;
}

const channelName = (prefix: string, env: Envelope) =>
  env.kind === 'event' ? `${prefix}:ev` : `${prefix}:ep:${env.destination}`;

class Delivery implements InboundDelivery {
  constructor(
    readonly envelope: Envelope,
    private readonly dlq: (entry: DeadLetterEntry) => void,
  ) {}
  readonly attempt = 1;
  ack(): void {}
  nack(): void {}
  async deadLetter(reason: string, attempts = 1): Promise<void> {
    this.dlq({ envelope: this.envelope, reason, attempts, deadLetteredAt: Date.now() });
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
  private readonly prefix: string;
  private readonly maxDeadLetters: number;
  private readonly deadLetters = new Map<string, DeadLetterEntry[]>();
  private readonly senders = new Map<string, BroadcastChannel>();

  constructor(opts: BroadcastChannelAdapterOptions = {}) {
    super();
    this.prefix = opts.prefix ?? 'hub';
    this.maxDeadLetters = opts.maxDeadLetters ?? 1000;
  }

  protected async doConnect(_ctx: AdapterContext): Promise<void> {}

  protected async doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    const name = channelName(this.prefix, envelope);
    let channel = this.senders.get(name);
    if (!channel) {
      channel = new BroadcastChannel(name);
      channel.unref();
      this.senders.set(name, channel);
    }
    channel.postMessage(envelope); // structured clone: Date, Uint8Array and bigint survive
    return { protocol: 'broadcast-channel' };
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    const name = spec.kind === 'topic' ? `${this.prefix}:ev` : `${this.prefix}:ep:${spec.address}`;
    const channel = new BroadcastChannel(name);
    channel.unref();
    const dlqKey = spec.address;
    channel.onmessage = (event) => {
      const envelope = (event as { data: Envelope }).data;
      spec.deliver(new Delivery(envelope, (entry) => this.addDeadLetter(dlqKey, entry)));
    };
    channel.onmessageerror = (event) =>
      spec.reject(new Error(`undecodable message on ${name}`), event);
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
    for (const channel of this.senders.values()) channel.close();
    this.senders.clear();
  }
}

/** Factory in the usual shape. */
export const broadcastChannel = (opts?: BroadcastChannelAdapterOptions) =>
  new BroadcastChannelAdapter(opts);

export async function main(log: (line: string) => void = console.log) {
  const hub = createHub({ name: 'custom', adapters: [] });
  hub.adapterRegistry.registerAdapter(ProtocolType.CUSTOM, broadcastChannel({ prefix: 'demo' }));
  await hub.start();
  const got: unknown[] = [];
  await hub.onMessage('echo', (msg) => void got.push(msg.payload));
  const result = await hub.send(
    createMessage({
      source: 'demo',
      destination: 'echo',
      payload: { at: new Date(0), bytes: new Uint8Array([1, 2, 3]) },
      deliveryGuarantee: 'best-effort',
    }),
  );
  const deadline = Date.now() + 5_000;
  while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  log(
    `sent via adapter "${result.adapter}" (${result.protocol}); received ${JSON.stringify(got[0], (_k, v) => (v instanceof Uint8Array ? [...v] : v))}`,
  );
  let refused = '';
  try {
    await hub.send(createMessage({ source: 'demo', destination: 'echo', payload: 1 }));
  } catch (err) {
    refused = (err as { code?: string }).code ?? '';
    log(`an at-least-once message is refused at once, not downgraded: ${refused}`);
  }
  await hub.close();
  return { received: got.length, refused };
}

runIfMain(import.meta, () => main());
