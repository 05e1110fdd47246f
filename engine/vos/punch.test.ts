/**
 * Object punches of objects with no record on the target (an unlinked empty file's object): the
 * punch record is written all the same, and every later write at an older epoch, transaction
 * check, aggregation and reopen meets it. Also: the punch journal an earlier build left behind is
 * replayed on open (punch-journal.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import { openVosTarget } from './index.js';
import { IndexStore } from './index-store.js';
import type { VosOp, VosOptions, VosTarget } from './types.js';

const CONT = '11111111-2222-3333-4444-555555555555';
const OID = { hi: 5n, lo: 7n };
/** Another object of the container: writing it registers the container on the target. */
const OTHER = { hi: 5n, lo: 8n };
const COORD = { rank: 0, target: 0 };
const b = (s: string) => Buffer.from(s);
const opened: VosTarget[] = [];
const dirs: string[] = [];
const tempDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'vos-punch-'));
  dirs.push(d);
  return d;
};

async function fresh(dir = tempDir(), options?: VosOptions) {
  const t = await openVosTarget(dir, options);
  opened.push(t);
  // The container is known here.
  await t.apply(1n, [upd(OTHER, 'x', 'other')]);
  return t;
}
afterEach(async () => {
  for (const t of opened.splice(0)) await t.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const upd = (oid: typeof OID, dkey: string, value: string): VosOp => ({
  op: 'update',
  cont: CONT,
  oid,
  dkey: b(dkey),
  iods: [{ akey: b('a'), kind: 'single', value: b(value) }],
});
const punchObj: VosOp = { op: 'punch_obj', cont: CONT, oid: OID };
const get = (t: VosTarget, e: bigint, dkey = 'd') => {
  const v = t.fetch(CONT, OID, e, b(dkey), [{ akey: b('a'), kind: 'single' }])[0] as Uint8Array | undefined;
  return v === undefined ? undefined : Buffer.from(v).toString();
};

describe('punch of an object with no record on the target', () => {
  it('reads stay empty at every epoch, and the object is listed', async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj]);
    for (const e of [5n, 20n, 25n, EPOCH_MAX]) expect(get(t, e)).toBeUndefined();
    expect(t.listDkeys(CONT, OID, EPOCH_MAX, undefined, 10)).toEqual([]);
    expect(t.listObjects(CONT)).toEqual([OID, OTHER]);
  });

  it('hides a later write at an older epoch, as a written punch does', async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj]);
    // From another client, with an epoch given out before the punch's: it reaches the target after.
    await t.apply(10n, [upd(OID, 'd', 'late')]);
    expect(get(t, 9n)).toBeUndefined();
    expect(get(t, 10n)).toBe('late');
    expect(get(t, 19n)).toBe('late');
    expect(get(t, 20n)).toBeUndefined();
    expect(get(t, EPOCH_MAX)).toBeUndefined();
    await t.apply(30n, [upd(OID, 'd', 'new')]);
    expect(get(t, EPOCH_MAX)).toBe('new');
  });

  it('a punch of an object with data hides it from its epoch on', async () => {
    const t = await fresh();
    await t.apply(10n, [upd(OID, 'd', 'v10')]);
    await t.apply(20n, [punchObj]);
    expect(get(t, 15n)).toBe('v10');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('a write and a punch of one batch both land', async () => {
    const t = await fresh();
    await Promise.all([t.apply(10n, [upd(OID, 'd', 'v10')]), t.apply(20n, [punchObj])]);
    expect(get(t, 15n)).toBe('v10');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('a transaction that read the object before the punch still conflicts with it', async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj]);
    const check = { readEpoch: 15n, readSet: [{ cont: CONT, oid: OID, dkey: b('d') }] };
    await expect(t.apply(30n, [upd(OTHER, 'y', 'tx')], check)).rejects.toMatchObject({
      code: 'DER_TX_RESTART',
    });
    await t.apply(31n, [upd(OTHER, 'y', 'tx')], { ...check, readEpoch: 20n });
  });

  it("a transaction's read-only check on the target conflicts with the punch", async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj]);
    const read = [{ cont: CONT, oid: OID, dkey: b('d') }];
    expect(() => t.checkReads({ readEpoch: 15n, readSet: read })).toThrow(
      expect.objectContaining({ code: 'DER_TX_RESTART' }),
    );
    t.checkReads({ readEpoch: 20n, readSet: read });
  });

  it('a punch with a transaction check, or in a prepared transaction, lands', async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj], { readEpoch: 19n, readSet: [] });
    await t.prepareDtx('p1', 25n, [punchObj], COORD);
    await t.commitDtx('p1');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('a prepared transaction writing the object commits under the later punch', async () => {
    const t = await fresh();
    await t.prepareDtx('w1', 10n, [upd(OID, 'd', 'in tx')], COORD);
    await t.apply(20n, [punchObj]);
    await t.commitDtx('w1');
    expect(get(t, 15n)).toBe('in tx');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('after a reopen a late older write is still hidden', async () => {
    const dir = tempDir();
    const t = await fresh(dir);
    await t.apply(20n, [punchObj]);
    await t.close();
    const u = await openVosTarget(dir);
    opened.push(u);
    await u.apply(10n, [upd(OID, 'd', 'late')]);
    expect(get(u, 15n)).toBe('late');
    expect(get(u, EPOCH_MAX)).toBeUndefined();
  });

  it('many punches of one batch all land', async () => {
    const t = await fresh();
    const oids = Array.from({ length: 16 }, (_, i) => ({ hi: 6n, lo: BigInt(i) }));
    await Promise.all(oids.map((oid) => t.apply(20n, [{ ...punchObj, oid }])));
    // OTHER, and the 16 punched objects (their punch records are on file).
    expect(t.listObjects(CONT)).toHaveLength(17);
    await Promise.all(oids.map((oid) => t.apply(10n, [upd(oid, 'd', 'late')])));
    for (const oid of oids)
      expect(t.fetch(CONT, oid, EPOCH_MAX, b('d'), [{ akey: b('a'), kind: 'single' }])[0]).toBeUndefined();
  });

  it('with durability fsync too', async () => {
    const t = await fresh(undefined, { durability: 'fsync' });
    await t.apply(20n, [punchObj]);
    await t.apply(10n, [upd(OID, 'd', 'late')]);
    expect(get(t, 15n)).toBe('late');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('aggregation forgets objects whose punches it removed (the in-memory set does not grow forever)', async () => {
    const t = await fresh();
    const punched = () => t.counters().punchedObjects;
    await t.apply(10n, [upd(OID, 'd', 'old')]);
    await t.apply(20n, [punchObj]);
    // Twenty never-written objects (an unlinked empty file's object).
    for (let i = 0; i < 20; i++)
      await t.apply(30n + BigInt(i), [{ op: 'punch_obj', cont: CONT, oid: { hi: 6n, lo: BigInt(i) } }]);
    expect(punched()).toBe(21);
    // A snapshot at 15 still reads OID's old value, so OID's punch hides a record and stays.
    await t.aggregate(CONT, 70n, [15n]);
    expect(punched()).toBe(1);
    expect(get(t, 15n)).toBe('old');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
    // Without the snapshot the old value goes, and with it the last thing OID's punch hid.
    await t.aggregate(CONT, 70n, []);
    expect(punched()).toBe(0);
    expect(get(t, 15n)).toBeUndefined();
    expect(get(t, EPOCH_MAX)).toBeUndefined();
    // Punched again, the object is noted again.
    await t.apply(80n, [upd(OID, 'd', 'new')]);
    await t.apply(90n, [punchObj]);
    expect(punched()).toBe(1);
    expect(get(t, 85n)).toBe('new');
    expect(get(t, EPOCH_MAX)).toBeUndefined();
  });

  it('destroying the container drops its punches', async () => {
    const t = await fresh();
    await t.apply(20n, [punchObj]);
    await t.destroyContainer(CONT);
    expect(t.listObjects(CONT)).toEqual([]);
    expect(t.counters().punchedObjects).toBe(0);
  });
});

/** One record of an earlier build's punch journal (see punch-journal.ts for the layout). */
function journalRecord(generation: number, cid: number, oid: typeof OID, epoch: bigint): Buffer {
  const r = Buffer.alloc(32);
  r.writeUInt32BE(generation, 0);
  r.writeUInt32BE(cid, 4);
  r.writeBigUInt64BE(oid.hi, 8);
  r.writeBigUInt64BE(oid.lo, 16);
  r.writeBigUInt64BE(epoch, 24);
  return r;
}

describe('a punch journal left by an earlier build', () => {
  it('is replayed on open: its live punches hide late older writes, and the file goes', async () => {
    const dir = tempDir();
    const t = await fresh(dir);
    await t.close();
    const store = new IndexStore(dir);
    const cid = store.contId(CONT)!;
    await store.env.close();
    expect(cid).toBeTypeOf('number');
    const journal = path.join(dir, 'punch.journal');
    const gone = { hi: 5n, lo: 20n };
    const stale = { hi: 5n, lo: 21n };
    // Two live records of generation 3, then a record of the generation before (already carried
    // by a commit then) and a record cut short (never acknowledged).
    fs.writeFileSync(
      journal,
      Buffer.concat([
        journalRecord(3, cid, OID, 20n),
        journalRecord(3, cid, gone, 30n),
        journalRecord(2, cid, stale, 40n),
        journalRecord(3, cid, stale, 50n).subarray(0, 20),
      ]),
    );
    const u = await openVosTarget(dir);
    opened.push(u);
    expect(u.recovery.punchesReplayed).toBe(2);
    expect(fs.existsSync(journal)).toBe(false);
    for (const [oid, e] of [
      [OID, 10n],
      [gone, 25n],
      [stale, 35n],
    ] as const)
      await u.apply(e, [upd(oid, 'd', 'late')]);
    const at = (oid: typeof OID, e: bigint) =>
      u.fetch(CONT, oid, e, b('d'), [{ akey: b('a'), kind: 'single' }])[0];
    expect(at(OID, EPOCH_MAX)).toBeUndefined();
    expect(at(gone, EPOCH_MAX)).toBeUndefined();
    expect(Buffer.from(at(stale, EPOCH_MAX) as Uint8Array).toString()).toBe('late');
  });
});

/** Kill rounds of the kill test. */
const PUNCH_KILL_ROUNDS = 4;
/** Acknowledged punches a child reaches before the parent's kill timer starts. */
const PUNCH_ACKS_BEFORE_KILL = 100;
const DIST_VOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../dist/engine/vos/index.js');
/** Each punch's epoch, and an older one a late write uses. */
const punchEpoch = (i: number) => 1000n + 10n * BigInt(i);
const victim = (i: number) => ({ hi: 9n, lo: BigInt(i) });

/** The child: punch objects with no record one by one, logging each acknowledgement with write(2). */
const CHILD = `
import { openSync, writeSync } from 'node:fs';
const { openVosTarget } = await import(process.env.DIST_VOS);
const t = await openVosTarget(process.env.DIR);
const cont = ${JSON.stringify(CONT)};
await t.apply(1n, [{ op: 'update', cont, oid: { hi: 5n, lo: 8n }, dkey: Buffer.from('x'),
  iods: [{ akey: Buffer.from('a'), kind: 'single', value: Buffer.from('other') }] }]);
const log = openSync(process.env.LOG, 'a');
for (let i = 0; ; i++) {
  await t.apply(1000n + 10n * BigInt(i), [{ op: 'punch_obj', cont, oid: { hi: 9n, lo: BigInt(i) } }]);
  writeSync(log, i + '\\n');
}
`;

describe('punches of objects with no record survive kill -9', () => {
  it('every acknowledged punch is on file after a SIGKILL and a reopen', async () => {
    for (let round = 0; round < PUNCH_KILL_ROUNDS; round++) {
      const dir = tempDir();
      const log = path.join(dir, 'acks.log');
      fs.writeFileSync(log, '');
      const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD], {
        env: { ...process.env, DIST_VOS, DIR: path.join(dir, 't'), LOG: log },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const exited = new Promise((r) => child.on('exit', r));
      await vi.waitFor(
        () => {
          if (child.exitCode !== null) throw new Error(`child exited: ${stderr}`);
          expect(fs.readFileSync(log, 'utf8').split('\n').length).toBeGreaterThan(PUNCH_ACKS_BEFORE_KILL);
        },
        { timeout: 30_000, interval: 20 },
      );
      await new Promise((r) => setTimeout(r, Math.random() * 50));
      child.kill('SIGKILL');
      await exited;
      const acked = fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
      const t = await openVosTarget(path.join(dir, 't'));
      opened.push(t);
      for (const i of acked) {
        // A write older than the punch, arriving late: hidden only if the punch is on file.
        await t.apply(punchEpoch(i) - 5n, [upd(victim(i), 'd', 'late')]);
        const v = t.fetch(CONT, victim(i), EPOCH_MAX, b('d'), [{ akey: b('a'), kind: 'single' }])[0];
        expect(v, `punch ${i} of ${acked.length} acknowledged ones is lost`).toBeUndefined();
      }
    }
  }, 120_000);
});
