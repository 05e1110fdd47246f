/**
 * Model-based test: thousands of seeded random update / punch / fetch / list / snapshot /
 * aggregate / transaction / KV / array operations applied to the store and to a plain in-memory
 * model (test/model/), every read compared, at old snapshots too, across restarts.
 *
 *   npx vitest run test/model.test.ts                 CI: one fixed seed, 3000 ops
 *   npm run test:long                                 DAOS_TEST_LONG=1: 5 random seeds x 20000 ops
 *   MODEL_SEED=123 MODEL_OPS=2500 npx vitest run test/model.test.ts     replay a failure
 *   MODEL_RUNS=20 (long mode) more seeds; MODEL_AGG_MS=25 background aggregation every 25 ms
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DaosError, DaosSystem } from '../index.js';
import { arrayFetch, ModelState, objectSpecs } from './model/model.js';
import { runModel } from './model/runner.js';

const LONG = process.env.DAOS_TEST_LONG === '1';
const CI_SEED = 0x5eed2024;
const CI_OPS = 3000;
const LONG_OPS = 20000;

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${v} is not a non-negative integer`);
  return n;
}

const seedEnv = envInt('MODEL_SEED');
const ops = envInt('MODEL_OPS') ?? (LONG ? LONG_OPS : CI_OPS);
const seeds =
  seedEnv !== undefined
    ? [seedEnv]
    : LONG
      ? Array.from({ length: envInt('MODEL_RUNS') ?? 5 }, () => Math.floor(Math.random() * 2 ** 32))
      : [CI_SEED];

describe('model-based test: store vs reference model', () => {
  for (const [i, seed] of seeds.entries()) {
    // In long mode every other seed also runs background aggregation, racing the ops.
    const aggregationIntervalMs = envInt('MODEL_AGG_MS') ?? (LONG && i % 2 === 1 ? 25 : 0);
    it(
      `seed ${seed}, ${ops} ops${aggregationIntervalMs ? ', background aggregation' : ''}`,
      async () => {
        console.log(`model test: seed ${seed}, ${ops} ops (replay: MODEL_SEED=${seed} MODEL_OPS=${ops})`);
        const stats = await runModel({
          seed,
          ops,
          aggregationIntervalMs,
          avoid: process.env.MODEL_AVOID?.split(',').filter(Boolean),
          progressEvery: LONG ? 5000 : 0,
          onProgress: (done, s) => console.log(`  seed ${seed}: ${done} ops, ${s.restarts} restarts`),
        });
        console.log(
          `model test: seed ${seed} passed: ${stats.ops} ops in ${stats.ms} ms, ${stats.restarts} restarts, ` +
            `${stats.sweeps} full sweeps (${stats.sweepMs} ms), ${stats.expectedFailures} expected failures; ops ${JSON.stringify(stats.byKind)}; ms ${JSON.stringify(stats.msByKind)}`,
        );
        expect(stats.ops).toBe(ops);
      },
      LONG ? 3_600_000 : 120_000,
    );
  }
});

describe('reference model sanity', () => {
  it('array fetch: holes zero-filled, map merged in index order', () => {
    const recs = new Map<number, Uint8Array>([
      [1, Uint8Array.of(1)],
      [2, Uint8Array.of(2)],
      [5, Uint8Array.of(5)],
    ]);
    const r = arrayFetch(recs, 1, [
      { idx: 4, nr: 3 },
      { idx: 0, nr: 4 },
    ]);
    expect([...r.data]).toEqual([0, 5, 0, 0, 1, 2, 0]);
    expect(r.map).toEqual([
      { idx: 1, nr: 2 },
      { idx: 5, nr: 1 },
    ]);
  });

  it('existence follows data: punched records, empty akeys and dkeys disappear', () => {
    const m = new ModelState(objectSpecs());
    // Object 0 (lexical): akey 2 is an array of 1-byte records, akey 0 a single value.
    m.update(0, 1, [{ a: 2, extents: [{ idx: 3, nr: 2, data: Uint8Array.of(7, 8) }] }]);
    expect(m.dkeyIds(0)).toEqual([objectSpecs()[0]!.dkeys[1]!.id]);
    m.update(0, 1, [{ a: 2, extents: [{ idx: 0, nr: 10 }] }]);
    expect(m.dkeyIds(0)).toEqual([]);
    m.update(0, 1, [{ a: 0, value: new Uint8Array(0) }]);
    expect(m.akeyExists(0, 1, 0)).toBe(true);
    expect(m.updateCondError(0, 1, [{ a: 0, value: Uint8Array.of(1) }], 'akey_insert')).toBe('DER_EXIST');
    expect(m.updateCondError(0, 2, [{ a: 0, value: Uint8Array.of(1) }], 'dkey_update')).toBe('DER_NONEXIST');
  });

  it('lexical dkeys list in byte order, uint64 in numeric order', () => {
    const specs = objectSpecs();
    const m = new ModelState(specs);
    for (let d = 0; d < 6; d++) {
      m.update(0, d, [{ a: 0, value: Uint8Array.of(d) }]);
      m.update(2, d, [{ a: 0, value: Uint8Array.of(d) }]);
    }
    expect(m.dkeyIds(0).map((id) => Buffer.from(id.slice(2), 'hex').toString('latin1'))).toEqual([
      'B',
      'a',
      'ab',
      'b',
      '\xc3\xa9',
      '\xff\x00',
    ]);
    expect(m.dkeyIds(2)).toEqual(['u:0', 'u:1', 'u:255', 'u:256', `u:${2 ** 40}`, `u:${(1n << 64n) - 1n}`]);
  });
});

describe('targeted cases', () => {
  it('changing the record size of an array akey fails with DER_REC_SIZE and changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-model-recsize-'));
    const sys = await DaosSystem.start({ dir, targetsPerEngine: 4 });
    try {
      await sys.createPool({ label: 'p', size: '1G' });
      const pool = await (await sys.connect()).connectPool('p');
      await pool.createContainer({ label: 'c' });
      const cont = await pool.openContainer('c');
      const obj = cont.object(await cont.newOid({ type: 'multi_lexical', oclass: 'S1' }));
      const bytes = Uint8Array.of(1, 2, 3, 4);
      await obj.update('d', [{ akey: 'a', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 4, data: bytes }] }]);
      const err = await obj
        .update('d', [{ akey: 'a', kind: 'array', recordSize: 8, extents: [{ idx: 8, nr: 1, data: new Uint8Array(8) }] }])
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(DaosError);
      expect((err as DaosError).code).toBe('DER_REC_SIZE');
      const [r] = await obj.fetch('d', [{ akey: 'a', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 16 }] }]);
      const res = r as { data: Uint8Array; map: Array<{ idx: bigint; nr: bigint }> };
      expect([...res.data]).toEqual([1, 2, 3, 4, ...new Array(12).fill(0)]);
      expect(res.map).toEqual([{ idx: 0n, nr: 4n }]);
    } finally {
      await sys.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
