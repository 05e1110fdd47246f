import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Build dist/ once before the suite: tests that start real child processes (examples, crash
 * rounds) run the compiled JavaScript, exactly what `npm start` and the bins run.
 */
export default function setup(): void {
  // For quick unit-test runs during development: DAOS_SKIP_BUILD=1 npx vitest run core
  if (process.env.DAOS_SKIP_BUILD === '1') return;
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(
    process.execPath,
    [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
