/**
 * The metadata paths bench:dfs times (create by writeFile, stat, unlink), with the shortcuts they
 * take: exclusive create, O_TRUNC, zero-byte writes, punch-must-exist and the object punch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dfs, DfsError } from '../core/dfs/index.js';
import { type Container, DaosSystem, type Pool } from '../index.js';

async function code(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (e: unknown) => (e instanceof DfsError ? e.code : String(e)),
  );
}

describe('dfs metadata paths', () => {
  let dir: string;
  let sys: DaosSystem;
  let pool: Pool;
  let dfs: Dfs;
  let other: Dfs;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'daos-dfs-md-'));
    sys = await DaosSystem.start({ dir, targetsPerEngine: 4 });
    await sys.createPool({ label: 'tank', size: '1G' });
    pool = await (await sys.connect()).connectPool('tank');
    dfs = await Dfs.mount(pool, 'fs', { create: true, oclass: 'SX' });
    other = await Dfs.mount(pool, 'fs');
  });
  afterAll(async () => {
    await other.umount();
    await dfs.umount();
    await sys.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writeFile(path, "") creates an empty file; on an existing file it truncates and stamps mtime', async () => {
    const fs = dfs.fs;
    await fs.mkdir('/a');
    await fs.writeFile('/a/f', '');
    const st = await fs.stat('/a/f');
    expect(st.isFile()).toBe(true);
    expect(st.size).toBe(0);
    await fs.writeFile('/a/f', 'hello');
    const before = await fs.stat('/a/f');
    expect(before.size).toBe(5);
    await new Promise((r) => setTimeout(r, 5));
    await fs.writeFile('/a/f', '');
    const after = await fs.stat('/a/f');
    expect(after.size).toBe(0);
    expect(after.mtimeNs > before.mtimeNs).toBe(true);
  });

  it('a write of no bytes changes nothing (POSIX), a write of some stamps mtime at close', async () => {
    const fs = dfs.fs;
    await fs.writeFile('/a/z', 'abc');
    const t0 = (await fs.stat('/a/z')).mtimeNs;
    await new Promise((r) => setTimeout(r, 5));
    const fh = await fs.open('/a/z', 'r+');
    expect((await fh.write(Buffer.alloc(0), 0, 0, 0)).bytesWritten).toBe(0);
    await fh.close();
    expect((await fs.stat('/a/z')).mtimeNs).toBe(t0);
    const fh2 = await fs.open('/a/z', 'r+');
    await fh2.write('x', 0);
    await fh2.close();
    expect((await fs.stat('/a/z')).mtimeNs > t0).toBe(true);
    expect(await fs.readFile('/a/z', 'utf8')).toBe('xbc');
  });

  it('exclusive create: an existing name is EEXIST; of racing exclusive creators exactly one wins', async () => {
    const fs = dfs.fs;
    expect(await code(fs.writeFile('/a/f', '', { flag: 'wx' }))).toBe('EEXIST');
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        code((i % 2 === 0 ? dfs : other).fs.writeFile('/a/race', `w${i}`, { flag: 'wx' })),
      ),
    );
    expect(results.filter((r) => r === undefined)).toHaveLength(1);
    expect(results.filter((r) => r === 'EEXIST')).toHaveLength(7);
    // Non-exclusive creators racing: all succeed, one file.
    await Promise.all(
      Array.from({ length: 8 }, (_, i) => (i % 2 ? dfs : other).fs.writeFile('/a/shared', '')),
    );
    expect((await fs.readdir('/a')).filter((n) => n === 'shared')).toHaveLength(1);
  });

  it('O_CREAT inserts at the name (libdfs): the errors of the walk, symlinks followed, read-only refused', async () => {
    const fs = dfs.fs;
    await fs.mkdir('/c');
    await fs.writeFile('/c/file', 'x');
    expect(await code(fs.writeFile('/nope/f', ''))).toBe('ENOENT');
    expect(await code(fs.writeFile('/c/file/f', ''))).toBe('ENOTDIR');
    expect(await code(fs.writeFile('/c/nope/f', ''))).toBe('ENOENT');
    // Relative paths are from the root; '.' and '..' on the way are resolved.
    await fs.writeFile('c/rel', 'r');
    await fs.writeFile('/c/../c/./dots', 'd');
    expect((await fs.readdir('/c')).sort()).toEqual(['dots', 'file', 'rel']);
    // A dangling symlink: O_CREAT creates its target; O_CREAT|O_EXCL fails on the link.
    await fs.symlink('/c/target', '/c/link');
    expect(await code(fs.writeFile('/c/link', 'via link', { flag: 'wx' }))).toBe('EEXIST');
    await fs.writeFile('/c/link', 'via link');
    expect(await fs.readFile('/c/target', 'utf8')).toBe('via link');
    expect((await fs.lstat('/c/link')).isSymbolicLink()).toBe(true);
    // A directory is not a file to create or truncate.
    expect(await code(fs.writeFile('/c', ''))).toBe('EISDIR');
    const ro = await Dfs.mount(pool, 'fs', { readOnly: true });
    try {
      expect(await code(ro.fs.writeFile('/c/new', ''))).toBe('EROFS');
      expect(await ro.fs.readFile('/c/file', 'utf8')).toBe('x');
    } finally {
      await ro.umount();
    }
  });

  it('unlink removes the name (punch-must-exist: a second or racing unlink is ENOENT) and the data of every group', async () => {
    const fs = dfs.fs;
    const chunk = Buffer.alloc(dfs.sb.chunkSize, 7);
    await fs.writeFile('/a/big', Buffer.concat([chunk, chunk, chunk, chunk, chunk]));
    const { entry } = await dfs.lookup('/a/big', 'stat');
    const cont: Container = dfs.container;
    const obj = cont.object(entry.oid);
    const dkeysOf = async () => {
      const out: unknown[] = [];
      for await (const k of obj.listDkeys()) out.push(k);
      return out;
    };
    expect((await dkeysOf()).length).toBe(5);
    // The size of a file of class SX is one collective key query for its four shards, and one
    // range query in the last chunk.
    const queries = async () => (await sys.engineCounters(0)).ops.query.count;
    const asked = await queries();
    expect((await fs.stat('/a/big')).size).toBe(5 * chunk.length);
    expect((await queries()) - asked).toBe(2);
    const punches = async () => (await sys.engineCounters(0)).ops.punch.count;
    const before = await punches();
    const results = await Promise.all([code(fs.unlink('/a/big')), code(other.fs.unlink('/a/big'))]);
    expect(results.sort()).toEqual(['ENOENT', undefined].sort());
    // Two entry punches (one found nothing) and one collective punch of the file's four shards.
    expect((await punches()) - before).toBe(3);
    expect(await code(fs.unlink('/a/big'))).toBe('ENOENT');
    expect(await code(fs.stat('/a/big'))).toBe('ENOENT');
    expect(await dkeysOf()).toEqual([]);
    // The name can be used again, for a new, empty file.
    await fs.writeFile('/a/big', '');
    expect((await fs.stat('/a/big')).size).toBe(0);
    expect(await code(fs.unlink('/a'))).toBe('EISDIR');
  });

  it('new object ids keep their class and the container redundancy rules (shapes checked once per map)', async () => {
    const cont = dfs.container;
    const a = await cont.newOid({ type: 'byte_array', oclass: 'S1' });
    const b = await cont.newOid({ type: 'byte_array', oclass: 'SX' });
    const c = await cont.newOid({ type: 'byte_array', oclass: 'S1' });
    expect(a.hi >> 32n).toBe(c.hi >> 32n);
    expect(a.hi >> 32n).not.toBe(b.hi >> 32n);
    expect(a.lo).not.toBe(c.lo);
    await expect(cont.newOid({ type: 'byte_array', oclass: 'NOPE' })).rejects.toThrow(/unknown object class/);
  });

  describe('lookup cache of directories on the way down a path', () => {
    it("this mount's own rename, rmdir and chmod of a directory are seen at once", async () => {
      const fs = dfs.fs;
      await fs.mkdir('/lc1/sub', { recursive: true });
      await fs.writeFile('/lc1/sub/f', 'x');
      expect((await fs.stat('/lc1/sub/f')).size).toBe(1); // caches /lc1 and /lc1/sub
      await fs.rename('/lc1/sub', '/lc1/moved');
      expect(await code(fs.stat('/lc1/sub/f'))).toBe('ENOENT');
      expect((await fs.stat('/lc1/moved/f')).size).toBe(1);
      await fs.mkdir('/lc1/sub');
      expect(await code(fs.stat('/lc1/sub/f'))).toBe('ENOENT');
      await fs.writeFile('/lc1/sub/g', 'yy');
      expect((await fs.stat('/lc1/sub/g')).size).toBe(2);
      await fs.rm('/lc1/sub', { recursive: true });
      expect(await code(fs.stat('/lc1/sub/g'))).toBe('ENOENT');
      await fs.chmod('/lc1/moved', 0o700);
      const walked = await dfs.resolve('/lc1/moved/f', 'stat');
      expect(walked.chain[walked.chain.length - 1]!.entry.mode & 0o777).toBe(0o700);
    });

    it('a create or mkdir in a cached directory is one insert; with the cache off the parent is looked up first', async () => {
      const uncached = await Dfs.mount(pool, 'fs', { dirCacheMs: 0 });
      try {
        await dfs.fs.mkdir('/lc3');
        await dfs.fs.writeFile('/lc3/warm', '');
        const calls = async () => {
          const { ops } = await sys.engineCounters(0);
          return { fetch: ops.fetch.count, update: ops.update.count };
        };
        const created = async (make: () => Promise<unknown>) => {
          const before = await calls();
          await make();
          const after = await calls();
          return { fetch: after.fetch - before.fetch, update: after.update - before.update };
        };
        expect(await created(() => dfs.fs.writeFile('/lc3/a', ''))).toEqual({ fetch: 0, update: 1 });
        expect(await created(() => uncached.fs.writeFile('/lc3/b', ''))).toEqual({ fetch: 1, update: 1 });
        expect(await created(() => dfs.fs.mkdir('/lc3/c'))).toEqual({ fetch: 0, update: 1 });
        expect((await uncached.fs.readdir('/lc3')).sort()).toEqual(['a', 'b', 'c', 'warm']);
        // The walk's errors stay: a file or nothing where the directory should be, a name taken.
        expect(await code(dfs.fs.writeFile('/lc3/a/x', ''))).toBe('ENOTDIR');
        expect(await code(dfs.fs.writeFile('/lc3/none/x', ''))).toBe('ENOENT');
        expect(await code(dfs.fs.mkdir('/lc3/a'))).toBe('EEXIST');
        expect(await code(dfs.fs.mkdir('/lc3/a/x'))).toBe('ENOTDIR');
        expect(await code(dfs.fs.mkdir('/lc3/none/x'))).toBe('ENOENT');
      } finally {
        await uncached.umount();
      }
    });

    it("another mount's rename of a directory is seen after dirCacheMs, or at once with the cache off", async () => {
      const cached = await Dfs.mount(pool, 'fs', { dirCacheMs: 200 });
      const uncached = await Dfs.mount(pool, 'fs', { dirCacheMs: 0 });
      try {
        await dfs.fs.mkdir('/lc2/d', { recursive: true });
        await dfs.fs.writeFile('/lc2/d/f', 'abc');
        expect((await cached.fs.stat('/lc2/d/f')).size).toBe(3);
        expect((await uncached.fs.stat('/lc2/d/f')).size).toBe(3);
        await dfs.fs.rename('/lc2/d', '/lc2/e');
        await dfs.fs.mkdir('/lc2/d');
        expect(await code(uncached.fs.stat('/lc2/d/f'))).toBe('ENOENT');
        // Within the window the cached mount still walks into the renamed directory.
        const t0 = performance.now();
        const early = await code(cached.fs.stat('/lc2/d/f'));
        if (performance.now() - t0 < 150) expect(early).toBeUndefined();
        await new Promise((r) => setTimeout(r, 250));
        expect(await code(cached.fs.stat('/lc2/d/f'))).toBe('ENOENT');
        expect((await cached.fs.stat('/lc2/e/f')).size).toBe(3);
      } finally {
        await cached.umount();
        await uncached.umount();
      }
    });
  });
});
