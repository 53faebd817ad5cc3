import { type Envelope, ErrorCode, HubError } from '@hub/protocol';
import { isThenable } from '../common/thenable.js';
import { rejectUnknownOptions } from '../config/unknown-options.js';
import type { InboundContext, Middleware } from '../hub/middleware.js';
import type { Logger } from '../logger.js';
import {
  attachedIdentity,
  currentIdentity,
  IDENTITY_HEADER,
  RESERVED_HEADER_PREFIX,
  senderOf,
} from './identity.js';
import { ReplayGuard, type ReplayOptions } from './replay.js';
import { type AccessPolicy, type AccessVerb, CompiledPolicy } from './rules.js';

/**
 * Protection of envelopes on the wire (signing, encryption, compression):
 * `envelopeProtection()` from `@hub/core/security` builds one (it needs
 * Node's crypto and zlib, so it is not in the main entry, which also runs in
 * browsers).
 */
export interface EnvelopeProtection {
  readonly name: string;
  /** True when it signs and verifies envelopes, so an arrived identity can be trusted. */
  readonly signs?: boolean;
  /** Insecure settings of this protection, each logged as a warning when a hub starts with it. */
  readonly warnings?: readonly string[];
  /** On the way out, after every other middleware: compress, encrypt, sign. */
  seal(envelope: Envelope): Envelope | Promise<Envelope>;
  /**
   * On the way in, before anything else: verify, decrypt, decompress. Throws
   * a `HUB_INTEGRITY_FAILED` HubError when the envelope does not check out.
   */
  open(envelope: Envelope): Envelope | Promise<Envelope>;
}

/** A security event, structured, for the audit sink. Never holds a secret or a payload. */
export interface AuditEvent {
  /**
   * `refused`: the policy refused a call or an arrived envelope;
   * `integrity`: an arrived envelope failed verification, decryption or decompression;
   * `reload`: the policy was replaced;
   * `auth`: an entry point (a WebSocket gateway, an HTTP endpoint) refused a client's credentials;
   * `rate-limit`: an entry point refused or cut a client over its rate limit;
   * `replay`: an arrived envelope was a copy of one already received, or outside the replay window.
   */
  kind: 'refused' | 'integrity' | 'reload' | 'auth' | 'rate-limit' | 'replay';
  /** Milliseconds since the Unix epoch. */
  at: number;
  hub: string;
  identity?: string;
  /** The `source` field of the envelope a send or publish carried. */
  source?: string;
  /** What was attempted; `receive` for an arrived envelope that failed its checks. */
  verb?: AccessVerb | 'receive';
  address?: string;
  messageId?: string;
  /** The rule that decided (`default-deny` when none allowed it). */
  rule?: string;
  code?: string;
  reason: string;
}

export type AuditSink = (event: AuditEvent) => void;

export interface SecurityOptions {
  /** The identity local sends, serves and subscriptions carry. @default the hub's name */
  identity?: string;
  /**
   * Who may send, publish, subscribe and serve what. Without it nothing is
   * refused (only identity and protection apply). Replace it at run time with
   * `hub.security.reload(policy)`.
   */
  policy?: AccessPolicy;
  /** Where security events go. @default the hub's logger, at warn */
  audit?: AuditSink;
  /** Signing, encryption and compression of envelopes (`envelopeProtection()` from `@hub/core/security`). */
  protection?: EnvelopeProtection;
  /**
   * Refuse replays: an arrived envelope whose id this hub's consumer has
   * already received (on a first delivery: a transport's redeliveries go
   * on), or whose timestamp lies outside the window, is refused with
   * `HUB_REPLAYED`, audited and dead-lettered. Needs signing to mean
   * anything (the id and timestamp are signed). `{}` takes the defaults.
   * @default off
   */
  replay?: ReplayOptions;
}

const SECURITY_OPTIONS = ['identity', 'policy', 'audit', 'protection', 'replay'] as const;

/** Request/reply inboxes: replies are matched by correlation id, and every hub serves its own. */
const INBOX_PREFIX = '_inbox.';

const addressOf = (env: Envelope): string => (env.kind === 'message' ? env.destination : env.topic);

/**
 * Headers the envelope protection writes (`@hub/core/security` exports them
 * by name); their presence says an envelope was sealed.
 */
export const PROTECTION_HEADERS = ['hub-sig', 'hub-enc', 'hub-iv', 'hub-tag', 'hub-zip'] as const;

const isProtected = (env: Envelope): boolean =>
  PROTECTION_HEADERS.some((h) => env.headers[h] !== undefined);

function withoutProtection(env: Envelope): Envelope {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(env.headers)) {
    if (!(PROTECTION_HEADERS as readonly string[]).includes(k)) headers[k] = v;
  }
  return { ...env, headers } as Envelope;
}

/**
 * A copy of `given` without any `hub-*` header the sender wrote itself, with
 * the identity. Most sends carry no headers at all: they get a one-entry
 * literal, without walking the (empty) key list.
 */
function stamped(given: Record<string, string>, identity: string): Record<string, string> {
  let empty = true;
  for (const _ in given) {
    empty = false;
    break;
  }
  // A literal with a constant key, which V8 builds from a fixed shape.
  if (empty) return { 'hub-identity': identity } satisfies Record<typeof IDENTITY_HEADER, string>;
  const headers: Record<string, string> = {};
  for (const k of Object.keys(given)) {
    if (!k.startsWith(RESERVED_HEADER_PREFIX)) headers[k] = given[k]!;
  }
  headers[IDENTITY_HEADER] = identity;
  return headers;
}

/**
 * The hub's security layer: authorization on send, publish, serve, subscribe
 * and arrival; the identity stamp; the envelope protection; audit and counts.
 * Every adapter gets it because it runs in the core's pipelines.
 */
export class HubSecurity {
  readonly identity: string;
  private policy: CompiledPolicy | undefined;
  private readonly audit: AuditSink;
  private readonly protection: EnvelopeProtection | undefined;
  /** Counters, reported as the `security` component of the hub's metrics. */
  readonly counts = {
    refused: 0,
    integrityFailed: 0,
    reloads: 0,
    authFailed: 0,
    rateLimited: 0,
    auditFailed: 0,
    replayed: 0,
  };
  private readonly replay: ReplayGuard | undefined;

  constructor(
    options: SecurityOptions,
    private readonly hubName: string,
    logger: Logger,
  ) {
    if (typeof options !== 'object' || options === null) {
      throw new HubError(ErrorCode.INVALID_CONFIG, '[hub:config] security must be an object');
    }
    rejectUnknownOptions('createHub.security', options, SECURITY_OPTIONS);
    const { identity, audit, protection } = options;
    if (identity !== undefined && (typeof identity !== 'string' || identity === '')) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub:config] security.identity must be a non-empty string',
      );
    }
    if (audit !== undefined && typeof audit !== 'function') {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub:config] security.audit must be a function',
      );
    }
    if (
      protection !== undefined &&
      (typeof protection?.seal !== 'function' || typeof protection.open !== 'function')
    ) {
      throw new HubError(
        ErrorCode.INVALID_CONFIG,
        '[hub:config] security.protection must have seal and open (envelopeProtection() builds one)',
      );
    }
    this.identity = identity ?? hubName;
    this.policy = options.policy === undefined ? undefined : new CompiledPolicy(options.policy);
    this.protection = protection;
    this.replay = options.replay === undefined ? undefined : new ReplayGuard(options.replay);
    if (this.policy !== undefined && protection?.signs !== true) {
      logger.warn(
        `[hub:security] ${hubName} has a policy but does not verify signatures: the identity of an envelope arriving from another hub is whatever its sender wrote (add envelopeProtection({ signing }) from @hub/core/security)`,
      );
    }
    if (this.replay !== undefined && protection?.signs !== true) {
      logger.warn(
        `[hub:security] ${hubName} refuses replays but does not verify signatures: a copy with a new id or timestamp passes (add envelopeProtection({ signing }) from @hub/core/security)`,
      );
    }
    for (const warning of protection?.warnings ?? []) {
      logger.warn(`[hub:security] ${hubName}: ${warning}`);
    }
    this.audit =
      audit ??
      ((event) => logger.warn(`[hub:security] ${event.kind}: ${event.reason}`, { ...event }));
  }

  /**
   * Replace the rule set at run time. An invalid one is refused with
   * HUB_INVALID_CONFIG and the old one stays in force.
   */
  reload(policy: AccessPolicy): void {
    this.policy = new CompiledPolicy(policy);
    this.counts.reloads++;
    this.emit({ kind: 'reload', reason: `policy reloaded with ${policy.rules.length} rule(s)` });
  }

  /**
   * The hub's middleware list with security around it: the first entry
   * authorizes and stamps the identity on the way out, and opens and
   * authorizes on the way in; the last one seals on the way out.
   */
  wrap(user: readonly Middleware[], arrivals = true): Middleware[] {
    const head: Middleware = {
      name: 'security',
      outbound: (env) => this.outbound(env),
      ...(arrivals
        ? { inbound: (env: Envelope, context: InboundContext) => this.inbound(env, context) }
        : {}),
    };
    const protection = this.protection;
    if (protection === undefined) return [head, ...user];
    return [
      head,
      ...user,
      { name: 'security-protection', outbound: (env) => protection.seal(env) },
    ];
  }

  /** Serve or subscribe check, for the identity `runAs` names or the hub's own. */
  checkConsume(verb: 'serve' | 'subscribe', address: string): void {
    const identity = currentIdentity() ?? this.identity;
    if (identity === this.identity && address.startsWith(INBOX_PREFIX)) return;
    this.authorize(identity, verb, address, undefined);
  }

  /**
   * Record an entry point's own security event (a refused login, a rate
   * limit) in the audit sink and the counts, beside the hub's.
   */
  report(
    event: Pick<AuditEvent, 'kind' | 'reason'> & Partial<Omit<AuditEvent, 'at' | 'hub'>>,
  ): void {
    if (event.kind === 'auth') this.counts.authFailed++;
    if (event.kind === 'rate-limit') this.counts.rateLimited++;
    this.emit(event);
  }

  /** Figures for the hub's metrics (`components.security`). */
  metrics(): Record<string, number> {
    return {
      ...this.counts,
      rules: this.policy?.rules.length ?? -1,
      ...(this.replay === undefined
        ? {}
        : { replayIds: this.replay.size, replayEvicted: this.replay.evicted }),
    };
  }

  /**
   * Authorize, then stamp the identity: the one copy of the envelope and its
   * headers this step makes (the caller's object is never changed), with
   * every `hub-*` header the sender wrote itself left out.
   */
  private outbound(env: Envelope): Envelope {
    const identity = attachedIdentity(env) ?? this.identity;
    if (this.policy !== undefined) {
      const address = addressOf(env);
      if (!(identity === this.identity && address.startsWith(INBOX_PREFIX))) {
        this.authorizeEnvelope(identity, env, address);
      }
    }
    return { ...env, headers: stamped(env.headers, identity) } as Envelope;
  }

  /**
   * Whether arrivals have anything to be checked against: a policy, a
   * protection or replay protection. Without any, the hub leaves the inbound
   * step out (an asynchronous hop per delivery) until a policy is loaded.
   */
  get checksArrivals(): boolean {
    return this.policy !== undefined || this.protection !== undefined || this.replay !== undefined;
  }

  /** True when the hub verifies and decrypts protected envelopes (`security.protection`). */
  get opensProtection(): boolean {
    return this.protection !== undefined;
  }

  /**
   * For an entry point (a WebSocket gateway, an HTTP endpoint) before it
   * hands an envelope from a client to `hub.send`: a client that is itself a
   * hub with protection sent it signed and maybe encrypted, so it is
   * verified and opened here (a failure is audited, counted and thrown as
   * `HUB_INTEGRITY_FAILED`); the hub seals it again with its own protection
   * on the way out. An envelope without protection headers (a browser
   * client, a plain HTTP caller) is returned as it is: the entry point's
   * own authentication vouches for it.
   */
  async openFromClient(env: Envelope): Promise<Envelope> {
    if (this.protection === undefined || !isProtected(env)) return env;
    return withoutProtection(await this.open(env));
  }

  /**
   * For an entry point delivering to its clients: the envelope as its own
   * handler saw it, without the headers of the protection it arrived with
   * (they no longer describe its body), and sealed again for a client that
   * opens protected envelopes itself.
   */
  async forClients(env: Envelope): Promise<{ plain: Envelope; sealed: Envelope | undefined }> {
    const plain = isProtected(env) ? withoutProtection(env) : env;
    const sealed = this.protection === undefined ? undefined : await this.protection.seal(plain);
    return { plain, sealed };
  }

  /**
   * Verify and open with the protection; a failure is counted, audited and
   * rethrown as a HubError. Synchronous when the protection is (its keys
   * known), so an arrival costs no extra promise.
   */
  private open(arrived: Envelope): Envelope | Promise<Envelope> {
    let opened: Envelope | Promise<Envelope>;
    try {
      opened = this.protection!.open(arrived);
    } catch (err) {
      throw this.integrityFailed(arrived, err);
    }
    return isThenable(opened)
      ? opened.then(undefined, (err: unknown) => {
          throw this.integrityFailed(arrived, err);
        })
      : opened;
  }

  private integrityFailed(arrived: Envelope, err: unknown): HubError {
    this.counts.integrityFailed++;
    const e =
      err instanceof HubError
        ? err
        : new HubError(ErrorCode.INTEGRITY_FAILED, `[hub:security] ${String(err)}`, {
            cause: err,
          });
    const sender = senderOf(arrived);
    this.emit({
      kind: 'integrity',
      verb: 'receive',
      ...(sender === undefined ? {} : { identity: sender }),
      address: addressOf(arrived),
      messageId: arrived.id,
      code: e.code,
      reason: e.message,
    });
    return e;
  }

  private inbound(arrived: Envelope, context: InboundContext): Envelope | Promise<Envelope> {
    if (this.protection === undefined) return this.admit(arrived, context);
    const opened = this.open(arrived);
    return isThenable(opened)
      ? opened.then((env) => this.admit(env, context))
      : this.admit(opened, context);
  }

  /** Replay and policy checks of an arrived envelope, once it is verified and opened. */
  private admit(env: Envelope, context: InboundContext): Envelope {
    if (this.replay !== undefined) this.checkReplay(env, context);
    const address = addressOf(env);
    if (env.kind === 'message' && address.startsWith(INBOX_PREFIX)) return env;
    this.authorizeEnvelope(senderOf(env) ?? 'anonymous', env, address);
    return env;
  }

  /** A message is a send, an event a publish, by `identity` to `address`, from the envelope's source. */
  private authorizeEnvelope(identity: string, env: Envelope, address: string): void {
    this.authorize(
      identity,
      env.kind === 'message' ? 'send' : 'publish',
      address,
      env.id,
      env.source,
    );
  }

  /** After verification: a valid signature on a copy already received is still a refusal. */
  private checkReplay(env: Envelope, context: InboundContext): void {
    try {
      this.replay!.check(env, context);
    } catch (err) {
      this.counts.replayed++;
      const sender = senderOf(env);
      this.emit({
        kind: 'replay',
        verb: 'receive',
        ...(sender === undefined ? {} : { identity: sender }),
        address: addressOf(env),
        messageId: env.id,
        rule: 'replay-window',
        code: (err as HubError).code,
        reason: (err as HubError).message,
      });
      throw err;
    }
  }

  private authorize(
    identity: string,
    verb: AccessVerb,
    address: string,
    messageId: string | undefined,
    source?: string,
  ): void {
    const policy = this.policy;
    if (policy === undefined) return;
    if (policy.allows(identity, verb, address, source) !== undefined) return;
    this.counts.refused++;
    const reason = `${identity} may not ${verb} "${address}"`;
    this.emit({
      kind: 'refused',
      identity,
      ...(source === undefined ? {} : { source }),
      verb,
      address,
      ...(messageId === undefined ? {} : { messageId }),
      rule: 'default-deny',
      code: ErrorCode.FORBIDDEN,
      reason,
    });
    throw new HubError(ErrorCode.FORBIDDEN, `[hub:security] ${reason}: no rule allows it`);
  }

  private emit(event: Omit<AuditEvent, 'at' | 'hub'>): void {
    try {
      this.audit({ at: Date.now(), hub: this.hubName, ...event });
    } catch {
      this.counts.auditFailed++;
    }
  }
}
