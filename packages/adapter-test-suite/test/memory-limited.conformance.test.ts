import { createMemoryBroker, memory } from '@hub/core';
import { adapterTestSuite } from '../src/index.js';
import { BrokenAdapter } from './broken-adapter.js';

// A transport that declares far less than memory can do: best-effort only, one
// consumer per endpoint, no fan-out. The suite must run what applies (R1, R3,
// R8, R15, R16, S1) and list the rest as skipped with their reasons.
const broker = createMemoryBroker();

adapterTestSuite({
  name: 'memory declared as best-effort point-to-point',
  createAdapter: () =>
    new BrokenAdapter(
      memory({ broker }),
      {
        capabilities: {
          guarantees: ['best-effort'],
          consumerGroups: false,
          broadcast: false,
          patterns: false,
          ordered: false,
        },
      },
      'limited',
    ),
  scale: 0.2,
  skip: { R16: 'example of an explicit skip: this transport has no priority lanes' },
});
