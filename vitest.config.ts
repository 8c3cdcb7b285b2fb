import { existsSync, readdirSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// One vitest configuration for the whole repo: a project per workspace that has tests,
// one private Redis for the whole run (see tooling/test-utils/src/global-setup.ts).
const workspaces = ['packages', 'tooling', 'examples']
  .flatMap((dir) =>
    existsSync(dir)
      ? readdirSync(dir)
          .map((name) => `${dir}/${name}`)
          .filter((path) => existsSync(`${path}/test`))
      : [],
  )
  .concat(existsSync('bench/test') ? ['bench'] : []);

export default defineConfig({
  test: {
    globalSetup: ['./tooling/test-utils/src/global-setup.ts'],
    // In CI a JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: process.env.CI
      ? ['default', ['json', { outputFile: '.vitest-report.json' }]]
      : ['default'],
    projects: workspaces.map((root) => ({
      extends: true,
      test: {
        name: root.split('/').at(-1),
        root,
        include: ['test/**/*.test.ts'],
        testTimeout: 15_000,
        hookTimeout: 20_000,
      },
    })),
  },
});
