/**
 * Packed bytes ↔ JavaScript values for fixed-size Dtypes (ints, floats, fixed strings, compounds),
 * the layout HDF5 keeps in memory and in a file: elements back to back, compound fields at their
 * offsets. Variable-length strings are not fixed-size; their holders (h5io, the adapter) encode them.
 */

import { DaosError } from '../../core/common/errors.js';
import { type Dtype, type DtypeValues, dtypeSize } from './dtype.js';

/** One element's value: what a DtypeValues array holds at one index. */
export type DtypeScalar = number | bigint | string | { readonly [field: string]: DtypeScalar };

const utf8Decoder = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

/** The typed-array class holding `t`'s values (undefined for strings and compounds). */
function typedArrayOf(t: Dtype) {
  if (t.class === 'float') return t.size === 4 ? Float32Array : Float64Array;
  if (t.class !== 'int') return undefined;
  switch (t.size) {
    case 1:
      return t.signed ? Int8Array : Uint8Array;
    case 2:
      return t.signed ? Int16Array : Uint16Array;
    case 4:
      return t.signed ? Int32Array : Uint32Array;
    case 8:
      return t.signed ? BigInt64Array : BigUint64Array;
  }
}

function readScalar(view: DataView, at: number, t: Dtype, little: boolean): DtypeScalar {
  switch (t.class) {
    case 'int':
      switch (t.size) {
        case 1:
          return t.signed ? view.getInt8(at) : view.getUint8(at);
        case 2:
          return t.signed ? view.getInt16(at, little) : view.getUint16(at, little);
        case 4:
          return t.signed ? view.getInt32(at, little) : view.getUint32(at, little);
        case 8:
          return t.signed ? view.getBigInt64(at, little) : view.getBigUint64(at, little);
      }
      break;
    case 'float':
      return t.size === 4 ? view.getFloat32(at, little) : view.getFloat64(at, little);
    case 'string': {
      const bytes = new Uint8Array(view.buffer, view.byteOffset + at, t.size);
      const nul = bytes.indexOf(0);
      return utf8Decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul));
    }
    case 'compound': {
      const row: Record<string, DtypeScalar> = {};
      for (const f of t.fields) row[f.name] = readScalar(view, at + f.offset, f.type, little);
      return row;
    }
    case 'vlen-string':
      break;
  }
  throw new DaosError('DER_NOTSUPPORTED', `variable-length strings have no packed form here`);
}

function writeScalar(view: DataView, at: number, t: Dtype, v: DtypeScalar, what: string): void {
  switch (t.class) {
    case 'int':
      if (t.size === 8) {
        const big =
          typeof v === 'bigint' ? v : typeof v === 'number' && Number.isInteger(v) ? BigInt(v) : null;
        if (big === null) throw new DaosError('DER_INVAL', `${what}: ${String(v)} is not a 64-bit integer`);
        if (t.signed) view.setBigInt64(at, BigInt.asIntN(64, big), true);
        else view.setBigUint64(at, BigInt.asUintN(64, big), true);
        return;
      }
      if (typeof v !== 'number' && typeof v !== 'bigint')
        throw new DaosError('DER_INVAL', `${what}: ${JSON.stringify(v)} is not an integer`);
      if (t.size === 1) view.setUint8(at, Number(v) & 0xff);
      else if (t.size === 2) view.setUint16(at, Number(v) & 0xffff, true);
      else view.setUint32(at, Number(v) >>> 0, true);
      return;
    case 'float':
      if (typeof v !== 'number') throw new DaosError('DER_INVAL', `${what}: ${String(v)} is not a number`);
      if (t.size === 4) view.setFloat32(at, v, true);
      else view.setFloat64(at, v, true);
      return;
    case 'string': {
      if (typeof v !== 'string') throw new DaosError('DER_INVAL', `${what}: ${String(v)} is not a string`);
      const bytes = utf8Encoder.encode(v);
      if (bytes.length > t.size)
        throw new DaosError(
          'DER_INVAL',
          `${what}: '${v}' is ${bytes.length} bytes, the type holds ${t.size}`,
        );
      new Uint8Array(view.buffer, view.byteOffset + at, t.size).set(bytes);
      return;
    }
    case 'compound': {
      if (typeof v !== 'object' || v === null)
        throw new DaosError('DER_INVAL', `${what}: ${String(v)} is not a record`);
      for (const f of t.fields) {
        const fv = v[f.name];
        if (fv === undefined) throw new DaosError('DER_INVAL', `${what}: field '${f.name}' is missing`);
        writeScalar(view, at + f.offset, f.type, fv, `${what}.${f.name}`);
      }
      return;
    }
    case 'vlen-string':
      throw new DaosError('DER_NOTSUPPORTED', `${what}: variable-length strings have no packed form here`);
  }
}

/** Decode `count` packed elements of `t` from `bytes` (little-endian unless `littleEndian` is false). */
export function decodeValues(bytes: Uint8Array, t: Dtype, count: number, littleEndian = true): DtypeValues {
  const size = dtypeSize(t);
  if (bytes.length < size * count)
    throw new DaosError('DER_INVAL', `decode: ${bytes.length} bytes hold fewer than ${count} elements`);
  const Typed = typedArrayOf(t);
  if (Typed && littleEndian) return new Typed(bytes.slice(0, size * count).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset, size * count);
  if (Typed) {
    const out = new Typed(count);
    for (let i = 0; i < count; i++)
      (out as unknown as DtypeScalar[])[i] = readScalar(view, i * size, t, false);
    return out;
  }
  const out: DtypeScalar[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readScalar(view, i * size, t, littleEndian);
  return out as DtypeValues;
}

/** Encode values of `t` packed, little-endian, into `into` (or a new buffer); checks every element. */
export function encodeValues(values: DtypeValues, t: Dtype, into?: Uint8Array): Uint8Array {
  const size = dtypeSize(t);
  const count = values.length;
  const out = into ?? new Uint8Array(size * count);
  if (out.length < size * count) throw new DaosError('DER_INVAL', `encode: buffer too small`);
  const Typed = typedArrayOf(t);
  if (Typed && values instanceof Typed) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, size * count));
    return out;
  }
  const view = new DataView(out.buffer, out.byteOffset, size * count);
  for (let i = 0; i < count; i++) writeScalar(view, i * size, t, values[i] as DtypeScalar, `element ${i}`);
  return out;
}

/** One element as a values array of length one (a fill value, a scalar attribute). */
export function scalarValues(t: Dtype, v: DtypeScalar): DtypeValues {
  const Typed = typedArrayOf(t);
  if (!Typed) return [v] as DtypeValues;
  const out = new Typed(1);
  (out as unknown as DtypeScalar[])[0] = t.class === 'int' && t.size === 8 ? BigInt(v as number) : v;
  return out;
}
