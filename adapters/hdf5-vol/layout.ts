/**
 * How an HDF5 file lies in a container, after the HDF5 DAOS VOL connector: key names, reserved
 * object ids, link and chunk-key encodings, and the handle state every object of a file shares.
 */
import { DaosError } from '../../core/common/errors.js';
import { KEY_BYTES_MAX } from '../../core/common/limits.js';
import type { Oid } from '../../core/common/oid.js';
import type { Container } from '../../core/daos/container.js';

/** Every object's own metadata lives under this dkey. */
export const MD_DKEY = '/Internal Metadata';
/** Attributes of an object: akeys `T-<name>` (type), `S-<name>` (shape), `V-<name>` (value). */
export const ATTR_DKEY = '/Attribute';
/** A group's entry per link: dkey = link name, this akey. */
export const LINK_AKEY = 'Link';
/** A chunk's records: an array akey with record size = the element size. */
export const CHUNK_AKEY = '0';
/** A chunk's variable-length string bytes (a byte array the elements point into). */
export const HEAP_AKEY = 'H';

export const AKEY_DATATYPE = 'Datatype';
export const AKEY_DATASPACE = 'Dataspace';
export const AKEY_CPL = 'Creation Property List';
export const AKEY_FILL = 'Fill Value';
/** A group's last link creation index (h5py's track_order). */
export const AKEY_MAX_CORDER = 'Max Link Creation Order';
/** The global metadata object's pointer to the root group, and the layout version. */
export const AKEY_ROOT = 'Root Group';
export const AKEY_VERSION = 'Version';
export const LAYOUT_VERSION = 1;

/** User parts of the reserved ids: global metadata object lo 0, root group lo 1. */
export const GLOBAL_MD_USER = 0n;
export const ROOT_GROUP_USER = 1n;
/** Object types: groups order their links by name; datasets hash their chunk keys. */
export const GROUP_OBJ_TYPE = 'multi_lexical';
export const DATASET_OBJ_TYPE = 'multi_hashed';

/** Contiguous datasets are cut into chunks of about this many bytes (the VOL's default target). */
export const CHUNK_TARGET_BYTES = 1024 * 1024;
/** Chunk I/Os in flight at once for one read or write. */
export const CHUNK_IOS_IN_FLIGHT = 16;
/** A read of many pieces of one chunk spanning at most this many bytes fetches the span whole. */
export const SIEVE_BYTES_MAX = 1024 * 1024;
/** Largest selection one read or write may move (its buffer is one allocation). */
export const SELECTION_BYTES_MAX = 2 ** 31;
/** Soft links followed while resolving one path. */
export const SOFT_LINK_HOPS_MAX = 40;
/** Longest link or attribute name, in UTF-8 bytes (akeys carry a 2-byte prefix). */
export const NAME_BYTES_MAX = KEY_BYTES_MAX - 2;

/** State shared by every object of one open file. */
export interface FileContext {
  readonly container: Container;
  readonly writable: boolean;
  /** The file's name in messages (pool/container). */
  readonly label: string;
  readonly rootOid: Oid;
  /** DER_NO_PERM naming `op` when the file is open read-only. */
  checkWritable(op: string): void;
}

/** A chunk's dkey: a zero byte, then each coordinate (in chunks) as uint64 little-endian. */
export function chunkDkey(coords: readonly number[]): Uint8Array {
  const b = Buffer.alloc(1 + 8 * coords.length);
  for (let d = 0; d < coords.length; d++) b.writeBigUInt64LE(BigInt(coords[d]!), 1 + 8 * d);
  return b;
}

export type LinkInfo = { type: 'hard'; oid: Oid } | { type: 'soft'; path: string };

const LINK_HARD = 0;
const LINK_SOFT = 1;

/** A link value: type byte, creation index (uint64 LE), then the oid (hi, lo LE) or the soft path. */
export function encodeLink(link: LinkInfo, corder: bigint): Uint8Array {
  if (link.type === 'hard') {
    const b = Buffer.alloc(1 + 8 + 16);
    b[0] = LINK_HARD;
    b.writeBigUInt64LE(corder, 1);
    b.writeBigUInt64LE(link.oid.hi, 9);
    b.writeBigUInt64LE(link.oid.lo, 17);
    return b;
  }
  const path = Buffer.from(link.path, 'utf8');
  const b = Buffer.alloc(1 + 8 + path.byteLength);
  b[0] = LINK_SOFT;
  b.writeBigUInt64LE(corder, 1);
  b.set(path, 9);
  return b;
}

export function decodeLink(bytes: Uint8Array): { link: LinkInfo; corder: bigint } {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.byteLength < 9) throw new DaosError('DER_INVAL', `link value of ${b.byteLength} bytes is too short`);
  const corder = b.readBigUInt64LE(1);
  if (b[0] === LINK_HARD)
    return { link: { type: 'hard', oid: { hi: b.readBigUInt64LE(9), lo: b.readBigUInt64LE(17) } }, corder };
  if (b[0] === LINK_SOFT) return { link: { type: 'soft', path: b.toString('utf8', 9) }, corder };
  throw new DaosError('DER_INVAL', `unknown link type ${b[0]}`);
}

/** A uint64 LE value. */
export function u64(v: bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b;
}

export function readU64(bytes: Uint8Array | undefined): bigint {
  if (!bytes || bytes.byteLength < 8) return 0n;
  return Buffer.from(bytes.buffer, bytes.byteOffset, 8).readBigUInt64LE(0);
}

export function json(v: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

export function parseJson<T>(bytes: Uint8Array | undefined, what: string): T {
  if (!bytes) throw new DaosError('DER_NONEXIST', `${what} is missing`);
  return JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as T;
}

/** Check one link or attribute name (no '/', not '.', not empty, not too long). */
export function checkName(name: unknown, what: string): string {
  if (typeof name !== 'string' || name.length === 0)
    throw new DaosError('DER_INVAL', `${what} must be a non-empty string`);
  if (name.includes('/')) throw new DaosError('DER_INVAL', `${what} '${name}' must not contain '/'`);
  if (name === '.') throw new DaosError('DER_INVAL', `${what} must not be '.'`);
  if (Buffer.byteLength(name, 'utf8') > NAME_BYTES_MAX)
    throw new DaosError(
      'DER_INVAL',
      `${what} '${name.slice(0, 40)}…' is longer than ${NAME_BYTES_MAX} bytes`,
    );
  return name;
}

/** Run `fn` over `items` with at most `limit` in flight; the first failure rejects. */
export async function runLimited<T>(
  items: Iterable<T>,
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const it = items[Symbol.iterator]();
  let failed: unknown;
  const worker = async () => {
    for (;;) {
      if (failed !== undefined) return;
      const next = it.next();
      if (next.done) return;
      try {
        await fn(next.value);
      } catch (err) {
        failed ??= err;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  if (failed !== undefined) throw failed;
}
