/**
 * Engines as processes and a replicated object surviving the loss of one of them.
 *
 *   node dist/examples/replicas.js [DIR]
 *
 * Starts three daos_engine child processes on loopback, writes a KV with object class RP_3GX
 * (three replicas of every dkey, on three different engines), SIGKILLs one engine, marks its rank
 * DOWN (what the control plane does when it excludes a rank), and reads and writes on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DaosSystem } from '../index.js';

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'daos-replicas-'));
const sys = await DaosSystem.start({ dir, engines: 3, targetsPerEngine: 2, transport: 'tcp' });
try {
  for (const e of sys.engines) console.log(`engine rank ${e.rank}: pid ${e.pid}, ${e.address}`);
  await sys.createPool({ label: 'tank', size: '1G' });
  const pool = await (await sys.connect()).connectPool('tank');
  await pool.createContainer({ label: 'readings', props: { redunFactor: 2 } });
  const cont = await pool.openContainer('readings');
  // With redundancy factor 2 a KV defaults to RP_3GX: it survives two lost engines.
  const kv = cont.kv(await cont.newOid({ type: 'kv' }));
  for (let i = 0; i < 100; i++) await kv.put(`sensor-${i}`, `reading ${i}`);
  console.log('wrote 100 keys with 3 replicas each');

  const victim = sys.engines[1]!;
  process.kill(victim.pid, 'SIGKILL');
  // The system notices the exit and excludes the rank's targets (the pool's self_heal property).
  while ((await pool.query()).disabledTargets === 0) await new Promise((r) => setTimeout(r, 20));
  const { mapVersion } = await pool.query();
  console.log(`killed engine rank ${victim.rank}; the system excluded it (pool map version ${mapVersion})`);

  let ok = 0;
  for (let i = 0; i < 100; i++) {
    const v = await kv.get(`sensor-${i}`);
    if (v !== undefined && Buffer.from(v).toString() === `reading ${i}`) ok++;
  }
  await kv.put('sensor-0', 'written after the loss');
  const q = await pool.query();
  console.log(`read back ${ok}/100 keys; ${q.disabledTargets} of ${q.targets} targets disabled`);
  console.log(`sensor-0 = "${Buffer.from((await kv.get('sensor-0'))!).toString()}"`);
} finally {
  await sys.stop();
  if (!process.argv[2]) rmSync(dir, { recursive: true, force: true });
}
