import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// One root config; each package is a project. Tests read sources through the
// "@hub/source" export condition, so no build is needed before `pnpm test`.
const project = (name: string, root: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: {
    name,
    // Absolute: a package's own `pnpm test` runs vitest with `--root ../..`,
    // and a relative root would then be resolved from the package folder.
    root: fileURLToPath(new URL(root, import.meta.url)),
    include: ['test/**/*.test.ts'],
    ...extra,
  },
});

export default defineConfig({
  resolve: { conditions: ['@hub/source'] },
  ssr: { resolve: { conditions: ['@hub/source'] } },
  test: {
    // CI is a noisy 2-core machine: generous deadlines, few workers.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    maxWorkers: 2,
    projects: [
      project('protocol', 'packages/protocol'),
      project('core', 'packages/core'),
      project('adapter-test-suite', 'packages/adapter-test-suite'),
      project('adapter-redis', 'packages/adapter-redis'),
      project('adapter-ws', 'packages/adapter-ws'),
      project('adapter-http', 'packages/adapter-http'),
      project('legacy-compat', 'packages/legacy-compat'),
      project('examples', 'examples'),
    ],
  },
});
