import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cellExtent, cellRecordsFor, parityIndex } from '../../core/ec/stripe.js';
import { openVosTarget } from './index.js';
import type { IndexStore } from './index-store.js';
import { recordTag, TAG_META } from './keys.js';
import { decodeMeta } from './records.js';
import type { VosOp, VosTarget } from './types.js';

const CONT = '11111111-2222-3333-4444-555555555555';
const OID = { hi: 3n, lo: 9n };
const DKEYS = ['d0', 'd1'].map((s) => Buffer.from(s));
const AKEYS = ['s0', 's1', 'x0', 'x1'].map((s) => Buffer.from(s));
const opened: VosTarget[] = [];
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

/**
 * A seeded generator of 0..n-1. (An LCG step in 32-bit integer arithmetic: computed in doubles,
 * s * 1103515245 loses its low bits, and the stream fell into a few values.)
 */
function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

/** Everything a read can observe at epoch e, as one comparable string. */
function snapshot(t: VosTarget, e: bigint, dkeys = DKEYS): string {
  const out: unknown[] = [t.listDkeys(CONT, OID, e, undefined, 100).map((k) => Buffer.from(k).toString())];
  for (const dkey of dkeys) {
    out.push(t.listAkeys(CONT, OID, e, dkey, undefined, 100).map((k) => Buffer.from(k).toString()));
    const res = t.fetch(CONT, OID, e, dkey, [
      { akey: AKEYS[0]!, kind: 'single' },
      { akey: AKEYS[1]!, kind: 'single' },
      { akey: AKEYS[2]!, kind: 'array', recordSize: 2, extents: [{ idx: 0n, nr: 40n }] },
      { akey: AKEYS[3]!, kind: 'array', recordSize: 2, extents: [{ idx: 0n, nr: 40n }] },
    ]);
    out.push(
      res.map((r) =>
        r === undefined
          ? null
          : r instanceof Uint8Array
            ? Buffer.from(r).toString('hex')
            : [Buffer.from(r.data).toString('hex'), r.map],
      ),
    );
    for (const akey of AKEYS.slice(2)) out.push(t.listRecx(CONT, OID, e, dkey, akey));
  }
  return JSON.stringify(out, (_, v) => (typeof v === 'bigint' ? v.toString() : v));
}

function randomOp(r: (n: number) => number, e: number, dkeys = DKEYS): VosOp {
  const dkey = dkeys[r(dkeys.length)]!;
  const roll = r(20);
  if (roll === 0) return { op: 'punch_obj', cont: CONT, oid: OID };
  if (roll === 1) return { op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [dkey] };
  if (roll === 2) return { op: 'punch_akeys', cont: CONT, oid: OID, dkey, akeys: [AKEYS[r(AKEYS.length)]!] };
  const which = r(AKEYS.length);
  const akey = AKEYS[which]!;
  if (which < 2) {
    // Some values go to the data file (threshold 64 bytes in this test).
    const len = r(3) === 0 ? 100 : 1 + r(10);
    return {
      op: 'update',
      cont: CONT,
      oid: OID,
      dkey,
      iods: [{ akey, kind: 'single', value: Buffer.alloc(len, e) }],
    };
  }
  const idx = BigInt(r(30));
  const nr = BigInt(1 + r(r(4) === 0 ? 40 : 8));
  const hole = r(6) === 0;
  const data = hole ? undefined : Buffer.alloc(Number(nr) * 2, e);
  return {
    op: 'update',
    cont: CONT,
    oid: OID,
    dkey,
    iods: [{ akey, kind: 'array', recordSize: 2, extents: [{ idx, nr, data }] }],
  };
}

describe('aggregate', () => {
  it('keeps reads at keep epochs and at or after upTo identical on random histories', async () => {
    let removed = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const dir = tempDir('vos-agg-');
      const t = await openVosTarget(dir, { inlineBytesMax: 64 });
      const epochs = 60;
      for (let e = 1; e <= epochs; e++) await t.apply(BigInt(e), [randomOp(r, e)]);
      const upTo = BigInt(20 + r(45));
      const keep = [BigInt(1 + r(20)), BigInt(1 + r(40)), BigInt(10 + r(50))];
      const probes = [...keep, upTo, upTo + 1n, BigInt(epochs), BigInt(epochs) + 10n];
      const before = probes.map((e) => snapshot(t, e));
      const usedBefore = t.usage().usedBytes;
      const stats = await t.aggregate(CONT, upTo, keep);
      expect(probes.map((e) => snapshot(t, e))).toEqual(before);
      expect(t.usage().usedBytes).toBe(usedBefore - stats.bytesFreed);
      // A second pass finds nothing more to do.
      const again = await t.aggregate(CONT, upTo, keep);
      expect(again.bytesFreed).toBe(0);
      removed += stats.recordsRemoved;
      // The persisted free list matches: reopening reclaims nothing and reads the same.
      await t.close();
      const u = await openVosTarget(dir, { inlineBytesMax: 64 });
      opened.push(u);
      expect(u.recovery.bytesReclaimed).toBe(0);
      expect(probes.map((e) => snapshot(u, e))).toEqual(before);
    }
    expect(removed).toBeGreaterThan(50);
  });

  it('frees overwritten versions and their data-file bytes', async () => {
    const t = await openVosTarget(tempDir('vos-agg-'));
    opened.push(t);
    const dkey = Buffer.from('d');
    for (let e = 1n; e <= 10n; e++) {
      await t.apply(e, [
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey,
          iods: [{ akey: AKEYS[0]!, kind: 'single', value: Buffer.alloc(5000, Number(e)) }],
        },
      ]);
    }
    expect(t.usage().usedBytes).toBe(50000);
    const stats = await t.aggregate(CONT, 10n, [4n]);
    expect(stats).toEqual({ recordsRemoved: 8, bytesFreed: 40000 });
    expect(t.usage().usedBytes).toBe(10000);
    expect(t.containerBytes(CONT)).toBe(10000);
    const v4 = t.fetch(CONT, OID, 4n, dkey, [{ akey: AKEYS[0]!, kind: 'single' }])[0] as Uint8Array;
    expect(v4[0]).toBe(4);
    // Freed space is reused by the next write.
    await t.apply(11n, [
      {
        op: 'update',
        cont: CONT,
        oid: OID,
        dkey,
        iods: [{ akey: AKEYS[0]!, kind: 'single', value: Buffer.alloc(5000, 11) }],
      },
    ]);
    expect(t.usage().fileBytes).toBe(50000);
  });
  it("never answers a read from the space of a removed newest version (the meta's newestFile)", async () => {
    const t = await openVosTarget(tempDir('vos-agg-'));
    opened.push(t);
    const dkey = Buffer.from('d');
    const put = (e: bigint, akey: Buffer, fill: number) =>
      t.apply(e, [
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey,
          iods: [{ akey, kind: 'single', value: Buffer.alloc(5000, fill) }],
        },
      ]);
    await put(10n, AKEYS[0]!, 1);
    await put(20n, AKEYS[0]!, 2);
    await t.apply(30n, [{ op: 'punch_akeys', cont: CONT, oid: OID, dkey, akeys: [AKEYS[0]!] }]);
    // No kept epoch reads the version at 20 (the punch hides it from 30 on): removed, its space freed.
    const stats = await t.aggregate(CONT, 40n, [15n]);
    expect(stats.bytesFreed).toBe(5000);
    // Another value takes that space.
    await put(50n, AKEYS[1]!, 7);
    const at = (e: bigint) =>
      Buffer.from(t.fetch(CONT, OID, e, dkey, [{ akey: AKEYS[0]!, kind: 'single' }])[0] as Uint8Array);
    // A read between the removed version and the punch sees the history aggregation left (the
    // version at 10), never the other value's bytes.
    expect(at(25n).equals(Buffer.alloc(5000, 1))).toBe(true);
    expect(at(15n).equals(Buffer.alloc(5000, 1))).toBe(true);
    // A newest version rewritten at its own epoch frees the old value's space: reads get the new one.
    await put(60n, AKEYS[2]!, 4);
    await put(60n, AKEYS[2]!, 5);
    await put(70n, AKEYS[3]!, 6);
    const v = t.fetch(CONT, OID, 65n, dkey, [{ akey: AKEYS[2]!, kind: 'single' }])[0] as Uint8Array;
    expect(Buffer.from(v).equals(Buffer.alloc(5000, 5))).toBe(true);
  });
});

describe('discardDkey', () => {
  it("with a role, drops only that EC shard's extents of the dkey at or below the epoch", async () => {
    const dir = tempDir('vos-discard-');
    try {
      const t = await openVosTarget(dir, { inlineBytesMax: 64 });
      opened.push(t);
      const k = 2;
      const cellBytes = 8;
      const cr = cellRecordsFor(2, cellBytes); // 4 records of 2 bytes per cell
      const dkey = DKEYS[0]!;
      const bytes = (nr: bigint, fill: number) => new Uint8Array(Number(nr) * 2).fill(fill);
      const cell = (s: bigint, c: number) => cellExtent(s, c, k, cr);
      const parity = (s: bigint, j: number) => parityIndex(s, cr, j);
      // A target holding data cell 0 (its role now), data cell 1 and parity 0 (leftovers of older
      // roles) of stripe 0, a single value, and a parity-0 write newer than the discard epoch.
      const extents = [cell(0n, 0), cell(0n, 1), parity(0n, 0)].map((r, i) => ({
        ...r,
        data: bytes(r.nr, i + 1),
      }));
      await t.apply(10n, [
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey,
          iods: [{ akey: AKEYS[2]!, kind: 'array', recordSize: 2, extents }],
        },
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey,
          iods: [{ akey: AKEYS[0]!, kind: 'single', value: Buffer.from('v') }],
        },
      ]);
      const later = { ...parity(1n, 0), data: bytes(parity(1n, 0).nr, 9) };
      await t.apply(30n, [
        {
          op: 'update',
          cont: CONT,
          oid: OID,
          dkey,
          iods: [{ akey: AKEYS[2]!, kind: 'array', recordSize: 2, extents: [later] }],
        },
      ]);
      const ranges = () => t.listRecx(CONT, OID, 40n, dkey, AKEYS[2]!).map((r) => [r.idx, r.nr]);
      // (Parity of stripes 0 and 1 are adjacent but written at different epochs: two ranges.)
      expect(ranges()).toEqual([
        [0n, 2n * BigInt(cr)],
        [parity(0n, 0).idx, BigInt(cr)],
        [parity(1n, 0).idx, BigInt(cr)],
      ]);
      // Taking parity 0 here: its old records go, the newer write and the other roles stay.
      expect(await t.discardDkey(CONT, OID, dkey, 20n, { k, shard: k, cellBytes })).toBe(1);
      expect(ranges()).toEqual([
        [0n, 2n * BigInt(cr)],
        [parity(1n, 0).idx, BigInt(cr)],
      ]);
      // Taking data cell 1: only that cell goes; the single value stays.
      expect(await t.discardDkey(CONT, OID, dkey, 20n, { k, shard: 1, cellBytes })).toBe(1);
      expect(ranges()).toEqual([
        [0n, BigInt(cr)],
        [parity(1n, 0).idx, BigInt(cr)],
      ]);
      expect(t.fetch(CONT, OID, 40n, dkey, [{ akey: AKEYS[0]!, kind: 'single' }])[0]).toEqual(
        Buffer.from('v'),
      );
      // Without a role: everything at or below the epoch.
      await t.discardDkey(CONT, OID, dkey, 20n);
      expect(ranges()).toEqual([[parity(1n, 0).idx, BigInt(cr)]]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("array metas keeping the akey's sole extent", () => {
  /** Array akeys whose meta holds their sole extent now. */
  function soles(t: VosTarget): number {
    const { main } = (t as unknown as { store: IndexStore }).store;
    let n = 0;
    for (const { key, value } of main.getRange({}))
      if (recordTag(key) === TAG_META && decodeMeta(value).sole !== undefined) n++;
    return n;
  }

  it('read alike with every extent in the data file (metas keep soles) and every extent inline (reads scan)', async () => {
    // Many dkeys, so that many array akeys spend a while with one record; punches, holes,
    // overwrites, aggregation and reopening end soles; every read of both twins must agree.
    const dkeys = Array.from({ length: 8 }, (_, i) => Buffer.from(`k${i}`));
    let soleReads = 0;
    for (let seed = 1; seed <= 6; seed++) {
      const r = rng(seed);
      // Its own stream for the test's choices (one shared stream falls into short cycles).
      const c = rng(seed + 100);
      const dirs = [tempDir('vos-sole-'), tempDir('vos-inline-')];
      const options = [{ inlineBytesMax: 1 }, { inlineBytesMax: 1 << 20 }];
      let twins = await Promise.all(dirs.map((d, i) => openVosTarget(d, options[i])));
      const keep: bigint[] = [];
      // Reads are the same at keep epochs and at or after the last aggregation's upTo (not between).
      let upTo = 0;
      for (let e = 1; e <= 150; e++) {
        const op = randomOp(r, e, dkeys);
        for (const t of twins) await t.apply(BigInt(e), [op]);
        const roll = c(40);
        if (roll === 0) keep.push(BigInt(e));
        else if (roll === 1) {
          upTo = Math.max(1, e - c(10));
          for (const t of twins) await t.aggregate(CONT, BigInt(upTo), keep);
        } else if (roll === 2) {
          await Promise.all(twins.map((t) => t.close()));
          twins = await Promise.all(dirs.map((d, i) => openVosTarget(d, options[i])));
        }
        if (e % 5 === 0) {
          soleReads += soles(twins[0]!);
          expect(soles(twins[1]!)).toBe(0);
          for (const at of [BigInt(e), BigInt(Math.max(1, upTo + c(e - upTo + 1))), ...keep])
            expect(snapshot(twins[0]!, at, dkeys), `seed ${seed}, epoch ${e}, read at ${at}`).toBe(
              snapshot(twins[1]!, at, dkeys),
            );
        }
      }
      opened.push(...twins);
    }
    // The twin with data-file extents did read through soles, often.
    expect(soleReads).toBeGreaterThan(100);
  });
});
