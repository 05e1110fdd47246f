/**
 * How long a small KV put takes while 1 MiB array writes run in flight on another target of the
 * same engine (bench/README.md, "Writes in flight answered one by one"): a commit waits for its own
 * file's data-file writes, so a put of a value kept in the index should not wait for the
 * array's. Prints the median, 90th and 99th percentile µs of the puts (one at a time), made while
 * the writers run.
 *
 *   npm run build && node dist/bench/mixed-latency.js [--puts 300] [--depth 8] [--dir DIR]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { objectLayout } from '../core/placement/layout.js';
import { DaosSystem, type KV } from '../index.js';

const MiB = 1024 * 1024;
/** The array's writes cycle over this many chunks (each rewrite takes new space). */
const CHUNKS = 2048;
/** Puts before the timed ones (JIT warm-up), writers already running. */
const WARMUP_PUTS = 200;
/** KV objects tried for one whose target differs from the array's. */
const KV_TRIES = 32;

const { values } = parseArgs({
  options: {
    puts: { type: 'string', default: '300' },
    depth: { type: 'string', default: '8' },
    dir: { type: 'string', default: os.tmpdir() },
  },
});
const PUTS = Number(values.puts);
const DEPTH = Number(values.depth);
for (const [name, v] of [
  ['--puts', PUTS],
  ['--depth', DEPTH],
] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
}

const dir = fs.mkdtempSync(path.join(values.dir, 'daos-mixed-latency-'));
const sys = await DaosSystem.start({ dir });
try {
  await sys.createPool({ label: 'p', size: '64G' });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const arr = await cont.createArray({ cellSize: 1, chunkSize: MiB, oclass: 'S1' });
  // An S1 object's one shard: its target.
  const targetOf = (o: { object: { oid: Parameters<typeof objectLayout>[0] } }) =>
    objectLayout(o.object.oid, pool.map).shards[0]!.target;
  const arrayTarget = targetOf(arr);
  let kv: KV | undefined;
  for (let k = 0; k < KV_TRIES && kv === undefined; k++) {
    const candidate = cont.kv(await cont.newOid({ type: 'kv', oclass: 'S1' }));
    if (targetOf(candidate) !== arrayTarget) kv = candidate;
  }
  if (kv === undefined) throw new Error(`no KV object off target ${arrayTarget} in ${KV_TRIES} tries`);

  const chunk = Buffer.alloc(MiB, 3);
  let stop = false;
  let next = 1;
  const writers = Array.from({ length: DEPTH }, async () => {
    while (!stop) await arr.write((next++ % CHUNKS) * MiB, chunk);
  });
  const value = Buffer.alloc(100, 2);
  const micros: number[] = [];
  try {
    for (let i = 0; i < WARMUP_PUTS; i++) await kv.put(`w${i}`, value);
    for (let i = 0; i < PUTS; i++) {
      const t0 = performance.now();
      await kv.put(`k${i}`, value);
      micros.push((performance.now() - t0) * 1000);
    }
  } finally {
    stop = true;
    await Promise.all(writers);
  }
  micros.sort((a, b) => a - b);
  const at = (q: number) => micros[Math.min(micros.length - 1, Math.floor(micros.length * q))]!.toFixed(0);
  console.log(
    `100-byte KV put, one at a time, while ${DEPTH} 1 MiB array writes are in flight on another target (${next - 1} written): median ${at(0.5)} µs, p90 ${at(0.9)}, p99 ${at(0.99)} (${PUTS} puts)`,
  );
} finally {
  await sys.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
