import { createMemoryBroker, memory } from '@hub/core';
import { adapterTestSuite } from '../src/index.js';

// The memory adapter is the suite's first user: every hub of a case gets its
// own adapter, and all of them reach this one broker, like instances of a
// service sharing a Redis.
const broker = createMemoryBroker();

adapterTestSuite({
  name: 'memory',
  createAdapter: () => memory({ broker }),
  // objects pass through the in-process broker untouched
  binaryPayloads: true,
});
