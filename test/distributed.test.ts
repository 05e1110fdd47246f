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
import { objectLayout } from '../core/placement/layout.js';
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
    const q = await pool.query();
    expect(q.mapVersion).toBe(2);
    expect(q.disabledTargets).toBe(1);
    // Every request carries the sender's map version; an engine with a newer map sends it back.
    expect(pool2.map.version).toBe(1);
    const [r] = await replicated2.fetch('d', [{ akey: 'a', kind: 'single' }]);
    expect(Buffer.from(r as Uint8Array).toString()).toBe('r');
    expect(pool2.map.version).toBe(2);
  });

  it('keeps every acknowledged write of replicated objects when an engine is SIGKILLed mid-workload', async () => {
    const sys = await DaosSystem.start({ dir: tempDir(), engines: 4, targetsPerEngine: 2, transport: 'tcp' });
    systems.push(sys);
    await sys.createPool({ label: 'p', size: '1G' });
    const pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'c' });
    const cont = await pool.openContainer('c');
    const objs = [
      cont.object(await cont.newOid({ oclass: 'RP_2GX' })),
      cont.object(await cont.newOid({ oclass: 'RP_3GX' })),
      cont.object(await cont.newOid({ oclass: 'RP_3G1' })),
    ];
    const rng = new Prng(0xdead01);
    const victim = 1 + rng.int(3);
    const WRITERS = 6;
    const KEYS_PER_WRITER = 8;
    // Per key: the last acknowledged value and the values attempted after it (a write whose
    // reply was lost may still have committed).
    const keys = new Map<string, { acked?: string; after: string[] }>();
    let acked = 0;
    let failed = 0;
    let phase: 'before' | 'killed' | 'down' = 'before';
    let failedWhenDown = 0;

    const writer = async (w: number, until: () => boolean) => {
      let seq = 0;
      while (!until()) {
        const obj = objs[(w + seq) % objs.length]!;
        const dkey = `w${w}-k${seq % KEYS_PER_WRITER}`;
        const id = `${objs.indexOf(obj)}/${dkey}`;
        const value = `${id}#${seq}`;
        const entry = keys.get(id) ?? { after: [] };
        keys.set(id, entry);
        entry.after.push(value);
        seq++;
        const startedWhenDown = phase === 'down';
        try {
          await obj.update(dkey, [
            { akey: 'v', kind: 'single', value },
            { akey: 'arr', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4096, data: fill(value) }] },
          ]);
          entry.acked = value;
          entry.after = [];
          acked++;
        } catch (err) {
          failed++;
          if (startedWhenDown) {
            failedWhenDown++;
            console.log(`write started after rankDown failed: ${(err as Error).message}`);
          }
        }
      }
    };

    const before = Date.now();
    let stop = false;
    const running = Array.from({ length: WRITERS }, (_, w) => writer(w, () => stop));
    await waitFor(() => acked >= 150);
    process.kill(sys.engines[victim]!.pid, 'SIGKILL');
    phase = 'killed';
    await waitFor(() => sys.engines[victim]!.state === 'stopped');
    await sys.rankDown(victim);
    phase = 'down';
    const ackedAtDown = acked;
    await waitFor(() => acked >= ackedAtDown + 150);
    stop = true;
    await Promise.all(running);
    console.log(
      `kill test: rank ${victim} killed; ${acked} writes acknowledged, ${failed} failed (${failedWhenDown} of those started after the rank was marked DOWN) in ${Date.now() - before} ms`,
    );
    // Once the map says DOWN, writes go to the surviving members and succeed.
    expect(failedWhenDown).toBe(0);

    // Every acknowledged write reads back (or a later attempt that committed without a reply).
    for (const [id, entry] of keys) {
      const [o, dkey] = id.split('/') as [string, string];
      const obj = objs[Number(o)]!;
      const [single, arr] = await obj.fetch(dkey, [
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
      expect(Buffer.from((arr as ArrayFetchResult).data).equals(fill(got))).toBe(true);
    }

    // The surviving replicas of every group agree, shard by shard.
    for (const obj of objs) await expectReplicasAgree(pool, obj);
  });
});

/** 4 KiB derived from a value, so that single value and extent can be checked together. */
function fill(value: string): Buffer {
  const b = Buffer.alloc(4096);
  b.fill(value);
  return b;
}

/** Read every serving member of every group directly and compare keys and values. */
async function expectReplicasAgree(pool: Pool, obj: DaosObject): Promise<void> {
  const layout = objectLayout(obj.oid, pool.map);
  for (let g = 0; g < layout.groups; g++) {
    const members = layout.shards
      .slice(g * layout.groupSize, (g + 1) * layout.groupSize)
      .filter((t) => targetUp(pool.map, t));
    expect(members.length).toBeGreaterThanOrEqual(1);
    const seen: string[] = [];
    for (const target of members) {
      const to: ObjTarget = { pool: pool.uuid, cont: obj.container.uuid, oid: obj.oid as Oid, target };
      const engine = pool.link.engine(target.rank);
      const dkeys = await engine.listDkeys(to, EPOCH_MAX, undefined, 10_000);
      const parts: string[] = [];
      for (const dkey of dkeys.map((k) => Buffer.from(k)).sort(Buffer.compare)) {
        const [v, a] = await engine.fetch(to, EPOCH_MAX, dkey, [
          { akey: Buffer.from('v'), kind: 'single' },
          { akey: Buffer.from('arr'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 4096n }] },
        ]);
        const arr = a as ArrayFetchResult;
        parts.push(
          `${dkey}=${Buffer.from(v as Uint8Array).toString()}:${Buffer.from(arr.data).toString('base64').length}:${hash(arr.data)}`,
        );
      }
      seen.push(parts.join('\n'));
    }
    for (let i = 1; i < seen.length; i++)
      expect(seen[i], `group ${g}: member ${i} differs from member 0`).toBe(seen[0]);
  }
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
