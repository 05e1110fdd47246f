/**
 * HDF5 datatypes as the adapter and the .h5 import/export share them. The vocabulary is numpy's
 * (h5py's): a string such as '<f8', '<i4', '|u1', '|S16' for atomic and fixed-length string types,
 * and objects for what a string cannot say (variable-length strings, compounds).
 *
 * Both sides (adapters/hdf5-vol/file.ts over containers, adapters/hdf5-vol/h5io.ts over h5wasm)
 * convert to and from this type only: it is the contract between them.
 */

/** Byte order of a multi-byte atomic type ('|' for one byte and strings, as numpy prints it). */
export type ByteOrder = '<' | '>' | '|';

export type Dtype =
  | {
      readonly class: 'int';
      readonly size: 1 | 2 | 4 | 8;
      readonly signed: boolean;
      readonly order: ByteOrder;
    }
  | { readonly class: 'float'; readonly size: 4 | 8; readonly order: ByteOrder }
  /** Fixed-length string of `size` bytes (h5py's 'S<n>'); utf-8 or ascii. */
  | {
      readonly class: 'string';
      readonly size: number;
      readonly charset: 'ascii' | 'utf-8';
      /** How the file pads it; absent means h5py's 'nullpad'. */
      readonly padding?: StringPadding;
    }
  /** Variable-length string (h5py's string_dtype()); stored as utf-8. */
  | {
      readonly class: 'vlen-string';
      readonly charset: 'ascii' | 'utf-8';
      /** How the file pads it; absent means h5py's 'nullterm'. */
      readonly padding?: StringPadding;
    }
  /** A C struct: fields at byte offsets within `size` bytes (numpy's aligned or packed layout). */
  | { readonly class: 'compound'; readonly size: number; readonly fields: readonly CompoundField[] };

/**
 * HDF5's string padding (H5T_str_t): NUL-terminated, NUL-padded, or space-padded. It changes how
 * a file stores a fixed-length string's unused bytes, not the value read.
 */
export type StringPadding = 'nullterm' | 'nullpad' | 'spacepad';

/** The string paddings in HDF5's numbering (the datatype message's padding field). */
export const STRING_PADDINGS: readonly StringPadding[] = ['nullterm', 'nullpad', 'spacepad'];

/** A string type's padding, or h5py's choice when none is recorded (nullpad fixed, nullterm vlen). */
export function paddingOf(t: Dtype & { class: 'string' | 'vlen-string' }): StringPadding {
  return t.padding ?? (t.class === 'string' ? 'nullpad' : 'nullterm');
}

export interface CompoundField {
  readonly name: string;
  readonly offset: number;
  readonly type: Dtype;
}

/** What `createDataset({ dtype })` accepts: a numpy string, a Dtype, or a compound's field list. */
export type DtypeLike = string | Dtype;

/** Largest fixed-length string, in bytes (HDF5 allows more; nobody needs it here). */
export const FIXED_STRING_BYTES_MAX = 1 << 20;

/** Parse numpy's spelling: '<f8' '>i2' '|u1' 'u1' 'f4' 'i8' '|S10' 'S10' ('=' means little-endian here). */
export function parseDtype(like: DtypeLike): Dtype {
  if (typeof like !== 'string') return like;
  const m = /^([<>|=]?)([iufS])(\d+)$/.exec(like);
  if (!m) throw new TypeError(`unsupported dtype '${like}' (want e.g. '<f8', '<i4', '|u1', '|S16')`);
  const order: ByteOrder = m[1] === '>' ? '>' : m[1] === '|' ? '|' : '<';
  const kind = m[2];
  const size = Number(m[3]);
  if (kind === 'S') {
    if (size < 1 || size > FIXED_STRING_BYTES_MAX)
      throw new TypeError(`dtype '${like}': string size must be 1..${FIXED_STRING_BYTES_MAX} bytes`);
    return { class: 'string', size, charset: 'ascii' };
  }
  if (kind === 'f') {
    if (size !== 4 && size !== 8) throw new TypeError(`dtype '${like}': floats are 4 or 8 bytes`);
    return { class: 'float', size, order };
  }
  if (size !== 1 && size !== 2 && size !== 4 && size !== 8)
    throw new TypeError(`dtype '${like}': integers are 1, 2, 4 or 8 bytes`);
  return { class: 'int', size, signed: kind === 'i', order: size === 1 ? '|' : order };
}

/** numpy's spelling of an atomic or fixed-string type; compounds and vlen strings have none. */
export function dtypeString(t: Dtype): string | undefined {
  switch (t.class) {
    case 'int':
      return `${t.order === '|' ? '|' : t.order}${t.signed ? 'i' : 'u'}${t.size}`;
    case 'float':
      return `${t.order}f${t.size}`;
    case 'string':
      return `|S${t.size}`;
    default:
      return undefined;
  }
}

/**
 * Bytes one element takes in a dataset's storage. A variable-length string element is stored as a
 * reference to its bytes; the adapter decides that encoding, this returns its fixed part.
 */
export function dtypeSize(t: Dtype): number {
  switch (t.class) {
    case 'int':
    case 'float':
    case 'string':
    case 'compound':
      return t.size;
    case 'vlen-string':
      return VLEN_REF_BYTES;
  }
}

/** Fixed part of a variable-length element in storage (adapter's choice: a 16-byte reference). */
export const VLEN_REF_BYTES = 16;

/**
 * The JavaScript form of a whole dataset's or attribute's values:
 * int 1/2/4 → Int8/16/32Array or Uint8/16/32Array, int 8 → BigInt64Array / BigUint64Array,
 * float → Float32Array / Float64Array, strings → string[], compounds → Record<field, value>[]
 * (a field's value is a number, bigint or string).
 */
export type DtypeValues =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Float32Array
  | Float64Array
  | string[]
  | Record<string, number | bigint | string>[];
