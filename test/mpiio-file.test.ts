/**
 * MPI-IO files: a 3-D array written through subarray views by 1, 2, 4 and 7 ranks (collectively
 * and independently), read back through another decomposition, on DFS and on a local file; the
 * two backends must hold the same bytes, and those bytes must be the array in C order.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnRanks } from '../adapters/mpiio/spawn.js';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';

const N = 30;
const rank = new URL('./ranks/subarray3d.mjs', import.meta.url);

/** The file a correct program leaves: the array in C order, as little-endian doubles. */
function expectedBytes(): Buffer {
  const a = new Float64Array(N * N * N);
  let i = 0;
  for (let z = 0; z < N; z++)
    for (let y = 0; y < N; y++) for (let x = 0; x < N; x++) a[i++] = z * N * N + y * N + x + 0.25;
  return Buffer.from(a.buffer);
}

describe('MpiFile: 3-D subarray views, collective and independent, DFS and POSIX', () => {
  let sys: DaosSystem;
  let dir: string;
  let local: string;
  let dfs: Dfs;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mpiio-sys-'));
    local = await mkdtemp(join(tmpdir(), 'mpiio-local-'));
    sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4 });
    await sys.createPool({ label: 'tank', size: '4G' });
    dfs = await Dfs.mount(await (await sys.connect()).connectPool('tank'), 'mpiio', { create: true });
  }, 60_000);

  afterAll(async () => {
    await dfs?.umount();
    await sys?.stop();
    await rm(dir, { recursive: true, force: true });
    await rm(local, { recursive: true, force: true });
  });

  const want = expectedBytes();
  for (const n of [1, 2, 4, 7]) {
    for (const [w, r] of [
      ['coll', 'ind'],
      ['ind', 'coll'],
    ] as const) {
      it(`${n} ranks: write ${w === 'coll' ? 'collectively' : 'independently'}, read back ${r === 'coll' ? 'collectively' : 'independently'}`, async () => {
        const name = `a-${n}-${w}-${r}.bin`;
        // Small collective buffers and two aggregators: several rounds per call.
        const args = [N, w, r, 64 * 1024, 2].map(String);
        const onDfs = await spawnRanks(n, rank, [`daos:/${name}`, ...args], { system: sys });
        const onLocal = await spawnRanks(n, rank, [join(local, name), ...args]);
        for (const results of [onDfs, onLocal]) {
          expect(results).toHaveLength(n);
          for (const res of results as Array<{
            bad: number;
            bytesRead: number;
            slab: number;
            size: number;
          }>) {
            expect(res.bad).toBe(0);
            expect(res.bytesRead).toBe(N * N * res.slab * 8);
            expect(res.size).toBe(N * N * N * 8);
          }
        }
        const posixBytes = await readFile(join(local, name));
        const dfsBytes = (await dfs.fs.readFile(`/${name}`)) as Buffer;
        expect(posixBytes.equals(want)).toBe(true);
        expect(dfsBytes.equals(posixBytes)).toBe(true);
      }, 120_000);
    }
  }
});
