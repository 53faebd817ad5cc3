import type { AdapterCapabilities, Hub, HubConfig, ProtocolAdapter } from '@hub/core';
import type { Envelope } from '@hub/protocol';

/** Ids of the conformance cases this suite runs (docs/conformance.md, "The suite's cases"; the README says what each checks). */
export type CaseId =
  | 'R1'
  | 'R2'
  | 'R2-exactly-once'
  | 'R3'
  | 'R3-topics'
  | 'R4'
  | 'R5'
  | 'R6'
  | 'R7'
  | 'R8'
  | 'R9'
  | 'R15'
  | 'R16'
  | 'R17'
  | 'R18'
  | 'R19'
  | 'S1'
  | 'S1-raw'
  | 'S11'
  | 'S12';

export interface AdapterTestSuiteOptions {
  /** Shown in the describe block: `@hub/adapter-test-suite: <name>`. */
  name: string;
  /**
   * Build a fresh adapter. Called once per simulated hub instance (a case
   * may build several); all of them must reach the same broker, so that
   * instances of one endpoint share its work.
   */
  createAdapter: () => ProtocolAdapter | Promise<ProtocolAdapter>;
  /**
   * The adapter's capabilities. Needed only when `createAdapter` is async:
   * otherwise the suite reads them from one adapter it builds (and closes
   * unconnected) while registering the tests.
   * @default read from `createAdapter().capabilities`
   */
  capabilities?: AdapterCapabilities;
  /**
   * Skip cases by id, each with its reason (shown in the test name). Skipping a
   * base id (`R3`) also skips its parts (`R3-topics`).
   * @default {}
   */
  skip?: Partial<Record<CaseId, string>>;
  /**
   * Multiply message counts (R2's 5,000, R9's 1,000 ...). Below 1 for a quick
   * smoke run; counts never drop below a small floor that still proves the case.
   * @default 1
   */
  scale?: number;
  /**
   * Multiply every deadline (waitFor, test timeout, hold windows). Raise it for
   * remote brokers or slow CI.
   * @default 1
   */
  timeoutScale?: number;
  /** Runs once before the cases (start a broker). @default none */
  setup?: () => void | Promise<void>;
  /** Runs once after the cases, even when they fail (stop the broker). @default none */
  teardown?: () => void | Promise<void>;
  /**
   * Extra `createHub` config for every hub the suite builds (a logger, ...).
   * `name` and `adapters` are always set by the suite. Instances of one
   * endpoint are separate hubs: for exactly-once across them, give them one
   * shared dedup store here (`dedup: { store }`), as production instances
   * share a Redis.
   * @default { logger: silentLogger }
   */
  hubConfig?: Partial<HubConfig>;
  /**
   * Kill one instance abruptly (R5): what it holds must come back to the
   * survivors the way it would after a real crash. In-process adapters (one
   * broker object) can leave the default. A networked adapter must not
   * release or ack anything on the way out, which the default's graceful
   * close does; in process, drop its connections instead, then close the hub:
   *
   * ```ts
   * crashInstance: async (hub, adapter) => {
   *   // every socket of this instance, e.g. the client objects the adapter holds
   *   for (const socket of socketsOf(adapter)) socket.destroy();
   *   await hub.close({ drainTimeoutMs: 0 }).catch(() => {}); // nothing left to release over
   * },
   * ```
   *
   * What the instance held then stays pending in the broker until the
   * adapter's claim window passes (set `slowHandlerMs` above it). Killing a
   * child process with SIGKILL works too.
   * @default (hub) => hub.close({ drainTimeoutMs: 0 })
   */
  crashInstance?: (hub: Hub, adapter: ProtocolAdapter) => Promise<void>;
  /**
   * Put raw bytes on the transport at an endpoint address, bypassing the
   * sender's validation (S1-raw). Transports that carry bytes should supply
   * it; without it S1-raw is skipped.
   * @default none
   */
  injectRaw?: (address: string, raw: Uint8Array | string) => Promise<void>;
  /**
   * Put a valid envelope on the transport address where endpoint `address`
   * reads its messages, whatever the envelope's own kind and destination (an
   * event, a message for another endpoint), bypassing routing (S11). Without
   * it S11 is skipped.
   * @default none
   */
  injectForeign?: (address: string, envelope: Envelope) => Promise<void>;
  /**
   * Make every dead-letter write for endpoint `address` fail (R19); resolve
   * with a function that repairs it. Transports with a dead-letter store
   * should supply it; without it R19 is skipped.
   * @default none
   */
  breakDeadLetters?: (address: string) => Promise<() => Promise<void>>;
  /**
   * The adapter carries `Uint8Array` payloads unchanged (in-process adapters,
   * binary codecs). R1 then also round-trips binary payloads.
   * @default false
   */
  binaryPayloads?: boolean;
  /**
   * How long R5 keeps one live handler busy, to prove a slow but live consumer
   * is not robbed. Set it above the adapter's claim window (Redis: min idle
   * time of XAUTOCLAIM) so the case means something.
   * @default 1500 (× timeoutScale)
   */
  slowHandlerMs?: number;
  /**
   * How a separate process builds this adapter, for R18 (clean exit). The
   * child imports `module`, calls its export `export` with `args` and runs a
   * hub on the adapter it returns; after `close()` resolves it must exit on its
   * own within `exitWithinMs`. Without this option R18 is skipped.
   * @default none
   */
  cleanExit?: CleanExitOptions;
  /**
   * Test timeout of each case.
   * @default 60_000 (× timeoutScale)
   */
  caseTimeoutMs?: number;
}

/** The `cleanExit` option: a module a child process can import to build the adapter. */
export interface CleanExitOptions {
  /** Absolute path or `file:` URL of the module. */
  module: string;
  /**
   * Name of its export: a function `(args) => adapter` (or a promise of one).
   * @default 'createAdapter'
   */
  export?: string;
  /**
   * Passed to that function; must survive JSON (a URL, a key prefix). A
   * function is called in the parent first, after `setup` (say, to read the
   * URL of a broker started there).
   * @default undefined
   */
  args?: unknown | (() => unknown | Promise<unknown>);
  /**
   * Node flags of the child. A TypeScript module needs a loader:
   * `['--import', 'tsx']`; add `--conditions=…` to resolve workspace sources.
   * @default []
   */
  execArgv?: readonly string[];
  /**
   * Longest time from `close()` resolving to the process exiting, measured in
   * the child.
   * @default 200
   */
  exitWithinMs?: number;
}
