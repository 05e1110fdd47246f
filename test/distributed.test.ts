/**
 * The distributed system: engines as daos_engine child processes on loopback
 * (`DaosSystem.start({ transport: 'tcp' })`), objects of every class placed across them.
 *
 * - The model-based workload of test/model (reference model, every read compared, restarts)
 *   runs with the objects spread over the plain and the replicated classes.
 * - An engine is SIGKILLed in the middle of a write workload to replicated objects: every
 *   acknowledged write reads back, and once the rank is marked DOWN and in-flight writes have
 *   settled, the surviving replicas of every group hold the same keys and values, shard by shard.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../core/common/hlc.js';
import type { ObjTarget } from '../core/daos/link.js';
import { EcCodec } from '../core/ec/codec.js';
import { cellRecordsFor } from '../core/ec/stripe.js';
import { ecShape } from '../core/ec/stripe-io.js';
import { dkeyGroup, objectLayout } from '../core/placement/layout.js';
import { targetUp } from '../core/placement/pool-map.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';
import { type DaosObject, DaosSystem, type Oid, type Pool } from '../index.js';
import { Prng } from './model/prng.js';
import { runModel } from './model/runner.js';

const dirs: string[] = [];
const systems: DaosSystem[] = [];

afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'daos-dist-'));
  dirs.push(d);
  return d;
}

describe('model-based workload over engine processes', () => {
  const runs: Array<{ name: string; engines: number; targets: number; oclasses: string[] }> = [
    { name: 'plain classes', engines: 3, targets: 4, oclasses: ['S1', 'S2', 'S4', 'S8', 'SX'] },
    {
      name: 'replicated classes',
      engines: 3,
      targets: 2,
      oclasses: ['RP_2G1', 'RP_3GX', 'RP_3G1', 'RP_2GX', 'RP_3GX'],
    },
  ];
  for (const run of runs) {
    it(`${run.name} (${run.oclasses.join(' ')}) on ${run.engines} engines`, async () => {
      const stats = await runModel({
        seed: 0x3e9_0001,
        ops: 300,
        restartEvery: 150,
        engines: run.engines,
        targetsPerEngine: run.targets,
        transport: 'tcp',
        oclasses: run.oclasses,
      });
      expect(stats.ops).toBe(300);
      expect(stats.restarts).toBeGreaterThanOrEqual(2);
    });
  }
});

describe('engine processes', () => {
  it('exposes each rank and pid, and a killed rank can be marked DOWN', async () => {
    const sys = await DaosSystem.start({ dir: tempDir(), engines: 3, targetsPerEngine: 1, transport: 'tcp' });
    systems.push(sys);
    const engines = sys.engines;
    expect(engines.map((e) => e.rank)).toEqual([0, 1, 2]);
    expect(new Set(engines.map((e) => e.pid)).size).toBe(3);
    for (const e of engines) {
      expect(e.pid).not.toBe(process.pid);
      expect(e.state).toBe('joined');
      expect(() => process.kill(e.pid, 0)).not.toThrow();
    }
    await sys.createPool({ label: 'p', size: '256M' });
    // No self-healing here: the rank is marked DOWN by hand (test/rebuild.test.ts has the rest).
    await sys.mgmt.poolSetProps('p', { self_heal: 'none' });
    const pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'c' });
    const cont = await pool.openContainer('c');
    const plain = cont.object(await cont.newOid({ oclass: 'S1' }));
    await plain.update('d', [{ akey: 'a', kind: 'single', value: 'x' }]);
    const rank = objectLayout(plain.oid, pool.map).shards[0]!.rank;
    // Groups need distinct ranks: RP_3 fits 3 engines. Pick one whose first member survives.
    let replicated: DaosObject;
    do replicated = cont.object(await cont.newOid({ oclass: 'RP_3G1' }));
    while (objectLayout(replicated.oid, pool.map).shards[0]!.rank === rank);
    await replicated.update('d', [{ akey: 'a', kind: 'single', value: 'r' }]);
    // A second handle keeps the pool map it connected with until a reply brings a newer one.
    const pool2 = await (await sys.connect()).connectPool('p');
    const replicated2 = (await pool2.openContainer('c')).object(replicated.oid);

    process.kill(engines[rank]!.pid, 'SIGKILL');
    await waitFor(() => sys.engines[rank]!.state === 'stopped');
    // Before the map says so, the client reaches a closed socket: DER_UNREACH, no hang.
    await expect(plain.fetch('d', [{ akey: 'a', kind: 'single' }])).rejects.toThrow(/DER_UNREACH/);
    const changed = await sys.rankDown(rank);
    expect(changed).toEqual([{ pool: pool.uuid, mapVersion: 2 }]);
    // After it, the client refuses up front, naming the DOWN target.
    await expect(plain.fetch('d', [{ akey: 'a', kind: 'single' }])).rejects.toThrow(
      /DER_UNREACH.*DOWN target/,
    );
    // So does a key query of an object with a shard on every rank (one collective call per rank).
    const wide = cont.object(await cont.newOid({ oclass: 'SX' }));
    await expect(wide.queryDkey('max')).rejects.toThrow(/DER_UNREACH.*DOWN target/);
    const q = await pool.query();
    expect(q.mapVersion).toBe(2);
    expect(q.disabledTargets).toBe(1);
    // Every request carries the sender's map version; an engine with a newer map sends it back.
    expect(pool2.map.version).toBe(1);
    const [r] = await replicated2.fetch('d', [{ akey: 'a', kind: 'single' }]);
    expect(Buffer.from(r as Uint8Array).toString()).toBe('r');
    expect(pool2.map.version).toBe(2);
  });

  const killRuns: KillRun[] = [
    { engines: 4, classes: ['RP_2GX', 'RP_3GX', 'RP_3G1'], kills: 1, seed: 0xdead01 },
    { engines: 4, classes: ['EC_2P1GX', 'EC_2P1G1', 'RP_2G1'], kills: 1, seed: 0xdead02 },
    { engines: 6, classes: ['EC_4P2GX', 'EC_4P2G1'], kills: 2, seed: 0xdead03 },
  ];
  for (const run of killRuns) {
    it(`keeps every acknowledged write (${run.classes.join(' ')}) when ${run.kills} of ${run.engines} engines are SIGKILLed mid-workload`, async () => {
      await killWorkload(run);
    });
  }
});

interface KillRun {
  engines: number;
  classes: string[];
  kills: number;
  seed: number;
}

/** Small EC cells, so that the 4 KiB extents of the workload span whole stripes. */
const KILL_EC_CELL_BYTES = 1024;
const KILL_WRITERS = 6;
const KILL_KEYS_PER_WRITER = 8;
const KILL_WRITES_PER_PHASE = 120;

/**
 * Writers update single values and 4 KiB extents of objects of `classes`; engines are SIGKILLed
 * one at a time mid-workload, each then marked DOWN; writers go on. Every acknowledged write must
 * read back byte-exact, and the surviving shards must agree.
 */
async function killWorkload(run: KillRun): Promise<void> {
  const sys = await DaosSystem.start({
    dir: tempDir(),
    engines: run.engines,
    targetsPerEngine: 2,
    transport: 'tcp',
  });
  systems.push(sys);
  await sys.createPool({ label: 'p', size: '1G', ecCellSize: KILL_EC_CELL_BYTES });
  const pool = await (await sys.connect()).connectPool('p');
  await pool.createContainer({ label: 'c' });
  const cont = await pool.openContainer('c');
  const objs: DaosObject[] = [];
  for (const oclass of run.classes) objs.push(cont.object(await cont.newOid({ oclass })));
  const rng = new Prng(run.seed);
  const victims = rng.sample(
    Array.from({ length: run.engines }, (_, r) => r),
    run.kills,
  );
  // Per key: the last acknowledged value and the values attempted after it (a write whose
  // reply was lost may still have committed).
  const keys = new Map<string, { acked?: string; after: string[] }>();
  let acked = 0;
  let failed = 0;
  let phase: 'up' | 'killed' | 'down' = 'up';
  let kills = 0;
  let failedWhenDown = 0;

  const writer = async (w: number, until: () => boolean) => {
    let seq = 0;
    while (!until()) {
      const o = (w + seq) % objs.length;
      const dkey = `w${w}-k${seq % KILL_KEYS_PER_WRITER}`;
      const id = `${o}/${dkey}`;
      const value = `${id}#${seq}`;
      const entry = keys.get(id) ?? { after: [] };
      keys.set(id, entry);
      entry.after.push(value);
      seq++;
      const startedWhenDown = phase === 'down';
      const killsAtStart = kills;
      try {
        await objs[o]!.update(dkey, [
          { akey: 'v', kind: 'single', value },
          { akey: 'arr', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4096, data: fill(value) }] },
        ]);
        entry.acked = value;
        entry.after = [];
        acked++;
      } catch (err) {
        failed++;
        // A write in flight while an engine dies may fail; one that started with every dead
        // rank already DOWN, and saw no new death, must not.
        if (startedWhenDown && kills === killsAtStart) {
          failedWhenDown++;
          if (failedWhenDown <= 3)
            console.log(
              `write started after rankDown failed (client map v${pool.map.version}, ${objs[o]!.oid.lo}): ${(err as Error).message}`,
            );
        }
      }
    }
  };

  const t0 = Date.now();
  let stop = false;
  const running = Array.from({ length: KILL_WRITERS }, (_, w) => writer(w, () => stop));
  try {
    for (const victim of victims) {
      const before = acked;
      await waitFor(() => acked >= before + KILL_WRITES_PER_PHASE);
      phase = 'killed';
      kills++;
      process.kill(sys.engines[victim]!.pid, 'SIGKILL');
      await waitFor(() => sys.engines[victim]!.state === 'stopped');
      await sys.rankDown(victim);
      phase = 'down';
    }
    const before = acked;
    await waitFor(() => acked >= before + KILL_WRITES_PER_PHASE);
  } finally {
    // Writers stop whatever happened (a timeout must not leave them spinning on a stopped system).
    stop = true;
    await Promise.all(running);
  }
  console.log(
    `kill test ${run.classes.join(' ')}: ranks ${victims.join(', ')} killed; ${acked} writes acknowledged, ${failed} failed (${failedWhenDown} of those started after the rank was marked DOWN) in ${Date.now() - t0} ms`,
  );
  // Once the map says DOWN, writes go to the surviving members and succeed.
  expect(failedWhenDown).toBe(0);

  // Every acknowledged write reads back (or a later attempt that committed without a reply).
  for (const [id, entry] of keys) {
    const [o, dkey] = id.split('/') as [string, string];
    const [single, arr] = await objs[Number(o)]!.fetch(dkey, [
      { akey: 'v', kind: 'single' },
      { akey: 'arr', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4096 }] },
    ]);
    const allowed = [...(entry.acked ? [entry.acked] : []), ...entry.after];
    if (single === undefined) {
      expect(entry.acked, `${id} lost its acknowledged value`).toBeUndefined();
      continue;
    }
    const got = Buffer.from(single as Uint8Array).toString();
    expect(allowed, `${id} reads ${got}`).toContain(got);
    expect(Buffer.from((arr as ArrayFetchResult).data).equals(fill(got)), `${id} extent`).toBe(true);
  }

  // The surviving shards agree: replicas hold the same keys and values; EC parity is the
  // encoding of the data cells wherever every data shard survived.
  let parityCells = 0;
  for (const obj of objs) parityCells += await expectShardsAgree(pool, obj);
  // With one engine lost, some EC group kept all its data shards: its parity was checked cell
  // by cell. (With two lost out of six, every EC_4P2 group spans all ranks and lost data.)
  console.log(`kill test ${run.classes.join(' ')}: ${parityCells} parity cells checked against their data`);
  if (run.kills === 1 && run.classes.some((c) => c.startsWith('EC_'))) expect(parityCells).toBeGreaterThan(0);
}

/** 4 KiB derived from a value, so that single value and extent can be checked together. */
function fill(value: string): Buffer {
  const b = Buffer.alloc(4096);
  b.fill(value);
  return b;
}

/**
 * Read every serving shard of every group of `obj` directly (engine by engine): replicas must hold
 * the same dkeys and values; for EC, every serving shard the same dkeys and single values, and
 * where all k data shards serve, each parity shard's cells must be the encoding of the data.
 */
async function expectShardsAgree(pool: Pool, obj: DaosObject): Promise<number> {
  let parityCells = 0;
  const layout = objectLayout(obj.oid, pool.map);
  const ec = ecShape(obj.oid as Oid);
  const cr = cellRecordsFor(1, KILL_EC_CELL_BYTES);
  for (let g = 0; g < layout.groups; g++) {
    const members = layout.shards.slice(g * layout.groupSize, (g + 1) * layout.groupSize);
    const at = (target: (typeof members)[number]): ObjTarget => ({
      pool: pool.uuid,
      cont: obj.container.uuid,
      oid: obj.oid as Oid,
      target,
      token: obj.container.token,
    });
    const serving = members.map((t) => targetUp(pool.map, t));
    // An EC group keeps at least k shards, a replicated one at least one.
    expect(serving.filter(Boolean).length).toBeGreaterThanOrEqual(ec ? ec.k : 1);
    const views: string[] = [];
    const arrays: Array<Map<string, Uint8Array> | undefined> = [];
    for (const [i, target] of members.entries()) {
      if (!serving[i]) {
        arrays.push(undefined);
        continue;
      }
      const engine = pool.link.engine(target.rank);
      // A target may hold shards of several groups (a spare after a rebuild): this group's dkeys.
      const dkeys = (await engine.listDkeys(at(target), EPOCH_MAX, undefined, 10_000))
        .map((k) => Buffer.from(k))
        .filter((k) => dkeyGroup(k, layout) === g)
        .sort(Buffer.compare);
      const parts: string[] = [];
      const cells = new Map<string, Uint8Array>();
      for (const dkey of dkeys) {
        // Replicas and EC data shards hold the extent at its own indexes; parity shard k + j
        // holds stripe s's parity at [s * cr, (s + 1) * cr) past its tag (bit 63, j in bits 60..62).
        const from = ec && i >= ec.k ? (1n << 63n) | (BigInt(i - ec.k) << 60n) : 0n;
        const [v, a] = await engine.fetch(at(target), EPOCH_MAX, dkey, [
          { akey: Buffer.from('v'), kind: 'single' },
          { akey: Buffer.from('arr'), kind: 'array', recordSize: 1, extents: [{ idx: from, nr: 4096n }] },
        ]);
        const data = (a as ArrayFetchResult).data;
        cells.set(dkey.toString(), data);
        parts.push(`${dkey}=${Buffer.from(v as Uint8Array).toString()}${ec ? '' : `:${hash(data)}`}`);
      }
      views.push(parts.join('\n'));
      arrays.push(cells);
    }
    for (let i = 1; i < views.length; i++)
      expect(views[i], `object ${obj.oid.lo} group ${g}: a serving shard differs from the first`).toBe(
        views[0],
      );
    if (!ec || serving.slice(0, ec.k).some((up) => !up)) continue;
    // Every data shard serves: recompute each stripe's parity and compare with the parity shards.
    const codec = new EcCodec(ec.k, ec.p);
    const stripes = 4096 / (ec.k * cr);
    for (const dkey of arrays[0]!.keys()) {
      for (let st = 0; st < stripes; st++) {
        const dataCells = Array.from({ length: ec.k }, (_, i) => {
          const off = (st * ec.k + i) * cr;
          return arrays[i]!.get(dkey)!.subarray(off, off + cr);
        });
        const parity = await codec.encode(dataCells);
        for (let j = 0; j < ec.p; j++) {
          const cells = arrays[ec.k + j];
          if (!cells) continue;
          const stored = cells.get(dkey)!.subarray(st * cr, (st + 1) * cr);
          expect(
            Buffer.from(stored).equals(Buffer.from(parity[j]!)),
            `${dkey} stripe ${st} parity ${j}`,
          ).toBe(true);
          parityCells++;
        }
      }
    }
  }
  return parityCells;
}

function hash(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193);
  return h >>> 0;
}

async function waitFor(cond: () => boolean, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
