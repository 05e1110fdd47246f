/**
 * bench:rebuild — how fast the system heals: 6 engine processes (DaosSystem tcp, 2 targets
 * each) hold --mib MiB (default 1024) in RP_2GX and EC_2P1GX objects; one engine is SIGKILLed;
 * measured: time to detect and exclude it, time to full redundancy (kill → rebuild done), and
 * rebuild throughput (bytes the rebuild wrote to the new homes per second of rebuild, per
 * surviving engine). The shards are then checked one by one and everything read back. Writes
 * the bench:rebuild block of bench/RESULTS.md (with the command, date and `uptime` load).
 *
 *   npm run bench:rebuild [-- --mib N] [--quick] [--no-results]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { DaosSystem } from '../embedded/system.js';
import { REBUILD_BYTES_PER_SEC_MAX } from '../engine/rebuild/rebuild.js';
import { benchFlags, MiB, machine, updateResults } from './common.js';
import { checkShards, readBack, waitFor, writeWorkload } from './rebuild-workload.js';

const ENGINES = 6;
const TARGETS = 2;

async function main(): Promise<void> {
  const flags = benchFlags(process.argv.slice(2), { numbers: { mib: [1024, 64, 'REBUILD_BENCH_MIB'] } });
  const mib = flags.num('mib');
  // Data on disk (the engines' data files), not tmpfs: 1 GiB written three ways over would not fit.
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-rebuild-'));
  const sys = await DaosSystem.start({ dir, engines: ENGINES, targetsPerEngine: TARGETS, transport: 'tcp' });
  const started = new Date();
  try {
    await sys.createPool({ label: 'tank', size: `${Math.max(4, Math.ceil((mib * 8) / 1024))}G` });
    const pool = await (await sys.connect()).connectPool('tank', { mode: 'rw' });
    await pool.createContainer({ label: 'c', props: { redunFactor: 1 } });
    const cont = await pool.openContainer('c');
    let t = Date.now();
    const objs = await writeWorkload(cont, {
      bytes: mib * MiB,
      oclasses: ['RP_2GX', 'EC_2P1GX'],
      objectsPerClass: 4,
    });
    const writeS = (Date.now() - t) / 1000;
    console.error(`wrote ${mib} MiB in ${writeS.toFixed(1)} s`);
    const load = execFileSync('uptime', { encoding: 'utf8' }).trim();

    const victim = 2;
    const killedAt = Date.now();
    process.kill(sys.engines[victim]!.pid, 'SIGKILL');
    await waitFor('exclusion', async () => (await pool.query()).disabledTargets > 0, 60_000, 50);
    const detectS = (sys.failures[0]!.detectedMs - killedAt) / 1000;
    const excludedS = (Date.now() - killedAt) / 1000;
    await waitFor('rebuild', async () => (await pool.query()).rebuild.state === 'done', 3_600_000, 100);
    const fullS = (Date.now() - killedAt) / 1000;
    const st = sys.rebuildState('tank');
    const rebuildS = st.seconds ?? fullS;
    const survivors = ENGINES - 1;
    const perEngine = st.bytes / MiB / rebuildS / survivors;
    console.error(
      `detected ${detectS.toFixed(2)} s, excluded ${excludedS.toFixed(2)} s, full redundancy ${fullS.toFixed(1)} s; rebuild ${st.objects} objects ${(st.bytes / MiB).toFixed(0)} MiB in ${rebuildS.toFixed(1)} s = ${perEngine.toFixed(1)} MiB/s per surviving engine`,
    );
    await pool.refreshMap();
    t = Date.now();
    const shards = await checkShards(pool, cont, objs);
    const checkS = (Date.now() - t) / 1000;
    t = Date.now();
    const back = await readBack(objs);
    const readS = (Date.now() - t) / 1000;
    console.error(
      `checked ${shards} shards in ${checkS.toFixed(1)} s; read back ${back / MiB} MiB in ${readS.toFixed(1)} s`,
    );

    const block = [
      `Run ${started.toISOString()} — \`npm run bench:rebuild${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\``,
      '',
      `Machine: ${machine()}. Load before the kill: \`${load}\``,
      '',
      `${ENGINES} engine processes × ${TARGETS} targets (DaosSystem tcp, data files in ${os.tmpdir()}), ${mib} MiB in ${objs.length} objects (RP_2GX, EC_2P1GX, 1 MiB values); rank ${victim} SIGKILLed; rebuild throttle ${REBUILD_BYTES_PER_SEC_MAX / MiB} MiB/s per engine.`,
      '',
      '| measure | value |',
      '|---|---:|',
      `| write ${mib} MiB (client, before the kill) | ${writeS.toFixed(1)} s (${(mib / writeS).toFixed(0)} MiB/s) |`,
      `| kill → failure detected (process exit) | ${detectS.toFixed(2)} s |`,
      `| kill → rank excluded (pool map DOWN) | ${excludedS.toFixed(2)} s |`,
      `| rebuild: objects / bytes written to new homes | ${st.objects} / ${(st.bytes / MiB).toFixed(0)} MiB |`,
      `| rebuild time (exclusion → done) | ${rebuildS.toFixed(1)} s |`,
      `| **rebuild throughput per surviving engine** | **${perEngine.toFixed(1)} MiB/s** (${survivors} engines, ${(st.bytes / MiB / rebuildS).toFixed(1)} MiB/s in all) |`,
      `| **time to full redundancy (kill → DOWNOUT)** | **${fullS.toFixed(1)} s** |`,
      `| shard-by-shard check (${shards} shards) | ${checkS.toFixed(1)} s, all present |`,
      `| read back ${back / MiB} MiB byte-exact | ${readS.toFixed(1)} s |`,
    ].join('\n');
    if (flags.writeResults) console.error(`updated ${updateResults('rebuild', block)}`);
    else console.log(block);
  } finally {
    await sys.stop();
    if (!flags.keep && existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}

await main();
