import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DaosError } from '../../core/common/errors.js';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { makeOid } from '../../core/common/oid.js';
import type { ObjTarget } from '../../core/daos/link.js';
import { makePoolMap, setTargetsState } from '../../core/placement/pool-map.js';
import { Engine } from './engine.js';

/**
 * What the engine checks of the targets a request names, for a call to one target and for a
 * collective call (a key query or an object punch naming every shard of this rank): the
 * container open in the request's pool, each target on this rank and here, and — when the engine
 * holds a newer pool map than the request was placed with — each target still serving in it.
 */
const POOL = 'pool-t';
const CONT = 'cont-t';

async function codeOf(p: Promise<unknown>): Promise<{ code: string; message: string } | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(DaosError);
    return { code: (err as DaosError).code, message: (err as DaosError).message };
  }
}

describe('engine target checks', () => {
  let dir: string;
  let engine: Engine;
  // Not redundant, four groups: each target holds a shard of its own.
  const oid = makeOid('multi_lexical', 1, 4, 77n);
  const at = (target: number, mapVersion?: number, cont = CONT): ObjTarget => ({
    pool: POOL,
    cont,
    oid,
    target: { rank: 0, target },
    ...(mapVersion === undefined ? {} : { mapVersion }),
  });
  const others = [1, 2, 3].map((target) => ({ rank: 0, target }));

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'engine-targets-'));
    engine = await Engine.start({ dir, rank: 0, targets: 4, peers: () => engine });
    engine.poolCreate(POOL, 1 << 30, makePoolMap([0], 4));
    engine.contCreate(POOL, CONT);
    for (let t = 0; t < 4; t++)
      await engine.update(at(t, 1), Buffer.from(`d${t}`), [
        { akey: Buffer.from('a'), kind: 'single', value: Buffer.from('v') },
      ]);
    // Version 2: target 2 DOWN.
    await engine.poolMapUpdate(POOL, setTargetsState(makePoolMap([0], 4), [{ rank: 0, target: 2 }], 'DOWN'));
  });

  afterAll(async () => {
    await engine.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves reads placed with the current map, and writes placed with an older one on targets still up', async () => {
    expect(engine.poolMap(POOL)?.version).toBe(2);
    expect(await engine.queryDkey(at(0, 2), EPOCH_MAX, 'max', [others[0]!])).toEqual(Buffer.from('d1'));
    // Placed with the current map, the engine trusts the client's choice of targets.
    expect(await engine.queryDkey(at(0, 2), EPOCH_MAX, 'max', others)).toEqual(Buffer.from('d3'));
    // A read placed with an older map is refused whatever its targets (the client refreshes).
    const old = await codeOf(engine.queryDkey(at(0, 1), EPOCH_MAX, 'max', [others[0]!]));
    expect(old).toEqual({
      code: 'DER_STALE',
      message: expect.stringContaining('placed with pool map version 1'),
    });
    await engine.update(at(3, 1), Buffer.from('d3b'), [
      { akey: Buffer.from('a'), kind: 'single', value: Buffer.from('w') },
    ]);
    const [got] = await engine.fetch(at(3, 2), EPOCH_MAX, Buffer.from('d3b'), [
      { akey: Buffer.from('a'), kind: 'single' },
    ]);
    expect(Buffer.from(got as Uint8Array).toString()).toBe('w');
  });

  it('refuses a write to a target DOWN in its newer map, alone or anywhere in a collective punch', async () => {
    const stale = 'target 0:2 is DOWN in pool map version 2; the request used version 1';
    const one = await codeOf(
      engine.update(at(2, 1), Buffer.from('d2b'), [
        { akey: Buffer.from('a'), kind: 'single', value: Buffer.from('x') },
      ]),
    );
    expect(one).toEqual({ code: 'DER_STALE', message: expect.stringContaining(stale) });
    for (const [to, shards] of [
      [at(0, 1), others],
      [at(2, 1), [others[0]!]],
    ] as const) {
      const r = await codeOf(engine.punch({ kind: 'punch_obj', to, shards: [...shards] }));
      expect(r).toEqual({ code: 'DER_STALE', message: expect.stringContaining(stale) });
    }
    // Every target is checked before any is punched: every shard still answers.
    expect(await engine.queryDkey(at(0, 2), EPOCH_MAX, 'max', [others[0]!])).toEqual(Buffer.from('d1'));
    expect(await engine.queryDkey(at(2, 2), EPOCH_MAX, 'max', [])).toEqual(Buffer.from('d2'));
  });

  it('refuses a container not open in the pool, and targets of another rank or past the last', async () => {
    const noHdl = await codeOf(engine.queryDkey(at(0, 2, 'cont-elsewhere'), EPOCH_MAX, 'max', others));
    expect(noHdl?.code).toBe('DER_NO_HDL');
    expect(noHdl?.message).toContain('container cont-elsewhere is not open in pool pool-t here');
    const rank = await codeOf(engine.queryDkey(at(0, 2), EPOCH_MAX, 'max', [{ rank: 5, target: 1 }]));
    expect(rank).toEqual({
      code: 'DER_BAD_TARGET',
      message: expect.stringContaining('request for rank 5 reached rank 0'),
    });
    const past = await codeOf(engine.queryDkey(at(0, 2), EPOCH_MAX, 'max', [{ rank: 0, target: 9 }]));
    expect(past).toEqual({
      code: 'DER_BAD_TARGET',
      message: expect.stringContaining('rank 0 has no target 9'),
    });
  });
});
