import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { countLoopTurns } from '../../test/loop-turns.js';
import { openVosTarget } from './index.js';
import type { IndexStore } from './index-store.js';
import { recordTag, TAG_META } from './keys.js';
import { decodeMeta, encodeMeta } from './records.js';
import type { FetchResult, UpdateCond, UpdateIod, VosOp, VosTarget } from './types.js';

const CONT = '11111111-2222-3333-4444-555555555555';
const OID = { hi: 5n, lo: 7n };
const b = (s: string) => Buffer.from(s);
const opened: VosTarget[] = [];

async function fresh(dir = tempDir('vos-')) {
  const t = await openVosTarget(dir);
  opened.push(t);
  return t;
}
/** Folders this file's tests made: removed after each test, once its targets are closed. */
const made: string[] = [];
function tempDir(prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  return d;
}
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
  for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const put = (t: VosTarget, e: bigint, dkey: string | Buffer, iods: UpdateIod[], cond?: UpdateCond) =>
  t.apply(e, [
    { op: 'update', cont: CONT, oid: OID, dkey: typeof dkey === 'string' ? b(dkey) : dkey, iods, cond },
  ]);
const sv = (akey: string, value: string | Buffer): UpdateIod => ({
  akey: b(akey),
  kind: 'single',
  value: typeof value === 'string' ? b(value) : value,
});
const getS = (t: VosTarget, e: bigint, dkey: string, akey: string) => {
  const v = t.fetch(CONT, OID, e, b(dkey), [{ akey: b(akey), kind: 'single' }])[0] as Uint8Array | undefined;
  return v === undefined ? undefined : Buffer.from(v).toString();
};
const arr = (r: FetchResult) => r as { data: Uint8Array; map: Array<{ idx: bigint; nr: bigint }> };
const strs = (keys: Uint8Array[]) => keys.map((k) => Buffer.from(k).toString());

describe('single values', () => {
  it('keeps versions and reads at old epochs; same epoch replaces', async () => {
    const t = await fresh();
    await put(t, 10n, 'd', [sv('a', 'v10')]);
    await put(t, 20n, 'd', [sv('a', 'v20')]);
    expect(getS(t, 5n, 'd', 'a')).toBeUndefined();
    expect(getS(t, 10n, 'd', 'a')).toBe('v10');
    expect(getS(t, 19n, 'd', 'a')).toBe('v10');
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('v20');
    await put(t, 20n, 'd', [sv('a', 'again')]);
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('again');
    expect(getS(t, EPOCH_MAX, 'd', 'missing')).toBeUndefined();
  });

  it("finds the newest version through the akey meta's epoch, and seeks whenever it cannot", async () => {
    const t = await fresh();
    await put(t, 10n, 'd', [sv('a', 'v10')]);
    await put(t, 30n, 'd', [sv('a', 'v30')]);
    // A version older than the newest (a rebuild or a transaction's epoch) leaves the newest as it is.
    await put(t, 20n, 'd', [sv('a', 'v20')]);
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('v30');
    expect(getS(t, 29n, 'd', 'a')).toBe('v20');
    expect(getS(t, 15n, 'd', 'a')).toBe('v10');
    // The newest version punched and aggregated away: reads fall back to the seek.
    await t.apply(40n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('a')] }]);
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBeUndefined();
    await t.aggregate(CONT, 50n, [25n]);
    expect(getS(t, 25n, 'd', 'a')).toBe('v20');
    await put(t, 60n, 'd', [sv('a', 'v60')]);
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('v60');
    expect(getS(t, 25n, 'd', 'a')).toBe('v20');

    // A meta written before the newest epoch was kept (13 bytes): a write to that akey must not
    // start one, since older versions on file may be newer than what it writes.
    await put(t, 10n, 'e', [sv('a', 'e10')]);
    await put(t, 30n, 'e', [sv('a', 'e30')]);
    const store = (t as unknown as { store: IndexStore }).store;
    const main = store.main;
    const metaKeys = [...main.getKeys({})].filter((k) => recordTag(k) === TAG_META);
    store.writeSync(() => {
      for (const k of metaKeys) main.put(k, encodeMeta({ ...decodeMeta(main.get(k)!), newest: undefined }));
    });
    await put(t, 20n, 'e', [sv('a', 'e20')]);
    expect(getS(t, EPOCH_MAX, 'e', 'a')).toBe('e30');
    expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('v60');
  });

  it('stores under 4 KiB inline and from 4 KiB in the data file', async () => {
    const t = await fresh();
    await put(t, 1n, 'd', [sv('small', Buffer.alloc(4095, 1))]);
    expect(t.usage().fileBytes).toBe(0);
    expect(t.containerBytes(CONT)).toBe(4095);
    await put(t, 1n, 'd', [sv('big', Buffer.alloc(4096, 2))]);
    expect(t.usage()).toEqual({ fileBytes: 4096, usedBytes: 4096, freeBytes: 0 });
    const [s, g] = t.fetch(CONT, OID, 1n, b('d'), [
      { akey: b('small'), kind: 'single' },
      { akey: b('big'), kind: 'single' },
    ]);
    expect(Buffer.from(s as Uint8Array).equals(Buffer.alloc(4095, 1))).toBe(true);
    expect(Buffer.from(g as Uint8Array).equals(Buffer.alloc(4096, 2))).toBe(true);
    // Replacing a version at the same epoch frees the old extent.
    await put(t, 1n, 'd', [sv('big', Buffer.alloc(5000, 3))]);
    expect(t.usage().usedBytes).toBe(5000);
    expect(t.containerBytes(CONT)).toBe(4095 + 5000);
  });

  it('keeps everything across close and reopen', async () => {
    const dir = tempDir('vos-');
    const t = await openVosTarget(dir);
    await put(t, 3n, 'd', [sv('a', 'x'), sv('big', Buffer.alloc(10000, 4))]);
    await t.apply(4n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('a')] }]);
    await t.close();
    const u = await fresh(dir);
    expect(u.recovery).toEqual({ bytesReclaimed: 0, pendingDtx: 0, punchesReplayed: 0 });
    expect(getS(u, 3n, 'd', 'a')).toBe('x');
    expect(getS(u, 4n, 'd', 'a')).toBeUndefined();
    expect(
      Buffer.from(
        u.fetch(CONT, OID, 9n, b('d'), [{ akey: b('big'), kind: 'single' }])[0] as Uint8Array,
      ).equals(Buffer.alloc(10000, 4)),
    ).toBe(true);
    expect(u.containerBytes(CONT)).toBe(10001);
  });

  it("stripes a new target's data over two files; a target made before striping keeps its one file", async () => {
    const dir = tempDir('vos-');
    const long = Buffer.alloc(3 << 20);
    for (let i = 0; i < long.length; i += 4) long.writeUInt32LE(i, i);
    const t = await openVosTarget(dir);
    await put(t, 1n, 'd', [sv('small', Buffer.alloc(10000, 4)), sv('long', long)]);
    const files = () =>
      fs
        .readdirSync(dir)
        .filter((f) => f.startsWith('data.bin'))
        .sort();
    expect(files()).toEqual(['data.bin', 'data.bin.1']);
    expect(fs.statSync(path.join(dir, 'data.bin.1')).size).toBeGreaterThan(1 << 20);
    const value = (u: VosTarget, akey: string) =>
      Buffer.from(
        u.fetch(CONT, OID, EPOCH_MAX, b('d'), [{ akey: b(akey), kind: 'single' }])[0] as Uint8Array,
      );
    expect(value(t, 'long').equals(long)).toBe(true);
    // What an earlier build left: no layout kept, the high-water mark it persisted, one file. (The
    // small value, first in the file, lies in its first stripe: at the same offset either way.)
    await t.apply(2n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('long')] }]);
    const store = (t as unknown as { store: IndexStore }).store;
    store.writeSync(() => {
      store.state.remove('dataFiles');
      store.state.remove('dataStripeBytes');
      store.state.put('highWater', t.usage().fileBytes);
    });
    await t.close();
    fs.rmSync(path.join(dir, 'data.bin.1'));
    const old = await fresh(dir);
    expect(files()).toEqual(['data.bin']);
    expect(value(old, 'small').equals(Buffer.alloc(10000, 4))).toBe(true);
    await put(old, 3n, 'd', [sv('long', long)]);
    expect(files()).toEqual(['data.bin']);
    expect(fs.statSync(path.join(dir, 'data.bin')).size).toBeGreaterThanOrEqual(10000 + long.length);
    expect(value(old, 'long').equals(long)).toBe(true);
  });

  it("keeps a new container's id on file when the call that first registered it was rolled back", async () => {
    const dir = tempDir('vos-');
    const t = await openVosTarget(dir);
    const NEW = '99999999-2222-3333-4444-555555555555';
    // Two ops in one call: the first registers NEW, the second fails its condition, and the
    // call's transaction rolls back with the registration in it.
    await expect(
      t.apply(3n, [
        { op: 'update', cont: NEW, oid: OID, dkey: b('d'), iods: [sv('a', 'lost')] },
        { op: 'update', cont: NEW, oid: OID, dkey: b('e'), iods: [sv('a', 'x')], cond: 'dkey_update' },
      ]),
    ).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    await t.apply(4n, [{ op: 'update', cont: NEW, oid: OID, dkey: b('d'), iods: [sv('a', 'kept')] }]);
    await t.close();
    const u = await fresh(dir);
    const got = u.fetch(NEW, OID, 9n, b('d'), [{ akey: b('a'), kind: 'single' }])[0];
    expect(got === undefined ? undefined : Buffer.from(got as Uint8Array).toString()).toBe('kept');
  });

  it('lists and queries the objects written before a reopen (the object filter is rebuilt)', async () => {
    const dir = tempDir('vos-');
    const t = await openVosTarget(dir);
    const other = { hi: 5n, lo: 8n };
    expect(t.queryDkey(CONT, OID, EPOCH_MAX, 'max')).toBeUndefined();
    await put(t, 3n, 'd1', [sv('a', 'x')]);
    await put(t, 4n, 'd2', [sv('a', 'y')]);
    expect(Buffer.from(t.queryDkey(CONT, OID, EPOCH_MAX, 'max')!).toString()).toBe('d2');
    expect(t.queryDkey(CONT, other, EPOCH_MAX, 'max')).toBeUndefined();
    await t.close();
    const u = await fresh(dir);
    expect(Buffer.from(u.queryDkey(CONT, OID, EPOCH_MAX, 'min')!).toString()).toBe('d1');
    expect(u.listDkeys(CONT, OID, EPOCH_MAX, undefined, 10).map((k) => Buffer.from(k).toString())).toEqual([
      'd1',
      'd2',
    ]);
    expect(
      u.listAkeys(CONT, OID, EPOCH_MAX, b('d2'), undefined, 10).map((k) => Buffer.from(k).toString()),
    ).toEqual(['a']);
    expect(u.listDkeys(CONT, other, EPOCH_MAX, undefined, 10)).toEqual([]);
  });
});

describe('punch', () => {
  it('is versioned at object, dkey and akey level', async () => {
    const t = await fresh();
    await put(t, 10n, 'd1', [sv('a1', '1'), sv('a2', '2')]);
    await put(t, 10n, 'd2', [sv('a1', '3')]);
    await t.apply(20n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d1'), akeys: [b('a1')] }]);
    await t.apply(30n, [{ op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [b('d2')] }]);
    await t.apply(40n, [{ op: 'punch_obj', cont: CONT, oid: OID }]);
    expect(getS(t, 15n, 'd1', 'a1')).toBe('1');
    expect(getS(t, 20n, 'd1', 'a1')).toBeUndefined();
    expect(getS(t, 25n, 'd1', 'a2')).toBe('2');
    expect(getS(t, 25n, 'd2', 'a1')).toBe('3');
    expect(getS(t, 30n, 'd2', 'a1')).toBeUndefined();
    expect(strs(t.listDkeys(CONT, OID, 35n, undefined, 10))).toEqual(['d1']);
    expect(strs(t.listAkeys(CONT, OID, 35n, b('d1'), undefined, 10))).toEqual(['a2']);
    expect(t.listDkeys(CONT, OID, 40n, undefined, 10)).toEqual([]);
    // Rewriting after a punch makes the key visible again.
    await put(t, 50n, 'd1', [sv('a1', 'new')]);
    expect(getS(t, 50n, 'd1', 'a1')).toBe('new');
    expect(getS(t, 50n, 'd1', 'a2')).toBeUndefined();
    expect(t.listObjects(CONT)).toEqual([OID]);
  });
});

describe('arrays', () => {
  const ax = (akey: string, rs: number, extents: Array<[number, number, string | undefined]>): UpdateIod => ({
    akey: b(akey),
    kind: 'array',
    recordSize: rs,
    extents: extents.map(([idx, nr, data]) => ({
      idx: BigInt(idx),
      nr: BigInt(nr),
      data: data === undefined ? undefined : b(data),
    })),
  });
  const fetchA = (t: VosTarget, e: bigint, extents: Array<[number, number]>, rs = 1, dkey = 'd') =>
    arr(
      t.fetch(CONT, OID, e, b(dkey), [
        {
          akey: b('a'),
          kind: 'array',
          recordSize: rs,
          extents: extents.map(([idx, nr]) => ({ idx: BigInt(idx), nr: BigInt(nr) })),
        },
      ])[0],
    );

  it('a read after a write sees it, though the read before kept the akey meta (Visibility.arrayMeta)', async () => {
    for (const durability of ['process', 'fsync'] as const) {
      const t = await openVosTarget(tempDir('vos-'), { durability });
      opened.push(t);
      // What the chunk holds, as runs ('a×8192'): short enough to show when it fails.
      const runs = (dkey = 'd') =>
        Buffer.from(fetchA(t, EPOCH_MAX, [[0, 8192]], 1, dkey).data)
          .toString('latin1')
          .replace(/(.)\1*/g, (run, c: string) => `${c === '\0' ? '0' : c}×${run.length} `)
          .trim();
      // One extent in the data file: the meta holds it (its sole extent), and reads keep the meta.
      await put(t, 1n, 'd', [ax('a', 1, [[0, 8192, 'a'.repeat(8192)]])]);
      expect(runs()).toBe('a×8192');
      // Read again and again while a second extent commits (with fsync, on lmdb-js's writer
      // thread): each read sees the first extent or both, never a meta from before the write.
      const w = put(t, 2n, 'd', [ax('a', 1, [[4096, 4096, 'b'.repeat(4096)]])]);
      let committed = false;
      void w.then(() => (committed = true));
      const seen = new Set<string>();
      while (!committed) {
        seen.add(runs());
        await new Promise((r) => setImmediate(r));
      }
      expect(runs()).toBe('a×4096 b×4096');
      for (const v of seen) expect(['a×8192', 'a×4096 b×4096']).toContain(v);
      // And after a punch of the akey, then a write of a new sole extent.
      await t.apply(3n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('a')] }]);
      expect(runs()).toBe('0×8192');
      await put(t, 4n, 'd', [ax('a', 1, [[0, 8192, 'c'.repeat(8192)]])]);
      expect(runs()).toBe('c×8192');
      // A new akey's write leaves its meta kept, with its sole extent. A punch hides it;
      // aggregation then removes the extent, frees its space, drops the meta and the punch (it
      // hides nothing now): a read still finds nothing, and takes nothing from the space a new
      // write reuses.
      await put(t, 5n, 'y', [ax('a', 1, [[0, 8192, 'e'.repeat(8192)]])]);
      expect(runs('y')).toBe('e×8192');
      await t.apply(6n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('y'), akeys: [b('a')] }]);
      expect(runs('y')).toBe('0×8192');
      const agg = await t.aggregate(CONT, 6n, []);
      expect(agg.bytesFreed).toBeGreaterThanOrEqual(8192);
      expect(runs('y')).toBe('0×8192');
      await put(t, 7n, 'z', [ax('a', 1, [[0, 8192, 'f'.repeat(8192)]])]);
      expect(runs('z')).toBe('f×8192');
      expect(runs('y')).toBe('0×8192');
    }
  });

  it('resolves overlapping extents per record by epoch, with holes', async () => {
    const t = await fresh();
    await put(t, 1n, 'd', [ax('a', 1, [[0, 10, 'aaaaaaaaaa']])]);
    await put(t, 2n, 'd', [ax('a', 1, [[3, 4, 'BBBB']])]);
    await put(t, 3n, 'd', [ax('a', 1, [[5, 3, undefined]])]);
    const r = fetchA(t, 3n, [[0, 12]]);
    expect(Buffer.from(r.data).toString('latin1')).toBe('aaaBB\0\0\0aa\0\0');
    expect(r.map).toEqual([
      { idx: 0n, nr: 5n },
      { idx: 8n, nr: 2n },
    ]);
    expect(Buffer.from(fetchA(t, 2n, [[0, 10]]).data).toString()).toBe('aaaBBBBaaa');
    expect(
      Buffer.from(
        fetchA(t, 3n, [
          [8, 2],
          [0, 2],
        ]).data,
      ).toString(),
    ).toBe('aaaa');
    expect(t.listRecx(CONT, OID, 3n, b('d'), b('a'))).toEqual([
      { idx: 0n, nr: 3n, epoch: 1n },
      { idx: 3n, nr: 2n, epoch: 2n },
      { idx: 8n, nr: 2n, epoch: 1n },
    ]);
    expect(t.queryRecx(CONT, OID, 3n, b('d'), b('a'), 'max')).toEqual({ idx: 8n, nr: 2n });
    expect(t.queryRecx(CONT, OID, 3n, b('d'), b('a'), 'min')).toEqual({ idx: 0n, nr: 5n });
    // A fully punched array akey no longer exists.
    await put(t, 4n, 'd', [ax('a', 1, [[0, 10, undefined]])]);
    expect(t.listAkeys(CONT, OID, 4n, b('d'), undefined, 10)).toEqual([]);
    expect(t.listAkeys(CONT, OID, 3n, b('d'), undefined, 10)).toHaveLength(1);
  });

  it('reads large extents from the data file and huge indexes by intervals', async () => {
    const t = await fresh();
    const big = Buffer.alloc(8 * 1000);
    for (let i = 0; i < big.length; i++) big[i] = i % 251;
    const far = (1n << 64n) - 1000n;
    await t.apply(1n, [
      {
        op: 'update',
        cont: CONT,
        oid: OID,
        dkey: b('d'),
        iods: [{ akey: b('a'), kind: 'array', recordSize: 8, extents: [{ idx: far, nr: 1000n, data: big }] }],
      },
    ]);
    const r = arr(
      t.fetch(CONT, OID, 1n, b('d'), [
        { akey: b('a'), kind: 'array', recordSize: 8, extents: [{ idx: far + 10n, nr: 20n }] },
      ])[0],
    );
    expect(Buffer.from(r.data).equals(big.subarray(80, 240))).toBe(true);
    expect(t.queryRecx(CONT, OID, 1n, b('d'), b('a'), 'max')).toEqual({ idx: far, nr: 1000n });
    const whole = arr(
      t.fetch(CONT, OID, 1n, b('d'), [
        { akey: b('a'), kind: 'array', recordSize: 8, extents: [{ idx: 0n, nr: 10n }] },
      ])[0],
    );
    expect(whole.map).toEqual([]);
  });

  it('rejects a different record size and the wrong kind', async () => {
    const t = await fresh();
    await put(t, 1n, 'd', [ax('a', 4, [[0, 1, 'abcd']]), sv('s', 'x')]);
    await expect(put(t, 2n, 'd', [ax('a', 2, [[0, 1, 'ab']])])).rejects.toMatchObject({
      code: 'DER_REC_SIZE',
    });
    expect(() => fetchA(t, 2n, [[0, 1]], 2)).toThrow(/DER_REC_SIZE/);
    await expect(put(t, 2n, 'd', [sv('a', 'x')])).rejects.toMatchObject({ code: 'DER_INVAL' });
    await expect(put(t, 2n, 'd', [ax('s', 1, [[0, 1, 'x']])])).rejects.toMatchObject({ code: 'DER_INVAL' });
    expect(() => t.fetch(CONT, OID, 2n, b('d'), [{ akey: b('a'), kind: 'single' }])).toThrow(/DER_INVAL/);
  });
});

describe('listing', () => {
  it('lists byte keys in byte order, 8-byte big-endian numbers numerically, with pagination', async () => {
    const t = await fresh();
    const nums = [0n, 1n, 255n, 256n, 65535n, 1n << 40n, (1n << 64n) - 1n];
    const keys = nums.map((n) => {
      const k = Buffer.alloc(8);
      k.writeBigUInt64BE(n);
      return k;
    });
    for (const k of [...keys].reverse()) await put(t, 1n, k, [sv('a', 'x')]);
    const page1 = t.listDkeys(CONT, OID, 1n, undefined, 3);
    const page2 = t.listDkeys(CONT, OID, 1n, page1[2], 3);
    const page3 = t.listDkeys(CONT, OID, 1n, page2[2], 3);
    expect([...page1, ...page2, ...page3].map((k) => Buffer.from(k).readBigUInt64BE())).toEqual(nums);
    expect(Buffer.from(t.queryDkey(CONT, OID, 1n, 'max')!).readBigUInt64BE()).toBe((1n << 64n) - 1n);
    expect(Buffer.from(t.queryDkey(CONT, OID, 1n, 'min')!).readBigUInt64BE()).toBe(0n);
    expect(t.queryDkey(CONT, OID, 0n + 1n, 'max')).toBeDefined();
  });

  it('orders raw byte keys with zero bytes and prefixes', async () => {
    const t = await fresh();
    const raw = [[1], [0], [0, 0], [0, 1], [1, 0], [255], [0xff, 0]].map((k) => Buffer.from(k));
    await t.apply(1n, [
      {
        op: 'update',
        cont: CONT,
        oid: OID,
        dkey: b('d'),
        iods: raw.map((akey) => ({ akey, kind: 'single' as const, value: b('v') })),
      },
    ]);
    const listed = t
      .listAkeys(CONT, OID, 1n, b('d'), undefined, 100)
      .map((k) => Buffer.from(k).toString('hex'));
    expect(listed).toEqual([...raw].sort(Buffer.compare).map((k) => k.toString('hex')));
    await t.apply(2n, [{ op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [b('d')] }]);
    expect(t.queryDkey(CONT, OID, 2n, 'max')).toBeUndefined();
  });
});

describe('conditional ops and validation', () => {
  it('applies DAOS conditions', async () => {
    const t = await fresh();
    await expect(put(t, 1n, 'd', [sv('a', 'x')], 'dkey_update')).rejects.toMatchObject({
      code: 'DER_NONEXIST',
    });
    await put(t, 1n, 'd', [sv('a', 'x')], 'dkey_insert');
    await expect(put(t, 2n, 'd', [sv('b', 'y')], 'dkey_insert')).rejects.toMatchObject({ code: 'DER_EXIST' });
    await put(t, 2n, 'd', [sv('b', 'y')], 'dkey_update');
    await expect(put(t, 3n, 'd', [sv('a', 'z')], 'akey_insert')).rejects.toMatchObject({ code: 'DER_EXIST' });
    await expect(put(t, 3n, 'd', [sv('c', 'z')], 'akey_update')).rejects.toMatchObject({
      code: 'DER_NONEXIST',
    });
    await put(t, 3n, 'd', [sv('c', 'z')], 'akey_insert');
    expect(() => t.fetch(CONT, OID, 3n, b('e'), [{ akey: b('a'), kind: 'single' }], 'dkey_fetch')).toThrow(
      /DER_NONEXIST/,
    );
    expect(() => t.fetch(CONT, OID, 3n, b('d'), [{ akey: b('q'), kind: 'single' }], 'akey_fetch')).toThrow(
      /DER_NONEXIST/,
    );
    expect(() => t.fetch(CONT, OID, 1n, b('d'), [{ akey: b('c'), kind: 'single' }], 'akey_fetch')).toThrow(
      /DER_NONEXIST/,
    );
    expect(getS(t, 3n, 'd', 'c')).toBe('z');
    await expect(
      t.apply(4n, [{ op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [b('d'), b('nope')], mustExist: true }]),
    ).rejects.toMatchObject({
      code: 'DER_NONEXIST',
    });
    expect(getS(t, 4n, 'd', 'a')).toBe('x');
    await expect(
      t.apply(4n, [
        { op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('nope')], mustExist: true },
      ]),
    ).rejects.toMatchObject({
      code: 'DER_NONEXIST',
    });
    await t.apply(4n, [
      { op: 'punch_akeys', cont: CONT, oid: OID, dkey: b('d'), akeys: [b('a')], mustExist: true },
    ]);
    expect(getS(t, 4n, 'd', 'a')).toBeUndefined();
  });

  it('rejects bad input with named errors and writes nothing of a failed apply', async () => {
    const t = await fresh();
    await put(t, 1n, 'd', [sv('a', 'keep')]);
    const cases: Array<[VosOp[], string, RegExp]> = [
      [
        [{ op: 'update', cont: CONT, oid: OID, dkey: b(''), iods: [sv('a', 'x')] }],
        'DER_INVAL',
        /dkey is empty/,
      ],
      [
        [{ op: 'update', cont: CONT, oid: OID, dkey: Buffer.alloc(513, 1), iods: [sv('a', 'x')] }],
        'DER_KEY2BIG',
        /513 bytes/,
      ],
      [
        [
          {
            op: 'update',
            cont: CONT,
            oid: OID,
            dkey: b('d'),
            iods: [
              { akey: b('r'), kind: 'array', recordSize: 4, extents: [{ idx: 0n, nr: 2n, data: b('abc') }] },
            ],
          },
        ],
        'DER_INVAL',
        /needs 8 bytes, got 3/,
      ],
      [
        [
          {
            op: 'update',
            cont: CONT,
            oid: OID,
            dkey: b('d'),
            iods: [{ akey: b('r'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 0n }] }],
          },
        ],
        'DER_INVAL',
        /nr must be/,
      ],
      [
        [
          {
            op: 'update',
            cont: CONT,
            oid: OID,
            dkey: b('d'),
            iods: [
              { akey: b('r'), kind: 'array', recordSize: 1, extents: [{ idx: (1n << 64n) - 1n, nr: 2n }] },
            ],
          },
        ],
        'DER_INVAL',
        /passes 2\^64/,
      ],
      [
        [
          {
            op: 'update',
            cont: CONT,
            oid: OID,
            dkey: b('d'),
            iods: [{ akey: b('r'), kind: 'array', recordSize: 0, extents: [{ idx: 0n, nr: 1n }] }],
          },
        ],
        'DER_INVAL',
        /record size 0/,
      ],
    ];
    for (const [bad, code, msg] of cases) {
      // Each bad op rides along with a good one: the whole apply must fail.
      const ops: VosOp[] = [
        { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [sv('a', 'overwritten')] },
        ...bad,
      ];
      await expect(t.apply(2n, ops)).rejects.toMatchObject({ code, message: expect.stringMatching(msg) });
    }
    // A state-dependent failure (record size) in the second op also leaves the first unwritten.
    await put(t, 1n, 'd', [
      { akey: b('arr'), kind: 'array', recordSize: 2, extents: [{ idx: 0n, nr: 1n, data: b('zz') }] },
    ]);
    await expect(
      t.apply(2n, [
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey: b('d'),
          iods: [sv('a', 'overwritten'), sv('big', Buffer.alloc(9000))],
        },
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey: b('d'),
          iods: [
            { akey: b('arr'), kind: 'array', recordSize: 1, extents: [{ idx: 0n, nr: 1n, data: b('y') }] },
          ],
        },
      ]),
    ).rejects.toMatchObject({ code: 'DER_REC_SIZE' });
    expect(getS(t, 5n, 'd', 'a')).toBe('keep');
    expect(getS(t, 5n, 'd', 'big')).toBeUndefined();
    expect(t.usage().usedBytes).toBe(0);
  });
});

describe('containers', () => {
  it('rolls back a multi-op apply that fails part way alone, with the commits of its turn around it', async () => {
    const dir = tempDir('vos-');
    const t = await fresh(dir);
    await put(t, 1n, 'taken', [sv('a', 'old')]);
    const upd = (dkey: string, value: string, cond?: UpdateCond): VosOp => ({
      op: 'update',
      cont: CONT,
      oid: OID,
      dkey: b(dkey),
      iods: [sv('a', value)],
      cond,
    });
    // One batch: plain, multi-op (its second op fails after its first has written), plain.
    const before = put(t, 2n, 'p1', [sv('a', 'one')]);
    const multi = t.apply(3n, [upd('m1', 'lost'), upd('taken', 'new', 'dkey_insert')]);
    const after = put(t, 4n, 'p2', [sv('a', 'two')]);
    const dryRun = t.apply(5n, [upd('m2', 'kept'), upd('m3', 'kept')]);
    await expect(multi).rejects.toMatchObject({ code: 'DER_EXIST' });
    await Promise.all([before, after, dryRun]);
    const check = (x: VosTarget) => {
      expect(getS(x, EPOCH_MAX, 'p1', 'a')).toBe('one');
      expect(getS(x, EPOCH_MAX, 'p2', 'a')).toBe('two');
      expect(getS(x, EPOCH_MAX, 'm1', 'a')).toBeUndefined();
      expect(getS(x, EPOCH_MAX, 'taken', 'a')).toBe('old');
      expect(getS(x, EPOCH_MAX, 'm2', 'a')).toBe('kept');
      expect(getS(x, EPOCH_MAX, 'm3', 'a')).toBe('kept');
    };
    check(t);
    await t.close();
    opened.splice(opened.indexOf(t), 1);
    check(await fresh(dir));
  });

  it('refuses commits with DER_NOSPACE while the file system is short of free space, changing nothing', async () => {
    const dir = tempDir('vos-');
    const t = await fresh(dir);
    await put(t, 1n, 'd', [sv('a', 'keep')]);
    await t.close();
    opened.splice(opened.indexOf(t), 1);
    const full = await openVosTarget(dir, { indexFreeBytesMin: Number.MAX_SAFE_INTEGER });
    opened.push(full);
    await expect(put(full, 2n, 'd', [sv('a', 'lost')])).rejects.toMatchObject({
      code: 'DER_NOSPACE',
      message: expect.stringMatching(/bytes free on its file system/),
    });
    expect(getS(full, EPOCH_MAX, 'd', 'a')).toBe('keep');
  });

  it.runIf(fs.existsSync('/dev/full'))(
    'fails a write whose data-file bytes did not land with DER_NOSPACE, changing nothing',
    async () => {
      const dir = tempDir('vos-');
      // The target's data file is /dev/full: every data-file write fails with ENOSPC.
      fs.symlinkSync('/dev/full', path.join(dir, 'data.bin'));
      const t = await fresh(dir);
      await put(t, 1n, 'd', [sv('a', 'inline')]);
      const big = Buffer.alloc(64 * 1024, 9);
      await expect(put(t, 2n, 'd', [sv('a', big)])).rejects.toMatchObject({
        code: 'DER_NOSPACE',
        message: expect.stringMatching(/data file .* failed/),
      });
      expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('inline');
      // Inline values need no data file: the target goes on working.
      await put(t, 3n, 'd', [sv('a', 'still')]);
      expect(getS(t, EPOCH_MAX, 'd', 'a')).toBe('still');
    },
  );

  it('destroys a container and frees its space', async () => {
    const t = await fresh();
    const other = '99999999-2222-3333-4444-555555555555';
    await put(t, 1n, 'd', [sv('a', Buffer.alloc(20000, 1))]);
    await t.apply(1n, [{ op: 'update', cont: other, oid: OID, dkey: b('d'), iods: [sv('a', 'kept')] }]);
    await t.apply(2n, [{ op: 'punch_obj', cont: CONT, oid: { hi: 1n, lo: 1n } }]);
    expect(t.listObjects(CONT)).toEqual([{ hi: 1n, lo: 1n }, OID]);
    await t.destroyContainer(CONT);
    expect(t.usage().usedBytes).toBe(0);
    expect(t.containerBytes(CONT)).toBe(0);
    expect(t.listObjects(CONT)).toEqual([]);
    expect(getS(t, 3n, 'd', 'a')).toBeUndefined();
    expect(
      Buffer.from(
        t.fetch(other, OID, 3n, b('d'), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array,
      ).toString(),
    ).toBe('kept');
  });
});

describe('durability fsync', () => {
  it('syncs the data file and the index before acknowledging', async () => {
    const t = await openVosTarget(tempDir('vos-'), { durability: 'fsync' });
    opened.push(t);
    await Promise.all([put(t, 1n, 'd', [sv('a', Buffer.alloc(6000, 5))]), put(t, 1n, 'e', [sv('a', 'x')])]);
    expect(getS(t, 1n, 'e', 'a')).toBe('x');
    expect((t.fetch(CONT, OID, 1n, b('d'), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array)[5999]).toBe(
      5,
    );
  });
});

describe('fetch limits', () => {
  it('refuses a fetch larger than IO_BYTES_MAX before allocating it', async () => {
    const t = await fresh();
    expect(() =>
      t.fetch(CONT, OID, 1n, b('d'), [
        { akey: b('a'), kind: 'array', recordSize: 1024, extents: [{ idx: 0n, nr: 1n << 40n }] },
      ]),
    ).toThrow(/over 1073741824/);
  });
});

describe('commit batching', () => {
  it('commits queued together share a batch, and each is readable once its promise resolves', async () => {
    const t = await fresh();
    await Promise.all(
      Array.from({ length: 50 }, (_, i) => put(t, 10n + BigInt(i), `d${i}`, [sv('a', `v${i}`)])),
    );
    for (let i = 0; i < 50; i++) expect(getS(t, EPOCH_MAX, `d${i}`, 'a')).toBe(`v${i}`);
    for (let i = 0; i < 20; i++) {
      await put(t, 100n + BigInt(i), 'seq', [sv('a', `s${i}`)]);
      expect(getS(t, EPOCH_MAX, 'seq', 'a')).toBe(`s${i}`);
    }
  });

  it('a caller awaiting commit after commit still lets the event loop turn (timers, sockets)', async () => {
    const t = await fresh();
    // Batches run as soon as the microtask queue is empty, which never lets the loop turn on its
    // own while a caller awaits one commit after another; every BATCHES_PER_TURN_MAX-th batch in
    // a row waits for the turn. Without that, this loop would starve the immediates below.
    const commits = 640;
    const loop = countLoopTurns();
    for (let i = 0; i < commits; i++) await put(t, 10n + BigInt(i), 'd', [sv('a', `v${i}`)]);
    // One turn per 32 batches at least (BATCHES_PER_TURN_MAX), with room for the loop's own.
    expect(loop.stop()).toBeGreaterThanOrEqual(commits / 32 / 2);
  });
});
