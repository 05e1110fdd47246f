import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Container, DaosError, DaosSystem, type Oid, oidGroups, type Pool } from '../index.js';
import { countLoopTurns } from './loop-turns.js';

/** Expect a promise to reject with a DaosError of `code` (and a message matching `msg`). */
async function rejects(p: Promise<unknown>, code: string, msg?: RegExp): Promise<DaosError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected ${code}`).toBeInstanceOf(DaosError);
  expect((err as DaosError).code).toBe(code);
  if (msg) expect((err as DaosError).message).toMatch(msg);
  return err as DaosError;
}

const bytes = (s: string) => Buffer.from(s);

describe('embedded system: pools, containers, objects', () => {
  let dir: string;
  let sys: DaosSystem;
  let pool: Pool;
  let cont: Container;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-api-'));
    sys = await DaosSystem.start({ dir, targetsPerEngine: 4 });
    await sys.createPool({ label: 'tank', size: '1G' });
    pool = await (await sys.connect()).connectPool('tank');
    await pool.createContainer({ label: 'c1', type: 'POSIX', props: { redunFactor: 0 } });
    cont = await pool.openContainer('c1');
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, queries and destroys containers, with props and attributes', async () => {
    const info = await pool.createContainer({
      label: 'tmp',
      type: 'HDF5',
      props: { oclass: 'S2', chunkSize: 65536 },
    });
    const labels: string[] = [];
    for await (const c of pool.listContainers()) labels.push(c.label);
    expect(labels.sort()).toEqual(['c1', 'tmp']);
    const c = await pool.openContainer(info.uuid);
    expect(c.label).toBe('tmp');
    expect(c.props).toMatchObject({ oclass: 'S2', chunkSize: 65536, redunFactor: 0 });
    await c.setAttrs({ owner: 'alice', blob: new Uint8Array([1, 2, 3]) });
    expect(Buffer.from((await c.getAttr('owner'))!).toString()).toBe('alice');
    expect(await c.listAttrs()).toEqual(['blob', 'owner']);
    await c.delAttrs(['blob']);
    expect(await c.listAttrs()).toEqual(['owner']);
    await c.setProps({ label: 'renamed' });
    expect((await pool.openContainer('renamed')).uuid).toBe(info.uuid);
    await rejects(pool.createContainer({ label: 'renamed' }), 'DER_EXIST', /taken/);
    await rejects(c.setProps({ redunFactor: 1 }), 'DER_NO_PERM');
    await rejects(
      pool.createContainer({ label: 'x', props: { bogus: 1 } as never }),
      'DER_INVAL',
      /unknown container property "bogus"/,
    );
    await pool.destroyContainer('renamed');
    await rejects(pool.openContainer('renamed'), 'DER_NONEXIST', /no container "renamed"/);
    await rejects(
      c.object(await cont.newOid()).update('d', [{ akey: 'a', kind: 'single', value: 'x' }]),
      'DER_NO_HDL',
    );
  });

  it('hands out unique object ids and spreads SX objects over every target', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 600; i++) {
      const oid = await cont.newOid({ type: 'kv', oclass: 'S1' });
      seen.add(`${oid.hi}.${oid.lo}`);
    }
    expect(seen.size).toBe(600);
    const sx = await cont.newOid({ type: 'multi_hashed', oclass: 'SX' });
    expect(oidGroups(sx)).toBe(4);
    const obj = cont.object(sx);
    for (let i = 0; i < 64; i++) await obj.update(`d${i}`, [{ akey: 'a', kind: 'single', value: `v${i}` }]);
    const q = await pool.query();
    expect(q.targets).toBe(4);
    expect(q.freeBytes).toBeLessThan(q.totalBytes);
    const keys: string[] = [];
    for await (const k of obj.listDkeys()) keys.push(k.toString());
    expect(keys.sort()).toEqual(Array.from({ length: 64 }, (_, i) => `d${i}`).sort());
    // Redundant classes need a rank (fault domain) per group member: one engine has one.
    await rejects(cont.newOid({ oclass: 'RP_2G1' }), 'DER_INVAL', /engine ranks/);
    await rejects(cont.newOid({ oclass: 'EC_2P1G1' }), 'DER_INVAL', /engine ranks/);
  });

  it('lists lexical keys in byte order and uint64 keys in numeric order', async () => {
    const lex = cont.object(await cont.newOid({ type: 'multi_lexical', oclass: 'S4' }));
    for (const k of ['pear', 'apple', 'fig', 'banana', 'apple2'])
      await lex.update(k, [{ akey: 'z', kind: 'single', value: k }]);
    const lexKeys: string[] = [];
    for await (const k of lex.listDkeys()) lexKeys.push(k.toString());
    expect(lexKeys).toEqual(['apple', 'apple2', 'banana', 'fig', 'pear']);

    const num = cont.object(await cont.newOid({ type: 'multi_uint64', oclass: 'S2' }));
    for (const k of [300n, 2n, 1n << 40n, 17n])
      await num.update(k, [{ akey: 5n, kind: 'single', value: 'x' }]);
    const numKeys: bigint[] = [];
    for await (const k of num.listDkeys()) numKeys.push(k as bigint);
    expect(numKeys).toEqual([2n, 17n, 300n, 1n << 40n]);
    expect(await num.queryDkey('max')).toBe(1n << 40n);
    expect(await num.queryDkey('min')).toBe(2n);
  });

  it('keeps versions: snapshots see the old data, punches are versioned', async () => {
    const kv = cont.kv(await cont.newOid({ type: 'kv', oclass: 'S1' }));
    await kv.put('k', 'one');
    const s1 = await cont.createSnapshot('s1');
    await kv.put('k', 'two');
    await kv.remove('k');
    expect(await kv.get('k')).toBeUndefined();
    expect(Buffer.from((await cont.atSnapshot(s1).kv(kv.oid).get('k'))!).toString()).toBe('one');
    const snaps = [];
    for await (const s of cont.listSnapshots()) snaps.push(s);
    expect(snaps).toEqual([{ epoch: s1, name: 's1' }]);
    await rejects(cont.atSnapshot(s1).kv(kv.oid).put('k', 'x'), 'DER_NO_PERM', /read-only/);
    await cont.destroySnapshot(s1);
    const agg = await cont.aggregate();
    expect(agg.recordsRemoved).toBeGreaterThan(0);
  });

  it('commits transactions across objects and targets atomically, and restarts on conflict', async () => {
    const a = cont.kv(await cont.newOid({ type: 'kv', oclass: 'SX' }));
    const b = cont.object(await cont.newOid({ type: 'multi_lexical', oclass: 'S4' }));
    const tx = await cont.openTx();
    for (let i = 0; i < 8; i++) await tx.kv(a.oid).put(`k${i}`, `v${i}`);
    await tx.object(b.oid).update('d', [{ akey: 'x', kind: 'single', value: 'tx' }]);
    expect(await a.get('k0')).toBeUndefined(); // buffered until commit
    await tx.commit();
    for (let i = 0; i < 8; i++) expect(Buffer.from((await a.get(`k${i}`))!).toString()).toBe(`v${i}`);

    const t2 = await cont.openTx();
    await t2.kv(a.oid).get('k1');
    await a.put('k1', 'changed'); // after t2's epoch
    for (let i = 0; i < 8; i++) await t2.kv(a.oid).put(`k${i}`, 'lost');
    await rejects(t2.commit(), 'DER_TX_RESTART');
    for (let i = 0; i < 8; i++)
      expect(Buffer.from((await a.get(`k${i}`))!).toString()).toBe(i === 1 ? 'changed' : `v${i}`);
    t2.restart();
    await t2.kv(a.oid).put('k2', 'retried');
    await t2.commit();
    expect(Buffer.from((await a.get('k2'))!).toString()).toBe('retried');
  });

  it('arrays: DAOS layout, sizes from max-key queries, holes, setSize both ways', async () => {
    const arr = await cont.createArray({ cellSize: 2, chunkSize: 8, oclass: 'S4' });
    expect(await arr.getSize()).toBe(0n);
    await arr.write(5, Buffer.from('aabbccddeeffgghh')); // cells 5..12 cross a chunk boundary
    expect(await arr.getSize()).toBe(13n);
    expect(Buffer.from(await arr.read(4, 10)).toString('hex')).toBe(
      `0000${Buffer.from('aabbccddeeffgghh').toString('hex')}0000`,
    );
    const [chunk0] = await arr.object.fetch(1n, [
      { akey: '0', kind: 'array', recordSize: 2, extents: [{ idx: 5, nr: 3 }] },
    ]);
    expect(Buffer.from((chunk0 as { data: Uint8Array }).data).toString()).toBe('aabbcc');
    // Reading into a caller's (dirty) buffer: holes are zeroed there too.
    const into = Buffer.alloc(24, 0xee);
    const view = await arr.read(4, 10, { into });
    expect(Buffer.from(view).toString('hex')).toBe(
      `0000${Buffer.from('aabbccddeeffgghh').toString('hex')}0000`,
    );
    expect(into.subarray(20).toString('hex')).toBe('eeeeeeee');
    await rejects(arr.read(0, 20, { into }), 'DER_INVAL', /'into' buffer/);
    await arr.setSize(7);
    expect(await arr.getSize()).toBe(7n);
    expect(Buffer.from(await arr.read(5, 4)).toString()).toBe('aabb\0\0\0\0');
    await arr.setSize(40);
    expect(await arr.getSize()).toBe(40n);
    expect(Buffer.from(await arr.read(38, 2)).toString('hex')).toBe('00000000');
    const again = await cont.openArray(arr.oid);
    expect(again.cellSize).toBe(2);
    expect(again.chunkSize).toBe(8);
    await rejects(cont.openArray(await cont.newOid({ type: 'array' })), 'DER_NONEXIST');
  });

  it('fails full pools with DER_NOSPACE and writes nothing', async () => {
    await sys.createPool({ label: 'small', size: '16M' });
    const p = await (await sys.connect()).connectPool('small');
    await p.createContainer({ label: 'c' });
    const c = await p.openContainer('c');
    const arr = await c.createArray({ chunkSize: 1 << 20, oclass: 'S1' });
    await arr.write(0, Buffer.alloc(3 << 20, 1));
    // 4 MiB per target; the S1 array lives on one target and holds 3 MiB and its metadata.
    await rejects(arr.write(8 << 20, Buffer.alloc(1 << 20, 2)), 'DER_NOSPACE', /bytes left/);
    expect(await arr.getSize()).toBe(3n << 20n);
  });

  it('a caller awaiting read after read still lets timers and the event loop run', async () => {
    // In one process a read answered from the index settles at once: without the engine's call
    // budget (ENGINE_CALLS_PER_TURN_MAX, 128) these 4,000 awaited gets ran back to back in
    // microtasks and neither the immediates nor the 1 ms timer below ran at all.
    const kv = cont.kv(await cont.newOid({ type: 'kv', oclass: 'S1' }));
    await kv.put('k', 'v');
    const loop = countLoopTurns();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const gets = 4000;
    const started = performance.now();
    for (let i = 0; i < gets; i++) expect(Buffer.from((await kv.get('k'))!).toString()).toBe('v');
    const ms = performance.now() - started;
    const turns = loop.stop();
    clearInterval(timer);
    // One turn per 128 calls at least (with room for the loop's own), and the timer fired.
    expect(turns).toBeGreaterThanOrEqual(gets / 128 / 2);
    if (ms > 20) expect(ticks).toBeGreaterThan(0);
  });
});

describe('bad input fails with the right error and changes nothing', () => {
  let dir: string;
  let sys: DaosSystem;
  let cont: Container;
  let oid: Oid;

  /** What the object holds, to compare before and after a failed call. */
  async function snapshotOf(): Promise<string> {
    const obj = cont.object(oid);
    const parts: string[] = [];
    for await (const d of obj.listDkeys()) {
      for await (const a of obj.listAkeys(d)) {
        const kind = a.toString() === 'arr' ? 'array' : 'single';
        const [v] = await obj.fetch(d, [
          kind === 'array'
            ? { akey: a, kind, recordSize: 4, extents: [{ idx: 0, nr: 16 }] }
            : { akey: a, kind },
        ]);
        parts.push(
          `${d}/${a}=${v instanceof Uint8Array ? Buffer.from(v).toString('hex') : JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? String(x) : x))}`,
        );
      }
    }
    return parts.join(';');
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-bad-'));
    sys = await DaosSystem.start({ dir });
    await sys.createPool({ label: 'p', size: '1G' });
    const pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'c' });
    cont = await pool.openContainer('c');
    oid = await cont.newOid({ type: 'multi_lexical', oclass: 'S1' });
    await cont.object(oid).update('d', [
      { akey: 's', kind: 'single', value: 'keep' },
      { akey: 'arr', kind: 'array', recordSize: 4, extents: [{ idx: 0, nr: 2, data: bytes('abcdefgh') }] },
    ]);
  });
  afterAll(async () => {
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('empty and oversized keys', async () => {
    const before = await snapshotOf();
    const obj = cont.object(oid);
    const ok = { akey: 's', kind: 'single' as const, value: 'changed' };
    await rejects(obj.update('', [ok]), 'DER_INVAL', /dkey must not be empty/);
    await rejects(obj.update('d', [{ ...ok, akey: '' }]), 'DER_INVAL', /akey must not be empty/);
    await rejects(obj.update('x'.repeat(10_000), [ok]), 'DER_KEY2BIG', /dkey is 10000 bytes/);
    await rejects(
      obj.update('d', [ok, { akey: 'a'.repeat(600), kind: 'single', value: 'v' }]),
      'DER_KEY2BIG',
    );
    await rejects(obj.fetch('', [{ akey: 's', kind: 'single' }]), 'DER_INVAL');
    expect(await snapshotOf()).toBe(before);
  });

  it('extents past 2^64 and malformed extents', async () => {
    const before = await snapshotOf();
    const obj = cont.object(oid);
    const arr = (extents: Array<{ idx: bigint | number; nr: bigint | number; data?: Uint8Array }>) =>
      obj.update('d', [
        { akey: 's', kind: 'single', value: 'changed' },
        { akey: 'arr', kind: 'array', recordSize: 4, extents },
      ]);
    await rejects(
      arr([{ idx: (1n << 64n) - 1n, nr: 2n, data: Buffer.alloc(8) }]),
      'DER_INVAL',
      /passes record index 2\^64/,
    );
    await rejects(arr([{ idx: 0, nr: 0, data: Buffer.alloc(0) }]), 'DER_INVAL', /at least 1/);
    await rejects(arr([{ idx: -1, nr: 1, data: Buffer.alloc(4) }]), 'DER_INVAL');
    await rejects(arr([{ idx: 0, nr: 2, data: Buffer.alloc(4) }]), 'DER_INVAL', /needs 8 bytes, got 4/);
    await rejects(
      arr([
        { idx: 0, nr: 4, data: Buffer.alloc(16) },
        { idx: 2, nr: 4, data: Buffer.alloc(16) },
      ]),
      'DER_INVAL',
      /overlap/,
    );
    await rejects(
      obj.fetch('d', [{ akey: 'arr', kind: 'array', recordSize: 4, extents: [{ idx: 1n << 64n, nr: 1 }] }]),
      'DER_INVAL',
    );
    expect(await snapshotOf()).toBe(before);
  });

  it('a record size that disagrees with the stored one', async () => {
    const before = await snapshotOf();
    const obj = cont.object(oid);
    await rejects(
      obj.update('d', [
        { akey: 's', kind: 'single', value: 'changed' },
        { akey: 'arr', kind: 'array', recordSize: 8, extents: [{ idx: 4, nr: 1, data: Buffer.alloc(8) }] },
      ]),
      'DER_REC_SIZE',
    );
    await rejects(
      obj.fetch('d', [{ akey: 'arr', kind: 'array', recordSize: 2, extents: [{ idx: 0, nr: 1 }] }]),
      'DER_REC_SIZE',
    );
    await rejects(obj.update('d', [{ akey: 'arr', kind: 'single', value: 'x' }]), 'DER_INVAL');
    expect(await snapshotOf()).toBe(before);
  });

  it('unknown pool and container labels', async () => {
    const client = await sys.connect();
    await rejects(client.connectPool('nope'), 'DER_NONEXIST', /no pool "nope"/);
    const pool = await client.connectPool('p');
    await rejects(pool.openContainer('nope'), 'DER_NONEXIST', /no container "nope"/);
    await rejects(pool.destroyContainer('nope'), 'DER_NONEXIST');
    await rejects(sys.createPool({ label: 'p', size: '1G' }), 'DER_EXIST');
    await rejects(sys.createPool({ label: 'bad label!', size: '1G' }), 'DER_INVAL', /may only hold/);
  });

  it('writes through read-only handles', async () => {
    const before = await snapshotOf();
    const client = await sys.connect();
    const roPool = await client.connectPool('p', { mode: 'ro' });
    await rejects(roPool.openContainer('c', { mode: 'rw' }), 'DER_NO_PERM');
    await rejects(roPool.createContainer({ label: 'x' }), 'DER_NO_PERM');
    const ro = await roPool.openContainer('c');
    const obj = ro.object(oid);
    await rejects(
      obj.update('d', [{ akey: 's', kind: 'single', value: 'changed' }]),
      'DER_NO_PERM',
      /read-only/,
    );
    await rejects(obj.punch(), 'DER_NO_PERM');
    await rejects(obj.punchDkeys(['d']), 'DER_NO_PERM');
    await rejects(ro.kv(oid).remove('d'), 'DER_NO_PERM');
    await rejects(ro.createSnapshot(), 'DER_NO_PERM');
    await rejects(ro.openTx(), 'DER_NO_PERM');
    const [v] = await obj.fetch('d', [{ akey: 's', kind: 'single' }]);
    expect(Buffer.from(v as Uint8Array).toString()).toBe('keep');
    expect(await snapshotOf()).toBe(before);
  });
});

describe('persistence', () => {
  it('a restarted system gives back pools, containers, snapshots and data', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-persist-'));
    try {
      let sys = await DaosSystem.start({ dir, engines: 2, targetsPerEngine: 2 });
      await sys.createPool({ label: 'tank', size: '1G' });
      let pool = await (await sys.connect()).connectPool('tank');
      await pool.createContainer({ label: 'c' });
      let cont = await pool.openContainer('c');
      const kv = cont.kv(await cont.newOid({ type: 'kv_lexical', oclass: 'SX' }));
      const big = Buffer.alloc(100_000, 9);
      await kv.put('small', 'hello');
      await kv.put('big', big);
      const snap = await cont.createSnapshot('one');
      await kv.put('small', 'bye');
      await cont.setAttrs({ a: 'b' });
      await sys.stop();
      await rejects(DaosSystem.start({ dir, engines: 3 }), 'DER_INVAL', /holds a system of 2 engine/);

      sys = await DaosSystem.start({ dir });
      expect(sys.engines.map((e) => e.rank)).toEqual([0, 1]);
      pool = await (await sys.connect()).connectPool('tank');
      cont = await pool.openContainer('c');
      const kv2 = cont.kv(kv.oid);
      expect(Buffer.from((await kv2.get('small'))!).toString()).toBe('bye');
      expect(Buffer.compare(Buffer.from((await kv2.get('big'))!), big)).toBe(0);
      expect(Buffer.from((await cont.atSnapshot(snap).kv(kv.oid).get('small'))!).toString()).toBe('hello');
      expect(Buffer.from((await cont.getAttr('a'))!).toString()).toBe('b');
      const keys: Array<string | bigint> = [];
      for await (const k of kv2.keys()) keys.push(k);
      expect(keys).toEqual(['big', 'small']);
      // New object ids never repeat old ones after a restart.
      const fresh = await cont.newOid({ type: 'kv' });
      expect(fresh.lo).not.toBe(kv.oid.lo);
      await sys.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
