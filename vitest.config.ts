import { defineConfig } from 'vitest/config';

// One root config; each package is a project. Tests read sources through the
// "@hub/source" export condition, so no build is needed before `pnpm test`.
const project = (name: string, root: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: {
    name,
    root,
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
      project('legacy-compat', 'packages/legacy-compat'),
      project('examples', 'examples'),
    ],
  },
});
