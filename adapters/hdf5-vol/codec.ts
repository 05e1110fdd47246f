/**
 * Values to storage bytes and back, per datatype: typed arrays for numbers (byte-swapped for
 * big-endian types), null-padded bytes for fixed strings, packed C structs for compounds.
 * Variable-length strings stay strings here; the dataset and attribute code store them.
 */
import { DaosError } from '../../core/common/errors.js';
import { type Dtype, type DtypeValues, dtypeSize, STRING_PADDINGS } from './dtype.js';

/** One element's JavaScript value: what scalar attributes, fill values and compound elements hold. */
export type ScalarValue = number | bigint | string | Record<string, number | bigint | string>;

type TypedCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor;

function bad(msg: string): never {
  throw new DaosError('DER_INVAL', msg);
}

/** The typed array class holding values of an int or float type. */
export function typedArrayFor(t: Dtype): TypedCtor | undefined {
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

/** A short name for a type in messages: numpy's spelling where it has one. */
export function describeDtype(t: Dtype): string {
  switch (t.class) {
    case 'int':
      return `${t.order === '|' ? '|' : t.order}${t.signed ? 'i' : 'u'}${t.size}`;
    case 'float':
      return `${t.order}f${t.size}`;
    case 'string':
      return `|S${t.size}`;
    case 'vlen-string':
      return `vlen-string(${t.charset})`;
    case 'compound':
      return `compound{${t.fields.map((f) => `${f.name}:${describeDtype(f.type)}`).join(', ')}}`;
  }
}

function swapBytes(bytes: Uint8Array, size: number): void {
  if (size === 2) (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer).swap16();
  else if (size === 4) (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer).swap32();
  else if (size === 8) (Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer).swap64();
}

/** Check that a compound's fields are ones we store (numbers and fixed strings, inside its size). */
export function checkStorableDtype(t: Dtype, what: string): void {
  if (t.class === 'string' && (!Number.isInteger(t.size) || t.size < 1))
    bad(`${what}: string size ${t.size}`);
  if (
    (t.class === 'string' || t.class === 'vlen-string') &&
    t.padding !== undefined &&
    !STRING_PADDINGS.includes(t.padding)
  )
    bad(`${what}: string padding '${t.padding}' (want one of ${STRING_PADDINGS.join(', ')})`);
  if (t.class !== 'compound') return;
  if (!Array.isArray(t.fields) || t.fields.length === 0) bad(`${what}: a compound needs at least one field`);
  const names = new Set<string>();
  for (const f of t.fields) {
    if (names.has(f.name)) bad(`${what}: compound field '${f.name}' appears twice`);
    names.add(f.name);
    if (f.type.class === 'vlen-string' || f.type.class === 'compound')
      bad(
        `${what}: compound field '${f.name}' is ${describeDtype(f.type)}; fields must be numbers or fixed strings`,
      );
    checkStorableDtype(f.type, what);
    if (f.offset < 0 || f.offset + dtypeSize(f.type) > t.size)
      bad(`${what}: compound field '${f.name}' at offset ${f.offset} does not fit in ${t.size} bytes`);
  }
}

function writeAtom(dv: DataView, bytes: Uint8Array, off: number, t: Dtype, v: unknown, what: string): void {
  const le = t.class === 'int' || t.class === 'float' ? t.order !== '>' : true;
  if (t.class === 'float') {
    if (typeof v !== 'number') bad(`${what}: ${describeDtype(t)} needs a number, got ${typeof v}`);
    if (t.size === 4) dv.setFloat32(off, v, le);
    else dv.setFloat64(off, v, le);
    return;
  }
  if (t.class === 'int') {
    if (t.size === 8) {
      if (typeof v !== 'bigint') bad(`${what}: ${describeDtype(t)} needs a bigint, got ${typeof v}`);
      const lo = t.signed ? -(1n << 63n) : 0n;
      const hi = t.signed ? (1n << 63n) - 1n : (1n << 64n) - 1n;
      if (v < lo || v > hi) bad(`${what}: ${v} does not fit ${describeDtype(t)}`);
      if (t.signed) dv.setBigInt64(off, v, le);
      else dv.setBigUint64(off, v, le);
      return;
    }
    if (typeof v !== 'number' || !Number.isInteger(v))
      bad(`${what}: ${describeDtype(t)} needs an integer number, got ${String(v)}`);
    const bits = t.size * 8;
    const lo = t.signed ? -(2 ** (bits - 1)) : 0;
    const hi = t.signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
    if (v < lo || v > hi) bad(`${what}: ${v} does not fit ${describeDtype(t)}`);
    if (t.size === 1) {
      if (t.signed) dv.setInt8(off, v);
      else dv.setUint8(off, v);
    } else if (t.size === 2) {
      if (t.signed) dv.setInt16(off, v, le);
      else dv.setUint16(off, v, le);
    } else if (t.signed) dv.setInt32(off, v, le);
    else dv.setUint32(off, v, le);
    return;
  }
  if (t.class === 'string') {
    if (typeof v !== 'string') bad(`${what}: ${describeDtype(t)} needs a string, got ${typeof v}`);
    const b = Buffer.from(v, 'utf8');
    if (b.byteLength > t.size)
      bad(`${what}: string of ${b.byteLength} bytes does not fit ${describeDtype(t)}`);
    bytes.set(b, off);
    return;
  }
  if (t.class === 'compound') {
    if (typeof v !== 'object' || v === null || Array.isArray(v))
      bad(
        `${what}: a compound element must be an object with fields ${t.fields.map((f) => f.name).join(', ')}`,
      );
    const rec = v as Record<string, unknown>;
    for (const f of t.fields) {
      if (!(f.name in rec)) bad(`${what}: compound element lacks field '${f.name}'`);
      writeAtom(dv, bytes, off + f.offset, f.type, rec[f.name], `${what} field '${f.name}'`);
    }
    return;
  }
  bad(`${what}: variable-length strings are not stored inline`);
}

function readAtom(dv: DataView, bytes: Uint8Array, off: number, t: Dtype): ScalarValue {
  const le = t.class === 'int' || t.class === 'float' ? t.order !== '>' : true;
  switch (t.class) {
    case 'float':
      return t.size === 4 ? dv.getFloat32(off, le) : dv.getFloat64(off, le);
    case 'int':
      if (t.size === 8) return t.signed ? dv.getBigInt64(off, le) : dv.getBigUint64(off, le);
      if (t.size === 1) return t.signed ? dv.getInt8(off) : dv.getUint8(off);
      if (t.size === 2) return t.signed ? dv.getInt16(off, le) : dv.getUint16(off, le);
      return t.signed ? dv.getInt32(off, le) : dv.getUint32(off, le);
    case 'string': {
      let end = off + t.size;
      while (end > off && bytes[end - 1] === 0) end--;
      return Buffer.from(bytes.buffer, bytes.byteOffset + off, end - off).toString('utf8');
    }
    case 'compound': {
      const out: Record<string, number | bigint | string> = {};
      for (const f of t.fields)
        out[f.name] = readAtom(dv, bytes, off + f.offset, f.type) as number | bigint | string;
      return out;
    }
    case 'vlen-string':
      throw new DaosError('DER_INVAL', 'variable-length strings are not stored inline');
  }
}

/**
 * Storage bytes of `n` values of a fixed-size type. Numbers must come as the type's typed array
 * (its bytes are used as they are when the order is little-endian), strings as string[], compounds
 * as an array of objects or as raw bytes (n × size). Throws naming what did not fit.
 */
export function encodeValues(t: Dtype, values: unknown, n: number, what: string): Uint8Array {
  const size = dtypeSize(t);
  const ctor = typedArrayFor(t);
  if (ctor) {
    if (!(values instanceof ctor))
      bad(
        `${what}: ${describeDtype(t)} values must be a ${ctor.name}, got ${values?.constructor?.name ?? typeof values}`,
      );
    const ta = values as InstanceType<TypedCtor>;
    if (ta.length !== n) bad(`${what}: the selection holds ${n} elements; got ${ta.length} values`);
    const view = new Uint8Array(ta.buffer, ta.byteOffset, ta.byteLength);
    if (t.class !== 'int' && t.class !== 'float') return view;
    if (t.order !== '>' || size === 1) return view;
    const copy = new Uint8Array(view);
    swapBytes(copy, size);
    return copy;
  }
  if (t.class === 'compound' && values instanceof Uint8Array) {
    if (values.byteLength !== n * size)
      bad(
        `${what}: ${n} compound elements of ${size} bytes need ${n * size} bytes; got ${values.byteLength}`,
      );
    return values;
  }
  if (t.class === 'vlen-string') bad(`${what}: variable-length strings are not encoded as fixed-size bytes`);
  if (!Array.isArray(values))
    bad(
      `${what}: ${describeDtype(t)} values must be an array, got ${values?.constructor?.name ?? typeof values}`,
    );
  if (values.length !== n) bad(`${what}: the selection holds ${n} elements; got ${values.length} values`);
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < n; i++) writeAtom(dv, out, i * size, t, values[i], `${what} element ${i}`);
  return out;
}

/** The values of `n` elements stored in `bytes` (a fixed-size type). */
export function decodeValues(t: Dtype, bytes: Uint8Array, n: number): DtypeValues {
  const size = dtypeSize(t);
  const ctor = typedArrayFor(t);
  if (ctor) {
    const le = !((t.class === 'int' || t.class === 'float') && t.order === '>' && size > 1);
    // A typed array needs its own aligned buffer unless the bytes already are one.
    const aligned = bytes.byteOffset % size === 0 && bytes.byteLength === n * size;
    const own = aligned && le ? bytes : new Uint8Array(bytes.subarray(0, n * size));
    if (!le) swapBytes(own, size);
    return new ctor(own.buffer as ArrayBuffer, own.byteOffset, n) as DtypeValues;
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Array<ScalarValue> = new Array(n);
  for (let i = 0; i < n; i++) out[i] = readAtom(dv, bytes, i * size, t);
  return out as DtypeValues;
}

/** One element's bytes (fill values, scalar attributes); vlen strings give their UTF-8 bytes. */
export function encodeScalar(t: Dtype, v: unknown, what: string): Uint8Array {
  if (t.class === 'vlen-string') {
    if (typeof v !== 'string') bad(`${what}: a variable-length string needs a string, got ${typeof v}`);
    return Buffer.from(v, 'utf8');
  }
  const out = new Uint8Array(dtypeSize(t));
  writeAtom(new DataView(out.buffer), out, 0, t, v, what);
  return out;
}

export function decodeScalar(t: Dtype, bytes: Uint8Array): ScalarValue {
  if (t.class === 'vlen-string')
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  return readAtom(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes, 0, t);
}

/** Check a string[] of `n` variable-length strings. */
export function checkStrings(values: unknown, n: number, what: string): string[] {
  if (!Array.isArray(values))
    bad(`${what}: variable-length strings must be a string[], got ${typeof values}`);
  if (values.length !== n) bad(`${what}: the selection holds ${n} elements; got ${values.length} values`);
  for (let i = 0; i < n; i++)
    if (typeof values[i] !== 'string') bad(`${what}: element ${i} is ${typeof values[i]}, not a string`);
  return values as string[];
}

/** Pack strings as (u32 LE length, UTF-8 bytes)… — attributes keep vlen strings this way. */
export function packStrings(values: readonly string[]): Uint8Array {
  const parts = values.map((s) => Buffer.from(s, 'utf8'));
  const out = Buffer.allocUnsafe(parts.reduce((a, p) => a + 4 + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.writeUInt32LE(p.byteLength, off);
    out.set(p, off + 4);
    off += 4 + p.byteLength;
  }
  return out;
}

export function unpackStrings(bytes: Uint8Array, n: number): string[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: string[] = [];
  let off = 0;
  for (let i = 0; i < n; i++) {
    const len = b.readUInt32LE(off);
    out.push(b.toString('utf8', off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** `t` with every multi-byte number little-endian (h5wasm hands values over in that order). */
export function littleEndian(t: Dtype): Dtype {
  if (t.class === 'int' || t.class === 'float') return t.order === '>' ? { ...t, order: '<' } : t;
  if (t.class === 'compound')
    return { ...t, fields: t.fields.map((f) => ({ ...f, type: littleEndian(f.type) })) };
  return t;
}

/** One element as a values array of length one (a scalar attribute's value in array form). */
export function valuesOfOne(t: Dtype, v: ScalarValue): DtypeValues {
  const ctor = typedArrayFor(t);
  if (!ctor) return [v] as DtypeValues;
  const out = new ctor(1);
  (out as unknown as ScalarValue[])[0] = v;
  return out as DtypeValues;
}
