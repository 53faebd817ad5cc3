// Runs publint and @arethetypeswrong/cli on every published (non-private)
// package, and checks each package's tarball as `pnpm pack` builds it: a
// LICENSE and a README inside, no TypeScript build-info file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Problems of one package's tarball: what it lacks, what must not be in it. */
function tarballProblems(dir) {
  const out = mkdtempSync(join(tmpdir(), 'hub-pack-'));
  try {
    execFileSync('pnpm', ['pack', '--pack-destination', out], { cwd: dir, stdio: 'ignore' });
    const tgz = readdirSync(out).find((f) => f.endsWith('.tgz'));
    if (!tgz) return ['pnpm pack produced no tarball'];
    const files = execFileSync('tar', ['-tzf', join(out, tgz)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean);
    const problems = [];
    for (const f of files) {
      if (/\.tsbuildinfo$|tsbuildinfo\.json$/.test(f)) problems.push(`contains ${f}`);
    }
    for (const required of ['package/LICENSE', 'package/README.md']) {
      if (!files.includes(required)) problems.push(`lacks ${required.slice('package/'.length)}`);
    }
    return problems;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const root = new URL('..', import.meta.url).pathname;
const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
let failed = 0;
for (const dir of dirs) {
  const pjPath = join(dir, 'package.json');
  if (!existsSync(pjPath)) continue;
  const pj = JSON.parse(readFileSync(pjPath, 'utf8'));
  if (pj.private) continue;
  process.stdout.write(`\n[${pj.name}] tarball\n`);
  const problems = tarballProblems(dir);
  for (const p of problems) console.error(`[${pj.name}] tarball ${p}`);
  if (problems.length > 0) failed++;
  for (const [cmd, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '.', '--profile', 'esm-only', '--format', 'table-flipped']],
  ]) {
    try {
      process.stdout.write(`\n[${pj.name}] ${cmd}\n`);
      execFileSync(join(root, 'node_modules/.bin', cmd), args, { cwd: dir, stdio: 'inherit' });
    } catch {
      failed++;
      console.error(`[${pj.name}] ${cmd} failed`);
    }
  }
}
if (failed) {
  console.error(`\n${failed} package check(s) failed`);
  process.exit(1);
}
