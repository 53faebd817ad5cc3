import { describe, expect, it } from 'vitest';
import { createHub, type DedupStore, MemoryDedupStore, memory } from '../../src/index.js';

/** A store that records whether it was closed. */
function store(): DedupStore & { closed: number } {
  const inner = new MemoryDedupStore();
  const s = {
    closed: 0,
    begin: (id: string, leaseMs: number) => inner.begin(id, leaseMs),
    commit: (id: string, windowMs: number) => inner.commit(id, windowMs),
    abort: (id: string) => inner.abort(id),
    close() {
      s.closed++;
    },
  };
  return s;
}

describe('dedup store ownership', () => {
  it('a store passed in is left open by close() (hubs may share it)', async () => {
    const s = store();
    const hub = createHub({ adapters: [memory()], dedup: { store: s } });
    await hub.start();
    await hub.close();
    expect(s.closed).toBe(0);
  });

  it('a store handed over with closeWithHub: true is closed by close()', async () => {
    const s = store();
    const hub = createHub({ adapters: [memory()], dedup: { store: s, closeWithHub: true } });
    await hub.start();
    await hub.close();
    expect(s.closed).toBe(1);
  });

  it('closeWithHub must be a boolean', () => {
    expect(() =>
      createHub({ dedup: { store: store(), closeWithHub: 'yes' as unknown as boolean } }),
    ).toThrow(/dedup\.closeWithHub must be a boolean/);
  });
});
