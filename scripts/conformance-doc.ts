/**
 * Writes docs/conformance.md from the conformance list and the suite's case
 * table (`pnpm docs:conformance`). With `--check`, writes nothing and exits 1
 * when the file differs from what would be written.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderConformanceDoc } from '../packages/adapter-test-suite/src/conformance.js';

const target = join(dirname(fileURLToPath(import.meta.url)), '..', 'docs', 'conformance.md');
const text = renderConformanceDoc();
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(target, 'utf8');
  } catch {
    // missing: differs
  }
  if (current !== text) {
    console.error('docs/conformance.md is out of date: run pnpm docs:conformance');
    process.exit(1);
  }
} else {
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
