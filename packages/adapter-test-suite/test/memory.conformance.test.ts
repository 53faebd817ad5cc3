import { fileURLToPath } from 'node:url';
import { createMemoryBroker, MemoryDedupStore, memory } from '@hub/core';
import { adapterTestSuite } from '../src/index.js';

// The memory adapter is the suite's first user: every hub of a case gets its
// own adapter, and all of them reach this one broker, like instances of a
// service sharing a Redis.
const broker = createMemoryBroker();
// Instances of a service share their dedup store (in production: Redis), so
// exactly-once holds whichever instance a duplicate reaches.
const dedupStore = new MemoryDedupStore();

adapterTestSuite({
  name: 'memory',
  createAdapter: () => memory({ broker }),
  hubConfig: { dedup: { store: dedupStore } },
  // objects pass through the in-process broker untouched
  binaryPayloads: true,
  // R18: a child process builds its own memory adapter from this module.
  cleanExit: {
    module: fileURLToPath(new URL('./fixtures/memory-adapter.ts', import.meta.url)),
    execArgv: ['--import', 'tsx', '--conditions=@hub/source'],
  },
});
