/**
 * Checksummed records on a real target: bytes flipped in the data file (or in the LMDB file of an
 * inline value) are found by every fetch that reads their chunk — DER_CSUM, counted — while the
 * chunks around them still read; updates whose checksums do not match their data write nothing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { CSUM_CHUNK_BYTES, chunkCsums } from '../../core/csum/index.js';
import { openVosTarget } from './index.js';
import type { ArrayFetchResult, UpdateIod, VosTarget } from './types.js';

const CONT = 'c5c5c5c5-2222-3333-4444-555555555555';
const OID = { hi: 9n, lo: 1n };
const b = (s: string) => Buffer.from(s);
const opened: VosTarget[] = [];
const dirs: string[] = [];

function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vos-csum-'));
  dirs.push(d);
  return d;
}
async function open(dir: string): Promise<VosTarget> {
  const t = await openVosTarget(dir);
  opened.push(t);
  return t;
}
async function close(t: VosTarget): Promise<void> {
  opened.splice(opened.indexOf(t), 1);
  await t.close();
}
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** `len` bytes that are unique in any file: a marker then a counter pattern. */
function pattern(marker: string, len: number): Buffer {
  const out = Buffer.alloc(len);
  for (let i = 0; i < len; i += 4) out.writeUInt32LE((i * 2654435761) >>> 0, i);
  out.write(marker, 0);
  return out;
}

/** Bytes of a file `flipAfter` searches: the index is a sparse file as large as its map. */
const FLIP_SCAN_BYTES = 64 * 1024 * 1024;

/** Flip one byte at `delta` past where `marker` starts in `file`. */
function flipAfter(file: string, marker: string, delta: number): void {
  const fd0 = fs.openSync(file, 'r');
  const bytes = Buffer.alloc(Math.min(FLIP_SCAN_BYTES, fs.fstatSync(fd0).size));
  fs.readSync(fd0, bytes, 0, bytes.length, 0);
  fs.closeSync(fd0);
  const at = bytes.indexOf(Buffer.from(marker));
  expect(at).toBeGreaterThanOrEqual(0);
  expect(bytes.indexOf(Buffer.from(marker), at + 1)).toBe(-1);
  const fd = fs.openSync(file, 'r+');
  const one = Buffer.from([bytes[at + delta]! ^ 0x5a]);
  fs.writeSync(fd, one, 0, 1, at + delta);
  fs.closeSync(fd);
}

const arrayIod = (akey: string, idx: bigint, data: Buffer, csums = chunkCsums(data)): UpdateIod => ({
  akey: b(akey),
  kind: 'array',
  recordSize: 1,
  extents: [{ idx, nr: BigInt(data.length), data, csums }],
});
const rangeIods = (akey: string, idx: number, nr: number) => [
  { akey: b(akey), kind: 'array' as const, recordSize: 1, extents: [{ idx: BigInt(idx), nr: BigInt(nr) }] },
];
const fetchRange = (t: VosTarget, akey: string, idx: number, nr: number): Buffer =>
  Buffer.from((t.fetch(CONT, OID, EPOCH_MAX, b('d'), rangeIods(akey, idx, nr))[0] as ArrayFetchResult).data);
const fetchRangeAsync = async (t: VosTarget, akey: string, idx: number, nr: number): Promise<Buffer> =>
  Buffer.from(
    ((await t.fetchAsync(CONT, OID, EPOCH_MAX, b('d'), rangeIods(akey, idx, nr)))[0] as ArrayFetchResult)
      .data,
  );

describe('checksummed records', () => {
  it('a flipped data-file byte fails the fetches that read its chunk (counted), not the others', async () => {
    const dir = tempDir();
    const t = await open(dir);
    const len = 3 * CSUM_CHUNK_BYTES + 1000; // 4 chunks, the last short
    const data = pattern('EXTENT-MARKER', len);
    await t.apply(5n, [
      { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 0n, data)] },
    ]);
    // Whole, aligned and unaligned reads verify and return the right bytes, sync and async.
    expect(fetchRange(t, 'a', 0, len).equals(data)).toBe(true);
    expect((await fetchRangeAsync(t, 'a', 100, 70_000)).equals(data.subarray(100, 70_100))).toBe(true);
    expect(
      fetchRange(t, 'a', CSUM_CHUNK_BYTES, CSUM_CHUNK_BYTES).equals(
        data.subarray(CSUM_CHUNK_BYTES, 2 * CSUM_CHUNK_BYTES),
      ),
    ).toBe(true);
    expect(t.counters().csumErrors).toBe(0);

    // Corrupt a byte in chunk 1 (record bytes 32 KiB + 10).
    flipAfter(path.join(dir, 'data.bin'), 'EXTENT-MARKER', CSUM_CHUNK_BYTES + 10);
    expect(() => fetchRange(t, 'a', 0, len)).toThrow(/DER_CSUM.*akey "a" under dkey "d".*chunk 1/);
    expect(t.counters().csumErrors).toBe(1);
    // A read of one byte of the bad chunk reads (and checks) the whole chunk.
    await expect(fetchRangeAsync(t, 'a', CSUM_CHUNK_BYTES + 5000, 1)).rejects.toThrow(/DER_CSUM/);
    expect(t.counters().csumErrors).toBe(2);
    // Chunks 0, 2 and 3 still read.
    expect(fetchRange(t, 'a', 10, 100).equals(data.subarray(10, 110))).toBe(true);
    expect(
      (await fetchRangeAsync(t, 'a', 2 * CSUM_CHUNK_BYTES + 7, len - 2 * CSUM_CHUNK_BYTES - 7)).equals(
        data.subarray(2 * CSUM_CHUNK_BYTES + 7),
      ),
    ).toBe(true);
    expect(t.counters().csumErrors).toBe(2);

    // The checksums are on disk with the record: still found after a restart.
    await close(t);
    const again = await open(dir);
    expect(again.counters().csumErrors).toBe(0);
    await expect(fetchRangeAsync(again, 'a', 0, len)).rejects.toThrow(/DER_CSUM/);
    expect(again.counters().csumErrors).toBe(1);
  });

  it('single values: in the data file and inline in the index', async () => {
    const dir = tempDir();
    const t = await open(dir);
    const big = pattern('BIG-SINGLE-MARKER', 40_000);
    const small = pattern('SMALL-INLINE-MARKER', 300);
    const iods: UpdateIod[] = [
      { akey: b('big'), kind: 'single', value: big, csums: chunkCsums(big) },
      { akey: b('small'), kind: 'single', value: small, csums: chunkCsums(small) },
    ];
    await t.apply(3n, [{ op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods }]);
    const single = (tt: VosTarget, akey: string) =>
      tt
        .fetchAsync(CONT, OID, EPOCH_MAX, b('d'), [{ akey: b(akey), kind: 'single' }])
        .then((r) => Buffer.from(r[0] as Uint8Array));
    expect((await single(t, 'big')).equals(big)).toBe(true);
    expect((await single(t, 'small')).equals(small)).toBe(true);
    await close(t);
    flipAfter(path.join(dir, 'data.bin'), 'BIG-SINGLE-MARKER', 33_000);
    flipAfter(path.join(dir, 'data.mdb'), 'SMALL-INLINE-MARKER', 200);
    const t2 = await open(dir);
    await expect(single(t2, 'big')).rejects.toThrow(/DER_CSUM.*akey "big".*single value at epoch 3.*chunk 1/);
    await expect(single(t2, 'small')).rejects.toThrow(/DER_CSUM.*akey "small".*chunk 0/);
    expect(t2.counters().csumErrors).toBe(2);
  });

  it('an update whose checksums do not match its data fails with DER_CSUM and writes nothing', async () => {
    const t = await open(tempDir());
    const data = pattern('X', 50_000);
    const bad = chunkCsums(data);
    bad[1]! ^= 1;
    const op = (iods: UpdateIod[]) => [{ op: 'update' as const, cont: CONT, oid: OID, dkey: b('d'), iods }];
    // The second iod is the bad one: the first is not written either.
    await expect(
      t.apply(
        4n,
        op([
          { akey: b('ok'), kind: 'single', value: b('v'), csums: chunkCsums(b('v')) },
          arrayIod('a', 0n, data, bad),
        ]),
      ),
    ).rejects.toThrow(/DER_CSUM.*akey "a" under dkey "d", extent idx 0 nr 50000: checksum of chunk 1/);
    await expect(
      t.apply(4n, op([{ akey: b('s'), kind: 'single', value: b('value'), csums: Uint32Array.of(1234) }])),
    ).rejects.toThrow(/DER_CSUM/);
    await expect(
      t.prepareDtx('dtx-1', 4n, op([arrayIod('a', 0n, data, bad)]), { rank: 0, target: 0 }),
    ).rejects.toThrow(/DER_CSUM/);
    // One checksum per 32 KiB chunk, no more, no fewer.
    await expect(t.apply(4n, op([arrayIod('a', 0n, data, bad.subarray(0, 1))]))).rejects.toThrow(
      /DER_INVAL.*1 checksums for 50000 bytes/,
    );
    expect(t.usage().usedBytes).toBe(0);
    expect(t.containerBytes(CONT)).toBe(0);
    expect(t.fetch(CONT, OID, EPOCH_MAX, b('d'), [{ akey: b('ok'), kind: 'single' }])[0]).toBeUndefined();
    expect(t.listDkeys(CONT, OID, EPOCH_MAX, undefined, 10)).toEqual([]);
  });

  it('records written through a prepared transaction keep their checksums', async () => {
    const dir = tempDir();
    const t = await open(dir);
    const data = pattern('DTX-MARKER', 2 * CSUM_CHUNK_BYTES);
    await t.prepareDtx(
      'dtx-2',
      6n,
      [{ op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 0n, data)] }],
      { rank: 0, target: 0 },
    );
    await t.commitDtx('dtx-2', true);
    expect(fetchRange(t, 'a', 0, data.length).equals(data)).toBe(true);
    flipAfter(path.join(dir, 'data.bin'), 'DTX-MARKER', 3);
    expect(() => fetchRange(t, 'a', 0, 100)).toThrow(/DER_CSUM/);
    expect(
      fetchRange(t, 'a', CSUM_CHUNK_BYTES, 100).equals(
        data.subarray(CSUM_CHUNK_BYTES, CSUM_CHUNK_BYTES + 100),
      ),
    ).toBe(true);
  });

  it('reads after overwrites and aggregation still verify', async () => {
    const t = await open(tempDir());
    const base = pattern('BASE', 4 * CSUM_CHUNK_BYTES);
    const patch = pattern('PATCH', 20_000);
    await t.apply(1n, [
      { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 0n, base)] },
    ]);
    // Unaligned overwrite of the middle: the base record is then read in pieces around it.
    await t.apply(2n, [
      { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 50_000n, patch)] },
    ]);
    await t.apply(3n, [
      { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 0n, base.subarray(0, 10))] },
    ]);
    const want = Buffer.from(base);
    patch.copy(want, 50_000);
    const s = await t.aggregate(CONT, 10n, []);
    expect(s.recordsRemoved).toBe(0); // every record still wins some index
    expect(fetchRange(t, 'a', 0, want.length).equals(want)).toBe(true);
    expect((await fetchRangeAsync(t, 'a', 49_990, 20_020)).equals(want.subarray(49_990, 70_010))).toBe(true);
    // A full overwrite makes the older records garbage; the survivor still verifies.
    const full = pattern('FULL', 4 * CSUM_CHUNK_BYTES);
    await t.apply(11n, [
      { op: 'update', cont: CONT, oid: OID, dkey: b('d'), iods: [arrayIod('a', 0n, full)] },
    ]);
    expect((await t.aggregate(CONT, 20n, [])).recordsRemoved).toBe(3);
    expect(fetchRange(t, 'a', 1, full.length - 2).equals(full.subarray(1, full.length - 1))).toBe(true);
    expect(t.counters().csumErrors).toBe(0);
  });
});
