import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The hub is a facade over the layers below it: the router, the delivery
 * layer, the adapter contract, the registry, the resilience parts and the
 * in-memory adapter must build without it, so none of them may import from
 * the hub's folder (shared types live in `common/`).
 */
const SRC = fileURLToPath(new URL('../src/', import.meta.url));
const LOWER = [
  'adapter',
  'adapters',
  'common',
  'delivery',
  'event-bus',
  'registry',
  'resilience',
  'router',
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

describe('layering', () => {
  it('no lower layer imports from the hub folder', () => {
    const offenders: string[] = [];
    for (const layer of LOWER) {
      for (const file of sources(join(SRC, layer))) {
        const text = readFileSync(file, 'utf8');
        for (const m of text.matchAll(/from '(\.\.\/)+hub\/[^']*'/g)) {
          offenders.push(`${relative(SRC, file)}: ${m[0]}`);
        }
      }
    }
    expect(offenders).toEqual([]);
  });
});
