import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open as lmdbOpen } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { openVosTarget } from './index.js';
import type { VosOp, VosTarget } from './types.js';

const CONT = '11111111-2222-3333-4444-555555555555';
const OID = { hi: 1n, lo: 1n };
const COORD = { rank: 0, target: 1 };
const b = (s: string) => Buffer.from(s);
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
const tmp = () => tempDir('vos-dtx-');
async function open(dir: string) {
  const t = await openVosTarget(dir);
  opened.push(t);
  return t;
}
const upd = (dkey: string, akey: string, value: Buffer | string): VosOp => ({
  op: 'update',
  cont: CONT,
  oid: OID,
  dkey: b(dkey),
  iods: [{ akey: b(akey), kind: 'single', value: typeof value === 'string' ? b(value) : value }],
});
const get = (t: VosTarget, e: bigint, dkey: string, akey: string) => {
  const v = t.fetch(CONT, OID, e, b(dkey), [{ akey: b(akey), kind: 'single' }])[0] as Uint8Array | undefined;
  return v === undefined ? undefined : Buffer.from(v).toString();
};

describe('dtx', () => {
  it('prepare is invisible, survives a restart, commits as coordinator', async () => {
    const dir = tmp();
    const t = await openVosTarget(dir);
    await t.prepareDtx('tx1', 5n, [upd('d', 'a', 'one'), upd('d', 'big', Buffer.alloc(8000, 1))], COORD);
    expect(get(t, 9n, 'd', 'a')).toBeUndefined();
    expect(t.pendingDtx()).toEqual([{ dtxId: 'tx1', coordinator: COORD }]);
    await t.close();
    const u = await open(dir);
    expect(u.recovery).toEqual({ bytesReclaimed: 0, pendingDtx: 1, punchesReplayed: 0 });
    expect(u.pendingDtx()).toEqual([{ dtxId: 'tx1', coordinator: COORD }]);
    // Still locked after the restart.
    await expect(u.prepareDtx('tx2', 6n, [upd('d', 'a', 'two')], COORD)).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await u.commitDtx('tx1', true);
    expect(get(u, 5n, 'd', 'a')).toBe('one');
    expect(get(u, 4n, 'd', 'a')).toBeUndefined();
    expect(
      (u.fetch(CONT, OID, 5n, b('d'), [{ akey: b('big'), kind: 'single' }])[0] as Uint8Array).length,
    ).toBe(8000);
    expect(u.pendingDtx()).toEqual([]);
    expect(u.dtxCommitted('tx1')).toBe(true);
    await u.forgetDtx('tx1');
    expect(u.dtxCommitted('tx1')).toBe(false);
    await u.prepareDtx('tx2', 6n, [upd('d', 'a', 'two')], COORD);
    await u.commitDtx('tx2');
    expect(u.dtxCommitted('tx2')).toBe(false);
    expect(get(u, 6n, 'd', 'a')).toBe('two');
  });

  it('abort frees space and unlocks', async () => {
    const t = await open(tmp());
    await t.prepareDtx('tx1', 5n, [upd('d', 'big', Buffer.alloc(8000, 1))], COORD);
    expect(t.usage().usedBytes).toBe(8000);
    await t.abortDtx('tx1');
    expect(t.usage().usedBytes).toBe(0);
    expect(t.pendingDtx()).toEqual([]);
    await expect(t.commitDtx('tx1')).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    await t.apply(6n, [upd('d', 'big', 'small')], { readEpoch: 6n, readSet: [] });
    expect(get(t, 6n, 'd', 'big')).toBe('small');
  });

  it('locks conflict hierarchically; a plain apply proceeds', async () => {
    const t = await open(tmp());
    await t.prepareDtx('tx1', 5n, [upd('d', 'a', 'x')], COORD);
    const check = { readEpoch: 10n, readSet: [] };
    await expect(t.apply(6n, [{ op: 'punch_obj', cont: CONT, oid: OID }], check)).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await expect(
      t.apply(6n, [upd('e', 'z', 'x')], {
        readEpoch: 10n,
        readSet: [{ cont: CONT, oid: OID, dkey: b('d') }],
      }),
    ).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await t.apply(6n, [upd('d', 'b', 'x')], check);
    await t.apply(7n, [upd('d', 'a', 'plain')]);
    expect(get(t, 7n, 'd', 'a')).toBe('plain');
  });

  it('TX_RESTART when a written or read key changed after the read epoch', async () => {
    const t = await open(tmp());
    await t.apply(10n, [upd('d', 'a', 'x')]);
    await expect(t.apply(12n, [upd('d', 'a', 'y')], { readEpoch: 9n, readSet: [] })).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await expect(
      t.apply(12n, [upd('e', 'b', 'y')], {
        readEpoch: 9n,
        readSet: [{ cont: CONT, oid: OID, dkey: b('d'), akey: b('a') }],
      }),
    ).rejects.toMatchObject({ code: 'DER_TX_RESTART' });
    expect(get(t, 20n, 'e', 'b')).toBeUndefined();
    await t.apply(12n, [upd('d', 'a', 'y')], {
      readEpoch: 10n,
      readSet: [{ cont: CONT, oid: OID, dkey: b('d') }],
    });
    await t.apply(13n, [{ op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [b('d')] }]);
    await expect(t.apply(14n, [upd('d', 'a', 'z')], { readEpoch: 12n, readSet: [] })).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await expect(
      t.apply(14n, [{ op: 'punch_obj', cont: CONT, oid: OID }], { readEpoch: 12n, readSet: [] }),
    ).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await t.apply(14n, [upd('d', 'a', 'z')], { readEpoch: 13n, readSet: [] });
    expect(get(t, 14n, 'd', 'a')).toBe('z');
  });
});

describe('recovery', () => {
  it('reclaims bytes past the high-water mark', async () => {
    const dir = tmp();
    const t = await openVosTarget(dir);
    await t.apply(1n, [upd('d', 'a', Buffer.alloc(5000, 1))]);
    await t.close();
    fs.appendFileSync(path.join(dir, 'data.bin'), Buffer.alloc(3000, 0xee));
    const u = await open(dir);
    expect(u.recovery.bytesReclaimed).toBe(3000);
    expect(fs.statSync(path.join(dir, 'data.bin')).size).toBe(5000);
    expect((u.fetch(CONT, OID, 1n, b('d'), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array)[4999]).toBe(
      1,
    );
  });

  /** A target holding 'a' (5000 bytes at 0), with 7000 bytes at 5000 given back by a failed apply. */
  async function withSpaceGivenBack(dir: string) {
    const t = await openVosTarget(dir);
    await t.apply(1n, [upd('d', 'a', Buffer.alloc(5000, 1))]);
    await expect(
      t.apply(2n, [
        upd('d', 'b', Buffer.alloc(7000, 2)),
        { op: 'punch_dkeys', cont: CONT, oid: OID, dkeys: [b('nope')], mustExist: true },
      ]),
    ).rejects.toMatchObject({ code: 'DER_NONEXIST' });
    expect(t.usage()).toEqual({ fileBytes: 12000, usedBytes: 5000, freeBytes: 7000 });
    return t;
  }

  /** Empty the persisted free list of the closed target at `dir`: space allocated, never referenced. */
  async function forgetFreeList(dir: string) {
    const env = lmdbOpen({ path: dir, pageSize: 8192, maxDbs: 12 });
    const free = env.openDB<Buffer, Buffer>('free', { keyEncoding: 'binary', encoding: 'binary' });
    await env.transaction(() => {
      for (const k of [...free.getKeys({})]) free.remove(k);
    });
    await env.close();
  }

  it('reclaims space below the last extent that is neither referenced nor free', async () => {
    const dir = tmp();
    const t = await withSpaceGivenBack(dir);
    // Too long for the 7000 free bytes: placed past them, at 12000.
    await t.apply(3n, [upd('d', 'c', Buffer.alloc(8000, 3))]);
    await t.close();
    // The crash: a batch allocated [5000, 12000) and wrote its bytes, but the records
    // referencing them never committed (nor did the free list's entry).
    await forgetFreeList(dir);
    const u = await open(dir);
    expect(u.recovery.bytesReclaimed).toBe(7000);
    expect(u.usage()).toEqual({ fileBytes: 20000, usedBytes: 13000, freeBytes: 7000 });
    await u.apply(4n, [upd('d', 'e', Buffer.alloc(7000, 4))]);
    expect(u.usage().fileBytes).toBe(20000);
    const one = (akey: string) =>
      u.fetch(CONT, OID, 4n, b('d'), [{ akey: b(akey), kind: 'single' }])[0] as Uint8Array;
    expect(one('a')[0]).toBe(1);
    expect(one('c')[7999]).toBe(3);
    expect(one('e')[6999]).toBe(4);
  });

  it('cuts the data file after the last extent referenced or free', async () => {
    const dir = tmp();
    const t = await withSpaceGivenBack(dir);
    await t.close();
    await forgetFreeList(dir);
    const u = await open(dir);
    expect(u.recovery.bytesReclaimed).toBe(7000);
    expect(u.usage()).toEqual({ fileBytes: 5000, usedBytes: 5000, freeBytes: 0 });
    expect(fs.statSync(path.join(dir, 'data.bin')).size).toBe(5000);
    await u.apply(3n, [upd('d', 'c', Buffer.alloc(7000, 3))]);
    expect(u.usage().fileBytes).toBe(12000);
    expect((u.fetch(CONT, OID, 3n, b('d'), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array)[0]).toBe(1);
    expect((u.fetch(CONT, OID, 3n, b('d'), [{ akey: b('c'), kind: 'single' }])[0] as Uint8Array)[6999]).toBe(
      3,
    );
  });

  it('a clean close leaves nothing to reclaim', async () => {
    const dir = tmp();
    const t = await withSpaceGivenBack(dir);
    await t.close();
    const u = await open(dir);
    expect(u.recovery).toEqual({ bytesReclaimed: 0, pendingDtx: 0, punchesReplayed: 0 });
    expect(u.usage()).toEqual({ fileBytes: 12000, usedBytes: 5000, freeBytes: 7000 });
  });
});

describe('container ids', () => {
  it('stay unique across a restart when a container first appears in a multi-op prepare', async () => {
    const dir = tmp();
    const oid = { hi: 1n, lo: 1n };
    const upd2 = (cont: string, dkey: string, v: string) => ({
      op: 'update' as const,
      cont,
      oid,
      dkey: b(dkey),
      iods: [{ akey: b('a'), kind: 'single' as const, value: b(v) }],
    });
    let t = await openVosTarget(dir);
    await t.prepareDtx('d1', 5n, [upd2('A', 'x', 'from A'), upd2('A', 'y', 'from A')], COORD);
    await t.commitDtx('d1', true);
    await t.close();
    t = await openVosTarget(dir);
    await t.apply(6n, [upd2('B', 'x', 'from B')]);
    const v = t.fetch('A', oid, 9n, b('x'), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array;
    expect(Buffer.from(v).toString()).toBe('from A');
    await t.close();
  });
});
