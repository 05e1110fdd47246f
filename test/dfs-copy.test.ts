import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DaosClient } from '../core/daos/client.js';
import type { Pool } from '../core/daos/pool.js';
import { copyTree, Dfs, type DfsFs } from '../core/dfs/index.js';
import { seededRandom } from '../core/wire/seeded-random.js';
import { DaosSystem } from '../embedded/system.js';

/**
 * copyTree and `daos filesystem` on a real embedded system: a seeded tree of over 1,000 files
 * (sizes up to 8 MiB, a few hundred MiB in all), symlinks (relative, absolute, dangling), empty
 * directories and varied modes and times, copied into DFS, across containers and back out, then
 * compared entry by entry with the original. The CLI runs as a child process (dist/bin/daos.js).
 */

const ROOT = join(import.meta.dirname, '..');
const DAOS = join(ROOT, 'dist/bin/daos.js');
const MiB = 1 << 20;

interface Shape {
  files: number;
  dirs: number;
  links: number;
  bytes: number;
}

/**
 * Make the test tree under `root`: `dirCount` directories up to 4 deep (some left empty),
 * `fileCount` files whose bytes are slices of one seeded random block, links of every kind, modes
 * from a list, and times set deepest first so directories keep theirs.
 */
async function makeTree(root: string, seed: number, fileCount: number, dirCount: number): Promise<Shape> {
  const rand = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const block = Buffer.allocUnsafe(9 * MiB);
  for (let i = 0; i < block.byteLength; i += 4) block.writeUInt32LE((rand() * 2 ** 32) >>> 0, i);

  await fsp.mkdir(root, { recursive: true });
  const dirs = [''];
  for (let i = 0; i < dirCount; i++) {
    const parent = pick(dirs.filter((d) => d.split('/').length < 4));
    dirs.push(parent === '' ? `d${i}` : `${parent}/d${i}`);
  }
  for (const d of dirs.slice(1)) await fsp.mkdir(join(root, d));
  const empty = new Set(dirs.slice(1).filter(() => rand() < 0.1));
  const holders = dirs.filter((d) => !empty.has(d));

  const fileModes = [0o644, 0o600, 0o640, 0o664, 0o755, 0o700, 0o444, 0o400, 0o4755, 0o1644];
  const files: string[] = [];
  let bytes = 0;
  for (let i = 0; i < fileCount; i++) {
    const r = rand();
    const size =
      i === 0
        ? 8 * MiB
        : i === 1
          ? 0
          : r < 0.045
            ? MiB + Math.floor(rand() * 7 * MiB)
            : r < 0.3
              ? Math.floor(rand() * MiB)
              : Math.floor(rand() * 64 * 1024);
    const off = Math.floor(rand() * (block.byteLength - size));
    const rel = `${pick(holders)}/f${i}.bin`.replace(/^\//, '');
    await fsp.writeFile(join(root, rel), block.subarray(off, off + size));
    await fsp.chmod(join(root, rel), pick(fileModes));
    files.push(rel);
    bytes += size;
  }

  // Links: relative (sibling, up a level, to a directory), absolute, dangling both ways.
  let links = 0;
  const link = async (target: string, rel: string) => {
    await fsp.symlink(target, join(root, rel));
    links++;
  };
  for (let i = 0; i < 40; i++) {
    const at = pick(holders);
    const rel = at === '' ? `l${i}` : `${at}/l${i}`;
    const kind = i % 6;
    if (kind === 0) await link(pick(files).split('/').pop()!, rel);
    else if (kind === 1) await link(`../${pick(files)}`, rel);
    else if (kind === 2) await link(join(root, pick(files)), rel);
    else if (kind === 3) await link(`missing-${i}`, rel);
    else if (kind === 4) await link(`/nonexistent/abs-${i}`, rel);
    else await link(pick(dirs) || '.', rel);
  }

  // Times: random, to the microsecond, children before their directories.
  const base = Date.UTC(2021, 0, 1) / 1000;
  const time = () => base + Math.floor(rand() * 1e8) + Math.floor(rand() * 1e6) / 1e6;
  for (const f of files) await fsp.utimes(join(root, f), time(), time());
  const all = await walk(localView(root));
  for (const [rel, e] of all) if (e.kind === 'link') await fsp.lutimes(join(root, rel), time(), time());
  const dirModes = [0o755, 0o700, 0o750, 0o711, 0o775, 0o2755];
  for (const d of [...dirs].reverse()) {
    const path = join(root, d);
    await fsp.chmod(path, pick(dirModes));
    await fsp.utimes(path, time(), time());
  }
  return { files: files.length, dirs: dirs.length, links, bytes };
}

/** What a tree walk needs of a file system: Node's fs.promises or DfsFs. */
interface View {
  join(rel: string): string;
  readdir(path: string): Promise<string[]>;
  lstat(path: string): Promise<{ mode: number; size: number; mtimeNs: bigint }>;
  readlink(path: string): Promise<string>;
  readFile(path: string): Promise<Buffer>;
}

function localView(root: string): View {
  return {
    join: (rel) => (rel === '' ? root : join(root, rel)),
    readdir: (p) => fsp.readdir(p),
    lstat: async (p) => {
      const st = await fsp.lstat(p, { bigint: true });
      return { mode: Number(st.mode), size: Number(st.size), mtimeNs: st.mtimeNs };
    },
    readlink: (p) => fsp.readlink(p),
    readFile: (p) => fsp.readFile(p),
  };
}

function dfsView(fs: DfsFs, root: string): View {
  return {
    join: (rel) => (rel === '' ? root : `${root === '/' ? '' : root}/${rel}`),
    readdir: async (p) => (await fs.readdir(p)) as string[],
    lstat: (p) => fs.lstat(p),
    readlink: (p) => fs.readlink(p),
    readFile: async (p) => (await fs.readFile(p)) as Buffer,
  };
}

interface Walked {
  kind: 'file' | 'dir' | 'link';
  mode: number;
  size: number;
  mtimeNs: bigint;
  target?: string;
}

async function walk(view: View): Promise<Map<string, Walked>> {
  const out = new Map<string, Walked>();
  const visit = async (rel: string): Promise<void> => {
    const path = view.join(rel);
    const st = await view.lstat(path);
    const type = st.mode & 0o170000;
    const kind = type === 0o040000 ? 'dir' : type === 0o120000 ? 'link' : 'file';
    const e: Walked = { kind, mode: st.mode & 0o7777, size: st.size, mtimeNs: st.mtimeNs };
    if (kind === 'link') e.target = await view.readlink(path);
    out.set(rel, e);
    if (kind === 'dir')
      for (const name of (await view.readdir(path)).sort()) await visit(rel === '' ? name : `${rel}/${name}`);
  };
  await visit('');
  return out;
}

/**
 * Expect two trees equal: the same entries of the same kinds, modes (links' aside: Linux has no
 * lchmod), sizes, link targets, modification times to the microsecond, and, with `bytes`, data.
 */
async function expectSameTree(a: View, b: View, options: { bytes: boolean }): Promise<void> {
  const [ta, tb] = await Promise.all([walk(a), walk(b)]);
  expect([...tb.keys()]).toEqual([...ta.keys()]);
  const diffs: string[] = [];
  for (const [rel, ea] of ta) {
    const eb = tb.get(rel)!;
    if (ea.kind !== eb.kind) diffs.push(`${rel}: ${ea.kind} vs ${eb.kind}`);
    else if (ea.kind === 'link' && ea.target !== eb.target)
      diffs.push(`${rel}: -> ${ea.target} vs ${eb.target}`);
    else if (ea.kind !== 'link' && ea.mode !== eb.mode)
      diffs.push(`${rel}: mode ${ea.mode.toString(8)} vs ${eb.mode.toString(8)}`);
    else if (ea.kind === 'file' && ea.size !== eb.size) diffs.push(`${rel}: ${ea.size} vs ${eb.size} bytes`);
    else if ((ea.mtimeNs - eb.mtimeNs) ** 2n > 1000n ** 2n)
      diffs.push(`${rel}: mtime ${ea.mtimeNs} vs ${eb.mtimeNs}`);
  }
  expect(diffs).toEqual([]);
  if (!options.bytes) return;
  for (const [rel, ea] of ta) {
    if (ea.kind !== 'file') continue;
    const [x, y] = await Promise.all([a.readFile(a.join(rel)), b.readFile(b.join(rel))]);
    if (!x.equals(y)) diffs.push(`${rel}: bytes differ`);
  }
  expect(diffs).toEqual([]);
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dfs-copy-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('copyTree on an embedded system', () => {
  let sys: DaosSystem;
  let client: DaosClient;
  let pool: Pool;
  let dfs: Dfs;

  beforeAll(async () => {
    sys = await DaosSystem.start({ dir: join(tmp, 'sys') });
    await sys.createPool({ label: 'tank', size: '8G' });
    client = await sys.connect();
    pool = await client.connectPool('tank');
    dfs = await Dfs.mount(pool, 'big', { create: true });
  });
  afterAll(async () => {
    await dfs?.umount();
    await pool?.disconnect();
    await client?.close();
    await sys?.stop();
  });

  it('a tree of 1,100 files, links and empty directories goes in, across and back out unchanged', async () => {
    const src = join(tmp, 'src');
    const shape = await makeTree(src, 0x5eed, 1100, 60);
    expect(shape.files).toBeGreaterThanOrEqual(1000);
    expect(shape.bytes).toBeGreaterThan(300 * MiB);
    expect(shape.bytes).toBeLessThan(600 * MiB);

    const progress: number[] = [];
    const t0 = performance.now();
    const inward = await copyTree(
      src,
      { dfs, path: '/data' },
      {
        onProgress: (p) => {
          progress.push(p.bytes);
          expect(p.totalFiles).toBe(shape.files);
          expect(p.totalBytes).toBe(shape.bytes);
        },
      },
    );
    const tIn = performance.now() - t0;
    expect(inward).toMatchObject({ ...shape, skipped: 0 });
    expect(progress.length).toBeGreaterThan(shape.files);
    expect(progress.at(-1)).toBe(shape.bytes);
    await expectSameTree(localView(src), dfsView(dfs.fs, '/data'), { bytes: false });

    // DFS -> DFS: another container (made by the mount), more files in flight.
    const other = await Dfs.mount(pool, 'copy', { create: true });
    try {
      const across = await copyTree({ dfs, path: '/data' }, { dfs: other, path: '/' }, { filesInFlight: 8 });
      expect(across).toMatchObject(shape);
      await expectSameTree(dfsView(dfs.fs, '/data'), dfsView(other.fs, '/'), { bytes: false });

      const out = join(tmp, 'out');
      const t1 = performance.now();
      const outward = await copyTree({ dfs: other, path: '/' }, out);
      const tOut = performance.now() - t1;
      expect(outward).toMatchObject(shape);
      await expectSameTree(localView(src), localView(out), { bytes: true });
      console.log(
        `copyTree: ${shape.files} files, ${shape.links} links, ${shape.dirs} dirs, ` +
          `${(shape.bytes / MiB).toFixed(0)} MiB; in ${(tIn / 1000).toFixed(2)} s, ` +
          `across ${across.seconds.toFixed(2)} s, out ${(tOut / 1000).toFixed(2)} s`,
      );
    } finally {
      await other.umount();
    }
  });

  it('a file onto a directory lands inside it; copying again over a tree replaces files and links', async () => {
    const small = join(tmp, 'small');
    mkdirSync(join(small, 'sub'), { recursive: true });
    await fsp.writeFile(join(small, 'sub/a.txt'), 'first');
    await fsp.symlink('a.txt', join(small, 'sub/link'));
    await copyTree(join(small, 'sub/a.txt'), { dfs, path: '/' });
    expect(await dfs.fs.readFile('/a.txt', 'utf8')).toBe('first');

    await copyTree(small, { dfs, path: '/merge' });
    await fsp.writeFile(join(small, 'sub/a.txt'), 'second, longer');
    await fsp.rm(join(small, 'sub/link'));
    await fsp.symlink('/elsewhere', join(small, 'sub/link'));
    const again = await copyTree(small, { dfs, path: '/merge' });
    expect(again).toMatchObject({ files: 1, links: 1, dirs: 2 });
    expect(await dfs.fs.readFile('/merge/sub/a.txt', 'utf8')).toBe('second, longer');
    expect(await dfs.fs.readlink('/merge/sub/link')).toBe('/elsewhere');

    // A directory cannot land on a file; a missing source is ENOENT.
    await expect(copyTree(small, { dfs, path: '/a.txt' })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(copyTree(join(tmp, 'nope'), { dfs, path: '/x' })).rejects.toMatchObject({
      code: 'ENOENT',
    });
    await expect(copyTree({ dfs, path: '/nope' }, join(tmp, 'x'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function daos(dir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [DAOS, '--embedded', dir, ...args],
      { env: { ...process.env, DAOS_EMBEDDED: '' }, timeout: 60_000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

async function ok<T>(p: Promise<Run>): Promise<T> {
  const r = await p;
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const out = JSON.parse(r.stdout) as { response: T; error: unknown; status: number };
  expect(out).toMatchObject({ error: null, status: 0 });
  return out.response;
}

describe('daos filesystem (the CLI, as a child process)', () => {
  let dir: string;
  let src: string;

  beforeAll(async () => {
    dir = join(tmp, 'cli-sys');
    const sys = await DaosSystem.start({ dir });
    try {
      await sys.createPool({ label: 'tank', size: '1G' });
    } finally {
      await sys.stop();
    }
    src = join(tmp, 'cli-src');
    mkdirSync(join(src, 'docs/empty'), { recursive: true });
    await fsp.writeFile(join(src, 'docs/readme.txt'), 'hello from the CLI\n');
    await fsp.writeFile(join(src, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
    await fsp.writeFile(join(src, 'blob.bin'), Buffer.alloc(3 * MiB + 17, 0xab));
    await fsp.chmod(join(src, 'docs/readme.txt'), 0o600);
    await fsp.symlink('docs/readme.txt', join(src, 'readme'));
    await fsp.symlink('/no/such/target', join(src, 'dangling'));
  });

  it('copy in (container made), ls, stat, copy out, DFS -> DFS; trees compare equal', async () => {
    const inward = await ok<Record<string, number | string>>(
      daos(dir, 'filesystem', 'copy', '--src', src, '--dst', 'daos://tank/posix/in', '--json'),
    );
    expect(inward).toMatchObject({ files: 3, dirs: 3, links: 2, bytes: 3 * MiB + 17 + 19 + 18, skipped: 0 });
    expect(inward.mibPerSecond).toBeGreaterThan(0);

    const listed = await ok<
      Array<{ name: string; type: string; mode: string; size: number; target?: string }>
    >(daos(dir, 'fs', 'ls', 'daos://tank/posix/in', '--json'));
    expect(listed.map((e) => [e.name, e.type])).toEqual([
      ['blob.bin', 'file'],
      ['dangling', 'link'],
      ['docs', 'dir'],
      ['readme', 'link'],
      ['run.sh', 'file'],
    ]);
    expect(listed.find((e) => e.name === 'run.sh')).toMatchObject({ mode: '0755', size: 18 });
    expect(listed.find((e) => e.name === 'dangling')?.target).toBe('/no/such/target');
    const long = await daos(dir, 'fs', 'ls', '-l', 'daos://tank/posix/in');
    expect(long.code).toBe(0);
    expect(long.stdout).toMatch(/^-rwxr-xr-x +\d+ +\d+ +18 \d{4}-\d\d-\d\d \d\d:\d\d:\d\d run\.sh$/m);
    expect(long.stdout).toMatch(/^lrwxrwxrwx .* readme -> docs\/readme\.txt$/m);

    const st = await ok<{ type: string; mode: string; size: number; permissions: string }>(
      daos(dir, 'fs', 'stat', 'daos://tank/posix/in/docs/readme.txt', '--json'),
    );
    expect(st).toMatchObject({ type: 'file', mode: '0600', size: 19, permissions: '-rw-------' });
    expect((await daos(dir, 'fs', 'stat', 'daos://tank/posix/in/readme')).stdout).toMatch(
      /Type\s+: link\n[\s\S]*Target\s+: docs\/readme\.txt/,
    );

    // DFS -> DFS into a new container, then out; the one-line summary without --json.
    const across = await daos(
      dir,
      'fs',
      'copy',
      '--src',
      'daos://tank/posix/in',
      '--dst',
      'daos://tank/posix2',
    );
    expect(across.code).toBe(0);
    expect(across.stdout).toMatch(
      /^Successfully copied daos:\/\/tank\/posix\/in to daos:\/\/tank\/posix2: 3 files, 3 directories, 2 links, 3145782 bytes \(3\.00 MiB\) in [\d.]+ s, [\d.]+ MiB\/s\n$/,
    );
    const out = join(tmp, 'cli-out');
    expect((await daos(dir, 'fs', 'copy', '--src', 'daos://tank/posix2', '--dst', out)).code).toBe(0);
    await expectSameTree(localView(src), localView(out), { bytes: true });
  });

  it('mkdir -p, rm -r, and their errors', async () => {
    expect(
      await ok(daos(dir, 'fs', 'mkdir', '-p', 'daos://tank/posix/a/b/c', 'daos://tank/posix/a/b', '--json')),
    ).toEqual({ created: ['daos://tank/posix/a/b/c', 'daos://tank/posix/a/b'] });
    const exists = await daos(dir, 'fs', 'mkdir', 'daos://tank/posix/a');
    expect(exists.code).toBe(1);
    expect(exists.stderr).toMatch(
      /^ERROR: daos: DER_EXIST\(-1004\): EEXIST: file already exists, mkdir '\/a'\n$/,
    );
    const notRecursive = await daos(dir, 'fs', 'rm', 'daos://tank/posix/a');
    expect(notRecursive.code).toBe(1);
    expect(notRecursive.stderr).toContain('is a directory');
    // -f: a missing path is no error.
    await ok(daos(dir, 'fs', 'rm', '-r', '-f', 'daos://tank/posix/a', 'daos://tank/posix/zz', '--json'));
    const gone = await daos(dir, 'fs', 'stat', 'daos://tank/posix/a', '--json');
    expect(gone.code).toBe(1);
    expect(JSON.parse(gone.stdout).error.code).toBe('DER_NONEXIST');
  });

  it('refuses a missing source, bad daos:// paths and a missing container with exit 1', async () => {
    const missing = await daos(
      dir,
      'fs',
      'copy',
      '--src',
      join(tmp, 'does-not-exist'),
      '--dst',
      'daos://tank/nc',
    );
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe(
      `ERROR: daos: DER_NONEXIST(-1005): copy source ${join(tmp, 'does-not-exist')} does not exist\n`,
    );
    // ... and made no container for it.
    const noCont = await daos(dir, 'fs', 'ls', 'daos://tank/nc');
    expect(noCont.stderr).toBe('ERROR: daos: DER_NONEXIST(-1005): no container "nc" in pool "tank"\n');
    const missingDfs = await daos(
      dir,
      'fs',
      'copy',
      '--src',
      'daos://tank/posix/nope',
      '--dst',
      join(tmp, 'x'),
    );
    expect(missingDfs.stderr).toContain('copy source daos://tank/posix/nope does not exist');

    for (const bad of ['daos://tank', 'daos:/tank/posix/x']) {
      const r = await daos(dir, 'fs', 'copy', '--src', bad, '--dst', join(tmp, 'x'), '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout)).toEqual({
        response: null,
        error: {
          code: 'DER_INVAL',
          message: `DER_INVAL(-1003): bad DAOS path "${bad}": expected daos://POOL/CONTAINER[/PATH]`,
        },
        status: -1003,
      });
    }
    const notUrl = await daos(dir, 'fs', 'ls', '/local/path');
    expect(notUrl.stderr).toContain('is not a DAOS path');
    const noArgs = await daos(dir, 'fs', 'copy', '--src', src);
    expect(noArgs.code).toBe(1);
    expect(noArgs.stderr).toContain("required option '--dst <path>' not specified");
  });
});
