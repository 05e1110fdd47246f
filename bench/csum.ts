/**
 * bench:csum — the cost of container checksums: 1 MiB array updates and fetches (class S1, one
 * in flight) on the embedded system, a checksum-off and a 'crc32c' container side by side in
 * alternating segments; the median MiB/s of each. Also the raw CRC32C rate of @node-rs/crc32.
 *
 *   npm run build && node dist/bench/csum.js [--mib N] [--reps N] [--transport inproc|tcp]
 */
import { randomFillSync } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { chunkCsums } from '../core/csum/index.js';
import type { DaosObject } from '../core/daos/object.js';
import { DaosSystem } from '../embedded/system.js';

const MiB = 1 << 20;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const mib = Number(arg('mib', '128'));
  const reps = Number(arg('reps', '4'));
  const transport = arg('transport', 'inproc') as 'inproc' | 'tcp';
  const data = randomFillSync(Buffer.alloc(MiB));

  let t = process.hrtime.bigint();
  for (let i = 0; i < 1024; i++) chunkCsums(data);
  const crcRate = 1024 / (Number(process.hrtime.bigint() - t) / 1e9);
  console.log(`chunkCsums (CRC32C, 32 KiB chunks): ${crcRate.toFixed(0)} MiB/s`);

  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'bench-csum-'));
  const sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4, transport });
  try {
    await sys.createPool({ label: 'p', size: '8G' });
    const pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'off' });
    await pool.createContainer({ label: 'crc32c', props: { checksum: 'crc32c' } });
    const objs: Record<string, DaosObject> = {};
    const rates: Record<string, { w: number[]; r: number[] }> = {};
    for (const label of ['off', 'crc32c']) {
      const c = await pool.openContainer(label);
      objs[label] = c.object(await c.newOid({ oclass: 'S1' }));
      rates[label] = { w: [], r: [] };
    }
    const out = Buffer.alloc(MiB);
    for (let rep = 0; rep < reps; rep++) {
      for (const label of rep % 2 ? ['crc32c', 'off'] : ['off', 'crc32c']) {
        const o = objs[label]!;
        t = process.hrtime.bigint();
        for (let i = 0; i < mib; i++)
          await o.update(`d${i % 16}`, [
            { akey: 'a', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: MiB, data }] },
          ]);
        rates[label]!.w.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
        t = process.hrtime.bigint();
        for (let i = 0; i < mib; i++)
          await o.fetch(`d${i % 16}`, [
            { akey: 'a', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: MiB }], out },
          ]);
        rates[label]!.r.push(mib / (Number(process.hrtime.bigint() - t) / 1e9));
        await sys.aggregateAll();
      }
    }
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    for (const [label, r] of Object.entries(rates)) {
      console.log(
        `${transport} checksum ${label}: 1 MiB update ${median(r.w).toFixed(0)} MiB/s, fetch ${median(r.r).toFixed(0)} MiB/s`,
      );
    }
  } finally {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
