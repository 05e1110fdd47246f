import { writeU64LE } from '../common/bigint.js';
import type { Oid } from '../common/oid.js';

/** File-type bits of a mode, as in <sys/stat.h>. */
export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

/** Longest entry name, in bytes (NAME_MAX). */
export const NAME_BYTES_MAX = 255;
/** Longest path a call accepts, and the longest symlink target, in bytes (PATH_MAX). */
export const PATH_BYTES_MAX = 4096;
/** Symlinks followed while resolving one path before ELOOP (Linux's MAXSYMLINKS). */
export const SYMLINK_HOPS_MAX = 40;
/** Longest extended-attribute name and value, in bytes (XATTR_NAME_MAX, libdfs's value limit). */
export const XATTR_NAME_BYTES_MAX = 255;
export const XATTR_VALUE_BYTES_MAX = 64 * 1024;

/**
 * The akey holding an entry's inode record in its directory's dkey ('DFS_INODE'), encoded once:
 * every lookup names it. Shared, so never written to.
 */
export const INODE_AKEY: Uint8Array = Buffer.from('DFS_INODE');
/** Prefix of the akeys holding an entry's extended attributes. */
export const XATTR_PREFIX = 'x:';

/**
 * A directory entry: what libdfs keeps under the entry's name (one dkey) in its directory object.
 * A file's size is not here: it is its array's size (highest written byte + 1).
 */
export interface Entry {
  mode: number;
  uid: number;
  gid: number;
  oid: Oid;
  /** Times in nanoseconds since the epoch. */
  atime: bigint;
  mtime: bigint;
  ctime: bigint;
  /** Bytes per chunk (dkey) of a file's array. */
  chunkSize: number;
  /** A symlink's target. */
  target?: string;
}

/** Inode record layout: fixed fields, then a symlink's target (UTF-8). */
const INODE_VERSION = 1;
const FIXED_BYTES = 72;

export function encodeEntry(e: Entry): Buffer {
  const target = e.target === undefined ? undefined : Buffer.from(e.target, 'utf8');
  // From the shared pool (small buffers), zeroed: the 64-bit fields are then written through one
  // DataView of the pool (writeU64LE).
  const b = Buffer.allocUnsafe(FIXED_BYTES + (target?.byteLength ?? 0)).fill(0);
  b.writeUInt32LE(INODE_VERSION, 0);
  b.writeUInt32LE(e.mode >>> 0, 4);
  b.writeUInt32LE(e.uid >>> 0, 8);
  b.writeUInt32LE(e.gid >>> 0, 12);
  writeU64LE(b, e.oid.hi, 16);
  writeU64LE(b, e.oid.lo, 24);
  writeU64LE(b, e.atime, 32);
  writeU64LE(b, e.mtime, 40);
  writeU64LE(b, e.ctime, 48);
  writeU64LE(b, BigInt(e.chunkSize), 56);
  b.writeUInt32LE(target?.byteLength ?? 0, 64);
  target?.copy(b, FIXED_BYTES);
  return b;
}

/** Decode an inode record; undefined for bytes that are not one (an entry half gone). */
export function decodeEntry(bytes: Uint8Array): Entry | undefined {
  if (bytes.byteLength < FIXED_BYTES) return undefined;
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.readUInt32LE(0) !== INODE_VERSION) return undefined;
  const targetBytes = b.readUInt32LE(64);
  const e: Entry = {
    mode: b.readUInt32LE(4),
    uid: b.readUInt32LE(8),
    gid: b.readUInt32LE(12),
    oid: { hi: b.readBigUInt64LE(16), lo: b.readBigUInt64LE(24) },
    atime: b.readBigUInt64LE(32),
    mtime: b.readBigUInt64LE(40),
    ctime: b.readBigUInt64LE(48),
    chunkSize: Number(b.readBigUInt64LE(56)),
  };
  if ((e.mode & S_IFMT) === S_IFLNK) e.target = b.toString('utf8', FIXED_BYTES, FIXED_BYTES + targetBytes);
  return e;
}

export const isDir = (e: Entry): boolean => (e.mode & S_IFMT) === S_IFDIR;
export const isReg = (e: Entry): boolean => (e.mode & S_IFMT) === S_IFREG;
export const isLink = (e: Entry): boolean => (e.mode & S_IFMT) === S_IFLNK;

/** Now, in nanoseconds since the epoch. */
export function nowNs(): bigint {
  return BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}
