// Runs publint and @arethetypeswrong/cli on every published (non-private) package.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = readdirSync(join(root, 'packages')).map((d) => join(root, 'packages', d));
let failed = 0;
for (const dir of dirs) {
  const pjPath = join(dir, 'package.json');
  if (!existsSync(pjPath)) continue;
  const pj = JSON.parse(readFileSync(pjPath, 'utf8'));
  if (pj.private) continue;
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
