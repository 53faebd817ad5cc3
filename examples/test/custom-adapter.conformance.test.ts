import { adapterTestSuite } from '@hub/adapter-test-suite';
import { broadcastChannel } from '../src/broadcast-channel.js';

// The custom adapter from docs/custom-adapter.md runs the same conformance
// suite as ours. It declares best-effort fan-out without consumer groups, so
// the suite skips the cases those capabilities rule out and says why.
adapterTestSuite({
  name: 'broadcast-channel (examples/src/broadcast-channel.ts)',
  createAdapter: () => broadcastChannel({ prefix: `suite-${process.pid}` }),
  // structured clone carries Uint8Array unchanged
  binaryPayloads: true,
});
