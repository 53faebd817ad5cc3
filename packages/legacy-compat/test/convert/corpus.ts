import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Fixture {
  name: string;
  input: unknown;
  expect: Record<string, unknown>;
}

const dir = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');

/** The fixtures of one shape (test/fixtures/<file>.json). */
export const corpus = (file: string): Fixture[] =>
  JSON.parse(readFileSync(join(dir, `${file}.json`), 'utf8')) as Fixture[];
