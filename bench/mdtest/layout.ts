/**
 * Where mdtest's tree and items live (shared/REFERENCE.md "mdtest"): the test directory
 * `<d>/test-dir.<iteration>-0`, a tree `mdtest_tree.0` (shared) or `mdtest_tree.<rank>.0` (-u)
 * whose directory k has children k*b+1 .. k*b+b, and items `file.mdtest.<rank>.<n>` /
 * `dir.mdtest.<rank>.<n>`, item n in directory floor(n / itemsPerDir). Pure path arithmetic.
 */
import { posix } from 'node:path';
import type { TreeShape } from './options.js';

export type ItemKind = 'file' | 'dir';

/** mdtest's phases in the order they run; the task stride shifts each one by one more stride. */
export const PHASES = ['create', 'stat', 'read', 'remove'] as const;
export type Phase = (typeof PHASES)[number];

/** The test directory of an iteration. */
export function testDirPath(base: string, iteration: number): string {
  return posix.join(base, `test-dir.${iteration}-0`);
}

/** The name stem of a task's tree: shared by all tasks, or its own with -u. */
export function treeStem(uniqueDir: boolean, rank: number): string {
  return uniqueDir ? `mdtest_tree.${rank}` : 'mdtest_tree';
}

/** Path of tree directory `dir` (0 = the tree's root) relative to the test directory. */
export function treeDirPath(stem: string, dir: number, branch: number): string {
  const parts: string[] = [];
  for (let d = dir; ; d = Math.floor((d - 1) / branch)) {
    parts.push(`${stem}.${d}`);
    if (d === 0) break;
  }
  return parts.reverse().join('/');
}

/** Path of item `n` (counted from 0 over the item directories) relative to the test directory. */
export function itemPath(
  stem: string,
  shape: TreeShape,
  branch: number,
  kind: ItemKind,
  owner: number,
  n: number,
): string {
  const number = n + shape.firstItemDir * shape.itemsPerDir;
  const dir = Math.floor(number / shape.itemsPerDir);
  return `${treeDirPath(stem, dir, branch)}/${kind}.mdtest.${owner}.${number}`;
}

/** The task whose items `rank` works on in a phase: (rank + k * stride) % size, k the phase's index. */
export function phaseOwner(phase: Phase, rank: number, size: number, stride: number): number {
  return (rank + PHASES.indexOf(phase) * stride) % size;
}
