import { DaosError } from '../common/errors.js';
import { KEY_BYTES_MAX } from '../common/limits.js';
import type { KeyKind } from '../common/oid.js';

/** A dkey or akey as users give it: bytes or a UTF-8 string; a number or bigint for uint64 keys. */
export type Key = string | Uint8Array | number | bigint;
/** A key as listings give it back: a bigint for uint64 keys, bytes otherwise. */
export type ListedKey = Buffer | bigint;

const U64_MAX = (1n << 64n) - 1n;

/** Turn a key into the bytes the store orders: uint64 keys become 8 big-endian bytes. */
export function encodeKey(key: Key, kind: KeyKind, what: 'dkey' | 'akey'): Uint8Array {
  let bytes: Uint8Array;
  if (kind === 'uint64') {
    if (typeof key !== 'number' && typeof key !== 'bigint') {
      throw new DaosError(
        'DER_INVAL',
        `${what} of a uint64-keyed object must be a number or bigint, not ${typeof key}`,
      );
    }
    const n = BigInt(key);
    if ((typeof key === 'number' && !Number.isSafeInteger(key)) || n < 0n || n > U64_MAX) {
      throw new DaosError('DER_INVAL', `${what} ${key} is not a uint64`);
    }
    bytes = Buffer.allocUnsafe(8);
    (bytes as Buffer).writeBigUInt64BE(n);
    return bytes;
  }
  if (typeof key === 'string') bytes = Buffer.from(key, 'utf8');
  else if (key instanceof Uint8Array) bytes = key;
  else
    throw new DaosError(
      'DER_INVAL',
      `${what} must be a string or Uint8Array for this object type, not ${typeof key}`,
    );
  if (bytes.byteLength === 0) throw new DaosError('DER_INVAL', `${what} must not be empty`);
  if (bytes.byteLength > KEY_BYTES_MAX) {
    throw new DaosError('DER_KEY2BIG', `${what} is ${bytes.byteLength} bytes; the limit is ${KEY_BYTES_MAX}`);
  }
  return bytes;
}

/** The inverse of encodeKey, for listings. */
export function decodeKey(bytes: Uint8Array, kind: KeyKind): ListedKey {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return kind === 'uint64' ? b.readBigUInt64BE(0) : b;
}

/** Values accept strings (UTF-8) or bytes. */
export function valueBytes(value: Uint8Array | string, what: string): Uint8Array {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  if (value instanceof Uint8Array) return value;
  throw new DaosError('DER_INVAL', `${what} must be a Uint8Array or string`);
}
