import { createHash } from 'node:crypto';
import { type Entry, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from './entry.js';

/** Block size `blocks` counts in, as stat(2). */
const STAT_BLOCK_BYTES = 512;

const devOf = new Map<string, number>();

/** What stat reports, shaped like Node's fs.Stats (times also in nanoseconds as bigints). */
export class DfsStats {
  readonly dev: number;
  readonly ino: number;
  readonly mode: number;
  readonly nlink = 1;
  readonly uid: number;
  readonly gid: number;
  readonly rdev = 0;
  readonly size: number;
  readonly blksize: number;
  readonly blocks: number;
  readonly atimeMs: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly birthtimeMs: number;
  readonly atimeNs: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly birthtimeNs: bigint;

  constructor(entry: Entry, size: bigint, containerUuid: string) {
    this.dev = deviceNumber(containerUuid);
    // The object id's low bits (directories, files); a symlink (no object) gets its own from times.
    this.ino =
      Number((entry.oid.lo ^ (entry.oid.hi & 0xffff_ffffn)) & 0x1f_ffff_ffff_ffffn) ||
      Number(entry.ctime % 0x1f_ffff_ffff_ffffn);
    this.mode = entry.mode;
    this.uid = entry.uid;
    this.gid = entry.gid;
    this.size = Number(size);
    this.blksize = entry.chunkSize || 4096;
    this.blocks = Math.ceil(this.size / STAT_BLOCK_BYTES);
    this.atimeNs = entry.atime;
    this.mtimeNs = entry.mtime;
    this.ctimeNs = entry.ctime;
    this.birthtimeNs = entry.ctime;
    this.atimeMs = Number(entry.atime) / 1e6;
    this.mtimeMs = Number(entry.mtime) / 1e6;
    this.ctimeMs = Number(entry.ctime) / 1e6;
    this.birthtimeMs = this.ctimeMs;
  }

  get atime(): Date {
    return new Date(this.atimeMs);
  }
  get mtime(): Date {
    return new Date(this.mtimeMs);
  }
  get ctime(): Date {
    return new Date(this.ctimeMs);
  }
  get birthtime(): Date {
    return new Date(this.birthtimeMs);
  }
  isFile(): boolean {
    return (this.mode & S_IFMT) === S_IFREG;
  }
  isDirectory(): boolean {
    return (this.mode & S_IFMT) === S_IFDIR;
  }
  isSymbolicLink(): boolean {
    return (this.mode & S_IFMT) === S_IFLNK;
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

function deviceNumber(uuid: string): number {
  let d = devOf.get(uuid);
  if (d === undefined) {
    d = createHash('sha1').update(uuid).digest().readUInt32LE(0);
    devOf.set(uuid, d);
  }
  return d;
}
