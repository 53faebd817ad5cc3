import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CASES } from '../src/cases/index.js';
import { CONFORMANCE_LIST, renderConformanceDoc, suiteCasesOf } from '../src/conformance.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const docPath = join(root, 'docs/conformance.md');

const range = (prefix: string, n: number) =>
  Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
const EVERY_ID = [...range('R', 19), ...range('S', 12), ...range('I', 4)];

describe('docs/conformance.md', () => {
  it('is what pnpm docs:conformance generates from the case tables (run it after changing a case)', () => {
    expect(readFileSync(docPath, 'utf8')).toBe(renderConformanceDoc());
  });

  it('lists every case id once, in order, each as a row of the document', () => {
    expect(CONFORMANCE_LIST.map((c) => c.id)).toEqual(EVERY_ID);
    const doc = readFileSync(docPath, 'utf8');
    for (const id of EVERY_ID) expect(doc).toContain(`\n| ${id} | `);
  });

  it("every case of the suite belongs to an id of the list and appears in the suite's table", () => {
    const doc = readFileSync(docPath, 'utf8');
    for (const def of CASES) {
      expect(EVERY_ID).toContain(def.id.split('-')[0]);
      expect(doc).toContain(`| \`${def.id}\` | `);
    }
  });

  it('each case says where it is tested, and every file it names exists', () => {
    for (const c of CONFORMANCE_LIST) {
      expect(suiteCasesOf(c.id).length > 0 || c.testedIn !== undefined, c.id).toBe(true);
      for (const [, path] of (c.testedIn ?? '').matchAll(/`((?:packages|examples)\/[^`]+)`/g)) {
        expect(existsSync(join(root, path!)), `${c.id}: ${path}`).toBe(true);
      }
    }
  });

  it('no case is left marked "not yet", and every test a case names by its title is in the file named', () => {
    for (const c of CONFORMANCE_LIST) {
      expect(c.testedIn ?? '', c.id).not.toMatch(/not yet/i);
      // `path` ("title"): the title (parts around an ellipsis) is in that file
      for (const [, path, title] of (c.testedIn ?? '').matchAll(
        /`((?:packages|examples)\/[^`]+)` \("([^"]+)"\)/g,
      )) {
        const text = readFileSync(join(root, path!), 'utf8');
        for (const part of title!.split('…').map((t) => t.trim())) {
          expect(text, `${c.id}: "${part}" in ${path}`).toContain(part);
        }
      }
    }
  });
});
