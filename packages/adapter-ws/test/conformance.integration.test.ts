import { adapterTestSuite } from '@hub/adapter-test-suite';
import { createHub, type Hub, silentLogger } from '@hub/core';
import { type WsGateway, wsClient, wsServer } from '../src/index.js';

// The published conformance suite for the client role: every hub a case builds
// gets its own wsClient connected to one shared gateway, whose hub (memory
// transport) is the broker they all reach.

let serverHub: Hub | undefined;
let gateway: WsGateway | undefined;

// The suite builds one adapter while registering the tests (before setup) only to
// read its capabilities; it is closed unconnected, so any URL does for it.
const url = () => gateway?.url ?? 'ws://127.0.0.1:1/';

const createAdapter = () =>
  wsClient({ url: url(), reconnect: { initialDelayMs: 20, maxDelayMs: 200 } });

adapterTestSuite({
  name: 'ws client against a gateway (memory hub behind it)',
  createAdapter,
  // The client declares durable topics once the server's welcome says its hub
  // keeps events (the memory transport does): the suite reads them before.
  capabilities: { ...createAdapter().capabilities, durableTopics: true },
  skip: {
    R6: 'the client keeps no dead-letter store: its deadLetter is a nack, so the server hub counts the attempt and dead-letters after its own maxDeliveries (covered in dead-letter.integration.test.ts), and the client hub retries in between, so the attempt count is not the client maxDeliveries',
  },
  setup: async () => {
    serverHub = createHub({ name: 'ws-server', logger: silentLogger });
    await serverHub.start();
    // R16 gives its subscription room for its whole backlog (201) so that the
    // receiving hub orders it; the connection window must not be the smaller cap.
    gateway = await wsServer({ hub: serverHub, port: 0, window: 512 });
  },
  teardown: async () => {
    await gateway?.close();
    await serverHub?.close({ drainTimeoutMs: 0 });
  },
});
