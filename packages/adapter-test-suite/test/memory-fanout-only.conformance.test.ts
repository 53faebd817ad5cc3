import { createMemoryBroker, memory } from '@hub/core';
import { describe, it } from 'vitest';
import { runCase } from '../src/index.js';
import { BrokenAdapter } from './broken-adapter.js';

// A transport that keeps every guarantee for messages and fans events out,
// but keeps no events (no durable topics), like Redis Pub/Sub alone: R17 must
// see an at-least-once, exactly-once or ordered event refused, never delivered
// best-effort, while its messages of the same guarantees go through.
describe('@hub/adapter-test-suite: memory declared without durable topics', () => {
  it('R17 no silent downgrade: kept events refused, messages and best-effort events delivered', async () => {
    const broker = createMemoryBroker();
    await runCase('R17', {
      name: 'memory without durable topics',
      createAdapter: () =>
        new BrokenAdapter(memory({ broker }), { capabilities: { durableTopics: false } }, 'fanout'),
    });
  });
});
