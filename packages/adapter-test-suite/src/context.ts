import { randomBytes } from 'node:crypto';
import {
  type AdapterCapabilities,
  type AdapterContext,
  createHub,
  type Hub,
  type HubConfig,
  type ProtocolAdapter,
  silentLogger,
} from '@hub/core';
import { DeliveryGuarantee, ErrorCode, HubError } from '@hub/protocol';
import type { AdapterTestSuiteOptions } from './options.js';
import { createGate, type Gate, settleWithin, type WaitForOptions, waitFor } from './wait.js';

/** Counters of `hub.metrics().totals`, summed over hubs. */
export type HubTotals = ReturnType<Hub['metrics']>['totals'];

/** What a case gets: hub factory, scaled sizes and deadlines, cleanup. */
export interface CaseContext {
  readonly options: AdapterTestSuiteOptions;
  readonly capabilities: AdapterCapabilities;
  /** The guarantee most cases send under: at-least-once when the adapter honours it. */
  readonly guarantee: DeliveryGuarantee;
  /** `n × scale`, never below `min`. */
  count(n: number, min?: number): number;
  /** `ms × timeoutScale`. */
  ms(ms: number): number;
  /** A name no other case (or run) uses: `ats_<prefix>_<random>`. */
  unique(prefix: string): string;
  /** Build and start a hub on a fresh adapter; closed when the case ends. */
  hub(role: string, config?: Partial<HubConfig>): Promise<Hub>;
  /**
   * A fresh adapter, connected on its own with no hub above it, for cases
   * that check what the adapter itself hands over (R8's prefetch). Closed
   * when the case ends.
   */
  bareAdapter(role: string): Promise<ProtocolAdapter>;
  /** How long closing one hub (or adapter) may take when the case ends. */
  readonly closeBudgetMs: number;
  /** The adapter a hub of this case was built with. */
  adapterOf(hub: Hub): ProtocolAdapter;
  /** Kill an instance abruptly (the `crashInstance` option, or close with no drain). */
  crash(hub: Hub): Promise<void>;
  /** A gate released at the end of the case at the latest, so no handler hangs past it. */
  gate(): Gate;
  /** `waitFor` with the suite's scaled default deadline. */
  waitFor<T>(condition: () => T | Promise<T>, options?: WaitForOptions): Promise<NonNullable<T>>;
  /** Sum of `metrics().totals` over the given hubs. */
  totals(hubs: readonly Hub[]): HubTotals;
}

/** Pick the guarantee cases send under: the weakest reliable one the adapter honours. */
export function caseGuarantee(caps: AdapterCapabilities): DeliveryGuarantee {
  for (const g of [
    DeliveryGuarantee.AT_LEAST_ONCE,
    DeliveryGuarantee.EXACTLY_ONCE,
    DeliveryGuarantee.ORDERED,
  ]) {
    if (caps.guarantees.includes(g)) return g;
  }
  return DeliveryGuarantee.BEST_EFFORT;
}

/** True when the guarantee redelivers unacknowledged messages. */
export const isReliable = (g: DeliveryGuarantee): boolean => g !== DeliveryGuarantee.BEST_EFFORT;

const defaultCrash = (hub: Hub): Promise<void> => hub.close({ drainTimeoutMs: 0 });

/** Drain a hub gets when its case ends (its held handlers are released first). */
const DISPOSE_DRAIN_MS = 2_000;
/** Past the drain, what closing the adapters may take before the case reports a hang. */
const CLOSE_CLEANUP_MS = 8_000;

/** Build a context; call `dispose()` when the case ends, pass or fail. */
export function createCaseContext(
  options: AdapterTestSuiteOptions,
  capabilities: AdapterCapabilities,
): CaseContext & { dispose(): Promise<void> } {
  const scale = options.scale ?? 1;
  const timeoutScale = options.timeoutScale ?? 1;
  const hubs: Hub[] = [];
  const bare: ProtocolAdapter[] = [];
  const adapters = new Map<Hub, ProtocolAdapter>();
  const gates: Gate[] = [];
  const run = randomBytes(3).toString('hex');
  let seq = 0;

  const ctx: CaseContext & { dispose(): Promise<void> } = {
    options,
    capabilities,
    guarantee: caseGuarantee(capabilities),
    count: (n, min = 1) => Math.max(min, Math.round(n * scale)),
    ms: (ms) => Math.round(ms * timeoutScale),
    unique: (prefix) =>
      `ats_${prefix}_${run}${(seq++).toString(36)}_${randomBytes(3).toString('hex')}`,
    async hub(role, config) {
      const adapter = await options.createAdapter();
      const hub = createHub({
        // cases provoke failures on purpose (poison, crashes): keep them off the console
        logger: silentLogger,
        ...options.hubConfig,
        ...config,
        name: ctx.unique(role),
        adapters: [adapter],
      } as HubConfig);
      hubs.push(hub);
      adapters.set(hub, adapter);
      await hub.start();
      return hub;
    },
    async bareAdapter(role) {
      const adapter = await options.createAdapter();
      bare.push(adapter);
      const name = ctx.unique(role);
      const context: AdapterContext = {
        hubName: name,
        instanceId: name,
        logger: silentLogger,
        reportError: () => {},
        reportState: () => {},
      };
      await adapter.connect(context);
      return adapter;
    },
    closeBudgetMs: Math.round((DISPOSE_DRAIN_MS + CLOSE_CLEANUP_MS) * timeoutScale),
    adapterOf(hub) {
      const adapter = adapters.get(hub);
      if (!adapter) {
        throw new HubError(
          ErrorCode.INVALID_CONFIG,
          '[hub:adapter-test-suite] adapterOf: hub was not built by this case',
        );
      }
      return adapter;
    },
    crash(hub) {
      const crash = options.crashInstance ?? defaultCrash;
      return crash(hub, ctx.adapterOf(hub));
    },
    gate() {
      const g = createGate();
      gates.push(g);
      return g;
    },
    waitFor: (condition, opts = {}) =>
      waitFor(condition, { ...opts, timeoutMs: opts.timeoutMs ?? ctx.ms(20_000) }),
    totals(list) {
      const sum: Record<string, number> = {};
      for (const hub of list) {
        for (const [k, v] of Object.entries(hub.metrics().totals)) {
          if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
        }
      }
      return sum as unknown as HubTotals;
    },
    async dispose() {
      // release held handlers first so closing hubs drain quickly
      for (const g of gates) g.release();
      const budget = ctx.closeBudgetMs;
      const results = await Promise.allSettled([
        ...hubs.map((h) =>
          settleWithin(
            h.close({ drainTimeoutMs: ctx.ms(DISPOSE_DRAIN_MS) }),
            budget,
            `closing hub ${h.name}: close() (drain ${ctx.ms(DISPOSE_DRAIN_MS)} ms, then each adapter's close())`,
          ),
        ),
        ...bare.map((a) => settleWithin(a.close(), budget, `the adapter's close()`)),
      ]);
      hubs.length = 0;
      bare.length = 0;
      adapters.clear();
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) {
        throw new HubError(
          ErrorCode.ADAPTER_FAILED,
          `[hub:adapter-test-suite] cleanup after the case: ${failed.reason instanceof Error ? failed.reason.message.replace(/^\[[^\]]*\]\s*/, '') : String(failed.reason)}`,
          { cause: failed.reason },
        );
      }
    },
  };
  return ctx;
}
