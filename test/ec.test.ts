/**
 * Erasure-coded object classes end to end, on real engines: full and partial stripes, unaligned
 * extents, overwrites, holes and punches read back byte-exact; then ranks of data shards DOWN and
 * everything read back through degraded reads, and written while degraded. Then the model-based
 * test with every object EC over tcp engines.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dkeyGroup, objectLayout } from '../core/placement/layout.js';
import { type ArrayFetchResult, type Container, type DaosObject, DaosSystem, type Recx } from '../index.js';
import { Prng } from './model/prng.js';
import { runModel } from './model/runner.js';

/** What one array akey should hold: bytes (zeros in holes) and which records hold data. */
class RefArray {
  data: Uint8Array;
  present: Uint8Array;
  constructor(
    readonly rs: number,
    readonly records: number,
  ) {
    this.data = new Uint8Array(rs * records);
    this.present = new Uint8Array(records);
  }
  write(idx: number, bytes: Uint8Array): void {
    this.data.set(bytes, idx * this.rs);
    this.present.fill(1, idx, idx + bytes.length / this.rs);
  }
  punch(idx: number, nr: number): void {
    this.data.fill(0, idx * this.rs, (idx + nr) * this.rs);
    this.present.fill(0, idx, idx + nr);
  }
  map(from: number, nr: number): Recx[] {
    const out: Recx[] = [];
    for (let i = from; i < from + nr; i++) {
      if (!this.present[i]) continue;
      const last = out[out.length - 1];
      if (last && last.idx + last.nr === BigInt(i)) last.nr++;
      else out.push({ idx: BigInt(i), nr: 1n });
    }
    return out;
  }
}

interface Case {
  obj: DaosObject;
  dkey: string;
  akey: string;
  ref: RefArray;
}

async function write(c: Case, idx: number, nr: number, rng: Prng, punch = false): Promise<void> {
  const { rs } = c.ref;
  if (punch) {
    await c.obj.update(c.dkey, [{ akey: c.akey, kind: 'array', recordSize: rs, extents: [{ idx, nr }] }]);
    c.ref.punch(idx, nr);
    return;
  }
  const data = rng.bytes(nr * rs);
  await c.obj.update(c.dkey, [{ akey: c.akey, kind: 'array', recordSize: rs, extents: [{ idx, nr, data }] }]);
  c.ref.write(idx, data);
}

/** Read [from, from + nr) (as two extents in reverse order, to check request order) and compare. */
async function verify(c: Case, checkMap: boolean, from = 0, nr = c.ref.records): Promise<void> {
  const { rs } = c.ref;
  const half = Math.floor(nr / 2);
  const extents =
    half > 0
      ? [
          { idx: from + half, nr: nr - half },
          { idx: from, nr: half },
        ]
      : [{ idx: from, nr }];
  const [res] = await c.obj.fetch(c.dkey, [{ akey: c.akey, kind: 'array', recordSize: rs, extents }]);
  const r = res as ArrayFetchResult;
  const want = Buffer.concat(extents.map((e) => c.ref.data.subarray(e.idx * rs, (e.idx + e.nr) * rs)));
  const got = Buffer.from(r.data);
  let diff = -1;
  for (let i = 0; i < want.length && diff < 0; i++) if (got[i] !== want[i]) diff = i;
  expect(got.length, `${c.dkey}/${c.akey} length`).toBe(want.length);
  expect(diff, `${c.dkey}/${c.akey}: first wrong byte (record ${Math.floor(diff / rs)} of the reply)`).toBe(
    -1,
  );
  if (checkMap) expect(r.map).toEqual(c.ref.map(from, nr));
}

/** The ranks holding data shards (in order) of the group of `dkey`. */
function dataRanks(cont: Container, obj: DaosObject, dkey: string, k: number): number[] {
  const layout = objectLayout(obj.oid, cont.pool.map);
  const g = dkeyGroup(Buffer.from(dkey), layout);
  return layout.shards.slice(g * layout.groupSize, g * layout.groupSize + k).map((t) => t.rank);
}

async function ecScenario(opts: {
  engines: number;
  oclass: string;
  k: number;
  p: number;
  rs: number;
  ecCellSize?: number;
  seed: number;
}): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'daos-ec-'));
  const sys = await DaosSystem.start({ dir, engines: opts.engines, targetsPerEngine: 1 });
  try {
    await sys.createPool({ label: 'ec', size: '2G', ecCellSize: opts.ecCellSize });
    const pool = await (await sys.connect()).connectPool('ec');
    await pool.createContainer({ label: 'c', props: { redunFactor: opts.p } });
    const cont = await pool.openContainer('c');
    const rng = new Prng(opts.seed);
    const cellBytes = opts.ecCellSize ?? 128 * 1024;
    const cr = Math.max(1, Math.floor(cellBytes / opts.rs));
    const stripe = cr * opts.k;
    const records = stripe * 3 + 17;
    const obj = cont.object(await cont.newOid({ type: 'multi_lexical', oclass: opts.oclass }));
    const cases: Case[] = ['d0', 'd1'].flatMap((dkey) =>
      ['a', 'b'].map((akey) => ({ obj, dkey, akey, ref: new RefArray(opts.rs, records) })),
    );
    const [c0, c1, c2, c3] = cases as [Case, Case, Case, Case];
    // Full stripes, a partial one, unaligned, an overwrite across cells, a punch, and a hole.
    await write(c0, 0, stripe * 2, rng);
    await write(c0, stripe * 2 + 5, cr + 3, rng);
    await write(c0, Math.floor(cr / 2), cr, rng);
    await write(c0, cr - 1, 2, rng, true);
    await write(c1, 3, 1, rng);
    await write(c1, stripe + cr + 1, stripe, rng);
    await write(c2, stripe * 3, 17, rng);
    await write(c2, 0, stripe * 3 + 17, rng);
    await write(c2, cr, cr * 2, rng, true);
    await write(c3, stripe - 1, 2, rng);
    // A single value next to the arrays, and a second array akey in one update.
    const bData = rng.bytes(3 * opts.rs);
    await obj.update('d0', [
      { akey: 's', kind: 'single', value: 'hello' },
      { akey: 'b', kind: 'array', recordSize: opts.rs, extents: [{ idx: 7, nr: 3, data: bData }] },
    ]);
    c1.ref.write(7, bData);
    // Concurrent partial-stripe writes to every cell of one stripe: the leader serialises the
    // read-modify-writes, so parity ends up with all of them (checked by the degraded reads below).
    await Promise.all(
      Array.from({ length: opts.k }, (_, i) => write(c3, stripe * 2 + i * cr + 1, Math.min(2, cr), rng)),
    );
    for (const c of cases) await verify(c, true);
    for (const c of cases) await verify(c, true, cr - 3, cr + 7);
    expect(
      Buffer.from((await obj.fetch('d0', [{ akey: 's', kind: 'single' }]))[0] as Uint8Array).toString(),
    ).toBe('hello');
    const keys: string[] = [];
    for await (const k of obj.listDkeys()) keys.push(String(k));
    expect(keys).toEqual(['d0', 'd1']);
    const ak: string[] = [];
    for await (const k of obj.listAkeys('d0')) ak.push(String(k));
    expect(ak).toEqual(['a', 'b', 's']);
    expect(await obj.queryRecx('d0', 'a', 'max')).toEqual(c0.ref.map(0, records).at(-1));
    expect(await obj.queryRecx('d1', 'a', 'min')).toEqual(c2.ref.map(0, records)[0]);
    const recx = await obj.listRecx('d0', 'a');
    const presentRecords = c0.ref.present.reduce((n, v) => n + v, 0);
    expect(recx.reduce((n, r) => n + r.nr, 0n)).toBe(BigInt(presentRecords));
    expect(mergeRanges(recx)).toEqual(c0.ref.map(0, records));

    // Data shards DOWN (p of them, the first p of d0's group): degraded reads.
    const down = [...new Set(dataRanks(cont, obj, 'd0', opts.k))].slice(0, opts.p);
    for (const r of down) await sys.rankDown(r);
    // The excluded engines still run (in this process) and answer: the client must read by the
    // new map, as a DAOS client does once it learnt it.
    expect(await pool.refreshMap()).toBe(true);
    for (const c of cases) await verify(c, false);
    for (const c of cases) await verify(c, false, cr - 3, cr + 7);
    // Writes while degraded (the down shards' cells included) read back through parity.
    await write(c0, cr + 2, 5, rng);
    await write(c0, 1, stripe, rng);
    await write(c1, stripe * 2 - 3, 9, rng);
    await write(c3, 0, stripe + 1, rng, true);
    await write(c3, 2, 2, rng);
    for (const c of cases) await verify(c, false);
    expect(
      Buffer.from((await obj.fetch('d0', [{ akey: 's', kind: 'single' }]))[0] as Uint8Array).toString(),
    ).toBe('hello');
    const keys2: string[] = [];
    for await (const k of obj.listDkeys()) keys2.push(String(k));
    expect(keys2).toEqual(['d0', 'd1']);
  } finally {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function mergeRanges(list: Recx[]): Recx[] {
  const out: Recx[] = [];
  for (const r of list) {
    const last = out[out.length - 1];
    if (last && last.idx + last.nr === r.idx) last.nr += r.nr;
    else out.push({ idx: r.idx, nr: r.nr });
  }
  return out;
}

describe('erasure-coded objects on an in-process system', () => {
  it('EC_2P1G1 on 3 engines, 128 KiB cells: full, partial, unaligned, holes; a data rank down', async () => {
    await ecScenario({ engines: 3, oclass: 'EC_2P1G1', k: 2, p: 1, rs: 8, seed: 1 });
  });
  it('EC_4P2GX on 6 engines, 1000-byte cells of 3-byte records: two data ranks down', async () => {
    await ecScenario({ engines: 6, oclass: 'EC_4P2GX', k: 4, p: 2, rs: 3, ecCellSize: 1000, seed: 2 });
  });
});

describe('model-based test with erasure-coded objects on tcp engines', () => {
  const ops = Number(process.env.EC_MODEL_OPS ?? 300);
  it(`EC_2P1GX and EC_2P1G1, 3 engines x 2 targets, ${ops} ops`, async () => {
    const stats = await runModel({
      seed: Number(process.env.EC_MODEL_SEED ?? 0xec21),
      ops,
      engines: 3,
      targetsPerEngine: 2,
      transport: 'tcp',
      oclasses: ['EC_2P1GX', 'EC_2P1G1', 'EC_2P1GX', 'EC_2P1G1', 'EC_2P1GX'],
      ecCellSize: 24,
      restartEvery: 150,
    });
    expect(stats.ops).toBe(ops);
  });
  it(`EC_4P2GX and EC_4P2G1, 6 engines x 1 target, ${ops} ops`, async () => {
    const stats = await runModel({
      seed: Number(process.env.EC_MODEL_SEED ?? 0xec42),
      ops,
      engines: 6,
      targetsPerEngine: 1,
      transport: 'tcp',
      oclasses: ['EC_4P2GX', 'EC_4P2G1', 'EC_4P2GX', 'EC_4P2G1', 'EC_4P2GX'],
      ecCellSize: 20,
      restartEvery: 150,
    });
    expect(stats.ops).toBe(ops);
  });
});
