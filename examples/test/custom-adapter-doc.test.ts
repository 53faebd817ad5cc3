import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

// docs/custom-adapter.md is what an adapter author copies from: every `ts`
// block must compile as shown, against the packages' sources and with the
// repository's compiler settings, and its adapter must be the example file
// the conformance suite runs.

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const docPath = join(root, 'docs/custom-adapter.md');
// Inside examples/node_modules: `@hub/*` resolve as they do for the examples; ignored by git.
const dir = join(root, 'examples/node_modules/.cache', `doc-snippets-${process.pid}`);

interface Snippet {
  /** File the block is compiled as: the name its first line gives (`// name.ts`), else `snippet-<n>.ts`. */
  readonly file: string;
  /** 1-based line of the block's first code line in the doc. */
  readonly line: number;
  readonly code: string;
}

function snippets(markdown: string): Snippet[] {
  const out: Snippet[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]?.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]?.trim() !== '```') end++;
    const code = `${lines.slice(start, end).join('\n')}\n`;
    const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(lines[start] ?? '');
    out.push({ file: named?.[1] ?? `snippet-${out.length + 1}.ts`, line: start + 1, code });
    i = end;
  }
  return out;
}

/** Type-check `files` with the settings of tsconfig.base.json; the diagnostics as text. */
function typeCheck(files: readonly string[]): string[] {
  const base = ts.readConfigFile(join(root, 'tsconfig.base.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(base.config, ts.sys, root);
  const options: ts.CompilerOptions = {
    ...parsed.options,
    noEmit: true,
    composite: false,
    incremental: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  };
  const program = ts.createProgram(files, options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (!d.file || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName}:${line + 1}: ${text}`;
  });
}

describe('docs/custom-adapter.md', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const doc = readFileSync(docPath, 'utf8');
  const blocks = snippets(doc);

  it('shows the example adapter verbatim', () => {
    const adapter = blocks.find((b) => b.file === 'broadcast-channel.ts');
    expect(adapter, 'a block starting with `// broadcast-channel.ts`').toBeDefined();
    const example = readFileSync(join(root, 'examples/src/broadcast-channel.ts'), 'utf8');
    expect(adapter?.code).toBe(example);
  });

  it('every ts block compiles as shown', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(5);
    mkdirSync(dir, { recursive: true });
    const where = new Map<string, Snippet>();
    for (const b of blocks) {
      const path = join(dir, b.file);
      writeFileSync(path, b.code);
      where.set(path, b);
    }
    // Name the doc's line, not the temporary file.
    const problems = typeCheck([...where.keys()]).map((p) => {
      for (const [path, b] of where) {
        if (p.startsWith(`${path}:`)) {
          const [, line, rest] = /^[^:]+:(\d+): ([\s\S]*)$/.exec(p) ?? [];
          return `docs/custom-adapter.md:${b.line + Number(line) - 1} (${b.file}): ${rest}`;
        }
      }
      return p;
    });
    expect(problems).toEqual([]);
  }, 120_000);
});
