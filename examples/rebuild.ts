/**
 * Self-healing: six engine processes hold replicated (RP_2GX) and erasure-coded (EC_2P1GX)
 * objects; one engine is killed; the system notices, excludes its rank and rebuilds the lost
 * shards on the others while the pool keeps serving; then everything reads back, even after a
 * second engine is killed.
 *
 *   node dist/examples/rebuild.js [--mib N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkShards, readBack, waitFor, writeWorkload } from '../bench/rebuild-workload.js';
import { DaosSystem } from '../index.js';

const mibArg = process.argv.indexOf('--mib');
const mib = mibArg > 0 ? Number(process.argv[mibArg + 1]) : 32;
const dir = mkdtempSync(join(tmpdir(), 'daos-rebuild-example-'));
const sys = await DaosSystem.start({ dir, engines: 6, targetsPerEngine: 2, transport: 'tcp' });
try {
  await sys.createPool({ label: 'tank', size: '4G' });
  const client = await sys.connect();
  const pool = await client.connectPool('tank', { mode: 'rw' });
  await pool.createContainer({ label: 'data', props: { redunFactor: 1 } });
  const cont = await pool.openContainer('data');
  const objs = await writeWorkload(cont, {
    bytes: mib * 1024 * 1024,
    oclasses: ['RP_2GX', 'EC_2P1GX'],
    objectsPerClass: 2,
  });
  console.log(`wrote ${mib} MiB into ${objs.length} objects (RP_2GX, EC_2P1GX) over 6 engines`);

  const victim = sys.engines[3]!;
  process.kill(victim.pid, 'SIGKILL');
  console.log(`killed engine rank ${victim.rank} (pid ${victim.pid})`);
  const detectMs = await waitFor('exclusion', async () => (await pool.query()).disabledTargets > 0, 30_000);
  console.log(`rank ${victim.rank} excluded after ${detectMs} ms: ${sys.failures[0]?.why}`);
  let last = '';
  const rebuildMs = await waitFor(
    'rebuild',
    async () => {
      const { rebuild } = await pool.query();
      const line = `rebuild ${rebuild.state}: ${rebuild.objects} objects, ${(rebuild.bytes / 1048576).toFixed(1)} MiB`;
      if (line !== last) console.log(line);
      last = line;
      return rebuild.state === 'done';
    },
    600_000,
    250,
  );
  await pool.refreshMap();
  console.log(
    `full redundancy again after ${rebuildMs} ms: ${await checkShards(pool, cont, objs)} shards checked`,
  );

  process.kill(sys.engines[5]!.pid, 'SIGKILL');
  await waitFor('second exclusion', async () => (await pool.query()).disabledTargets > 2, 30_000);
  console.log(`killed rank 5 too; read back ${(await readBack(objs)) / 1048576} MiB byte-exact`);
} finally {
  await sys.stop();
  rmSync(dir, { recursive: true, force: true });
}
