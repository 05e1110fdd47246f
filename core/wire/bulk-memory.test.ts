import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const MODULE = fileURLToPath(new URL('../../dist/core/wire/bulk-memory.js', import.meta.url));
const glibc =
  process.platform === 'linux' &&
  Boolean(
    (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime,
  );

/**
 * Page faults (minor, from /proc/self/stat) of 16 rounds of 16 fresh 1 MiB buffers written and
 * collected, in a child process, with or without keepFreedBulkMemory first.
 */
function faults(tuned: boolean): number {
  const script = `
    import { readFileSync } from 'node:fs';
    if (${tuned}) (await import(${JSON.stringify(MODULE)})).keepFreedBulkMemory();
    globalThis.gc();
    const minflt = () => Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')[7]);
    const round = () => {
      const keep = [];
      for (let i = 0; i < 16; i++) keep.push(Buffer.allocUnsafe(1 << 20).fill(i));
      keep.length = 0;
      globalThis.gc();
    };
    round();
    const before = minflt();
    for (let r = 0; r < 16; r++) round();
    process.stdout.write(String(minflt() - before));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script]);
  return Number(out.toString());
}

describe('keepFreedBulkMemory', () => {
  it.skipIf(!glibc)('lets fresh 1 MiB buffers reuse freed memory instead of faulting it in again', () => {
    const plain = faults(false);
    const tuned = faults(true);
    // 256 MiB written: tens of thousands of pages. Tuned, most of them are the heap's already.
    expect(plain).toBeGreaterThan(2000);
    expect(tuned).toBeLessThan(plain / 2);
  });
});
