/**
 * The Hub conformance list, every case id with what must hold and where it is
 * tested, and the generator of docs/conformance.md from it and from the
 * suite's own case table (cases/index.ts), so the document cannot drift from
 * what the suite runs. `pnpm docs:conformance` writes the file; a test fails
 * when it differs from what this module renders.
 */
import { CASES } from './cases/index.js';

export type ConformanceGroup = 'reliability' | 'security' | 'interop';

export interface ConformanceCase {
  /** `R…` (reliability), `S…` (bad input and security), `I…` (interop). */
  readonly id: string;
  readonly group: ConformanceGroup;
  /** The case in a few words. */
  readonly name: string;
  /** What must hold. */
  readonly mustHold: string;
  /**
   * Where a case the in-process suite does not run is tested (it needs a
   * transport's own server or wire: a broker killed, a stalled TCP link, a
   * WebSocket handshake). Undefined for the suite's cases: those are every
   * adapter's, through `adapterTestSuite`.
   */
  readonly testedIn?: string;
}

/** Every case id of the conformance list, in order. */
export const CONFORMANCE_LIST: readonly ConformanceCase[] = [
  {
    id: 'R1',
    group: 'reliability',
    name: 'round trip',
    mustHold: '100 messages with headers and binary-safe payloads arrive intact, exact id set',
  },
  {
    id: 'R2',
    group: 'reliability',
    name: 'competing consumers',
    mustHold:
      '5,000 messages, many senders, several instances of one endpoint: each message handled by exactly one instance (at-least-once: ≥1, no loss)',
  },
  {
    id: 'R3',
    group: 'reliability',
    name: 'groups and topics',
    mustHold: 'two endpoints/groups each receive all; nothing leaks across topics or destinations',
  },
  {
    id: 'R4',
    group: 'reliability',
    name: 'nack → redelivery',
    mustHold:
      'handlers that nack the first deliveries still see every message; delivery count grows',
  },
  {
    id: 'R5',
    group: 'reliability',
    name: 'crashed consumer',
    mustHold:
      'a consumer killed (SIGKILL, child process) while holding messages: all redelivered to another instance within the claim window; a live slow handler is NOT robbed',
  },
  {
    id: 'R6',
    group: 'reliability',
    name: 'poison → DLQ',
    mustHold:
      'a handler that always fails: exactly `maxDeliveries` attempts, then in the DLQ with the reason; written to DLQ before ack, so a crash in between yields a duplicate, never a loss',
  },
  {
    id: 'R7',
    group: 'reliability',
    name: 'subscriber churn',
    mustHold:
      'subscribe/close repeatedly and concurrently mid-stream; the union of what was received equals what was sent; no leaked handles or timers',
  },
  {
    id: 'R8',
    group: 'reliability',
    name: 'flow control',
    mustHold:
      'with max in-flight 1 and the ack withheld, the next message is not delivered; it arrives promptly after the ack',
    testedIn:
      'the ws gateway\'s window of unacked deliveries per connection, with a plain `ws` client that withholds acks: `packages/adapter-ws/test/window.integration.test.ts` ("flow control: the per-connection window")',
  },
  {
    id: 'R9',
    group: 'reliability',
    name: 'per-key order',
    mustHold: "1,000 messages over 16 keys: each key's sequence exactly as sent, no skips",
  },
  {
    id: 'R10',
    group: 'reliability',
    name: 'broker restart',
    mustHold:
      'kill -9 and restart the broker (redis-server, the ws server) twice during a 10,000-message run: at-least-once loses nothing acked; best-effort resumes on its own',
    testedIn:
      'Redis: `packages/adapter-redis/test/broker-restart.integration.test.ts`; the ws server: `packages/adapter-ws/test/broker-restart.integration.test.ts` ("R10 server restart")',
  },
  {
    id: 'R11',
    group: 'reliability',
    name: 'dead connection',
    mustHold:
      'a link that stops answering without closing (a TCP proxy that stalls): detected, reconnected, no blocking read left hanging, nothing unsettled at close',
    testedIn:
      'Redis: `packages/adapter-redis/test/dead-link.integration.test.ts`, `packages/adapter-redis/test/drop-mid-reply.integration.test.ts`; WebSocket, each side alone (gateway and client) against its ping interval: `packages/adapter-ws/test/resume.integration.test.ts` ("liveness over a stalled link")',
  },
  {
    id: 'R12',
    group: 'reliability',
    name: 'uncertain send',
    mustHold:
      'the link drops after the write, before the reply; the sender retries with the same id: the handler sees it once under exactly-once',
    testedIn:
      'core: `packages/core/test/hub/sending.test.ts` ("uncertain sends"); Redis: `packages/adapter-redis/test/hub.integration.test.ts`',
  },
  {
    id: 'R13',
    group: 'reliability',
    name: 'resume',
    mustHold:
      'a ws client disconnects and reconnects within the window: it receives exactly what it missed, in order; past the window it is told it must resync',
    testedIn:
      'WebSocket: `packages/adapter-ws/test/resume.integration.test.ts` ("R13 resume"); across gateways with durable topics: `packages/adapter-ws/test/durable-resume.integration.test.ts`',
  },
  {
    id: 'R14',
    group: 'reliability',
    name: 'slow consumer',
    mustHold:
      'a peer that stops reading is cut off at its buffer cap; memory stays bounded; other peers unaffected',
    testedIn:
      'WebSocket: `packages/adapter-ws/test/hard-shell.integration.test.ts` ("R14 slow consumer")',
  },
  {
    id: 'R15',
    group: 'reliability',
    name: 'expiry',
    mustHold: 'a message past its TTL is dropped and counted, never delivered',
  },
  {
    id: 'R16',
    group: 'reliability',
    name: 'priorities',
    mustHold: 'under backlog, higher priority is delivered first, and the lowest still progresses',
  },
  {
    id: 'R17',
    group: 'reliability',
    name: 'no silent downgrade',
    mustHold:
      'a message or event whose guarantee no registered transport keeps (an at-least-once event on a transport without durable topics, say) is refused at once with HUB_GUARANTEE_UNSUPPORTED, never delivered with less',
  },
  {
    id: 'R18',
    group: 'reliability',
    name: 'clean exit',
    mustHold:
      'after `close()` resolves nothing of the adapter keeps the event loop alive: a child process that started, served, sent, requested and closed exits within 200 ms',
  },
  {
    id: 'R19',
    group: 'reliability',
    name: 'dead-letter failure',
    mustHold:
      'when the DLQ write itself fails, the message stays pending (redelivered later) and the failure is reported; it is never acked without a DLQ copy',
  },
  {
    id: 'S1',
    group: 'security',
    name: 'malformed envelope',
    mustHold:
      'truncated JSON, wrong types, unknown version, huge fields: rejected with a typed error naming the field; counted; the connection/consumer keeps working; a stream entry that cannot be decoded goes to the DLQ, not lost, not looping',
  },
  {
    id: 'S2',
    group: 'security',
    name: 'origin check',
    mustHold: 'a WebSocket from an origin not on the allow-list gets 403 before upgrade',
    testedIn:
      'WebSocket: `packages/adapter-ws/test/hard-shell.integration.test.ts` ("S2 origin allow-list")',
  },
  {
    id: 'S3',
    group: 'security',
    name: 'handshake auth',
    mustHold:
      'missing, forged or expired token: 401 before upgrade; resume with a bad offset fails closed',
    testedIn:
      'WebSocket: `packages/adapter-ws/test/hard-shell.integration.test.ts` ("S3 handshake auth"); HTTP (bearer tokens, verify hook): `packages/adapter-http/test/shell.integration.test.ts` ("credentials")',
  },
  {
    id: 'S4',
    group: 'security',
    name: 'size limits',
    mustHold:
      'one byte over `maxPayload` closes with 1009 (ws) or 413 (HTTP) without buffering the whole body; memory bounded',
    testedIn:
      'WebSocket: `packages/adapter-ws/test/hard-shell.integration.test.ts` ("S4 size limit"); HTTP: `packages/adapter-http/test/shell.integration.test.ts` ("S4 size limits")',
  },
  {
    id: 'S5',
    group: 'security',
    name: 'protocol violations',
    mustHold:
      'unmasked client frames, bad UTF-8, reserved bits: the ws server closes with the right code and keeps serving others',
    testedIn:
      'WebSocket (hand-made frames over raw TCP): `packages/adapter-ws/test/hard-shell.integration.test.ts` ("S5 protocol violations over raw TCP")',
  },
  {
    id: 'S6',
    group: 'security',
    name: 'slow and flood clients',
    mustHold:
      "slowloris headers time out; a message flood past the rate limit gets 429 / close 1008; other clients' latency holds",
    testedIn:
      'WebSocket: `packages/adapter-ws/test/hard-shell.integration.test.ts` ("S6 flood and connection limits"); HTTP: `packages/adapter-http/test/shell.integration.test.ts` ("S6 slow and flood clients")',
  },
  {
    id: 'S7',
    group: 'security',
    name: 'signatures',
    mustHold:
      'HMAC-signed HTTP (Standard Webhooks scheme): a changed byte, wrong key, stale timestamp or replayed id is refused',
    testedIn:
      'HTTP endpoint (Standard Webhooks): `packages/adapter-http/test/shell.integration.test.ts`, wrong key between two hubs: `packages/adapter-http/test/hub-to-hub.integration.test.ts`; signed envelopes (changed field or identity, wrong key; memory): `packages/core/test/security/protection.test.ts`; replayed id and stale timestamp of signed envelopes (memory, Redis): `packages/core/test/security/replay.test.ts`, `packages/adapter-redis/test/security.integration.test.ts`; over WebSocket and HTTP (hub to hub): `packages/adapter-ws/test/protection.integration.test.ts`, `packages/adapter-http/test/protection.integration.test.ts`',
  },
  {
    id: 'S8',
    group: 'security',
    name: 'authorization',
    mustHold: 'a source not allowed to send to a destination or topic is refused and audited',
    testedIn:
      'core policy (send, publish, subscribe, serve, inbound, by identity or source; memory): `packages/core/test/security/authorization.test.ts`; Redis (send, publish, subscribe and serve refused, nothing written; a signed sender not allowed to send or publish refused on arrival): `packages/adapter-redis/test/security.integration.test.ts`; WebSocket gateway clients (send, publish, subscribe, serve): `packages/adapter-ws/test/security.integration.test.ts`; HTTP endpoint (send via `/messages`, publish via `/events`, subscribe via Server-Sent Events, each for the identity of the verify hook, the bearer token or the webhook sender): `packages/adapter-http/test/security.integration.test.ts`',
  },
  {
    id: 'S9',
    group: 'security',
    name: 'encryption',
    mustHold:
      'AES-256-GCM payload encryption: tampering with ciphertext, IV, tag or bound metadata is detected',
    testedIn:
      "core (`@hub/core/security`; through hubs on memory: gzip and brotli bombs refused within the cap, key rotation): `packages/core/test/security/protection.test.ts`; Redis (ciphertext on the stream, forged identity dead-lettered; tampered ciphertext, IV, tag, destination and event topic dead-lettered, with encryption alone and signed; bombs; a rotated key reading the backlog): `packages/adapter-redis/test/security.integration.test.ts`; WebSocket (client hub ↔ gateway, sealed both ways, tampering refused at the gateway): `packages/adapter-ws/test/protection.integration.test.ts`, (bombs refused at the gateway and at a client hub, key rotation both ways): `packages/adapter-ws/test/security.integration.test.ts`; HTTP (a hub's http adapter → our endpoint, tampering refused): `packages/adapter-http/test/protection.integration.test.ts`",
  },
  {
    id: 'S10',
    group: 'security',
    name: 'Redis auth/TLS',
    mustHold:
      'password/ACL user and `rediss://` work; a permission error is reported once, not retried forever',
    testedIn: 'Redis: `packages/adapter-redis/test/auth-tls.integration.test.ts`',
  },
  {
    id: 'S11',
    group: 'security',
    name: 'foreign envelopes',
    mustHold:
      "a valid envelope of the wrong kind (an event in an endpoint's queue) or for another destination, found on a transport address, is refused, dead-lettered with the reason and counted; never handed to the handler, never dropped without a trace",
  },
  {
    id: 'S12',
    group: 'security',
    name: 'bad-input floods',
    mustHold:
      'thousands of undecodable entries: warnings are rate-limited with a suppressed count; oversized entries are refused by length before parsing; memory stays bounded',
  },
  {
    id: 'I1',
    group: 'interop',
    name: 'CloudEvents',
    mustHold:
      'events posted by the `cloudevents` npm SDK (binary and structured) are accepted; events we emit parse in that SDK',
    testedIn:
      '`packages/protocol/test/cloudevents.test.ts` (the conversion); posting over HTTP: `packages/adapter-http/test/interop.integration.test.ts` ("I1 CloudEvents SDK")',
  },
  {
    id: 'I2',
    group: 'interop',
    name: 'trace context',
    mustHold: '`traceparent` survives HTTP → Redis → WebSocket; an invalid one starts a new trace',
    testedIn:
      'HTTP → Redis → WebSocket and back through the reply, every span checked against its parent: `examples/test/trace-across-transports.integration.test.ts`; spans and links in one hub: `packages/core/test/observability/tracing.test.ts`; Redis alone: `packages/adapter-redis/test/streams.integration.test.ts` (kept across a stream); an invalid one: `packages/protocol/test/cloudevents.test.ts` and both tests above',
  },
  {
    id: 'I3',
    group: 'interop',
    name: 'metrics',
    mustHold: 'the Prometheus text we expose parses with an independent parser',
    testedIn:
      '`hub.prometheus()`: `packages/core/test/metrics/registry.test.ts` (a strict parser written from the format); the prom-client collectors and `hub.prometheus()` parsed with `parse-prometheus-text-format`: `packages/core/test/observability/prometheus.test.ts`',
  },
  {
    id: 'I4',
    group: 'interop',
    name: 'plain clients',
    mustHold:
      'a message we put on a Redis stream is readable with `redis-cli XREADGROUP`; a plain `ws` client or browser `WebSocket` can speak the frame protocol from its documentation alone',
    testedIn:
      'Redis: `packages/adapter-redis/test/streams.integration.test.ts` ("interop: … plain redis-cli XREADGROUP"); WebSocket: `packages/adapter-ws/test/interop.integration.test.ts` (Python `websockets`, written from docs/ws-protocol.md), `packages/adapter-ws/test/browser.integration.test.ts` (our browser client on the `WebSocket` of headless Chromium); HTTP: `packages/adapter-http/test/interop.integration.test.ts` ("I4 plain clients from the README")',
  },
];

const GROUPS: ReadonlyArray<{ group: ConformanceGroup; title: string }> = [
  { group: 'reliability', title: 'Reliability cases' },
  { group: 'security', title: 'Bad input and security cases' },
  { group: 'interop', title: 'Interop cases (independent clients, not ours)' },
];

/** A table cell: pipes escaped, one line. */
const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The suite's case ids for one id of the list (`R2` → `R2`, `R2-exactly-once`). */
export function suiteCasesOf(id: string): string[] {
  return CASES.filter((c) => c.id.split('-')[0] === id).map((c) => c.id);
}

/** docs/conformance.md, as `pnpm docs:conformance` writes it. */
export function renderConformanceDoc(): string {
  const out: string[] = [
    "<!-- Generated by `pnpm docs:conformance` from packages/adapter-test-suite/src/conformance.ts and the suite's case table (packages/adapter-test-suite/src/cases/index.ts). Do not edit by hand: a test fails when this file differs. -->",
    '',
    '# Conformance: behaviours every adapter must show',
    '',
    '`@hub/adapter-test-suite` turns this list into one call that any adapter runs,',
    "ours and third parties'. Each adapter declares its capabilities; a case that",
    'needs a capability the adapter lacks is skipped with that reason in its name,',
    'never passed.',
    '',
    "How a case is judged (borrowed from Jepsen's queue checker): record what was",
    'attempted, what `send` acknowledged, and what handlers received. Then',
    '',
    '- lost = acknowledged − received (must be 0 for at-least-once and stronger),',
    '- unexpected = received − attempted (must always be 0),',
    '- duplicates = received more than once (0 without faults; after faults only',
    '  where the guarantee allows it, and 0 for exactly-once).',
    '',
    'The failure message reports those numbers, not just "expected true".',
    '',
    'Cases marked **suite** run in `adapterTestSuite` for every adapter (see the',
    "[suite's README](../packages/adapter-test-suite/README.md)); the others need a",
    "transport's own server or wire, and the last column says where they are tested.",
  ];
  for (const { group, title } of GROUPS) {
    out.push(
      '',
      `## ${title}`,
      '',
      '| id | case | what must hold | tested in |',
      '|---|---|---|---|',
    );
    for (const c of CONFORMANCE_LIST.filter((x) => x.group === group)) {
      const suite = suiteCasesOf(c.id);
      const where =
        suite.length > 0
          ? `**suite**: ${suite.map((s) => `\`${s}\``).join(', ')}${c.testedIn ? `; ${c.testedIn}` : ''}`
          : (c.testedIn ?? 'not tested');
      out.push(`| ${c.id} | ${cell(c.name)} | ${cell(c.mustHold)} | ${cell(where)} |`);
    }
  }
  out.push(
    '',
    "## The suite's cases",
    '',
    'What each case of `adapterTestSuite` runs, in its order (an id with a suffix',
    'is a second case for the same entry of the list). Its test name is the id and',
    'this text; a skipped one says why.',
    '',
    '| suite case | what it runs |',
    '|---|---|',
  );
  for (const def of CASES) out.push(`| \`${def.id}\` | ${cell(def.title)} |`);
  out.push('');
  return out.join('\n');
}
