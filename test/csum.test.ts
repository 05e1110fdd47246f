/**
 * Checksums end to end, engines as daos_engine processes: a container with checksum 'crc32c',
 * replicated objects, bytes flipped in one engine's data files while the system is stopped. Every
 * read still returns the right data (a corrupt replica's DER_CSUM sends the read to another), the
 * engine counts and logs the corruption, a checksum-off container reads as before, and an update
 * whose checksums do not match its data is refused with nothing stored on any replica.
 */
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EPOCH_MAX } from '../core/common/hlc.js';
import { CSUM_CHUNK_BYTES, chunkCsums } from '../core/csum/index.js';
import type { ObjTarget } from '../core/daos/link.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import { objectLayout } from '../core/placement/layout.js';
import { LazyConnection } from '../core/wire/lazy.js';
import type { ArrayFetchResult } from '../core/wire/obj-types.js';
import { DATA_STRIPE_BYTES } from '../engine/bio/data-file.js';
import { type Container, type DaosObject, DaosSystem } from '../index.js';

const dirs: string[] = [];
const systems: DaosSystem[] = [];
afterEach(async () => {
  for (const s of systems.splice(0)) await s.stop().catch(() => undefined);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const EXTENT_BYTES = 96 * 1024; // three 32 KiB chunks, in the data file
const SINGLE_BYTES = 8 * 1024; // one chunk, in the data file (inline is under 4 KiB)
const DKEYS = 6;

/** Bytes unique to (tag, i): a marker then a pattern seeded by it. */
function payload(tag: string, i: number, len: number): Buffer {
  const out = Buffer.alloc(len);
  let x = (i + 1) * 2654435761 + tag.length;
  for (let p = 0; p + 4 <= len; p += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.writeUInt32LE(x, p);
  }
  out.write(`<${tag}-${i}>`, 0);
  return out;
}

async function writeAll(cont: Container, tag: string, oclass: string): Promise<DaosObject> {
  const obj = cont.object(await cont.newOid({ oclass }));
  for (let i = 0; i < DKEYS; i++) {
    await obj.update(`d${i}`, [
      {
        akey: 'x',
        kind: 'array',
        recordSize: 1,
        extents: [{ idx: 0, nr: EXTENT_BYTES, data: payload(`${tag}X`, i, EXTENT_BYTES) }],
      },
      { akey: 's', kind: 'single', value: payload(`${tag}S`, i, SINGLE_BYTES) },
    ]);
  }
  return obj;
}

/** Read everything back, each read several times so that every replica serves some. */
async function readAll(obj: DaosObject, tag: string): Promise<void> {
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < DKEYS; i++) {
      const [x, s] = await obj.fetch(`d${i}`, [
        { akey: 'x', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: EXTENT_BYTES }] },
        { akey: 's', kind: 'single' },
      ]);
      expect(Buffer.from((x as ArrayFetchResult).data).equals(payload(`${tag}X`, i, EXTENT_BYTES))).toBe(
        true,
      );
      expect(Buffer.from(s as Uint8Array).equals(payload(`${tag}S`, i, SINGLE_BYTES))).toBe(true);
      // A read of a few bytes inside the middle chunk.
      const [part] = await obj.fetch(`d${i}`, [
        { akey: 'x', kind: 'array', recordSize: 1, extents: [{ idx: CSUM_CHUNK_BYTES + 100, nr: 50 }] },
      ]);
      const want = payload(`${tag}X`, i, EXTENT_BYTES).subarray(
        CSUM_CHUNK_BYTES + 100,
        CSUM_CHUNK_BYTES + 150,
      );
      expect(Buffer.from((part as ArrayFetchResult).data).equals(want)).toBe(true);
    }
  }
}

/**
 * A target's data as its logical bytes, put together from its two member files as the striped
 * layout defines it (engine/bio/README.md), and where logical byte `o` lies: [member, offset].
 */
function targetData(targetDir: string): {
  bytes: Buffer;
  place: (o: number) => [number, number];
  files: string[];
} {
  const files = [join(targetDir, 'data.bin'), join(targetDir, 'data.bin.1')];
  const members = files.map((f) => readFileSync(f));
  const S = DATA_STRIPE_BYTES;
  const place = (o: number): [number, number] => {
    const stripe = Math.floor(o / S);
    return [stripe % 2, Math.floor(stripe / 2) * S + (o % S)];
  };
  const pieces: Buffer[] = [];
  for (let stripe = 0; ; stripe++) {
    const [m, pos] = place(stripe * S);
    if (pos >= members[m]!.length) break;
    pieces.push(members[m]!.subarray(pos, pos + S));
  }
  return { bytes: Buffer.concat(pieces), place, files };
}

/** Flip a byte of every record (of `tag`) in rank `rank`'s data files; returns how many. */
function corruptRank(dir: string, rank: number, tag: string): number {
  let flipped = 0;
  const engineDir = join(dir, `engine-${rank}`);
  for (const t of readdirSync(engineDir).filter((n) => n.startsWith('target-'))) {
    const { bytes, place, files } = targetData(join(engineDir, t));
    const fds = files.map((f) => openSync(f, 'r+'));
    for (let i = 0; i < DKEYS; i++) {
      for (const [kind, delta] of [
        ['X', CSUM_CHUNK_BYTES + 500],
        ['S', 4000],
      ] as const) {
        let at = bytes.indexOf(Buffer.from(`<${tag}${kind}-${i}>`));
        while (at >= 0) {
          const [m, pos] = place(at + delta);
          writeSync(fds[m]!, Buffer.from([bytes[at + delta]! ^ 0xff]), 0, 1, pos);
          flipped++;
          at = bytes.indexOf(Buffer.from(`<${tag}${kind}-${i}>`), at + 1);
        }
      }
    }
    for (const fd of fds) closeSync(fd);
  }
  return flipped;
}

async function plainObjFetch(cont: Container, oid: DaosObject['oid']): Promise<Uint8Array | undefined> {
  const [v] = await cont.object(oid).fetch('t1', [{ akey: 'v', kind: 'single' }]);
  return v as Uint8Array | undefined;
}

describe('checksums over engine processes', () => {
  it('reads the right data from healthy replicas when one engine data files are corrupt, and counts it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-csum-'));
    dirs.push(dir);
    let sys = await DaosSystem.start({ dir, engines: 3, targetsPerEngine: 2, transport: 'tcp' });
    systems.push(sys);
    await sys.createPool({ label: 'p', size: '1G' });
    let pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'on', props: { checksum: 'crc32c' } });
    await pool.createContainer({ label: 'off' });
    let on = await pool.openContainer('on');
    let off = await pool.openContainer('off');
    const rp3 = await writeAll(on, 'ON3', 'RP_3GX');
    const rp2 = await writeAll(on, 'ON2', 'RP_2GX');
    // EC_2P1: rank 1 holds one shard of every group; a corrupt data cell is rebuilt from parity.
    const ec = await writeAll(on, 'ONE', 'EC_2P1GX');
    const plain = await writeAll(off, 'OFF', 'RP_3GX');
    await readAll(on.object(rp3.oid), 'ON3');
    expect((await sys.engineCounters(0)).csumErrors).toBe(0);
    await sys.stop();
    systems.splice(systems.indexOf(sys), 1);

    // Rank 1 holds a replica of every RP_3GX group (3 engines) and of some RP_2GX groups.
    const bad = 1;
    expect(corruptRank(dir, bad, 'ON3')).toBe(2 * DKEYS);
    const flipped2 = corruptRank(dir, bad, 'ON2');
    expect(flipped2).toBeGreaterThan(0);
    expect(corruptRank(dir, bad, 'ONE')).toBeGreaterThan(DKEYS);

    sys = await DaosSystem.start({ dir, transport: 'tcp' });
    systems.push(sys);
    pool = await (await sys.connect()).connectPool('p');
    on = await pool.openContainer('on');
    off = await pool.openContainer('off');
    await readAll(on.object(rp3.oid), 'ON3');
    await readAll(on.object(rp2.oid), 'ON2');
    await readAll(on.object(ec.oid), 'ONE');
    await readAll(off.object(plain.oid), 'OFF');

    const counters = await sys.engineCounters(bad);
    expect(counters.csumErrors).toBeGreaterThan(0);
    expect(counters.targets.reduce((n, t) => n + t.csumErrors, 0)).toBe(counters.csumErrors);
    for (const r of [0, 2]) expect((await sys.engineCounters(r)).csumErrors).toBe(0);
    expect(sys.engineStderr(bad)).toMatch(
      /engine rank 1 target \d: checksum error in container \S+ object \S+: DER_CSUM\(-2021\): akey "[xs]" under dkey "d\d"/,
    );
    // The checksum-off container's records have no checksums: nothing about them was counted.
    const before = (await sys.engineCounters(bad)).csumErrors;
    await readAll(off.object(plain.oid), 'OFF');
    expect((await sys.engineCounters(bad)).csumErrors).toBe(before);
  });

  it('refuses an update whose checksums do not match its data, storing nothing on any replica', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'daos-csum-'));
    dirs.push(dir);
    const sys = await DaosSystem.start({ dir, engines: 3, targetsPerEngine: 1, transport: 'tcp' });
    systems.push(sys);
    await sys.createPool({ label: 'p', size: '256M' });
    const pool = await (await sys.connect()).connectPool('p');
    await pool.createContainer({ label: 'on', props: { checksum: 'crc32c' } });
    const cont = await pool.openContainer('on');
    const remotes = sys.engines.map((e) => new RemoteEngine(new LazyConnection(e.address!), e.rank));
    for (const oclass of ['S1', 'RP_3G1']) {
      const oid = await cont.newOid({ oclass });
      const shards = objectLayout(oid, pool.map).shards;
      const to = (i: number): ObjTarget => ({
        pool: pool.uuid,
        cont: cont.uuid,
        oid,
        target: shards[i]!,
        mapVersion: pool.map.version,
        token: cont.token,
      });
      const data = payload('BAD', 0, 70_000);
      const csums = chunkCsums(data);
      csums[2]! ^= 0x10;
      const leader = remotes[shards[0]!.rank]!;
      await expect(
        leader.update(to(0), Buffer.from('d'), [
          {
            akey: Buffer.from('ok'),
            kind: 'single',
            value: Buffer.from('v'),
            csums: chunkCsums(Buffer.from('v')),
          },
          {
            akey: Buffer.from('x'),
            kind: 'array',
            recordSize: 1,
            extents: [{ idx: 0n, nr: 70_000n, data, csums }],
          },
        ]),
      ).rejects.toThrow(/DER_CSUM\(-2021\).*akey "x" under dkey "d".*chunk 2/);
      await expect(
        leader.update(to(0), Buffer.from('d'), [
          { akey: Buffer.from('s'), kind: 'single', value: data.subarray(0, 10), csums: Uint32Array.of(7) },
        ]),
      ).rejects.toThrow(/DER_CSUM/);
      for (let i = 0; i < shards.length; i++) {
        const r = remotes[shards[i]!.rank]!;
        expect(await r.listDkeys(to(i), EPOCH_MAX, undefined, 10)).toEqual([]);
        const [v] = await r.fetch(to(i), EPOCH_MAX, Buffer.from('d'), [
          { akey: Buffer.from('ok'), kind: 'single' },
        ]);
        expect(v).toBeUndefined();
      }
      // The same update with the right checksums goes through, and reads back.
      await leader.update(to(0), Buffer.from('d'), [
        {
          akey: Buffer.from('x'),
          kind: 'array',
          recordSize: 1,
          extents: [{ idx: 0n, nr: 70_000n, data, csums: chunkCsums(data) }],
        },
      ]);
      const [got] = await cont
        .object(oid)
        .fetch('d', [{ akey: 'x', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: 70_000 }] }]);
      expect(Buffer.from((got as ArrayFetchResult).data).equals(data)).toBe(true);
    }
    // Transactions (their buffered updates carry checksums through OPC_TX_COMMIT and the DTX)
    // and arrays (extents cut per chunk) read back in a checksummed container.
    const tx = await cont.openTx();
    const txObj = cont.object(await cont.newOid({ oclass: 'RP_3G1' }));
    const big = payload('TX', 0, 100_000);
    await txObj.update('t1', [{ akey: 'v', kind: 'single', value: big.subarray(0, 9000) }], { tx });
    await txObj.update(
      't2',
      [{ akey: 'x', kind: 'array', recordSize: 1, extents: [{ idx: 0, nr: big.length, data: big }] }],
      { tx },
    );
    // Buffered, not yet visible.
    expect(await plainObjFetch(cont, txObj.oid)).toBeUndefined();
    await tx.commit();
    const plainObj = cont.object(txObj.oid);
    const [v] = await plainObj.fetch('t1', [{ akey: 'v', kind: 'single' }]);
    expect(Buffer.from(v as Uint8Array).equals(big.subarray(0, 9000))).toBe(true);
    const [x] = await plainObj.fetch('t2', [
      { akey: 'x', kind: 'array', recordSize: 1, extents: [{ idx: 40_000, nr: 50_000 }] },
    ]);
    expect(Buffer.from((x as ArrayFetchResult).data).equals(big.subarray(40_000, 90_000))).toBe(true);
    const arr = await cont.createArray({ oclass: 'RP_2GX', cellSize: 1, chunkSize: 256 * 1024 });
    const bytes = payload('ARR', 0, 600_000);
    await arr.write(1000, bytes);
    expect(Buffer.from(await arr.read(1000, bytes.length)).equals(bytes)).toBe(true);
    expect(Buffer.from(await arr.read(300_000, 1234)).equals(bytes.subarray(299_000, 300_234))).toBe(true);
    for (const e of sys.engines) expect((await sys.engineCounters(e.rank)).csumErrors).toBe(0);
    for (const r of remotes) r.conn.close();
  });
});
