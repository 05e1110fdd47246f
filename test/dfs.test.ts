/**
 * libdfs beyond the single-client conformance suite: racing clients on engine processes,
 * concurrent writers, balanced-mode rename, snapshot mounts, directory cursors, mount errors.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dfs, DfsError } from '../core/dfs/index.js';
import { DaosSystem, type Pool } from '../index.js';

const MiB = 1 << 20;

/** Settle every promise; name which succeeded and which failed with what code. */
async function outcomes(ps: Array<Promise<unknown>>): Promise<{ ok: number; codes: string[] }> {
  const rs = await Promise.allSettled(ps);
  return {
    ok: rs.filter((r) => r.status === 'fulfilled').length,
    codes: rs.flatMap((r) =>
      r.status === 'rejected' ? [(r.reason as { code?: string }).code ?? String(r.reason)] : [],
    ),
  };
}

describe('DFS on three engine processes', () => {
  let sys: DaosSystem;
  let dir: string;
  const pools: Pool[] = [];
  const mounts: Dfs[] = [];
  const CLIENTS = 6;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-tcp-'));
    sys = await DaosSystem.start({ dir, engines: 3, targetsPerEngine: 2, transport: 'tcp' });
    await sys.createPool({ label: 'tank', size: '8G' });
    // Separate clients (each its own connections), each with its own mount of one container.
    for (let i = 0; i < CLIENTS; i++) {
      const client = await sys.connect();
      const pool = await client.connectPool('tank');
      pools.push(pool);
      mounts.push(await Dfs.mount(pool, 'shared', { create: true, chunkSize: 256 * 1024 }));
    }
  }, 120_000);

  afterAll(async () => {
    for (const m of mounts) await m.umount();
    await sys?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('racing exclusive creates of one name: exactly one wins, the rest get EEXIST', async () => {
    for (let round = 0; round < 5; round++) {
      const name = `/race-file-${round}`;
      const r = await outcomes(mounts.map((m, i) => m.fs.writeFile(name, `client ${i}`, { flag: 'wx' })));
      expect(r.ok).toBe(1);
      expect(r.codes).toEqual(Array(CLIENTS - 1).fill('EEXIST'));
      // The winner's content is there, whole.
      expect(String(await mounts[0]!.fs.readFile(name))).toMatch(/^client \d$/);
    }
    const dirs = await outcomes(mounts.map((m) => m.fs.mkdir('/race-dir')));
    expect(dirs.ok).toBe(1);
    expect(dirs.codes).toEqual(Array(CLIENTS - 1).fill('EEXIST'));
    const links = await outcomes(mounts.map((m, i) => m.fs.symlink(`t${i}`, '/race-link')));
    expect(links.ok).toBe(1);
    const names = (await mounts[3]!.fs.readdir('/')) as string[];
    expect(names.filter((n) => n.startsWith('race-'))).toEqual([
      'race-dir',
      'race-file-0',
      'race-file-1',
      'race-file-2',
      'race-file-3',
      'race-file-4',
      'race-link',
    ]);
  }, 60_000);

  it('racing unlinks of one file: exactly one wins, the rest get ENOENT', async () => {
    await mounts[0]!.fs.writeFile('/doomed', 'x');
    const r = await outcomes(mounts.map((m) => m.fs.unlink('/doomed')));
    expect(r.ok).toBe(1);
    expect(r.codes).toEqual(Array(CLIENTS - 1).fill('ENOENT'));
  }, 30_000);

  it('a file over every target of three engines: stat sizes it and unlink removes every shard (collective calls per engine)', async () => {
    const chunk = 256 * 1024;
    const [m, other, third] = await Promise.all(
      pools.slice(0, 3).map((p) => Dfs.mount(p, 'wide', { create: true, oclass: 'SX', chunkSize: chunk })),
    );
    if (!m || !other || !third) throw new Error('three mounts expected');
    // One chunk per shard of the SX file's six, each on its own target, and a short last one.
    const bytes = Buffer.alloc(6 * chunk + 1000);
    for (let i = 0; i < bytes.length; i += 4) bytes.writeUInt32LE(i, i);
    await m.fs.writeFile('/wide', bytes);
    const { entry } = await m.lookup('/wide', 'stat');
    const obj = m.container.object(entry.oid);
    const dkeys = async () => {
      const out: unknown[] = [];
      for await (const k of obj.listDkeys()) out.push(k);
      return out;
    };
    expect((await dkeys()).length).toBe(7);
    expect((await other.fs.stat('/wide')).size).toBe(bytes.length);
    expect(Buffer.from(await third.fs.readFile('/wide')).equals(bytes)).toBe(true);
    await other.fs.unlink('/wide');
    expect(await dkeys()).toEqual([]);
    await expect(m.fs.stat('/wide')).rejects.toMatchObject({ code: 'ENOENT' });
    for (const x of [m, other, third]) await x.umount();
  }, 30_000);

  it('concurrent writers to disjoint ranges of one file leave it byte-exact', async () => {
    // Ranges that straddle chunk boundaries (chunks are 256 KiB here) and leave no gaps.
    const piece = 700 * 1024 + 13;
    const pieces = 24;
    const expected = Buffer.alloc(piece * pieces);
    for (let i = 0; i < expected.length; i++) expected[i] = (i * 131 + (i >> 11)) & 0xff;
    await mounts[0]!.fs.writeFile('/shared-file', '');
    const files = await Promise.all(mounts.map((m) => m.fs.open('/shared-file', 'r+')));
    // Every client writes every CLIENTS-th piece, all at once, positions given explicitly.
    await Promise.all(
      files.map((fh, c) =>
        Promise.all(
          Array.from({ length: pieces }, (_, k) => k)
            .filter((k) => k % CLIENTS === c)
            .map((k) => fh.write(expected, k * piece, piece, k * piece)),
        ),
      ),
    );
    await Promise.all(files.map((fh) => fh.close()));
    for (const m of [mounts[1]!, mounts[4]!]) {
      const got = (await m.fs.readFile('/shared-file')) as Buffer;
      expect(got.length).toBe(expected.length);
      expect(got.equals(expected)).toBe(true);
    }
  }, 60_000);

  it('racing renames of one file in balanced mode: exactly one destination exists', async () => {
    const pool = pools[0]!;
    const a = await Dfs.mount(pool, 'balanced', { create: true, mode: 'balanced' });
    const others = await Promise.all(pools.slice(1).map((p) => Dfs.mount(p, 'balanced')));
    expect(others[0]!.sb.mode).toBe('balanced');
    const all = [a, ...others];
    for (let round = 0; round < 3; round++) {
      await a.fs.writeFile(`/src${round}`, `payload ${round}`);
      const r = await outcomes(all.map((m, i) => m.fs.rename(`/src${round}`, `/dst${round}-${i}`)));
      expect(r.ok).toBe(1);
      expect(r.codes.every((c) => c === 'ENOENT')).toBe(true);
      const names = ((await a.fs.readdir('/')) as string[]).filter(
        (n) => n === `src${round}` || n.startsWith(`dst${round}-`),
      );
      expect(names).toHaveLength(1);
      expect(String(await a.fs.readFile(`/${names[0]}`))).toBe(`payload ${round}`);
    }
    for (const m of all) await m.umount();
  }, 60_000);
});

describe('DFS mounts, snapshots and cursors (embedded)', () => {
  let sys: DaosSystem;
  let dir: string;
  let pool: Pool;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dfs-emb-'));
    sys = await DaosSystem.start({ dir, engines: 1, targetsPerEngine: 4 });
    await sys.createPool({ label: 'tank', size: '4G' });
    pool = await (await sys.connect()).connectPool('tank');
  }, 60_000);

  afterAll(async () => {
    await sys?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('a snapshot mounts read-only and shows the namespace as it was', async () => {
    const dfs = await Dfs.mount(pool, 'snap', { create: true });
    await dfs.fs.mkdir('/keep');
    await dfs.fs.writeFile('/keep/a', 'version 1');
    await dfs.fs.writeFile('/gone', 'here before');
    const epoch = await dfs.container.createSnapshot('v1');
    await dfs.fs.writeFile('/keep/a', 'version 2, longer');
    await dfs.fs.unlink('/gone');
    await dfs.fs.writeFile('/new', 'after');

    for (const snapshot of [epoch, 'v1'] as const) {
      const old = await Dfs.mount(pool, 'snap', { snapshot });
      expect(old.readOnly).toBe(true);
      expect(String(await old.fs.readFile('/keep/a'))).toBe('version 1');
      expect(String(await old.fs.readFile('/gone'))).toBe('here before');
      expect(((await old.fs.readdir('/')) as string[]).sort()).toEqual(['gone', 'keep']);
      await expect(old.fs.writeFile('/keep/a', 'x')).rejects.toMatchObject({ code: 'EROFS' });
      await expect(old.fs.mkdir('/d')).rejects.toMatchObject({ code: 'EROFS' });
      await expect(old.fs.unlink('/gone')).rejects.toMatchObject({ code: 'EROFS' });
      await old.umount();
    }
    // The live namespace is unchanged by all of that.
    expect(String(await dfs.fs.readFile('/keep/a'))).toBe('version 2, longer');
    expect(((await dfs.fs.readdir('/')) as string[]).sort()).toEqual(['keep', 'new']);
    await expect(Dfs.mount(pool, 'snap', { snapshot: 'nope' })).rejects.toMatchObject({ code: 'ENOENT' });
    await dfs.umount();
  });

  it('a read-only mount refuses every change and changes nothing', async () => {
    const dfs = await Dfs.mount(pool, 'ro', { create: true });
    await dfs.fs.writeFile('/f', 'data');
    const ro = await Dfs.mount(pool, 'ro', { readOnly: true });
    for (const op of [
      () => ro.fs.writeFile('/f', 'x'),
      () => ro.fs.truncate('/f', 0),
      () => ro.fs.rename('/f', '/g'),
      () => ro.fs.symlink('f', '/l'),
      () => ro.fs.chmod('/f', 0o600),
      () => ro.fs.setxattr('/f', 'user.k', 'v'),
      () => ro.fs.rm('/f'),
    ]) {
      await expect(op()).rejects.toMatchObject({ code: 'EROFS' });
    }
    expect(String(await dfs.fs.readFile('/f'))).toBe('data');
    expect(await dfs.fs.readdir('/')).toEqual(['f']);
    await ro.umount();
    await dfs.umount();
  });

  it('readdir pages with a cursor cover a large directory once, in name order', async () => {
    const dfs = await Dfs.mount(pool, 'cursor', { create: true });
    await dfs.fs.mkdir('/big');
    const names = Array.from({ length: 2500 }, (_, i) => `n${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 250)
      await Promise.all(names.slice(i, i + 250).map((n) => dfs.fs.writeFile(`/big/${n}`, '')));
    const seen: string[] = [];
    let after: string | undefined;
    let pages = 0;
    do {
      const page = await dfs.readdirPage('/big', { after, max: 1000 });
      seen.push(...page.names);
      after = page.next;
      pages++;
    } while (after !== undefined);
    expect(pages).toBe(3);
    expect(seen).toEqual(names);
    await dfs.umount();
  }, 60_000);

  it('mount errors: no container, not a file system, after umount', async () => {
    await expect(Dfs.mount(pool, 'absent')).rejects.toMatchObject({ code: 'ENOENT' });
    await pool.createContainer({ label: 'plain', type: 'POSIX' });
    const err = await Dfs.mount(pool, 'plain').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DfsError);
    expect(err).toMatchObject({ code: 'EINVAL' });
    expect(String((err as Error).message)).toContain('mount');
    // A bad class fails the mount that would create the file system, and creates nothing.
    await expect(Dfs.mount(pool, 'plain', { create: true, oclass: 'NOPE' })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(Dfs.mount(pool, 'plain')).rejects.toMatchObject({ code: 'EINVAL' });
    const dfs = await Dfs.mount(pool, 'plain', { create: true, chunkSize: 64 * 1024, oclass: 'S2' });
    expect(dfs.sb.chunkSize).toBe(64 * 1024);
    await dfs.fs.writeFile('/f', Buffer.alloc(MiB, 7));
    expect((await dfs.fs.stat('/f')).blksize).toBe(64 * 1024);
    await dfs.umount();
    await expect(dfs.fs.stat('/f')).rejects.toMatchObject({ code: 'EBADF' });
    // Mounting again finds the same file system and its settings.
    const again = await Dfs.mount(pool, 'plain');
    expect(again.sb).toMatchObject({ chunkSize: 64 * 1024, oclass: 'S2', mode: 'relaxed' });
    expect(((await again.fs.readFile('/f')) as Buffer).equals(Buffer.alloc(MiB, 7))).toBe(true);
    await again.umount();
  });

  it('xattr limits and a long symlink target are refused with clear errors', async () => {
    const dfs = await Dfs.mount(pool, 'limits', { create: true });
    await dfs.fs.writeFile('/f', '');
    await expect(dfs.fs.setxattr('/f', 'user.big', Buffer.alloc(64 * 1024 + 1))).rejects.toMatchObject({
      code: 'E2BIG',
    });
    await expect(dfs.fs.setxattr('/f', `user.${'n'.repeat(300)}`, 'v')).rejects.toMatchObject({
      code: 'ERANGE',
    });
    await expect(dfs.fs.symlink('t'.repeat(5000), '/l')).rejects.toMatchObject({ code: 'ENAMETOOLONG' });
    expect(await dfs.fs.listxattr('/f')).toEqual([]);
    expect(await dfs.fs.readdir('/')).toEqual(['f']);
    await dfs.umount();
  });
});
