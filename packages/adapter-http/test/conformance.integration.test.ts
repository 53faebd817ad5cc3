/**
 * The published conformance suite with HTTP as the send path. Each simulated
 * hub instance sends through the outbound adapter to the Hub endpoint of a
 * shared broker hub; that hub puts the message on an in-memory broker, and
 * every instance receives from that broker. So what the suite judges on the
 * way in is real HTTP on loopback (pools, retries, the endpoint's parsing,
 * idempotency window and 202-after-accept); the way out is the memory
 * transport, because an HTTP client has no way to be pushed to.
 */
import { adapterTestSuite } from '@hub/adapter-test-suite';
import {
  type AdapterCapabilities,
  type AdapterContext,
  BaseAdapter,
  createHub,
  createMemoryBroker,
  type DeadLetterEntry,
  type DeadLetterReader,
  type Hub,
  type MemoryAdapter,
  MemoryDedupStore,
  memory,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
  silentLogger,
} from '@hub/core';
import type { UnifiedEvent, UnifiedMessage } from '@hub/protocol';
import { type HttpAdapter, type HttpEndpoint, http, httpServer } from '../src/index.js';

const broker = createMemoryBroker();
let brokerHub: Hub | undefined;
let endpoint: HttpEndpoint | undefined;

/** Sends over HTTP to the broker hub's endpoint; receives from the shared memory broker. */
class HttpRelay extends BaseAdapter implements DeadLetterReader {
  readonly name = 'http-relay';
  readonly capabilities: AdapterCapabilities;
  constructor(
    private readonly out: HttpAdapter,
    private readonly inn: MemoryAdapter,
  ) {
    super();
    const mem = inn.capabilities;
    this.capabilities = {
      ...mem,
      // What HTTP carries: no order across calls.
      guarantees: out.capabilities.guarantees.filter((g) => mem.guarantees.includes(g)),
      ordered: false,
    };
  }
  protected async doConnect(ctx: AdapterContext): Promise<void> {
    await this.out.connect(ctx);
    await this.inn.connect(ctx);
  }
  protected doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    return this.out.send(envelope);
  }
  protected doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    return this.inn.subscribe(spec);
  }
  readDeadLetters(address: string, limit?: number): Promise<DeadLetterEntry[]> {
    return this.inn.readDeadLetters(address, limit);
  }
  protected async doClose(): Promise<void> {
    await Promise.allSettled([this.out.close(), this.inn.close()]);
  }
}

const dedupStore = new MemoryDedupStore();

// Before setup the suite builds one adapter only to read its capabilities: any address does.
const base = () => (endpoint ? endpoint.url : 'http://127.0.0.1:1');

adapterTestSuite({
  name: 'http (send path over HTTP)',
  setup: async () => {
    brokerHub = createHub({ name: 'broker', logger: silentLogger, adapters: [memory({ broker })] });
    await brokerHub.start();
    endpoint = await httpServer({ hub: brokerHub });
  },
  teardown: async () => {
    await endpoint?.close();
    await brokerHub?.close({ drainTimeoutMs: 0 });
  },
  createAdapter: () =>
    new HttpRelay(
      http({
        routes: [
          { match: '**', kind: 'message', url: `${base()}/messages` },
          { match: '**', kind: 'event', url: `${base()}/events` },
        ],
        allowPrivateNetwork: true,
      }),
      memory({ broker }),
    ),
  hubConfig: { dedup: { store: dedupStore } },
  binaryPayloads: true,
});
