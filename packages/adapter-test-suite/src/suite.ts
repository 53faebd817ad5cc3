import type { ProtocolAdapter } from '@hub/core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { type AdapterProbe, CASES, runCase, skipReason } from './cases/index.js';
import { hasDeadLetterReader } from './cases/redelivery.js';
import type { AdapterTestSuiteOptions } from './options.js';

const isPromise = (v: unknown): v is Promise<unknown> =>
  typeof (v as Promise<unknown> | undefined)?.then === 'function';

/**
 * Learn the adapter's capabilities at registration time, which is synchronous:
 * from `options.capabilities`, else from one adapter built by a synchronous
 * `createAdapter` (closed again, never connected). Undefined when neither works.
 */
function probeAdapter(options: AdapterTestSuiteOptions): AdapterProbe | undefined {
  const built = options.createAdapter();
  if (isPromise(built)) {
    // an async factory cannot be read here; the built adapter is closed once it resolves
    built.then((a) => a.close()).catch(() => {});
    if (!options.capabilities) return undefined;
    return { capabilities: options.capabilities, deadLetterReader: true };
  }
  const adapter: ProtocolAdapter = built;
  const probe: AdapterProbe = {
    capabilities: options.capabilities ?? adapter.capabilities,
    deadLetterReader: hasDeadLetterReader(adapter),
  };
  adapter.close().catch(() => {});
  return probe;
}

/**
 * Register the conformance suite for one adapter in the current vitest file:
 * one `describe` with one test per case of the Hub conformance list
 * (docs/conformance.md) that applies to an in-process adapter (R1–R9, R15–R19, S1, S11, S12). A case that needs a capability the
 * adapter does not declare, or that `options.skip` names, is registered as
 * skipped with the reason in its name: never run and passed.
 */
export function adapterTestSuite(options: AdapterTestSuiteOptions): void {
  const probe = probeAdapter(options);
  const timeout = Math.round((options.caseTimeoutMs ?? 60_000) * (options.timeoutScale ?? 1));
  describe(`@hub/adapter-test-suite: ${options.name}`, () => {
    beforeAll(async () => {
      await options.setup?.();
    });
    afterAll(async () => {
      await options.teardown?.();
    });
    if (!probe) {
      it('capabilities', () => {
        throw new Error(
          '[hub:adapter-test-suite] createAdapter is async: pass options.capabilities so the suite can decide which cases apply',
        );
      });
      return;
    }
    for (const def of CASES) {
      const reason = skipReason(def, probe, options);
      if (reason !== undefined) {
        // skipped, never passed: the adapter lacks what the case checks (or the
        // caller said why it cannot run); the reason is in the test name
        it.skip(`${def.id} ${def.title} — skipped: ${reason}`, () => {});
        continue;
      }
      const note = def.note?.(probe);
      it(
        `${def.id} ${def.title}${note ? ` (${note})` : ''}`,
        () => runCase(def.id, options, probe.capabilities),
        timeout,
      );
    }
  });
}
