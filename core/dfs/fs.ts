import { constants } from 'node:fs';
import { posix } from 'node:path';
import type { Dfs } from './dfs.js';
import { isDir, S_IFDIR, S_IFLNK, S_IFREG } from './entry.js';
import { DfsError } from './errors.js';
import type { DfsFile, OpenFlags } from './file.js';
import type { DfsStats } from './stats.js';
import {
  DfsReadStream,
  type DfsReadStreamOptions,
  DfsWriteStream,
  type DfsWriteStreamOptions,
} from './streams.js';

type Encoding = BufferEncoding;
type Data = string | Uint8Array | Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>;

/** Node's open flags (strings and numbers) as DFS open flags. */
export function parseFlags(flags: string | number | undefined, fallback: string): OpenFlags {
  const f = flags ?? fallback;
  if (typeof f === 'number') {
    const acc = f & 3;
    return {
      read: acc === constants.O_RDONLY || acc === constants.O_RDWR,
      write: acc === constants.O_WRONLY || acc === constants.O_RDWR,
      create: (f & constants.O_CREAT) !== 0,
      exclusive: (f & constants.O_EXCL) !== 0,
      truncate: (f & constants.O_TRUNC) !== 0,
      append: (f & constants.O_APPEND) !== 0,
    };
  }
  const table: Record<string, OpenFlags> = {
    r: { read: true, write: false },
    rs: { read: true, write: false },
    sr: { read: true, write: false },
    'r+': { read: true, write: true },
    'rs+': { read: true, write: true },
    'sr+': { read: true, write: true },
    w: { read: false, write: true, create: true, truncate: true },
    wx: { read: false, write: true, create: true, truncate: true, exclusive: true },
    xw: { read: false, write: true, create: true, truncate: true, exclusive: true },
    'w+': { read: true, write: true, create: true, truncate: true },
    'wx+': { read: true, write: true, create: true, truncate: true, exclusive: true },
    'xw+': { read: true, write: true, create: true, truncate: true, exclusive: true },
    a: { read: false, write: true, create: true, append: true },
    as: { read: false, write: true, create: true, append: true },
    sa: { read: false, write: true, create: true, append: true },
    ax: { read: false, write: true, create: true, append: true, exclusive: true },
    xa: { read: false, write: true, create: true, append: true, exclusive: true },
    'a+': { read: true, write: true, create: true, append: true },
    'as+': { read: true, write: true, create: true, append: true },
    'sa+': { read: true, write: true, create: true, append: true },
    'ax+': { read: true, write: true, create: true, append: true, exclusive: true },
    'xa+': { read: true, write: true, create: true, append: true, exclusive: true },
  };
  const parsed = table[f];
  if (!parsed) {
    const err = new TypeError(`The value "${f}" is invalid for option "flags"`) as TypeError & {
      code: string;
    };
    err.code = 'ERR_INVALID_ARG_VALUE';
    throw err;
  }
  return parsed;
}

/** A directory entry as `readdir(path, { withFileTypes: true })` gives it (Node's Dirent shape). */
export class DfsDirent {
  constructor(
    readonly name: string,
    readonly parentPath: string,
    private readonly type: number,
  ) {}
  /** Node 20's older name for parentPath. */
  get path(): string {
    return this.parentPath;
  }
  isFile(): boolean {
    return this.type === S_IFREG;
  }
  isDirectory(): boolean {
    return this.type === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return this.type === S_IFLNK;
  }
  isBlockDevice(): boolean {
    return false;
  }
  isCharacterDevice(): boolean {
    return false;
  }
  isFIFO(): boolean {
    return false;
  }
  isSocket(): boolean {
    return false;
  }
}

let nextFd = 1000;

/** `fs.promises.FileHandle`'s shape over an open DFS file. */
export class DfsFileHandle {
  /** A number naming this handle (not an OS descriptor). */
  readonly fd = nextFd++;
  private position = 0;

  constructor(readonly file: DfsFile) {}

  async read(
    buffer?: Uint8Array | { buffer?: Uint8Array; offset?: number; length?: number; position?: number | null },
    offset?: number,
    length?: number,
    position?: number | bigint | null,
  ): Promise<{ bytesRead: number; buffer: Uint8Array }> {
    let buf: Uint8Array;
    if (buffer === undefined || !(buffer instanceof Uint8Array)) {
      const o = buffer ?? {};
      buf = o.buffer ?? Buffer.alloc(16384);
      offset = o.offset;
      length = o.length;
      position = o.position;
    } else {
      buf = buffer;
    }
    const off = offset ?? 0;
    const len = length ?? buf.byteLength - off;
    const explicit = position !== undefined && position !== null && Number(position) >= 0;
    const at = explicit ? Number(position) : this.position;
    const bytesRead = await this.file.read(buf, off, len, at);
    if (!explicit) this.position += bytesRead;
    return { bytesRead, buffer: buf };
  }

  async write(
    data: Uint8Array | string,
    offsetOrPosition?: number | null,
    lengthOrEncoding?: number | Encoding,
    position?: number | null,
  ): Promise<{ bytesWritten: number; buffer: Uint8Array | string }> {
    let bytes: Uint8Array;
    let at: number | null | undefined;
    if (typeof data === 'string') {
      bytes = Buffer.from(data, (lengthOrEncoding as Encoding | undefined) ?? 'utf8');
      at = offsetOrPosition;
    } else {
      const off = offsetOrPosition ?? 0;
      const len = typeof lengthOrEncoding === 'number' ? lengthOrEncoding : data.byteLength - off;
      bytes = data.subarray(off, off + len);
      at = position;
    }
    const explicit = at !== undefined && at !== null;
    const pos = explicit ? at : this.file.flags.append ? null : this.position;
    const bytesWritten = await this.file.write(bytes, pos as number | null);
    if (!explicit) this.position = pos === null ? await this.file.size() : this.position + bytesWritten;
    return { bytesWritten, buffer: data };
  }

  async readFile(options?: { encoding?: Encoding | null } | Encoding | null): Promise<Buffer | string> {
    const size = await this.file.size();
    const buf = Buffer.alloc(Math.max(0, size - this.position));
    let got = 0;
    while (got < buf.byteLength) {
      const { bytesRead } = await this.read(buf, got, buf.byteLength - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    const out = buf.subarray(0, got);
    const encoding = typeof options === 'string' ? options : options?.encoding;
    return encoding ? out.toString(encoding) : out;
  }

  async writeFile(data: Data, options?: { encoding?: Encoding } | Encoding): Promise<void> {
    const encoding = typeof options === 'string' ? options : options?.encoding;
    for await (const piece of pieces(data, encoding)) await this.write(piece);
  }

  async appendFile(data: Data, options?: { encoding?: Encoding } | Encoding): Promise<void> {
    const encoding = typeof options === 'string' ? options : options?.encoding;
    for await (const piece of pieces(data, encoding)) await this.write(piece, null);
  }

  stat(): Promise<DfsStats> {
    return this.file.stat();
  }
  truncate(len = 0): Promise<void> {
    return this.file.truncate(Math.max(0, len));
  }
  sync(): Promise<void> {
    return this.file.sync();
  }
  datasync(): Promise<void> {
    return this.file.sync();
  }
  close(): Promise<void> {
    return this.file.close();
  }
  createReadStream(options: DfsReadStreamOptions = {}): DfsReadStream {
    return new DfsReadStream(this.file, options);
  }
  createWriteStream(options: DfsWriteStreamOptions = {}): DfsWriteStream {
    return new DfsWriteStream(this.file, options);
  }
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * The `fs.promises` shape over a DFS mount: the same calls, arguments, results and error codes
 * (`err.code` 'ENOENT', 'EEXIST', ...) as Node's, so code written for the local file system runs
 * on a container. Paths are taken from the container's root.
 */
export class DfsFs {
  constructor(readonly dfs: Dfs) {}

  async access(path: string, _mode?: number): Promise<void> {
    await this.dfs.lookup(path, 'access');
  }

  async stat(path: string): Promise<DfsStats> {
    return this.dfs.stat(path);
  }

  async lstat(path: string): Promise<DfsStats> {
    return this.dfs.stat(path, { follow: false });
  }

  async mkdir(
    path: string,
    options?: { recursive?: boolean; mode?: number } | number,
  ): Promise<string | undefined> {
    const o = typeof options === 'number' ? { mode: options } : (options ?? {});
    const mode = o.mode ?? 0o777;
    if (!o.recursive) {
      await this.dfs.mkdir(path, mode);
      return undefined;
    }
    const r = await this.dfs.resolve(path, 'mkdir').catch((err: unknown) => {
      if (err instanceof DfsError && err.code === 'ENOENT') return undefined; // made below
      throw err;
    });
    if (r?.entry !== undefined) {
      if (isDir(r.entry)) return undefined;
      throw new DfsError('EEXIST', 'mkdir', path);
    }
    const parts = path.split('/').filter((p) => p.length > 0 && p !== '.');
    let first: string | undefined;
    let prefix = '';
    for (const part of parts) {
      prefix = `${prefix}/${part}`;
      const at = await this.dfs.resolve(prefix, 'mkdir');
      if (at.entry !== undefined) {
        if (!isDir(at.entry)) throw new DfsError('ENOTDIR', 'mkdir', path);
        continue;
      }
      try {
        await this.dfs.mkdir(prefix, mode);
        first ??= path.startsWith('/') ? prefix : prefix.slice(1);
      } catch (err) {
        // A racing creator made it: fine if it is a directory.
        if (!(err instanceof DfsError && err.code === 'EEXIST')) throw err;
      }
    }
    return first;
  }

  async readdir(
    path: string,
    options?: { withFileTypes?: boolean; encoding?: Encoding; recursive?: boolean } | Encoding,
  ): Promise<string[] | DfsDirent[]> {
    const o = typeof options === 'string' ? {} : (options ?? {});
    if (o.recursive) return this.readdirRecursive(path, o.withFileTypes === true);
    if (o.withFileTypes) {
      const out: DfsDirent[] = [];
      for await (const e of this.dfs.entries(path)) out.push(new DfsDirent(e.name, path, e.type));
      return out;
    }
    const out: string[] = [];
    for await (const name of this.dfs.names(path)) out.push(name);
    return out;
  }

  private async readdirRecursive(path: string, withTypes: boolean): Promise<string[] | DfsDirent[]> {
    const names: string[] = [];
    const dirents: DfsDirent[] = [];
    const walk = async (rel: string): Promise<void> => {
      const dir = rel === '' ? path : posix.join(path, rel);
      for await (const e of this.dfs.entries(dir)) {
        const child = rel === '' ? e.name : `${rel}/${e.name}`;
        names.push(child);
        dirents.push(new DfsDirent(e.name, dir, e.type));
        if (e.type === S_IFDIR) await walk(child);
      }
    };
    await walk('');
    return withTypes ? dirents : names;
  }

  async open(path: string, flags?: string | number, mode?: number): Promise<DfsFileHandle> {
    return new DfsFileHandle(await this.dfs.open(path, parseFlags(flags, 'r'), mode ?? 0o666));
  }

  async readFile(
    path: string,
    options?: { encoding?: Encoding | null; flag?: string } | Encoding | null,
  ): Promise<Buffer | string> {
    const o = typeof options === 'string' ? { encoding: options } : (options ?? {});
    const fh = await this.open(path, o.flag ?? 'r');
    try {
      if (fh.file.isDirectory) throw new DfsError('EISDIR', 'read');
      return await fh.readFile(o.encoding ?? null);
    } finally {
      await fh.close();
    }
  }

  async writeFile(
    path: string,
    data: Data,
    options?: { encoding?: Encoding; mode?: number; flag?: string } | Encoding,
  ): Promise<void> {
    const o = typeof options === 'string' ? { encoding: options } : (options ?? {});
    const fh = await this.open(path, o.flag ?? 'w', o.mode);
    try {
      await fh.writeFile(data, o.encoding);
    } finally {
      await fh.close();
    }
  }

  async appendFile(
    path: string,
    data: Data,
    options?: { encoding?: Encoding; mode?: number; flag?: string } | Encoding,
  ): Promise<void> {
    const o = typeof options === 'string' ? { encoding: options } : (options ?? {});
    const fh = await this.open(path, o.flag ?? 'a', o.mode);
    try {
      await fh.appendFile(data, o.encoding);
    } finally {
      await fh.close();
    }
  }

  async truncate(path: string, len = 0): Promise<void> {
    await this.dfs.truncate(path, Math.max(0, len));
  }

  async unlink(path: string): Promise<void> {
    await this.dfs.unlink(path);
  }

  async rmdir(path: string, _options?: object): Promise<void> {
    await this.dfs.rmdir(path);
  }

  async rm(path: string, options: { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    let st: DfsStats;
    try {
      st = await this.lstat(path);
    } catch (err) {
      if (options.force && err instanceof DfsError && err.code === 'ENOENT') return;
      throw err;
    }
    if (st.isDirectory()) {
      if (!options.recursive) throw nodeIsDirError(path);
      await this.dfs.removeTree(path);
      return;
    }
    await this.dfs.unlink(path);
  }

  async rename(oldPath: string, newPath: string): Promise<void> {
    await this.dfs.rename(oldPath, newPath);
  }

  async symlink(target: string, path: string, _type?: string): Promise<void> {
    await this.dfs.symlink(target, path);
  }

  async readlink(path: string): Promise<string> {
    return this.dfs.readlink(path);
  }

  /** The path with symlinks, '.' and '..' resolved. */
  async realpath(path: string): Promise<string> {
    const r = await this.dfs.lookup(path, 'realpath');
    return r.path;
  }

  async chmod(path: string, mode: number): Promise<void> {
    await this.dfs.chmod(path, mode);
  }

  async chown(path: string, uid: number, gid: number): Promise<void> {
    await this.dfs.chown(path, uid, gid);
  }

  async lchown(path: string, uid: number, gid: number): Promise<void> {
    await this.dfs.chown(path, uid, gid, { follow: false });
  }

  async utimes(path: string, atime: number | string | Date, mtime: number | string | Date): Promise<void> {
    await this.dfs.utimes(path, toNs(atime), toNs(mtime));
  }

  async lutimes(path: string, atime: number | string | Date, mtime: number | string | Date): Promise<void> {
    await this.dfs.utimes(path, toNs(atime), toNs(mtime), { follow: false });
  }

  async copyFile(src: string, dest: string, mode = 0): Promise<void> {
    const data = (await this.readFile(src)) as Buffer;
    await this.writeFile(dest, data, { flag: mode & constants.COPYFILE_EXCL ? 'wx' : 'w' });
  }

  // Extended attributes (Node has none; these follow Linux's getxattr(2) family and its errors).
  getxattr(path: string, name: string): Promise<Buffer> {
    return this.dfs.getxattr(path, name);
  }
  setxattr(
    path: string,
    name: string,
    value: Uint8Array | string,
    flag?: 'create' | 'replace',
  ): Promise<void> {
    return this.dfs.setxattr(path, name, value, { flag });
  }
  listxattr(path: string): Promise<string[]> {
    return this.dfs.listxattr(path);
  }
  removexattr(path: string, name: string): Promise<void> {
    return this.dfs.removexattr(path, name);
  }

  /** A readable stream of a file (opened when the stream starts), like fs.createReadStream. */
  createReadStream(path: string, options: DfsReadStreamOptions & { flags?: string } = {}): DfsReadStream {
    return new DfsReadStream(this.dfs.open(path, parseFlags(options.flags, 'r')), options);
  }

  /** A writable stream to a file, like fs.createWriteStream (flags 'w' by default). */
  createWriteStream(
    path: string,
    options: DfsWriteStreamOptions & { flags?: string; mode?: number } = {},
  ): DfsWriteStream {
    return new DfsWriteStream(
      this.dfs.open(path, parseFlags(options.flags, 'w'), options.mode ?? 0o666),
      options,
    );
  }
}

async function* pieces(data: Data, encoding: Encoding | undefined): AsyncGenerator<Uint8Array> {
  if (typeof data === 'string') yield Buffer.from(data, encoding ?? 'utf8');
  else if (data instanceof Uint8Array) yield data;
  else for await (const p of data) yield typeof p === 'string' ? Buffer.from(p, encoding ?? 'utf8') : p;
}

function toNs(t: number | string | Date): bigint {
  const ms = t instanceof Date ? t.getTime() : typeof t === 'string' ? Number(t) * 1000 : t * 1000;
  return BigInt(Math.round(ms * 1e6));
}

/** rm of a directory without `recursive`: Node's own error for it. */
function nodeIsDirError(path: string): Error {
  const err = new Error(`Path is a directory: rm returned EISDIR (is a directory) ${path}`) as Error & {
    code: string;
    errno: number;
    syscall: string;
    path: string;
  };
  err.name = 'SystemError';
  err.code = 'ERR_FS_EISDIR';
  err.errno = 21;
  err.syscall = 'rm';
  err.path = path;
  return err;
}
