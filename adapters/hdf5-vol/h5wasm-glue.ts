/**
 * The h5wasm side of h5io: loading the module, h5wasm's type metadata ↔ Dtype, moving values in
 * and out of wasm memory, object addresses, and keeping HDF5's expected-error reports quiet.
 * Internal to adapters/hdf5-vol (h5io.ts reads files, h5-write.ts writes them).
 */

import fs from 'node:fs';
import type { Module } from 'h5wasm/node';
import { DaosError } from '../../core/common/errors.js';
import { decodeValues, encodeValues, littleEndian } from './codec.js';
import { type Dtype, type DtypeValues, dtypeSize, STRING_PADDINGS } from './dtype.js';

/** A variable-length string's element in wasm memory: a 32-bit pointer. */
export const WASM_POINTER_BYTES = 4;
/** HDF5's "unlimited" extent (2^64 - 1). */
export const H5S_UNLIMITED = 0xffff_ffff_ffff_ffffn;

/** h5wasm's class numbers (H5T_class_t). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_COMPOUND = 6;
const H5T_CSET_UTF8 = 1;

export type H5Module = typeof Module;

let loaded: Promise<H5Module> | undefined;
/** h5wasm's module, loaded on first use (compiling its 4 MB of wasm costs every CLI start otherwise). */
export function h5(): Promise<H5Module> {
  loaded ??= import('h5wasm/node').then(async (mod) => {
    await mod.ready;
    return mod.Module;
  });
  return loaded;
}

export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

export function big(xs: readonly number[]): bigint[] {
  return xs.map((x) => BigInt(x));
}

export function product(xs: readonly number[]): number {
  return xs.reduce((a, b) => a * b, 1);
}

export interface H5Metadata {
  type: number;
  size: number;
  signed: boolean;
  littleEndian: boolean;
  vlen: boolean;
  cset?: number;
  strpad?: number;
  compound_type?: { members: (H5Metadata & { name: string; offset: number })[]; nmembers: number };
  shape: number[] | null;
  maxshape: number[] | null;
  chunks: number[] | null;
  total_size: number;
}

export function dtypeOf(m: H5Metadata, where: string): Dtype {
  const order = m.littleEndian ? '<' : '>';
  switch (m.type) {
    case H5T_INTEGER:
      if (m.size !== 1 && m.size !== 2 && m.size !== 4 && m.size !== 8) break;
      return { class: 'int', size: m.size, signed: m.signed, order: m.size === 1 ? '|' : order };
    case H5T_FLOAT:
      if (m.size !== 4 && m.size !== 8) break;
      return { class: 'float', size: m.size, order };
    case H5T_STRING: {
      const charset = m.cset === H5T_CSET_UTF8 ? 'utf-8' : 'ascii';
      const padding = STRING_PADDINGS[m.strpad ?? -1];
      const pad = padding ? { padding } : {};
      return m.vlen
        ? { class: 'vlen-string', charset, ...pad }
        : { class: 'string', size: m.size, charset, ...pad };
    }
    case H5T_COMPOUND: {
      const fields = (m.compound_type?.members ?? []).map((f) => ({
        name: f.name,
        offset: f.offset,
        type: dtypeOf(f, `${where}.${f.name}`),
      }));
      if (fields.some((f) => f.type.class === 'vlen-string'))
        throw new DaosError('DER_NOTSUPPORTED', `${where}: compounds holding variable-length strings`);
      return { class: 'compound', size: m.size, fields };
    }
  }
  throw new DaosError('DER_NOTSUPPORTED', `${where}: HDF5 type class ${m.type} of ${m.size} bytes`);
}

/** h5wasm's write metadata for a Dtype. */
export function metadataOf(t: Dtype): H5Metadata {
  const base = { signed: false, littleEndian: true, vlen: false, shape: null, maxshape: null, chunks: null };
  switch (t.class) {
    case 'int':
      return { ...base, type: H5T_INTEGER, size: t.size, signed: t.signed, total_size: 0 };
    case 'float':
      return { ...base, type: H5T_FLOAT, size: t.size, total_size: 0 };
    case 'string':
      return { ...base, type: H5T_STRING, size: t.size, cset: t.charset === 'utf-8' ? 1 : 0, total_size: 0 };
    case 'vlen-string':
      return {
        ...base,
        type: H5T_STRING,
        size: WASM_POINTER_BYTES,
        vlen: true,
        cset: t.charset === 'utf-8' ? 1 : 0,
        total_size: 0,
      };
    case 'compound': {
      const members = t.fields.map((f) => ({ ...metadataOf(f.type), name: f.name, offset: f.offset }));
      return {
        ...base,
        type: H5T_COMPOUND,
        size: t.size,
        compound_type: { members, nmembers: members.length },
        total_size: 0,
      };
    }
  }
}

/** Elements of `t` in wasm memory: Dtype's packed size, or a pointer for a vlen string. */
export function memoryElementBytes(t: Dtype): number {
  return t.class === 'vlen-string' ? WASM_POINTER_BYTES : dtypeSize(t);
}

/** Copy `count` elements of `t` out of wasm memory at `ptr`. */
export function readHeap(M: H5Module, ptr: number, t: Dtype, count: number): DtypeValues {
  if (t.class === 'vlen-string') {
    const ptrs = new Uint32Array(M.HEAPU8.buffer, ptr, count);
    return Array.from(ptrs, (p) => (p === 0 ? '' : M.UTF8ToString(p)));
  }
  const bytes = M.HEAPU8.slice(ptr, ptr + dtypeSize(t) * count);
  const values = decodeValues(littleEndian(t), bytes, count);
  // HDF5 hands space-padded strings over with their pad; the value is without it.
  const trim = (v: string) => v.replace(/ +$/, '');
  if (t.class === 'string' && t.padding === 'spacepad') return (values as string[]).map(trim);
  if (t.class === 'compound') {
    const padded = t.fields.filter((f) => f.type.class === 'string' && f.type.padding === 'spacepad');
    if (padded.length)
      for (const rec of values as Record<string, number | bigint | string>[])
        for (const f of padded) rec[f.name] = trim(rec[f.name] as string);
  }
  return values;
}

/** Allocate `values` of `t` in wasm memory; returns the pointer and a free function. */
export function writeHeap(
  M: H5Module,
  values: DtypeValues,
  t: Dtype,
  what: string,
): { ptr: number; free(): void } {
  const count = values.length;
  if (t.class === 'vlen-string') {
    const encoded = (values as string[]).map((s) => {
      if (typeof s !== 'string') throw new DaosError('DER_INVAL', `${what}: ${String(s)} is not a string`);
      return Buffer.from(`${s}\0`, 'utf8');
    });
    const total = encoded.reduce((n, b) => n + b.length, 0);
    const ptr = M._malloc(count * WASM_POINTER_BYTES + total);
    if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${total} bytes of strings`);
    let at = ptr + count * WASM_POINTER_BYTES;
    const ptrs = new Uint32Array(count);
    for (let i = 0; i < count; i++) {
      M.HEAPU8.set(encoded[i]!, at);
      ptrs[i] = at;
      at += encoded[i]!.length;
    }
    M.HEAPU8.set(new Uint8Array(ptrs.buffer), ptr);
    return { ptr, free: () => M._free(ptr) };
  }
  const bytes = encodeValues(littleEndian(t), values, count, what);
  if (t.class === 'string' && t.padding === 'spacepad') spacePad(bytes, 0, t.size, t.size);
  if (t.class === 'compound')
    for (const f of t.fields)
      if (f.type.class === 'string' && f.type.padding === 'spacepad')
        spacePad(bytes, f.offset, f.type.size, t.size);
  const ptr = M._malloc(Math.max(bytes.length, 1));
  if (ptr === 0) throw new DaosError('DER_NOMEM', `wasm heap: ${bytes.length} bytes`);
  M.HEAPU8.set(bytes, ptr);
  return { ptr, free: () => M._free(ptr) };
}

/**
 * Turn the trailing NULs of the `size`-byte string at `offset` of each `stride`-byte element of
 * `bytes` into spaces (HDF5's SPACEPAD).
 */
function spacePad(bytes: Uint8Array, offset: number, size: number, stride: number): void {
  for (let at = offset; at < bytes.length; at += stride)
    for (let i = at + size - 1; i >= at && bytes[i] === 0; i--) bytes[i] = 0x20;
}

export function objectAddress(M: H5Module, fileId: bigint, path: string): bigint {
  const ref = Uint8Array.from(M.create_object_reference(fileId, path));
  return Buffer.from(ref).readBigUInt64LE(0);
}

/** Run `fn` with HDF5's error report (printed to stderr) suppressed: an expected failure. */
export function withHdf5ErrorsMuted<T>(fn: () => T): T {
  const write = fs.writeSync;
  // Report every byte as written: a writer that sees 0 bytes written tries again, forever.
  const mute = ((fd: number, data: string | NodeJS.ArrayBufferView, ...rest: unknown[]) => {
    if (fd !== 2) return (write as (...a: unknown[]) => number)(fd, data, ...rest);
    if (typeof data === 'string') return Buffer.byteLength(data);
    return typeof rest[1] === 'number'
      ? rest[1]
      : data.byteLength - (typeof rest[0] === 'number' ? rest[0] : 0);
  }) as typeof fs.writeSync;
  fs.writeSync = mute;
  try {
    return fn();
  } finally {
    fs.writeSync = write;
  }
}
