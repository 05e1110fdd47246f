/**
 * The tour that `npm start` runs: an embedded system in a folder, a pool and a container,
 * objects, a KV, an array, a snapshot and a transaction, with throughput figures.
 *
 *   node dist/examples/tour.js [DIR] [--mib N] [--keys N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DaosError, DaosSystem, formatBytes, oidToString } from '../index.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const ARRAY_MIB = arg('--mib', 256);
const KV_KEYS = arg('--keys', 20_000);
const MIB = 1 << 20;

const given = process.argv[2] && !process.argv[2].startsWith('--') ? process.argv[2] : undefined;
const dir = given ?? mkdtempSync(join(tmpdir(), 'daos-tour-'));
const say = (s: string) => console.log(s);
const rate = (n: number, ms: number) => `${Math.round((n * 1000) / ms).toLocaleString('en-US')}/s`;
const mibps = (bytes: number, ms: number) => `${(((bytes / MIB) * 1000) / ms).toFixed(0)} MiB/s`;

say(`daos-ts tour: an embedded system in ${dir}`);
const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4 });
say(`  engines: ${sys.engines.map((e) => `rank ${e.rank} (${e.state})`).join(', ')}; 4 targets each`);

const poolInfo = await sys.createPool({ label: `tank-${Date.now().toString(36)}`, size: '8G' });
const client = await sys.connect();
const pool = await client.connectPool(poolInfo.label);
say(
  `  pool "${pool.label}" ${pool.uuid}: ${formatBytes(poolInfo.totalBytes)} over ${pool.map.targets.length} targets`,
);
await pool.createContainer({ label: 'c1', type: 'POSIX' });
const cont = await pool.openContainer('c1');
say(`  container "c1" ${cont.uuid}`);

// Objects: dkeys and akeys, a single value and an array of records.
const oid = await cont.newOid({ type: 'multi_lexical', oclass: 'S1' });
const obj = cont.object(oid);
await obj.update('sensor-1', [
  { akey: 'name', kind: 'single', value: 'thermometer' },
  {
    akey: 'samples',
    kind: 'array',
    recordSize: 4,
    extents: [{ idx: 0, nr: 4, data: new Uint8Array(new Float32Array([20.5, 21, 21.5, 22]).buffer) }],
  },
]);
await obj.update('sensor-0', [{ akey: 'name', kind: 'single', value: 'barometer' }]);
const [name, samples] = await obj.fetch('sensor-1', [
  { akey: 'name', kind: 'single' },
  { akey: 'samples', kind: 'array', recordSize: 4, extents: [{ idx: 0, nr: 6 }] },
]);
const s = samples as { data: Uint8Array; map: Array<{ idx: bigint; nr: bigint }> };
const dkeys: string[] = [];
for await (const k of obj.listDkeys()) dkeys.push(k.toString());
say(`\nobject ${oidToString(oid)} (multi_lexical, S1)`);
say(`  sensor-1/name = "${Buffer.from(name as Uint8Array).toString()}"`);
say(
  `  sensor-1/samples[0..6) = [${Array.from(new Float32Array(new Uint8Array(s.data).buffer)).join(', ')}], written: ${s.map.map((r) => `[${r.idx}, ${r.idx + r.nr})`).join(' ')} (the rest are holes)`,
);
say(`  dkeys in order: ${dkeys.join(', ')}`);

// KV: 4 KiB values, many in flight.
const kv = cont.kv(await cont.newOid({ type: 'kv', oclass: 'SX' }));
const value = Buffer.alloc(4096, 7);
let t0 = performance.now();
for (let i = 0; i < KV_KEYS; i += 1000) {
  const batch = [];
  for (let j = i; j < Math.min(KV_KEYS, i + 1000); j++) batch.push(kv.put(`key-${j}`, value));
  await Promise.all(batch);
}
const putMs = performance.now() - t0;
t0 = performance.now();
for (let i = 0; i < KV_KEYS; i += 1000) {
  const batch = [];
  for (let j = i; j < Math.min(KV_KEYS, i + 1000); j++) batch.push(kv.get(`key-${j}`));
  for (const v of await Promise.all(batch)) if (v?.byteLength !== 4096) throw new Error('KV read back wrong');
}
const getMs = performance.now() - t0;
say(
  `\nKV (SX over 4 targets): ${KV_KEYS} puts of 4 KiB at ${rate(KV_KEYS, putMs)}, gets at ${rate(KV_KEYS, getMs)}`,
);

// Array: DAOS's array layout, 1 MiB chunks.
const arr = await cont.createArray({ cellSize: 1, chunkSize: MIB, oclass: 'SX' });
const block = Buffer.alloc(MIB);
for (let i = 0; i < MIB; i += 4) block.writeUInt32LE(i, i);
t0 = performance.now();
for (let i = 0; i < ARRAY_MIB; i += 4) {
  const batch = [];
  for (let j = i; j < Math.min(ARRAY_MIB, i + 4); j++) batch.push(arr.write(j * MIB, block));
  await Promise.all(batch);
}
const wMs = performance.now() - t0;
const readBufs = [0, 1, 2, 3].map(() => Buffer.alloc(MIB));
t0 = performance.now();
for (let i = 0; i < ARRAY_MIB; i += 4) {
  const batch = [];
  // Reads land in the caller's buffers (DAOS's scatter-gather lists): no allocation per read.
  for (let j = i; j < Math.min(ARRAY_MIB, i + 4); j++)
    batch.push(arr.read(j * MIB, MIB, { into: readBufs[j - i] }));
  for (const got of await Promise.all(batch))
    if (Buffer.compare(got, block) !== 0) throw new Error('array read back wrong');
}
const rMs = performance.now() - t0;
say(
  `\narray ${oidToString(arr.oid)} (SX): ${ARRAY_MIB} MiB in 1 MiB writes at ${mibps(ARRAY_MIB * MIB, wMs)}, reads at ${mibps(ARRAY_MIB * MIB, rMs)}`,
);
say(`  size ${await arr.getSize()} bytes (from a max-key query; not stored)`);

// Snapshots: overwrite, then read the old version.
const snap = await cont.createSnapshot('before');
await kv.put('key-0', 'overwritten');
await arr.write(0, Buffer.from('NEW DATA'));
const old = cont.atSnapshot(snap);
const oldKv = await old.kv(kv.oid).get('key-0');
const oldArr = await (await old.openArray(arr.oid)).read(0, 8);
say(`\nsnapshot "before" at epoch ${snap}`);
say(
  `  now:      key-0 = "${Buffer.from((await kv.get('key-0'))!).toString()}", array[0..8) = ${JSON.stringify(Buffer.from(await arr.read(0, 8)).toString())}`,
);
say(
  `  snapshot: key-0 = ${oldKv?.byteLength} bytes of 0x07, array[0..8) = ${Buffer.from(oldArr).toString('hex')}`,
);

// Transactions: both writes or neither; a conflict is retried.
const accounts = cont.kv(await cont.newOid({ type: 'kv_lexical', oclass: 'S2' }));
await accounts.put('alice', '100');
await accounts.put('bob', '0');
const tx = await cont.openTx();
const a = Number(Buffer.from((await tx.kv(accounts.oid).get('alice'))!).toString());
await accounts.put('alice', String(a + 5)); // someone else writes after the tx read
await tx.kv(accounts.oid).put('alice', String(a - 30));
await tx.kv(accounts.oid).put('bob', '30');
try {
  await tx.commit();
} catch (err) {
  if (!(err instanceof DaosError) || err.code !== 'DER_TX_RESTART') throw err;
  say(`\ntransaction: ${err.code} (alice changed after the tx read her) — nothing applied; retrying`);
  tx.restart();
  const now = Number(Buffer.from((await tx.kv(accounts.oid).get('alice'))!).toString());
  await tx.kv(accounts.oid).put('alice', String(now - 30));
  await tx.kv(accounts.oid).put('bob', '30');
  await tx.commit();
}
say(
  `  after retry: alice=${Buffer.from((await accounts.get('alice'))!).toString()} bob=${Buffer.from((await accounts.get('bob'))!).toString()}`,
);

// Space, aggregation, restart.
const q = await pool.query();
say(
  `\npool: ${formatBytes(q.totalBytes - q.freeBytes)} used of ${formatBytes(q.totalBytes)}, map version ${q.mapVersion}, rebuild ${q.rebuild.state}`,
);
await cont.destroySnapshot(snap);
const agg = await cont.aggregate();
say(
  `aggregation after dropping the snapshot: ${agg.recordsRemoved} old versions removed, ${formatBytes(agg.bytesFreed)} freed`,
);
await sys.stop();

const again = await DaosSystem.start({ dir });
const c2 = await (await (await again.connect()).connectPool(poolInfo.label)).openContainer('c1');
const back = await (await c2.openArray(arr.oid)).read(0, 8);
say(
  `restarted on the same folder: array[0..8) = ${JSON.stringify(Buffer.from(back).toString())}, alice=${Buffer.from((await c2.kv(accounts.oid).get('alice'))!).toString()}`,
);
await again.stop();
if (!given) rmSync(dir, { recursive: true, force: true });
say('\ntour done.');
