import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Comparison } from '../../src/index.js';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '../..');
const dir = mkdtempSync(join(tmpdir(), 'hub-legacy-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(report: unknown) {
  const file = join(dir, `r${Math.random()}.json`);
  writeFileSync(file, JSON.stringify(report));
  return spawnSync(
    process.execPath,
    ['--import', 'tsx', '--conditions=@hub/source', 'src/cli/report.ts', file],
    { cwd: packageDir, encoding: 'utf8', timeout: 30_000 },
  );
}

describe('hub-legacy-report', () => {
  it('prints a saved report and exits 1 when a path lost or changed messages', () => {
    let t = 0;
    const c = new Comparison(() => t);
    c.sent('legacy', 'a', 1);
    c.sent('hub', 'a', 1);
    t = 2;
    c.seen('legacy', 'a', 1);
    c.seen('hub', 'a', 1);
    const clean = run(c.report());
    expect(clean.stdout).toMatch(/^seen\s+1\s+1$/m);
    expect(clean.status).toBe(0);
    c.sent('hub', 'b', 2);
    const lossy = run(c.report());
    expect(lossy.stdout).toContain('missing on hub: b');
    expect(lossy.status).toBe(1);
  });

  it('says how to call it when the input is not a report', () => {
    const bad = run('nope');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('usage: hub-legacy-report');
  });
});
