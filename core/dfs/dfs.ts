import { posix } from 'node:path';
import { DaosError } from '../common/errors.js';
import type { Oid } from '../common/oid.js';
import { DaosArray } from '../daos/array.js';
import type { Container } from '../daos/container.js';
import { DaosObject } from '../daos/object.js';
import type { Pool } from '../daos/pool.js';
import type { Tx } from '../daos/tx.js';
import { defaultOclass } from '../placement/oclass.js';
import {
  decodeEntry,
  type Entry,
  encodeEntry,
  INODE_AKEY,
  isDir,
  isLink,
  isReg,
  NAME_BYTES_MAX,
  nowNs,
  PATH_BYTES_MAX,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SYMLINK_HOPS_MAX,
  XATTR_NAME_BYTES_MAX,
  XATTR_PREFIX,
  XATTR_VALUE_BYTES_MAX,
} from './entry.js';
import { DfsError, toDfsError } from './errors.js';
import { DfsFile, type OpenFlags } from './file.js';
import { DfsFs } from './fs.js';
import { DfsStats } from './stats.js';

/** Default bytes per file chunk (one dkey of a file's array), as libdfs. */
export const DFS_CHUNK_SIZE_DEFAULT = 1 << 20;
/** Directory object handles kept for reuse (their layouts are computed once). */
const DIR_HANDLES_CACHED_MAX = 4096;
/**
 * How long a directory met on the way down a path is trusted without fetching its entry again
 * (see `Dfs.resolve`), by default: libdfs's dfs_sys and dfuse cache lookups the same way.
 */
export const DFS_DIR_CACHE_MS_DEFAULT = 1000;
/** Times a balanced-mode operation redoes its transaction after DER_TX_RESTART. */
const TX_TRIES_MAX = 16;
/** Entries fetched at once when listing with types or removing a tree. */
const ENTRY_FETCHES_IN_FLIGHT = 64;

const SB_MAGIC = 0xda05_f5b0_0000_0001n;
const SB_VERSION = 1;
const SB_DKEY = 'DFS_SB_METADATA';
/** The superblock object's dkey holding the root directory's entry. */
const ROOT_NAME = '/';
/** User parts of the ids libdfs reserves: superblock {hi 0, lo 0}, root directory {hi 1, lo 0}. */
const SB_USER = 0n;
const ROOT_USER = 1n << 64n;

export type DfsMode = 'relaxed' | 'balanced';

export interface MountOptions {
  /** Create the container (type POSIX) and the file system in it when absent. */
  create?: boolean;
  /** Default bytes per file chunk for new file systems (default 1 MiB). */
  chunkSize?: number;
  /** Object class of files (default: the container's, else its redundancy factor's array class). */
  oclass?: string;
  /** Object class of directories (default: the container's, else the redundancy factor's default). */
  dirOclass?: string;
  /**
   * 'relaxed' (default): each namespace change is one conditional update or punch. 'balanced':
   * changes touching more than one entry (rename) run as a transaction and are atomic.
   */
  mode?: DfsMode;
  /** Mount read-only (writes fail with EROFS). */
  readOnly?: boolean;
  /** Mount read-only at a snapshot (its epoch, or its name). */
  snapshot?: bigint | string;
  /** Owner of new entries (default: this process's uid/gid). */
  uid?: number;
  gid?: number;
  /** Mode bits cleared from new entries (default: this process's umask). */
  umask?: number;
  /**
   * Milliseconds a directory met on the way down a path stays cached (default
   * DFS_DIR_CACHE_MS_DEFAULT; 0 turns the cache off). This mount's own changes to directories
   * drop the cache at once; another client's rename or removal of a directory can go unseen here
   * for this long. The last component of a path is always fetched.
   */
  dirCacheMs?: number;
}

/** What the superblock records. */
export interface SuperBlock {
  version: number;
  chunkSize: number;
  oclass: string | undefined;
  dirOclass: string | undefined;
  mode: DfsMode;
}

/** A directory: its object and its own entry. */
interface DirRef {
  oid: Oid;
  entry: Entry;
}

/** A directory in the lookup cache: the ref the walk continues from, and when it was fetched. */
interface CachedDir {
  ref: DirRef;
  at: number;
}

/** A resolved path: the directory holding the last component, its name, and its entry if present. */
export interface Resolved {
  dir: DirRef;
  name: string;
  entry: Entry | undefined;
  /** The directories walked from the root to `dir` (inclusive), for subtree checks. */
  chain: DirRef[];
  /** The path as resolved (symlinks followed), for messages. */
  path: string;
}

export interface DirEntryInfo {
  name: string;
  /** S_IFDIR, S_IFREG or S_IFLNK. */
  type: number;
}

/**
 * A POSIX namespace in a container, laid out as DAOS's libdfs lays it out: a superblock object,
 * a root directory, directories as objects with one dkey per entry, files as byte arrays.
 * Paths are absolute within the container ('/a/b'); a relative path is taken from the root.
 * Every failure is a DfsError with a POSIX code (ENOENT, EEXIST, ...). `fs` is the
 * fs.promises-shaped facade.
 */
export class Dfs {
  readonly container: Container;
  readonly sb: SuperBlock;
  readonly readOnly: boolean;
  private readonly root: DirRef;
  private readonly sbOid: Oid;
  private readonly owned: Container | undefined;
  private readonly uid: number;
  private readonly gid: number;
  private readonly umask: number;
  /** Directory handles by oid hi, then lo (keyed by value: no string built per lookup). */
  private readonly handles = new Map<bigint, Map<bigint, DaosObject>>();
  private handlesHeld = 0;
  /** Lookup cache: a directory's cached subdirectories by name (see `resolve`). */
  private dirCache = new WeakMap<DirRef, Map<string, CachedDir>>();
  /** Bumped when the cache is dropped: a walk that fetched before then stores nothing. */
  private dirCacheGen = 0;
  private readonly dirCacheMs: number;
  private mounted = true;
  /** The fs.promises-shaped facade over this mount. */
  readonly fs: DfsFs;

  private constructor(args: {
    container: Container;
    sb: SuperBlock;
    sbOid: Oid;
    root: DirRef;
    readOnly: boolean;
    owned: Container | undefined;
    options: MountOptions;
  }) {
    this.container = args.container;
    this.sb = args.sb;
    this.sbOid = args.sbOid;
    this.root = args.root;
    this.readOnly = args.readOnly;
    this.owned = args.owned;
    this.uid = args.options.uid ?? process.getuid?.() ?? 0;
    this.gid = args.options.gid ?? process.getgid?.() ?? 0;
    this.umask = args.options.umask ?? processUmask();
    this.dirCacheMs = args.options.dirCacheMs ?? DFS_DIR_CACHE_MS_DEFAULT;
    this.fs = new DfsFs(this);
  }

  /**
   * Mount the file system in a container (by label or UUID, or an open Container). With
   * `create`, the container (type POSIX) and the file system are created when absent.
   */
  static async mount(pool: Pool, container: string | Container, options: MountOptions = {}): Promise<Dfs> {
    const readOnly = options.readOnly === true || options.snapshot !== undefined;
    let cont: Container;
    let owned: Container | undefined;
    try {
      if (typeof container === 'string') {
        cont = await openOrCreateContainer(pool, container, options, readOnly);
        owned = cont;
      } else {
        cont = container;
      }
      const sbOid = cont.reservedOid(SB_USER, {
        type: 'multi_lexical',
        oclass: defaultOclass(cont.props.redunFactor, 'other'),
      });
      let found = await readSuperBlock(cont, sbOid);
      if (!found) {
        if (!options.create) {
          throw new DfsError('EINVAL', 'mount', cont.label, {
            cause: new DaosError('DER_NONEXIST', `container "${cont.label}" holds no POSIX file system`),
          });
        }
        if (readOnly) throw new DfsError('EROFS', 'mount', cont.label);
        await writeSuperBlock(cont, sbOid, options);
        found = await readSuperBlock(cont, sbOid);
        if (!found) throw new DfsError('EIO', 'mount', cont.label);
      }
      let view = cont;
      if (options.snapshot !== undefined) view = cont.atSnapshot(await snapshotEpoch(cont, options.snapshot));
      const root = view === cont ? found.root : (await readSuperBlock(view, sbOid))?.root;
      if (!root) throw new DfsError('ENOENT', 'mount', `${cont.label}@${String(options.snapshot)}`);
      return new Dfs({
        container: view,
        sb: found.sb,
        sbOid,
        root: { oid: root.oid, entry: root },
        readOnly,
        owned,
        options,
      });
    } catch (err) {
      throw toDfsError(err, 'mount', typeof container === 'string' ? container : container.label);
    }
  }

  /** Unmount: later calls fail with EBADF; a container opened by `mount` is closed. */
  async umount(): Promise<void> {
    if (!this.mounted) return;
    this.mounted = false;
    this.handles.clear();
    this.handlesHeld = 0;
    this.forgetDirs();
    await this.owned?.close();
  }

  // ---- paths ----

  /**
   * Resolve a path: walk from the root fetching one entry per component, following symlinks
   * (all of them, or all but the last with `follow: false`). A missing last component resolves
   * with `entry` undefined; a missing directory on the way is ENOENT. Directories on the way come
   * from the lookup cache when fresh; the last component is fetched, unless `dirFromCache` (the
   * caller wants a directory to work in, as a create its parent): then a cached directory serves,
   * and a fetched one is cached.
   */
  async resolve(
    path: string,
    syscall: string,
    options: { follow?: boolean; dirFromCache?: boolean } = {},
  ): Promise<Resolved> {
    this.checkMounted(syscall, path);
    const follow = options.follow ?? true;
    const parts = splitPath(path, syscall);
    const mustBeDir = path.length > 1 && path.endsWith('/');
    const stack = parts.reverse();
    let chain: DirRef[] = [this.root];
    let walked: string[] = [];
    let hops = 0;
    if (stack.length === 0) {
      return { dir: this.sbDir(), name: ROOT_NAME, entry: this.root.entry, chain: [], path: '/' };
    }
    try {
      for (;;) {
        const name = stack.pop()!;
        const last = stack.length === 0;
        if (name === '.' || name === '..') {
          if (name === '..' && chain.length > 1) {
            chain = chain.slice(0, -1);
            walked = walked.slice(0, -1);
          }
          if (last) {
            const d = chain[chain.length - 1]!;
            if (chain.length === 1)
              return { dir: this.sbDir(), name: ROOT_NAME, entry: d.entry, chain: [], path: '/' };
            const parent = chain[chain.length - 2]!;
            return {
              dir: parent,
              name: walked[walked.length - 1]!,
              entry: d.entry,
              chain: chain.slice(0, -1),
              path: `/${walked.join('/')}`,
            };
          }
          continue;
        }
        const dir = chain[chain.length - 1]!;
        const cached = last && options.dirFromCache !== true ? undefined : this.cachedDir(dir, name);
        const gen = this.dirCacheGen;
        const entry = cached ? cached.entry : await this.fetchEntry(dir.oid, name);
        // The path as resolved, for the result (built only there).
        const here = () => (walked.length === 0 ? `/${name}` : `/${walked.join('/')}/${name}`);
        if (entry === undefined) {
          if (last) return { dir, name, entry: undefined, chain, path: here() };
          throw new DfsError('ENOENT', syscall, path);
        }
        if (isLink(entry) && (!last || follow || mustBeDir)) {
          if (++hops > SYMLINK_HOPS_MAX) throw new DfsError('ELOOP', syscall, path);
          const target = entry.target ?? '';
          if (target.length === 0) throw new DfsError('ENOENT', syscall, path);
          const tparts = target.split('/').filter((p) => p.length > 0);
          if (target.startsWith('/')) {
            chain = [this.root];
            walked = [];
          }
          if (tparts.length === 0) {
            // A link to '/': what remains resolves from the root.
            if (last)
              return { dir: this.sbDir(), name: ROOT_NAME, entry: this.root.entry, chain: [], path: '/' };
            continue;
          }
          for (let i = tparts.length - 1; i >= 0; i--) stack.push(tparts[i]!);
          continue;
        }
        if (last) {
          if (mustBeDir && !isDir(entry)) throw new DfsError('ENOTDIR', syscall, path);
          if (options.dirFromCache === true && cached === undefined && isDir(entry))
            this.cacheDir(dir, name, entry, gen);
          return { dir, name, entry, chain, path: here() };
        }
        if (!isDir(entry)) throw new DfsError('ENOTDIR', syscall, path);
        // Arrays of this walk only (a '..' or an absolute link starts new ones): extended in place.
        chain.push(cached ?? this.cacheDir(dir, name, entry, gen));
        walked.push(name);
      }
    } catch (err) {
      throw toDfsError(err, syscall, path);
    }
  }

  /** Resolve a path that must exist. */
  async lookup(
    path: string,
    syscall: string,
    options: { follow?: boolean } = {},
  ): Promise<Resolved & { entry: Entry }> {
    const r = await this.resolve(path, syscall, options);
    if (r.entry === undefined) throw new DfsError('ENOENT', syscall, path);
    return r as Resolved & { entry: Entry };
  }

  // ---- metadata ----

  async stat(path: string, options: { follow?: boolean } = {}): Promise<DfsStats> {
    const syscall = options.follow === false ? 'lstat' : 'stat';
    const r = await this.lookup(path, syscall, options);
    return this.statOf(r.entry, syscall, path);
  }

  /** @internal Stats of an entry (a file's size is its array's). */
  async statOf(entry: Entry, syscall: string, path: string): Promise<DfsStats> {
    let size = 0n;
    try {
      if (isReg(entry)) size = await this.fileArray(entry).getSize();
      else if (isLink(entry)) size = BigInt(Buffer.byteLength(entry.target ?? ''));
    } catch (err) {
      throw toDfsError(err, syscall, path);
    }
    return new DfsStats(entry, size, this.container.uuid);
  }

  async mkdir(path: string, mode = 0o777): Promise<void> {
    const r =
      (await this.newEntryAt(path, 'mkdir')) ?? (await this.resolve(path, 'mkdir', { follow: false }));
    if (r.entry !== undefined) throw new DfsError('EEXIST', 'mkdir', path);
    this.checkWritable('mkdir', path);
    await this.insertEntry(r, 'mkdir', path, async (now) => ({
      mode: S_IFDIR | (mode & ~this.umask & 0o7777),
      oid: await this.container.newOid({ type: 'multi_lexical', oclass: this.sb.dirOclass }),
      ...this.owner(now),
      chunkSize: 0,
    }));
  }

  /** Create a regular file; `exclusive` fails with EEXIST when the name exists. */
  async create(
    path: string,
    options: { mode?: number; chunkSize?: number; oclass?: string } = {},
  ): Promise<Entry> {
    const r = await this.resolve(path, 'open');
    if (r.entry !== undefined) throw new DfsError('EEXIST', 'open', path);
    return this.createIn(r, path, options);
  }

  private createIn(
    r: Resolved,
    path: string,
    options: { mode?: number; chunkSize?: number; oclass?: string },
  ): Promise<Entry> {
    this.checkWritable('open', path);
    return this.insertEntry(r, 'open', path, async (now) => ({
      mode: S_IFREG | ((options.mode ?? 0o666) & ~this.umask & 0o7777),
      oid: await this.container.newOid({ type: 'byte_array', oclass: options.oclass ?? this.sb.oclass }),
      ...this.owner(now),
      chunkSize: options.chunkSize ?? this.sb.chunkSize,
    }));
  }

  async symlink(target: string, path: string): Promise<void> {
    if (Buffer.byteLength(target) > PATH_BYTES_MAX)
      throw new DfsError('ENAMETOOLONG', 'symlink', target, { dest: path });
    const r = await this.resolve(path, 'symlink', { follow: false });
    if (r.entry !== undefined) throw new DfsError('EEXIST', 'symlink', target, { dest: path });
    this.checkWritable('symlink', path);
    await this.insertEntry(r, 'symlink', path, async (now) => ({
      mode: S_IFLNK | 0o777,
      oid: { hi: 0n, lo: 0n },
      ...this.owner(now),
      chunkSize: 0,
      target,
    }));
  }

  async readlink(path: string): Promise<string> {
    const r = await this.lookup(path, 'readlink', { follow: false });
    if (!isLink(r.entry)) throw new DfsError('EINVAL', 'readlink', path);
    return r.entry.target ?? '';
  }

  /** Open (and with `flags.create` create) a file. */
  async open(path: string, flags: OpenFlags, mode = 0o666): Promise<DfsFile> {
    const fresh = flags.create ? await this.createByName(path, mode, flags.exclusive === true) : undefined;
    let r = fresh ?? (await this.resolve(path, 'open'));
    let created = fresh !== undefined;
    if (r.entry === undefined) {
      if (!flags.create) throw new DfsError('ENOENT', 'open', path);
      this.checkWritable('open', path);
      try {
        const entry = await this.createIn(r, path, { mode });
        r = { ...r, entry };
        created = true;
      } catch (err) {
        // Another client created it first: open theirs unless the open is exclusive.
        if (!(err instanceof DfsError && err.code === 'EEXIST') || flags.exclusive) throw err;
        r = await this.lookup(path, 'open');
      }
    } else if (flags.create && flags.exclusive && !created) {
      throw new DfsError('EEXIST', 'open', path);
    }
    const entry = r.entry!;
    if (isDir(entry) && (flags.write || flags.truncate)) throw new DfsError('EISDIR', 'open', path);
    if (flags.write || flags.truncate) this.checkWritable('open', path);
    const file = new DfsFile(this, r.dir.oid, r.name, entry, flags, path);
    if (flags.truncate && !created && isReg(entry)) await file.truncate(0);
    return file;
  }

  /**
   * libdfs's O_CREAT: resolve the parent and insert the entry at once (a conditional insert; the
   * name is looked up only if it exists). Undefined when it exists and the open is not exclusive
   * (the caller opens what is there, following a symlink), and for what the full walk handles
   * (a read-only mount, a trailing slash, '.' or '..' last).
   */
  private async createByName(
    path: string,
    mode: number,
    exclusive: boolean,
  ): Promise<(Resolved & { entry: Entry }) | undefined> {
    const r = await this.newEntryAt(path, 'open');
    if (r === undefined) return undefined;
    try {
      return { ...r, entry: await this.createIn(r, r.path, { mode }) };
    } catch (err) {
      if (err instanceof DfsError && err.code === 'EEXIST' && !exclusive) return undefined;
      throw err;
    }
  }

  /**
   * Where a new entry at `path` goes, without looking the name up (the insert that follows finds
   * a name already there: DER_EXIST), its parent taken from the lookup cache when fresh, as a walk
   * to a deeper path would: in a cached directory a create or mkdir is one insert. Undefined when
   * the last component is not a plain name, or the mount is read-only: the caller then walks the
   * whole path.
   */
  private async newEntryAt(path: string, syscall: string): Promise<Resolved | undefined> {
    if (this.readOnly || typeof path !== 'string') return undefined;
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    if (name === '' || name === '.' || name === '..' || Buffer.byteLength(name) > NAME_BYTES_MAX)
      return undefined;
    let parent: Resolved;
    try {
      parent = await this.resolve(cut <= 0 ? '/' : path.slice(0, cut), syscall, { dirFromCache: true });
    } catch (err) {
      throw err instanceof DfsError ? new DfsError(err.code, syscall, path) : err;
    }
    if (parent.entry === undefined) throw new DfsError('ENOENT', syscall, path);
    if (!isDir(parent.entry)) throw new DfsError('ENOTDIR', syscall, path);
    const dir: DirRef = { oid: parent.entry.oid, entry: parent.entry };
    const at = `${parent.path === '/' ? '' : parent.path}/${name}`;
    return { dir, name, entry: undefined, chain: [...parent.chain, dir], path: at };
  }

  async unlink(path: string): Promise<void> {
    const r = await this.lookup(path, 'unlink', { follow: false });
    if (isDir(r.entry)) throw new DfsError('EISDIR', 'unlink', path);
    await this.removeEntry(r, 'unlink', path);
  }

  async rmdir(path: string): Promise<void> {
    const r = await this.lookup(path, 'rmdir', { follow: false });
    if (!isDir(r.entry)) throw new DfsError('ENOTDIR', 'rmdir', path);
    if (r.name === ROOT_NAME) throw new DfsError('EBUSY', 'rmdir', path);
    if (!(await this.isEmptyDir(r.entry))) throw new DfsError('ENOTEMPTY', 'rmdir', path);
    await this.removeEntry(r, 'rmdir', path);
  }

  /** Remove a file, link or directory tree (DAOS's dfs_remove with force). */
  async removeTree(path: string): Promise<void> {
    const r = await this.lookup(path, 'rm', { follow: false });
    if (r.name === ROOT_NAME) throw new DfsError('EBUSY', 'rm', path);
    if (isDir(r.entry)) await this.emptyDir(r.entry, path);
    await this.removeEntry(r, 'rm', path);
  }

  /**
   * Rename, replacing an existing destination as POSIX does (a file over a file, a directory over
   * an empty directory). In balanced mode the whole change is one transaction.
   */
  async rename(from: string, to: string): Promise<void> {
    const gen = this.dirCacheGen;
    try {
      await this.renameTries(from, to);
    } finally {
      // A directory moved (see renameOnce): walks that fetched during the move must not cache it.
      if (this.dirCacheGen !== gen) this.forgetDirs();
    }
  }

  private async renameTries(from: string, to: string): Promise<void> {
    this.checkWritable('rename', from);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.renameOnce(from, to);
      } catch (err) {
        if (err instanceof DaosError && err.code === 'DER_TX_RESTART' && attempt < TX_TRIES_MAX) continue;
        throw toDfsError(err, 'rename', from);
      }
    }
  }

  private async renameOnce(from: string, to: string): Promise<void> {
    const src = await this.lookup(from, 'rename', { follow: false });
    const dst = await this.resolve(to, 'rename', { follow: false });
    const err = (code: 'EINVAL' | 'EISDIR' | 'ENOTDIR' | 'ENOTEMPTY' | 'EBUSY') =>
      new DfsError(code, 'rename', from, { dest: to });
    if (src.name === ROOT_NAME || dst.name === ROOT_NAME) throw err('EBUSY');
    const srcIsDir = isDir(src.entry);
    // A directory cannot move into its own subtree.
    if (srcIsDir && [...dst.chain, dst.dir].some((d) => sameOid(d.oid, src.entry.oid))) throw err('EINVAL');
    if (dst.entry !== undefined) {
      if (sameOid(dst.dir.oid, src.dir.oid) && dst.name === src.name) return;
      if (isDir(dst.entry)) {
        if (!srcIsDir) throw err('EISDIR');
        if (!(await this.isEmptyDir(dst.entry))) throw err('ENOTEMPTY');
      } else if (srcIsDir) throw err('ENOTDIR');
    } else if (to.length > 1 && to.endsWith('/') && !srcIsDir) throw err('ENOTDIR');
    const moved: Entry = { ...src.entry, ctime: nowNs() };
    if (srcIsDir || (dst.entry !== undefined && isDir(dst.entry))) this.forgetDirs();
    if (this.sb.mode === 'balanced') {
      const tx = await this.container.openTx();
      // Reading both entries in the transaction makes a concurrent change to either restart it.
      const [again] = await tx.object(src.dir.oid).fetch(src.name, [{ akey: INODE_AKEY, kind: 'single' }]);
      await tx.object(dst.dir.oid).fetch(dst.name, [{ akey: INODE_AKEY, kind: 'single' }]);
      if (again === undefined) throw new DfsError('ENOENT', 'rename', from, { dest: to });
      if (dst.entry !== undefined) await tx.object(dst.dir.oid).punchDkeys([dst.name]);
      await tx
        .object(dst.dir.oid)
        .update(dst.name, [{ akey: INODE_AKEY, kind: 'single', value: encodeEntry(moved) }]);
      await this.copyXattrs(src, dst, tx);
      await tx.object(src.dir.oid).punchDkeys([src.name]);
      await tx.commit();
    } else {
      // Relaxed: the new name first, then the old one goes (a crash between leaves both).
      if (dst.entry !== undefined) await this.dirObject(dst.dir.oid).punchDkeys([dst.name]);
      await this.dirObject(dst.dir.oid).update(dst.name, [
        { akey: INODE_AKEY, kind: 'single', value: encodeEntry(moved) },
      ]);
      await this.copyXattrs(src, dst);
      try {
        await this.dirObject(src.dir.oid).punchDkeys([src.name], { mustExist: true });
      } catch (err) {
        // A racing rename or unlink took the source first: take back the new name.
        if (err instanceof DaosError && err.code === 'DER_NONEXIST') {
          await this.dirObject(dst.dir.oid).punchDkeys([dst.name]);
          throw new DfsError('ENOENT', 'rename', from, { dest: to });
        }
        throw err;
      }
    }
    if (dst.entry !== undefined) await this.punchObjectOf(dst.entry);
  }

  async truncate(path: string, length: number | bigint): Promise<void> {
    const len = checkLength(length, 'truncate', path);
    const r = await this.lookup(path, 'truncate');
    if (isDir(r.entry)) throw new DfsError('EISDIR', 'truncate', path);
    this.checkWritable('truncate', path);
    const file = new DfsFile(this, r.dir.oid, r.name, r.entry, { read: false, write: true }, path);
    await file.truncate(len);
    await file.close();
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.setattr(path, 'chmod', (e) => ({ ...e, mode: (e.mode & S_IFMT) | (mode & 0o7777) }));
  }

  async chown(path: string, uid: number, gid: number, options: { follow?: boolean } = {}): Promise<void> {
    await this.setattr(
      path,
      options.follow === false ? 'lchown' : 'chown',
      (e) => ({
        ...e,
        uid: uid === -1 ? e.uid : uid,
        gid: gid === -1 ? e.gid : gid,
      }),
      options,
    );
  }

  /** Set access and modification times (nanoseconds since the epoch). */
  async utimes(
    path: string,
    atime: bigint,
    mtime: bigint,
    options: { follow?: boolean } = {},
  ): Promise<void> {
    await this.setattr(
      path,
      options.follow === false ? 'lutimes' : 'utime',
      (e) => ({ ...e, atime, mtime }),
      options,
    );
  }

  private async setattr(
    path: string,
    syscall: string,
    change: (e: Entry) => Entry,
    options: { follow?: boolean } = {},
  ): Promise<void> {
    const r = await this.lookup(path, syscall, options);
    this.checkWritable(syscall, path);
    await this.updateEntry(r.dir.oid, r.name, { ...change(r.entry), ctime: nowNs() }, syscall, path);
  }

  /** @internal Rewrite an entry's inode record if the entry is still there. */
  async updateEntry(dir: Oid, name: string, entry: Entry, syscall: string, path: string): Promise<void> {
    try {
      await this.dirObject(dir).update(
        name,
        [{ akey: INODE_AKEY, kind: 'single', value: encodeEntry(entry) }],
        {
          cond: 'akey_update',
        },
      );
      if (name === ROOT_NAME && sameOid(dir, this.sbOid)) this.root.entry = entry;
    } catch (err) {
      throw toDfsError(err, syscall, path);
    } finally {
      // (After the write: a walk that fetched the old entry meanwhile must not cache it.)
      if (isDir(entry)) this.forgetDirs();
    }
  }

  // ---- directories ----

  /**
   * One page of a directory's names in name order, from past `after` (a cursor: the last name of
   * the previous page), at most `max`; `next` is the cursor for the following page.
   */
  async readdirPage(
    path: string,
    options: { after?: string; max?: number } = {},
  ): Promise<{ names: string[]; next: string | undefined }> {
    const max = options.max ?? 1024;
    const names: string[] = [];
    for await (const name of this.names(path, options.after)) {
      names.push(name);
      if (names.length >= max) return { names, next: name };
    }
    return { names, next: undefined };
  }

  /** Every name in a directory, in name order (streamed; huge directories are fine). */
  async *names(path: string, after?: string): AsyncGenerator<string> {
    const r = await this.lookup(path, 'scandir');
    if (!isDir(r.entry)) throw new DfsError('ENOTDIR', 'scandir', path);
    try {
      for await (const k of this.dirObject(r.entry.oid).listDkeys({ after })) yield String(k);
    } catch (err) {
      throw toDfsError(err, 'scandir', path);
    }
  }

  /** Every entry of a directory with its type, in name order. */
  async *entries(path: string): AsyncGenerator<DirEntryInfo> {
    const r = await this.lookup(path, 'scandir');
    if (!isDir(r.entry)) throw new DfsError('ENOTDIR', 'scandir', path);
    const dir = this.dirObject(r.entry.oid);
    let batch: string[] = [];
    const flush = async function* (this: Dfs): AsyncGenerator<DirEntryInfo> {
      const got = await Promise.all(batch.map((name) => this.fetchEntry(r.entry.oid, name)));
      for (let i = 0; i < batch.length; i++) {
        const e = got[i];
        // A name whose entry went meanwhile is skipped, as readdir does.
        if (e) yield { name: batch[i]!, type: e.mode & S_IFMT };
      }
      batch = [];
    };
    try {
      for await (const k of dir.listDkeys()) {
        batch.push(String(k));
        if (batch.length >= ENTRY_FETCHES_IN_FLIGHT) yield* flush.call(this);
      }
      yield* flush.call(this);
    } catch (err) {
      throw toDfsError(err, 'scandir', path);
    }
  }

  private async isEmptyDir(entry: Entry): Promise<boolean> {
    for await (const _ of this.dirObject(entry.oid).listDkeys()) return false;
    return true;
  }

  private async emptyDir(entry: Entry, path: string): Promise<void> {
    const names: string[] = [];
    for await (const k of this.dirObject(entry.oid).listDkeys()) names.push(String(k));
    for (let i = 0; i < names.length; i += ENTRY_FETCHES_IN_FLIGHT) {
      await Promise.all(
        names.slice(i, i + ENTRY_FETCHES_IN_FLIGHT).map(async (name) => {
          const child = await this.fetchEntry(entry.oid, name);
          if (!child) return;
          const childPath = posix.join(path, name);
          if (isDir(child)) await this.emptyDir(child, childPath);
          await this.removeEntry(
            { dir: { oid: entry.oid, entry }, name, entry: child, chain: [], path: childPath },
            'rm',
            childPath,
          );
        }),
      );
    }
  }

  // ---- extended attributes (akeys x:<name> beside the entry's inode) ----

  async setxattr(
    path: string,
    name: string,
    value: Uint8Array | string,
    options: { flag?: 'create' | 'replace'; follow?: boolean } = {},
  ): Promise<void> {
    const bytes = typeof value === 'string' ? Buffer.from(value) : value;
    checkXattrName(name, 'setxattr', path);
    if (bytes.byteLength > XATTR_VALUE_BYTES_MAX) throw new DfsError('E2BIG', 'setxattr', path);
    const r = await this.lookup(path, 'setxattr', options);
    this.checkWritable('setxattr', path);
    const cond =
      options.flag === 'create' ? 'akey_insert' : options.flag === 'replace' ? 'akey_update' : undefined;
    await this.entryTx('setxattr', path, r, async (obj) => {
      await obj.update(r.name, [{ akey: XATTR_PREFIX + name, kind: 'single', value: bytes }], { cond });
    });
  }

  async getxattr(path: string, name: string, options: { follow?: boolean } = {}): Promise<Buffer> {
    checkXattrName(name, 'getxattr', path);
    const r = await this.lookup(path, 'getxattr', options);
    try {
      const [v] = await this.dirObject(r.dir.oid).fetch(r.name, [
        { akey: XATTR_PREFIX + name, kind: 'single' },
      ]);
      if (v === undefined) throw new DfsError('ENODATA', 'getxattr', path);
      return Buffer.from(v as Uint8Array);
    } catch (err) {
      throw toDfsError(err, 'getxattr', path);
    }
  }

  async listxattr(path: string, options: { follow?: boolean } = {}): Promise<string[]> {
    const r = await this.lookup(path, 'listxattr', options);
    const out: string[] = [];
    try {
      for await (const k of this.dirObject(r.dir.oid).listAkeys(r.name)) {
        const s = String(k);
        if (s.startsWith(XATTR_PREFIX)) out.push(s.slice(XATTR_PREFIX.length));
      }
    } catch (err) {
      throw toDfsError(err, 'listxattr', path);
    }
    return out;
  }

  async removexattr(path: string, name: string, options: { follow?: boolean } = {}): Promise<void> {
    checkXattrName(name, 'removexattr', path);
    const r = await this.lookup(path, 'removexattr', options);
    this.checkWritable('removexattr', path);
    try {
      await this.dirObject(r.dir.oid).punchAkeys(r.name, [XATTR_PREFIX + name], { mustExist: true });
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_NONEXIST')
        throw new DfsError('ENODATA', 'removexattr', path);
      throw toDfsError(err, 'removexattr', path);
    }
  }

  // ---- internals shared with DfsFile and the facade ----

  /** @internal The byte array holding a file's data. */
  fileArray(entry: Entry): DaosArray {
    return DaosArray.withAttrs(this.container, entry.oid, { cellSize: 1, chunkSize: entry.chunkSize });
  }

  /** @internal */
  checkWritable(syscall: string, path: string): void {
    this.checkMounted(syscall, path);
    if (this.readOnly) throw new DfsError('EROFS', syscall, path);
  }

  private checkMounted(syscall: string, path: string): void {
    if (!this.mounted) throw new DfsError('EBADF', syscall, path);
  }

  private sbDir(): DirRef {
    return { oid: this.sbOid, entry: this.root.entry };
  }

  private owner(now: bigint): Pick<Entry, 'uid' | 'gid' | 'atime' | 'mtime' | 'ctime'> {
    return { uid: this.uid, gid: this.gid, atime: now, mtime: now, ctime: now };
  }

  /** The cached subdirectory `name` of `dir`, if fetched less than dirCacheMs ago. */
  private cachedDir(dir: DirRef, name: string): DirRef | undefined {
    if (this.dirCacheMs <= 0) return undefined;
    const hit = this.dirCache.get(dir)?.get(name);
    if (hit === undefined) return undefined;
    if (performance.now() - hit.at <= this.dirCacheMs) return hit.ref;
    this.dirCache.get(dir)!.delete(name);
    return undefined;
  }

  /** A ref for subdirectory `name` of `dir`, cached unless the cache was dropped since generation `gen`. */
  private cacheDir(dir: DirRef, name: string, entry: Entry, gen: number): DirRef {
    const ref = { oid: entry.oid, entry };
    if (this.dirCacheMs <= 0 || gen !== this.dirCacheGen) return ref;
    let names = this.dirCache.get(dir);
    if (names === undefined) {
      names = new Map();
      this.dirCache.set(dir, names);
    } else if (names.size >= DIR_HANDLES_CACHED_MAX) names.clear();
    names.set(name, { ref, at: performance.now() });
    return ref;
  }

  /** Drop the lookup cache: this mount changed a directory's entry (removed, renamed, its inode). */
  private forgetDirs(): void {
    this.dirCache = new WeakMap();
    this.dirCacheGen++;
  }

  private dirObject(oid: Oid): DaosObject {
    let byLo = this.handles.get(oid.hi);
    const held = byLo?.get(oid.lo);
    if (held !== undefined) return held;
    if (this.handlesHeld >= DIR_HANDLES_CACHED_MAX) {
      this.handles.clear();
      this.handlesHeld = 0;
      byLo = undefined;
    }
    if (byLo === undefined) this.handles.set(oid.hi, (byLo = new Map()));
    const obj = new DaosObject(this.container, oid);
    byLo.set(oid.lo, obj);
    this.handlesHeld++;
    return obj;
  }

  private async fetchEntry(dir: Oid, name: string): Promise<Entry | undefined> {
    const [v] = await this.dirObject(dir).fetch(name, [{ akey: INODE_AKEY, kind: 'single' }]);
    return v === undefined ? undefined : decodeEntry(v as Uint8Array);
  }

  /** Insert a new entry with DAOS's dkey insert-if-absent: of racing creators exactly one wins. */
  private async insertEntry(
    r: Resolved,
    syscall: string,
    path: string,
    make: (now: bigint) => Promise<Entry>,
  ): Promise<Entry> {
    try {
      const entry = await make(nowNs());
      await this.dirObject(r.dir.oid).update(
        r.name,
        [{ akey: INODE_AKEY, kind: 'single', value: encodeEntry(entry) }],
        {
          cond: 'dkey_insert',
        },
      );
      return entry;
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_EXIST') throw new DfsError('EEXIST', syscall, path);
      throw toDfsError(err, syscall, path);
    }
  }

  /** Remove an entry with punch-must-exist (of racing removers exactly one wins), then its object. */
  private async removeEntry(r: Resolved & { entry: Entry }, syscall: string, path: string): Promise<void> {
    this.checkWritable(syscall, path);
    try {
      await this.dirObject(r.dir.oid).punchDkeys([r.name], { mustExist: true });
    } catch (err) {
      if (err instanceof DaosError && err.code === 'DER_NONEXIST')
        throw new DfsError('ENOENT', syscall, path);
      throw toDfsError(err, syscall, path);
    } finally {
      if (isDir(r.entry)) this.forgetDirs();
    }
    await this.punchObjectOf(r.entry);
  }

  private async punchObjectOf(entry: Entry): Promise<void> {
    if (isLink(entry)) return;
    const obj = isDir(entry) ? this.dirObject(entry.oid) : new DaosObject(this.container, entry.oid);
    // The entry is gone: no name reaches the object, so its groups need no common transaction.
    await obj.punch({ independent: true });
    if (isDir(entry) && this.handles.get(entry.oid.hi)?.delete(entry.oid.lo)) this.handlesHeld--;
  }

  private async copyXattrs(src: Resolved & { entry: Entry }, dst: Resolved, tx?: Tx): Promise<void> {
    const names = await this.listxattr(src.path, { follow: false }).catch(() => [] as string[]);
    if (names.length === 0) return;
    const from = this.dirObject(src.dir.oid);
    const values = await from.fetch(
      src.name,
      names.map((n) => ({ akey: XATTR_PREFIX + n, kind: 'single' as const })),
    );
    const iods = names.flatMap((n, i) =>
      values[i] === undefined
        ? []
        : [{ akey: XATTR_PREFIX + n, kind: 'single' as const, value: values[i] as Uint8Array }],
    );
    if (iods.length === 0) return;
    const to = tx ? tx.object(dst.dir.oid) : this.dirObject(dst.dir.oid);
    await to.update(dst.name, iods);
  }

  /** Run a change to one entry; in balanced mode as a transaction that also re-reads the inode. */
  private async entryTx(
    syscall: string,
    path: string,
    r: Resolved & { entry: Entry },
    change: (obj: DaosObject) => Promise<void>,
  ): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const tx = await this.container.openTx();
        const obj = tx.object(r.dir.oid);
        const [inode] = await obj.fetch(r.name, [{ akey: INODE_AKEY, kind: 'single' }]);
        if (inode === undefined) throw new DfsError('ENOENT', syscall, path);
        await change(obj);
        await tx.commit();
        return;
      } catch (err) {
        if (err instanceof DaosError && err.code === 'DER_TX_RESTART' && attempt < TX_TRIES_MAX) continue;
        if (err instanceof DaosError && err.code === 'DER_EXIST') throw new DfsError('EEXIST', syscall, path);
        if (err instanceof DaosError && err.code === 'DER_NONEXIST')
          throw new DfsError('ENODATA', syscall, path);
        throw toDfsError(err, syscall, path);
      }
    }
  }
}

// ---- mount helpers ----

async function openOrCreateContainer(
  pool: Pool,
  label: string,
  options: MountOptions,
  readOnly: boolean,
): Promise<Container> {
  const mode = readOnly ? 'ro' : 'rw';
  try {
    return await pool.openContainer(label, { mode });
  } catch (err) {
    if (!(err instanceof DaosError && err.code === 'DER_NONEXIST') || !options.create) throw err;
  }
  try {
    await pool.createContainer({ label, type: 'POSIX' });
  } catch (err) {
    // Another client created it first.
    if (!(err instanceof DaosError && err.code === 'DER_EXIST')) throw err;
  }
  return pool.openContainer(label, { mode });
}

async function readSuperBlock(
  cont: Container,
  sbOid: Oid,
): Promise<{ sb: SuperBlock; root: Entry } | undefined> {
  const obj = new DaosObject(cont, sbOid);
  const [magic, version, chunk, oclass, dirOclass, mode] = (await obj.fetch(SB_DKEY, [
    { akey: 'DFS_MAGIC', kind: 'single' },
    { akey: 'DFS_SB_VERSION', kind: 'single' },
    { akey: 'DFS_CHUNK_SIZE', kind: 'single' },
    { akey: 'DFS_OBJ_CLASS', kind: 'single' },
    { akey: 'DFS_DIR_OBJ_CLASS', kind: 'single' },
    { akey: 'DFS_MODE', kind: 'single' },
  ])) as Array<Uint8Array | undefined>;
  if (magic === undefined) return undefined;
  if (Buffer.from(magic).readBigUInt64LE(0) !== SB_MAGIC) {
    throw new DaosError('DER_INVAL', `container "${cont.label}" holds no DFS superblock (bad magic)`);
  }
  const [rootBytes] = await obj.fetch(ROOT_NAME, [{ akey: INODE_AKEY, kind: 'single' }]);
  const root = rootBytes === undefined ? undefined : decodeEntry(rootBytes as Uint8Array);
  if (!root) throw new DaosError('DER_INVAL', `container "${cont.label}": DFS superblock without a root`);
  const text = (b: Uint8Array | undefined) => (b && b.byteLength > 0 ? Buffer.from(b).toString() : undefined);
  return {
    sb: {
      version: Buffer.from(version!).readUInt16LE(0),
      chunkSize: Number(Buffer.from(chunk!).readBigUInt64LE(0)),
      oclass: text(oclass),
      dirOclass: text(dirOclass),
      mode: text(mode) === 'balanced' ? 'balanced' : 'relaxed',
    },
    root,
  };
}

/** Write the superblock and the root entry in one transaction (a racing creator makes it DER_EXIST). */
async function writeSuperBlock(cont: Container, sbOid: Oid, options: MountOptions): Promise<void> {
  const chunkSize = options.chunkSize ?? DFS_CHUNK_SIZE_DEFAULT;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0)
    throw new DaosError('DER_INVAL', `chunk size ${chunkSize} is not a positive integer`);
  const mode = options.mode ?? 'relaxed';
  if (mode !== 'relaxed' && mode !== 'balanced')
    throw new DaosError('DER_INVAL', `unknown DFS mode "${String(mode)}"`);
  const u64 = (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(n);
    return b;
  };
  const version = Buffer.alloc(2);
  version.writeUInt16LE(SB_VERSION);
  // Check the classes now: a bad one fails the mount, not the first create.
  if (options.oclass) cont.reservedOid(0n, { type: 'byte_array', oclass: options.oclass });
  if (options.dirOclass) cont.reservedOid(0n, { type: 'multi_lexical', oclass: options.dirOclass });
  const now = nowNs();
  const root: Entry = {
    mode: S_IFDIR | 0o755,
    uid: options.uid ?? process.getuid?.() ?? 0,
    gid: options.gid ?? process.getgid?.() ?? 0,
    oid: cont.reservedOid(ROOT_USER, { type: 'multi_lexical', oclass: options.dirOclass }),
    atime: now,
    mtime: now,
    ctime: now,
    chunkSize: 0,
  };
  const tx = await cont.openTx();
  const obj = tx.object(sbOid);
  await obj.update(
    SB_DKEY,
    [
      { akey: 'DFS_MAGIC', kind: 'single', value: u64(SB_MAGIC) },
      { akey: 'DFS_SB_VERSION', kind: 'single', value: version },
      { akey: 'DFS_CHUNK_SIZE', kind: 'single', value: u64(BigInt(chunkSize)) },
      { akey: 'DFS_OBJ_CLASS', kind: 'single', value: options.oclass ?? '' },
      { akey: 'DFS_DIR_OBJ_CLASS', kind: 'single', value: options.dirOclass ?? '' },
      { akey: 'DFS_MODE', kind: 'single', value: mode },
    ],
    { cond: 'dkey_insert' },
  );
  await obj.update(ROOT_NAME, [{ akey: INODE_AKEY, kind: 'single', value: encodeEntry(root) }]);
  try {
    await tx.commit();
  } catch (err) {
    if (!(err instanceof DaosError && (err.code === 'DER_EXIST' || err.code === 'DER_TX_RESTART'))) throw err;
  }
}

async function snapshotEpoch(cont: Container, snapshot: bigint | string): Promise<bigint> {
  if (typeof snapshot === 'bigint') return snapshot;
  for await (const s of cont.listSnapshots()) if (s.name === snapshot) return s.epoch;
  throw new DaosError('DER_NONEXIST', `container "${cont.label}" has no snapshot "${snapshot}"`);
}

// ---- small helpers ----

function splitPath(path: string, syscall: string): string[] {
  if (typeof path !== 'string') throw new DfsError('EINVAL', syscall, String(path));
  if (path.length === 0) throw new DfsError('ENOENT', syscall, path);
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no count.
  const tooLong = (s: string, max: number) => s.length * 3 > max && Buffer.byteLength(s) > max;
  if (tooLong(path, PATH_BYTES_MAX)) throw new DfsError('ENAMETOOLONG', syscall, path);
  const parts = path.split('/').filter((p) => p.length > 0);
  for (const p of parts) if (tooLong(p, NAME_BYTES_MAX)) throw new DfsError('ENAMETOOLONG', syscall, path);
  return parts;
}

function checkXattrName(name: string, syscall: string, path: string): void {
  if (typeof name !== 'string' || name.length === 0) throw new DfsError('EINVAL', syscall, path);
  if (Buffer.byteLength(name) > XATTR_NAME_BYTES_MAX) throw new DfsError('ERANGE', syscall, path);
}

export function checkLength(length: number | bigint, syscall: string, path: string): bigint {
  const ok = typeof length === 'bigint' ? length >= 0n : Number.isSafeInteger(length) && length >= 0;
  if (!ok) throw new DfsError('EINVAL', syscall, path);
  return BigInt(length);
}

function sameOid(a: Oid, b: Oid): boolean {
  return a.hi === b.hi && a.lo === b.lo;
}

function processUmask(): number {
  try {
    return process.umask();
  } catch {
    return 0o022; // worker threads cannot read the umask
  }
}
