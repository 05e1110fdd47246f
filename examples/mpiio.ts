/**
 * MPI-IO on daos-ts: 4 ranks (worker threads) share an embedded system, write a 3-D array
 * collectively through subarray views into a DFS file and into a local file, and read it back
 * through another decomposition. Run: npm run build && node dist/examples/mpiio.js [DIR]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnRanks } from '../adapters/mpiio/spawn.js';
import { Dfs } from '../core/dfs/index.js';
import { DaosSystem } from '../index.js';

const given = process.argv[2];
const dir = given ?? mkdtempSync(join(tmpdir(), 'daos-mpiio-example-'));
const sys = await DaosSystem.start({ dir: join(dir, 'system') });
try {
  await sys.createPool({ label: 'tank', size: '2G' });
  const rank = new URL('./mpiio-rank.js', import.meta.url);
  const local = join(dir, 'grid.bin');
  for (const path of ['daos:/grid.bin', local]) {
    const t0 = performance.now();
    const results = (await spawnRanks(4, rank, [path], { system: sys })) as Array<{
      bad: number;
      bytes: number;
    }>;
    const ms = Math.round(performance.now() - t0);
    console.log(
      `${path}: 4 ranks wrote 32^3 doubles collectively and read back ${results.map((r) => r.bytes).join('+')} bytes, ${results[0]!.bad} wrong (${ms} ms)`,
    );
  }
  const dfs = await Dfs.mount(await (await sys.connect()).connectPool('tank'), 'mpiio');
  const same = Buffer.compare((await dfs.fs.readFile('/grid.bin')) as Buffer, readFileSync(local)) === 0;
  console.log(`the DFS file and the local file hold the same ${readFileSync(local).length} bytes: ${same}`);
  await dfs.umount();
  console.log('mpiio example done');
} finally {
  await sys.stop();
  if (!given) rmSync(dir, { recursive: true, force: true });
}
