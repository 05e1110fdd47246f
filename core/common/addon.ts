/**
 * The package's N-API addons: each is built by the package's `install` script (node-gyp) into
 * `<dir>/native/build/Release/<name>.node` of the sources, and found from the module that loads
 * it, whether that module runs from the sources (`<dir>/`) or from the build (`dist/<dir>/`).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The places the addon `name` of source folder `dir` (e.g. 'agent', 'engine/bio') may be, seen
 * from `moduleUrl` (the `import.meta.url` of a module in `dir`), and the first that exists.
 */
export function findAddon(moduleUrl: string, dir: string, name: string): { path?: string; looked: string[] } {
  const rel = join('native', 'build', 'Release', `${name}.node`);
  const here = dirname(fileURLToPath(moduleUrl));
  const depth = dir.split('/').length;
  const looked = [join(here, rel), join(here, ...Array<string>(depth + 1).fill('..'), dir, rel)];
  return { path: looked.find((p) => existsSync(p)), looked };
}

/** Load the addon at `path` (found by findAddon) from `moduleUrl`. */
export function loadAddon<T>(moduleUrl: string, path: string): T {
  return createRequire(moduleUrl)(path) as T;
}
