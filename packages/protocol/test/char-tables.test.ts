import { describe, expect, it } from 'vitest';
import {
  ADDRESS_PATTERN,
  createEvent,
  createMessage,
  ID_PATTERN,
  TOPIC_PATTERN,
  validateEvent,
  validateMessage,
} from '../src/index.js';

// The validator scans strings with character tables for speed; these tests
// keep every table equal to the published pattern it stands for.
const accepts = (check: () => void): boolean => {
  try {
    check();
    return true;
  } catch {
    return false;
  }
};
const base = () => createMessage({ source: 'a', destination: 'b', payload: null });

describe('character tables match the published patterns', () => {
  const chars = Array.from({ length: 160 }, (_, c) => String.fromCharCode(c));

  it('addresses (source, destination, replyTo)', () => {
    const re = new RegExp(ADDRESS_PATTERN);
    for (const ch of chars) {
      const value = `x${ch}y`;
      expect(
        accepts(() => validateMessage({ ...base(), destination: value })),
        JSON.stringify(value),
      ).toBe(re.test(value));
      expect(
        accepts(() => validateMessage({ ...base(), source: value })),
        JSON.stringify(value),
      ).toBe(re.test(value));
    }
  });

  it('ids and types', () => {
    const re = new RegExp(ID_PATTERN);
    for (const ch of chars) {
      const value = `x${ch}y`;
      expect(
        accepts(() => validateMessage({ ...base(), id: value })),
        JSON.stringify(value),
      ).toBe(re.test(value));
      expect(
        accepts(() => validateMessage({ ...base(), type: value })),
        JSON.stringify(value),
      ).toBe(re.test(value));
    }
  });

  it('topics, including dots and empty segments', () => {
    const re = new RegExp(TOPIC_PATTERN);
    const samples = [
      ...chars.map((ch) => `a${ch}b`),
      'a',
      'a.b',
      'a..b',
      '.a',
      'a.',
      '.',
      'a.b.c',
      'a.b-c.d_e',
      'orders.eu:1.x@y/z',
    ];
    for (const topic of samples) {
      const event = createEvent({ source: 's', type: 't', topic: 'ok', data: null });
      expect(
        accepts(() => validateEvent({ ...event, topic })),
        JSON.stringify(topic),
      ).toBe(re.test(topic));
    }
  });
});
