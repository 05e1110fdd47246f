import { createReadStream, createWriteStream } from 'node:fs';
import * as local from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Dfs } from './dfs.js';
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './entry.js';
import { DfsError } from './errors.js';
import { STREAM_CHUNK_BYTES } from './streams.js';

/** One end of a copy: a local path, or a path in a DFS mount. */
export type CopyEndpoint = string | { dfs: Dfs; path: string };

/** Files whose data is streamed at once unless `filesInFlight` says otherwise. */
export const COPY_FILES_IN_FLIGHT_DEFAULT = 4;
/** The most files a copy streams at once (each holds a few chunks in flight). */
export const COPY_FILES_IN_FLIGHT_MAX = 64;
/** Metadata calls (lstat, mkdir, chmod, utimes) a copy keeps in flight. */
const META_OPS_IN_FLIGHT = 32;
/** The smallest read a local read stream makes (Node's default highWaterMark). */
const LOCAL_READ_BYTES_MIN = 64 * 1024;

export interface CopyOptions {
  /** Files streamed at once (default 4, at most 64). */
  filesInFlight?: number;
  /** Called as data moves and as each entry is done. */
  onProgress?: (progress: CopyProgress) => void;
}

/** What a copy has done so far. */
export interface CopyCounts {
  /** Regular files copied. */
  files: number;
  /** Directories copied, the top one included. */
  dirs: number;
  /** Symbolic links copied (as links, with their targets). */
  links: number;
  /** Bytes of file data copied. */
  bytes: number;
  /** Entries neither file, directory nor link (sockets, FIFOs, devices): not copied. */
  skipped: number;
}

/** Progress, with the totals found by the scan that precedes the copy. */
export interface CopyProgress extends CopyCounts {
  totalFiles: number;
  totalBytes: number;
}

export interface CopySummary extends CopyCounts {
  seconds: number;
}

type Kind = 'file' | 'dir' | 'link' | 'other';

/** An entry of the source tree, as the scan found it. */
interface Item {
  /** Path below the source root ('' for the root itself), '/'-separated. */
  rel: string;
  kind: Kind;
  /** Permission bits (07777). */
  perm: number;
  size: number;
  atimeNs: bigint;
  mtimeNs: bigint;
  /** A link's target. */
  target?: string;
  depth: number;
}

/** The calls a copy makes on either end; one implementation for the local file system, one for DFS. */
interface Side {
  describe(path: string): string;
  join(dir: string, rel: string): string;
  parent(path: string): string;
  lstat(path: string): Promise<Omit<Item, 'rel' | 'depth' | 'target'> | undefined>;
  list(path: string): Promise<string[]>;
  readlink(path: string): Promise<string>;
  /** Make a directory (and its parents); true if it was made, false if it was there. */
  mkdir(path: string): Promise<boolean>;
  symlink(target: string, path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** A stream of a file's bytes (to its end); `size` as scanned, a hint for buffer sizes. */
  reader(path: string, size: number): Readable;
  writer(path: string): Writable;
  chmod(path: string, perm: number): Promise<void>;
  /** Set times without following a link. */
  utimes(path: string, atimeNs: bigint, mtimeNs: bigint): Promise<void>;
}

function kindOf(mode: number): Kind {
  const t = mode & S_IFMT;
  return t === S_IFREG ? 'file' : t === S_IFDIR ? 'dir' : t === S_IFLNK ? 'link' : 'other';
}

function isCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

const localSide: Side = {
  describe: (path) => path,
  join: (dir, rel) => (rel === '' ? dir : join(dir, rel)),
  parent: (path) => dirname(path),
  async lstat(path) {
    try {
      const st = await local.lstat(path, { bigint: true });
      const mode = Number(st.mode);
      return {
        kind: kindOf(mode),
        perm: mode & 0o7777,
        size: Number(st.size),
        atimeNs: st.atimeNs,
        mtimeNs: st.mtimeNs,
      };
    } catch (err) {
      if (isCode(err, 'ENOENT')) return undefined;
      throw err;
    }
  },
  list: (path) => local.readdir(path),
  readlink: (path) => local.readlink(path),
  async mkdir(path) {
    return (await local.mkdir(path, { recursive: true })) !== undefined;
  },
  symlink: (target, path) => local.symlink(target, path),
  unlink: (path) => local.unlink(path),
  // fs.ReadStream allocates a whole highWaterMark per read: small files get small buffers.
  reader: (path, size) =>
    createReadStream(path, {
      highWaterMark: Math.min(STREAM_CHUNK_BYTES, Math.max(LOCAL_READ_BYTES_MIN, size)),
    }),
  writer: (path) => createWriteStream(path, { highWaterMark: STREAM_CHUNK_BYTES }),
  chmod: (path, perm) => local.chmod(path, perm),
  utimes: (path, atimeNs, mtimeNs) => local.lutimes(path, nsToSeconds(atimeNs), nsToSeconds(mtimeNs)),
};

function dfsSide(dfs: Dfs): Side {
  return {
    describe: (path) => `${dfs.container.label}:${path}`,
    join: (dir, rel) => (rel === '' ? dir : posix.join(dir, rel)),
    parent: (path) => posix.dirname(path),
    async lstat(path) {
      try {
        const st = await dfs.stat(path, { follow: false });
        return {
          kind: kindOf(st.mode),
          perm: st.mode & 0o7777,
          size: st.size,
          atimeNs: st.atimeNs,
          mtimeNs: st.mtimeNs,
        };
      } catch (err) {
        if (isCode(err, 'ENOENT')) return undefined;
        throw err;
      }
    },
    list: async (path) => {
      const names: string[] = [];
      for await (const name of dfs.names(path)) names.push(name);
      return names;
    },
    readlink: (path) => dfs.readlink(path),
    async mkdir(path) {
      return (await dfs.fs.mkdir(path, { recursive: true })) !== undefined;
    },
    symlink: (target, path) => dfs.symlink(target, path),
    unlink: (path) => dfs.unlink(path),
    reader: (path) => dfs.fs.createReadStream(path),
    writer: (path) => dfs.fs.createWriteStream(path),
    chmod: (path, perm) => dfs.chmod(path, perm),
    utimes: (path, atimeNs, mtimeNs) => dfs.utimes(path, atimeNs, mtimeNs, { follow: false }),
  };
}

function sideOf(endpoint: CopyEndpoint): { side: Side; path: string } {
  if (typeof endpoint === 'string') return { side: localSide, path: endpoint };
  return { side: dfsSide(endpoint.dfs), path: endpoint.path === '' ? '/' : endpoint.path };
}

/**
 * Nanoseconds as the seconds Node's utimes takes. libuv keeps whole microseconds of
 * `seconds * 1e6`, truncating: half a microsecond more makes that land on the one meant.
 */
function nsToSeconds(ns: bigint): number {
  return (Number(ns / 1000n) + 0.5) / 1e6;
}

/** Run `fn` over `items` with at most `limit` at once; the first failure stops new starts and is thrown. */
async function eachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async () => {
    while (failed === undefined && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed) throw failed.err;
}

/** Walk the source tree: every entry with its metadata, directories before what they hold. */
async function scan(side: Side, root: string, top: Item): Promise<Item[]> {
  const items: Item[] = [top];
  let level: Item[] = top.kind === 'dir' ? [top] : [];
  while (level.length > 0) {
    const found: Item[] = [];
    for (const dir of level) {
      const names = (await side.list(side.join(root, dir.rel))).sort();
      const children: Item[] = [];
      await eachLimited(names, META_OPS_IN_FLIGHT, async (name) => {
        const rel = dir.rel === '' ? name : `${dir.rel}/${name}`;
        const path = side.join(root, rel);
        const st = await side.lstat(path);
        if (st === undefined) return; // gone since the listing
        const item: Item = { rel, depth: dir.depth + 1, ...st };
        if (st.kind === 'link') item.target = await side.readlink(path);
        children.push(item);
      });
      children.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
      items.push(...children);
      found.push(...children.filter((c) => c.kind === 'dir'));
    }
    level = found;
  }
  return items;
}

/**
 * Copy a file, symlink or directory tree from `src` to `dst`, each a local path or a path in a
 * DFS mount (local → DFS, DFS → local, DFS → DFS, local → local). A directory's contents land in
 * `dst` (made with its parents if missing, merged into if present); a file or link copied onto an
 * existing directory lands inside it under its own name. Modes, access and modification times,
 * symlinks (as links, with their targets, dangling or not) and empty directories are kept; owners
 * are not. File data streams through createReadStream → createWriteStream, a few files at once.
 */
export async function copyTree(
  src: CopyEndpoint,
  dst: CopyEndpoint,
  options: CopyOptions = {},
): Promise<CopySummary> {
  const started = performance.now();
  const filesInFlight = options.filesInFlight ?? COPY_FILES_IN_FLIGHT_DEFAULT;
  if (!Number.isSafeInteger(filesInFlight) || filesInFlight < 1 || filesInFlight > COPY_FILES_IN_FLIGHT_MAX)
    throw new DfsError('EINVAL', 'copy', `filesInFlight ${filesInFlight} (1..${COPY_FILES_IN_FLIGHT_MAX})`);
  const from = sideOf(src);
  const to = sideOf(dst);

  const topStat = await from.side.lstat(from.path);
  if (topStat === undefined) throw new DfsError('ENOENT', 'copy', from.side.describe(from.path));
  const top: Item = { rel: '', depth: 0, ...topStat };
  if (top.kind === 'link') top.target = await from.side.readlink(from.path);

  // Where the source root lands.
  let dstRoot = to.path;
  const dstStat = await to.side.lstat(dstRoot);
  if (top.kind === 'dir') {
    if (dstStat !== undefined && dstStat.kind !== 'dir')
      throw new DfsError('ENOTDIR', 'copy', to.side.describe(dstRoot));
  } else if (dstStat?.kind === 'dir') {
    const name = from.side === localSide ? basename(from.path) : posix.basename(from.path);
    dstRoot = to.side.join(dstRoot, name);
  }

  const items = await scan(from.side, from.path, top);
  const done: CopyCounts = { files: 0, dirs: 0, links: 0, bytes: 0, skipped: 0 };
  const totals = { totalFiles: 0, totalBytes: 0 };
  for (const it of items) {
    if (it.kind === 'file') {
      totals.totalFiles++;
      totals.totalBytes += it.size;
    }
  }
  const report = () => options.onProgress?.({ ...done, ...totals });

  // 1. Directories, parents first; remember which were made fresh (nothing inside to replace).
  const fresh = new Set<string>();
  const dirs = items.filter((i) => i.kind === 'dir');
  if (top.kind !== 'dir') {
    if (await to.side.mkdir(to.side.parent(dstRoot))) fresh.add('..');
  }
  for (let depth = 0, level = dirs.filter((d) => d.depth === 0); level.length > 0; ) {
    await eachLimited(level, META_OPS_IN_FLIGHT, async (d) => {
      const made = await to.side.mkdir(to.side.join(dstRoot, d.rel));
      if (made) fresh.add(d.rel);
    });
    depth++;
    level = dirs.filter((d) => d.depth === depth);
  }
  const parentFresh = (it: Item) => {
    if (it.depth === 0) return fresh.has('..');
    const at = it.rel.lastIndexOf('/');
    return fresh.has(at < 0 ? '' : it.rel.slice(0, at));
  };

  // 2. Files (streamed) and links; an existing non-directory in the way is replaced.
  const leaves = items.filter((i) => i.kind !== 'dir');
  await eachLimited(leaves, filesInFlight, async (it) => {
    if (it.kind === 'other') {
      done.skipped++;
      return;
    }
    const path = to.side.join(dstRoot, it.rel);
    if (!parentFresh(it)) {
      const there = await to.side.lstat(path);
      if (there?.kind === 'dir') throw new DfsError('EISDIR', 'copy', to.side.describe(path));
      // A link or file in the way goes (so writes do not land where an old link points).
      if (there !== undefined && (there.kind === 'link' || it.kind === 'link')) await to.side.unlink(path);
    }
    if (it.kind === 'link') {
      await to.side.symlink(it.target!, path);
      await to.side.utimes(path, it.atimeNs, it.mtimeNs);
      done.links++;
      report();
      return;
    }
    const reader = from.side.reader(from.side.join(from.path, it.rel), it.size);
    reader.on('data', (chunk: Buffer) => {
      done.bytes += chunk.byteLength;
      report();
    });
    await pipeline(reader, to.side.writer(path));
    await to.side.chmod(path, it.perm);
    await to.side.utimes(path, it.atimeNs, it.mtimeNs);
    done.files++;
    report();
  });

  // 3. Directory modes and times, deepest first (adding entries changed the times; a read-only
  //    directory could not have taken its entries).
  const maxDepth = dirs.reduce((m, d) => Math.max(m, d.depth), -1);
  for (let depth = maxDepth; depth >= 0; depth--) {
    await eachLimited(
      dirs.filter((d) => d.depth === depth),
      META_OPS_IN_FLIGHT,
      async (d) => {
        const path = to.side.join(dstRoot, d.rel);
        await to.side.chmod(path, d.perm);
        await to.side.utimes(path, d.atimeNs, d.mtimeNs);
        done.dirs++;
      },
    );
  }
  report();
  return { ...done, seconds: (performance.now() - started) / 1000 };
}
