import type { Oid } from '../common/oid.js';
import type { DaosArray } from '../daos/array.js';
import type { Dfs } from './dfs.js';
import { type Entry, isDir, isReg, nowNs } from './entry.js';
import { DfsError, toDfsError } from './errors.js';
import type { DfsStats } from './stats.js';

/** How a file is opened (Node's flag strings map onto these). */
export interface OpenFlags {
  read: boolean;
  write: boolean;
  create?: boolean;
  exclusive?: boolean;
  truncate?: boolean;
  append?: boolean;
}

/**
 * An open file: a byte array and the entry naming it. Reads past the end return fewer bytes;
 * writes past it leave a hole that reads as zeros. A handle that wrote stamps the entry's mtime
 * when it is synced or closed (not on every write).
 */
export class DfsFile {
  readonly path: string;
  readonly flags: OpenFlags;
  private entry: Entry;
  private readonly array: DaosArray | undefined;
  private dirty = false;
  private closed = false;
  /**
   * A size the file had at some point seen through this handle (a size query, a write, a read
   * that found data all through): reads inside it go straight into the caller's buffer with no
   * size query. Only a hint: a read that does not find data all through asks for the size.
   */
  private sizeAtLeast = 0;

  constructor(
    private readonly dfs: Dfs,
    private readonly dir: Oid,
    private readonly name: string,
    entry: Entry,
    flags: OpenFlags,
    path: string,
  ) {
    this.entry = entry;
    this.flags = flags;
    this.path = path;
    this.array = isReg(entry) ? dfs.fileArray(entry) : undefined;
  }

  get oid(): Oid {
    return this.entry.oid;
  }

  /** True for a directory opened for reading (its reads fail with EISDIR). */
  get isDirectory(): boolean {
    return isDir(this.entry);
  }

  /** The file's size in bytes. */
  async size(): Promise<number> {
    const a = this.data('fstat');
    try {
      return this.sawSize(Number(await a.getSize()));
    } catch (err) {
      throw toDfsError(err, 'fstat', this.path);
    }
  }

  /**
   * Read up to `length` bytes at `position` into `buffer` at `offset`; resolves to the bytes read
   * (fewer at the end of the file; bytes of `buffer` past them are left as they were).
   */
  async read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<number> {
    this.check('read', this.flags.read);
    const a = this.data('read');
    try {
      if (length === 0) return 0;
      // Inside a size seen before (a sequential reader, after its first read): read straight
      // away; data all through means `length` bytes and no size query (the common case).
      if (position + length <= this.sizeAtLeast) {
        const { full } = await a.readData(position, length, {
          into: buffer.subarray(offset, offset + length),
        });
        if (full) return length;
      }
      // Otherwise (or a hole there: sparse, or truncated meanwhile) the size says how much there
      // is, and only that much is read, so the buffer past it is left as it was.
      const size = this.sawSize(Number(await a.getSize()));
      const n = Math.max(0, Math.min(length, size - position));
      if (n === 0) return 0;
      await a.read(position, n, { into: buffer.subarray(offset, offset + n) });
      return n;
    } catch (err) {
      throw toDfsError(err, 'read', this.path);
    }
  }

  /**
   * Read `length` bytes at `position` of a file known to hold them (streams that already know the
   * size use this: one round trip, no size query).
   */
  async readKnown(into: Uint8Array, position: number): Promise<void> {
    this.check('read', this.flags.read);
    try {
      await this.data('read').read(position, into.byteLength, { into });
    } catch (err) {
      throw toDfsError(err, 'read', this.path);
    }
  }

  /** Write `bytes` at `position` (at the end of the file for a handle opened to append). */
  async write(bytes: Uint8Array, position: number | null): Promise<number> {
    this.check('write', this.flags.write);
    this.dfs.checkWritable('write', this.path);
    const a = this.data('write');
    // POSIX: a write of no bytes to a regular file has no other results (no mtime change).
    if (bytes.byteLength === 0) return 0;
    try {
      const at = this.flags.append || position === null ? Number(await a.getSize()) : position;
      if (bytes.byteLength === 0) return 0;
      await a.write(at, bytes);
      this.dirty = true;
      this.sawSize(at + bytes.byteLength);
      return bytes.byteLength;
    } catch (err) {
      throw toDfsError(err, 'write', this.path);
    }
  }

  private sawSize(size: number): number {
    if (size > this.sizeAtLeast) this.sizeAtLeast = size;
    return size;
  }

  /** Grow (with zeros) or shrink the file. */
  async truncate(length: number | bigint): Promise<void> {
    this.check('ftruncate', this.flags.write);
    this.dfs.checkWritable('ftruncate', this.path);
    const a = this.data('ftruncate');
    try {
      await a.setSize(length);
      this.dirty = true;
      this.sizeAtLeast = Number(length);
    } catch (err) {
      throw toDfsError(err, 'ftruncate', this.path);
    }
  }

  async stat(): Promise<DfsStats> {
    this.check('fstat', true);
    await this.sync();
    return this.dfs.statOf(this.entry, 'fstat', this.path);
  }

  /** Stamp the modification time if this handle wrote (data is durable once each write resolved). */
  async sync(): Promise<void> {
    this.check('fsync', true);
    if (!this.dirty) return;
    this.dirty = false;
    const now = nowNs();
    this.entry = { ...this.entry, mtime: now, ctime: now };
    await this.dfs.updateEntry(this.dir, this.name, this.entry, 'fsync', this.path).catch((err) => {
      // The entry went (unlinked or renamed) while open: its data stays reachable through this handle.
      if (!(err instanceof DfsError && err.code === 'ENOENT')) throw err;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.sync();
    this.closed = true;
  }

  private check(syscall: string, allowed: boolean): void {
    if (this.closed) throw new DfsError('EBADF', syscall, this.path);
    if (!allowed) throw new DfsError('EBADF', syscall, this.path);
  }

  private data(syscall: string): DaosArray {
    if (isDir(this.entry)) throw new DfsError('EISDIR', syscall, this.path);
    if (!this.array) throw new DfsError('EINVAL', syscall, this.path);
    return this.array;
  }
}
