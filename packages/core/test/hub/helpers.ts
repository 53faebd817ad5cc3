/**
 * Test helpers for the hub, router, registry and delivery tests: a polling
 * wait, a recording logger, a message factory, and a tiny custom adapter
 * (BaseAdapter) with precise control over capabilities, send delay and
 * failures.
 */
import {
  type AdapterCapabilities,
  type AdapterContext,
  type AdapterHealth,
  BaseAdapter,
  type CreateMessageInput,
  createMessage,
  type DeadLetterEntry,
  type DeadLetterReader,
  type DeliveryGuarantee,
  type Envelope,
  type InboundDelivery,
  type Logger,
  matchTopic,
  type SendResult,
  type Subscription,
  type SubscriptionSpec,
  type UnifiedEvent,
  type UnifiedMessage,
} from '@hub/core';

/** Poll `cond` until it returns truthy (or a promise of truthy), or fail after `timeoutMs`. */
export async function waitFor(
  cond: () => unknown,
  what = 'condition',
  timeoutMs = 15_000,
  intervalMs = 2,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A promise with its resolve exposed. */
export function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
} {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
}

/** A logger that keeps every line, for tests that assert on logging. */
export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: LogLine['level']) =>
    (message: string): void => {
      lines.push({ level, message });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

let seq = 0;
/** A message with test defaults: source `test`, destination `ep`, at-least-once. */
export function msg<T = unknown>(
  over: Partial<CreateMessageInput<T>> & { payload?: T } = {},
): UnifiedMessage<T> {
  return createMessage<T>({
    source: 'test',
    destination: 'ep',
    payload: (over.payload ?? seq++) as T,
    ...over,
  } as CreateMessageInput<T>);
}

/** Number of live timers (ref'd or not) in this process. */
export const timerCount = (): number =>
  process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

export interface TestAdapterOptions {
  name: string;
  /** @default all four guarantees */
  guarantees?: readonly DeliveryGuarantee[];
  /** @default true */
  broadcast?: boolean;
  /** Reject `connect` with this reason. */
  failConnect?: string;
}

interface Sub {
  spec: SubscriptionSpec;
  closed: boolean;
}

/**
 * A small in-process transport on BaseAdapter. `delayMs` slows each send,
 * `failNext` fails that many sends, `failAll` fails every send, `gate`
 * holds each send until released. Deliveries go to the first open endpoint
 * subscription (round-robin) or every matching topic subscription.
 */
export class TestAdapter extends BaseAdapter implements DeadLetterReader {
  readonly name: string;
  readonly capabilities: AdapterCapabilities;
  delayMs = 0;
  failNext = 0;
  failAll = false;
  gate: Promise<void> | undefined;
  /** Sends running inside the adapter now, and the most seen at once. */
  sending = 0;
  maxSending = 0;
  readonly sent: Envelope[] = [];
  readonly acked: string[] = [];
  readonly nacked: string[] = [];
  readonly dead: DeadLetterEntry[] = [];
  connects = 0;
  private readonly failConnect: string | undefined;
  private tsubs: Sub[] = [];
  private rr = 0;

  constructor(opts: TestAdapterOptions) {
    super();
    this.name = opts.name;
    this.failConnect = opts.failConnect;
    this.capabilities = {
      guarantees: opts.guarantees ?? ['best-effort', 'at-least-once', 'exactly-once', 'ordered'],
      persistent: false,
      ordered: true,
      broadcast: opts.broadcast ?? true,
      patterns: true,
      consumerGroups: true,
    };
  }

  /** When set, health() reports this without a state change (nothing is emitted). */
  silentHealth: boolean | undefined;

  override health(): AdapterHealth {
    const h = super.health();
    return this.silentHealth === undefined ? h : { ...h, healthy: this.silentHealth };
  }

  /** Flip health: `false` makes health() report degraded/unhealthy. */
  setUp(up: boolean): void {
    this.setState(up ? 'ready' : 'degraded');
  }

  get subscriptions(): number {
    return this.tsubs.filter((s) => !s.closed).length;
  }

  protected async doConnect(_ctx: AdapterContext): Promise<void> {
    this.connects++;
    if (this.failConnect !== undefined) throw new Error(this.failConnect);
  }

  protected async doSend(envelope: UnifiedMessage | UnifiedEvent): Promise<SendResult> {
    this.sending++;
    this.maxSending = Math.max(this.maxSending, this.sending);
    try {
      if (this.gate) await this.gate;
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
      if (this.failAll || this.failNext > 0) {
        if (this.failNext > 0) this.failNext--;
        throw new Error(`injected failure on ${this.name}`);
      }
      this.sent.push(envelope);
      queueMicrotask(() => this.route(envelope, 1));
      return { protocol: `${this.name}-proto` };
    } finally {
      this.sending--;
    }
  }

  private route(envelope: Envelope, attempt: number): void {
    const open = this.tsubs.filter((s) => !s.closed);
    if (envelope.kind === 'message') {
      const eps = open.filter(
        (s) => s.spec.kind === 'endpoint' && s.spec.address === envelope.destination,
      );
      if (eps.length === 0) return;
      const sub = eps[this.rr++ % eps.length]!;
      this.deliverTo(sub, envelope, attempt);
      return;
    }
    for (const s of open) {
      if (s.spec.kind === 'topic' && matchTopic(s.spec.address, envelope.topic)) {
        this.deliverTo(s, envelope, attempt);
      }
    }
  }

  private deliverTo(sub: Sub, envelope: Envelope, attempt: number): void {
    let settled = false;
    const copy = (
      envelope.kind === 'message' ? { ...envelope, attempt } : { ...envelope }
    ) as Envelope;
    const delivery: InboundDelivery = {
      envelope: copy,
      attempt,
      ack: () => {
        if (settled) return;
        settled = true;
        this.acked.push(envelope.id);
      },
      nack: () => {
        if (settled) return;
        settled = true;
        this.nacked.push(envelope.id);
        if (!sub.closed) setImmediate(() => this.route(envelope, attempt + 1));
      },
      deadLetter: async (reason, attempts) => {
        if (settled) return;
        settled = true;
        this.dead.push({
          envelope: copy as UnifiedMessage,
          reason,
          attempts: attempts ?? attempt,
          deadLetteredAt: Date.now(),
        });
      },
    };
    sub.spec.deliver(delivery);
  }

  protected async doSubscribe(spec: SubscriptionSpec): Promise<Subscription> {
    const sub: Sub = { spec, closed: false };
    this.tsubs.push(sub);
    return {
      close: async () => {
        sub.closed = true;
      },
    };
  }

  protected async doClose(): Promise<void> {
    for (const s of this.tsubs) s.closed = true;
    this.tsubs = [];
  }

  async readDeadLetters(address: string): Promise<DeadLetterEntry[]> {
    return this.dead.filter((d) =>
      d.envelope.kind === 'message' ? d.envelope.destination === address : false,
    );
  }
}
