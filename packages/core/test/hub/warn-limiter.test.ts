import { describe, expect, it } from 'vitest';
import { WarnLimiter } from '../../src/hub/warn-limiter.js';

describe('WarnLimiter', () => {
  it('lets the first through, then one per interval carrying the count held back', () => {
    let now = 1_000;
    const limiter = new WarnLimiter(5_000, () => now);
    expect(limiter.take()).toBe(0);
    for (let i = 0; i < 1_999; i++) expect(limiter.take()).toBeUndefined();
    now += 4_999;
    expect(limiter.take()).toBeUndefined();
    now += 1;
    expect(limiter.take()).toBe(2_000);
    now += 5_000;
    expect(limiter.take()).toBe(0);
  });
});
