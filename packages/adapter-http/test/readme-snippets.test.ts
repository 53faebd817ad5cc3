/**
 * The README's TypeScript examples compile against the package as it is:
 * each ```ts block is type-checked as a module of its own (next to this
 * file, so `@hub/adapter-http`, `@hub/core` and `@hub/protocol` resolve to
 * their sources through the `@hub/source` condition), with the repository's
 * compiler options. A renamed option or export breaks this test, not a reader.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { readmeBlocks } from './readme.js';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

function compilerOptions(): ts.CompilerOptions {
  const file = join(repoRoot, 'tsconfig.base.json');
  const { config, error } = ts.readConfigFile(file, ts.sys.readFile);
  if (error) throw new Error(ts.flattenDiagnosticMessageText(error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config, ts.sys, repoRoot);
  return {
    ...parsed.options,
    noEmit: true,
    composite: false,
    incremental: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
  };
}

/** Type errors of `snippets`, each compiled as a module `readme-snippet-<n>.ts` beside this file. */
export function snippetErrors(snippets: readonly string[]): string[] {
  const files = new Map(
    snippets.map((code, i) => [join(here, `readme-snippet-${i + 1}.ts`), code]),
  );
  const options = compilerOptions();
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.fileExists = (f) => files.has(f) || fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, language, ...rest) => {
    const code = files.get(f);
    return code === undefined
      ? getSourceFile(f, language, ...rest)
      : ts.createSourceFile(f, code, language, true);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  // Only the snippets are checked (the sources have their own typecheck):
  // the checker reads of the sources just what the snippets use.
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const f of files.keys()) {
    const sf = program.getSourceFile(f)!;
    diagnostics.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf));
  }
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    if (d.file === undefined || d.start === undefined) return text;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${d.file.fileName.slice(here.length + 1)}:${line + 1}: ${text}`;
  });
}

describe('README TypeScript examples', () => {
  it('every ```ts block type-checks against the package sources; a broken one would be reported', () => {
    const blocks = readmeBlocks('ts');
    // Both directions are shown: the outbound adapter and the inbound endpoint.
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    // A control snippet with a misspelt option, compiled in the same program
    // (one type-check of the sources): the check is not vacuous.
    const broken = "import { http } from '@hub/adapter-http';\nhttp({ routez: [] });\n";
    const errors = snippetErrors([...blocks, broken]);
    const control = `readme-snippet-${blocks.length + 1}.ts:2: `;
    expect(errors.filter((e) => !e.startsWith(control))).toEqual([]);
    expect(errors.join('\n')).toMatch(/routez/);
    // Building a program over the sources and Node's types takes a while on a loaded box.
  }, 180_000);
});
