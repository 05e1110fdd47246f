/**
 * Attributes of a file, group or dataset (h5py's `obj.attrs`): under dkey `/Attribute`, akey
 * `T-<name>` the datatype, `S-<name>` the shape (null for a scalar), `V-<name>` the value bytes
 * (elements packed; variable-length strings as u32 LE length + UTF-8 each), `C-<name>` the creation
 * index (uint64 LE). The object's last creation index is akey `Max Attribute Creation Order`
 * (uint64 LE) of the same dkey. All are written in one update, so an attribute is replaced whole
 * or not at all. Replacing an attribute gives it a new creation index, as h5py's `attrs[name] = v`
 * does (it makes a new attribute).
 */
import { DaosError } from '../../core/common/errors.js';
import type { DaosObject } from '../../core/daos/object.js';
import {
  checkStorableDtype,
  checkStrings,
  decodeScalar,
  decodeValues,
  encodeScalar,
  encodeValues,
  packStrings,
  type ScalarValue,
  typedArrayFor,
  unpackStrings,
} from './codec.js';
import { type Dtype, type DtypeLike, type DtypeValues, dtypeSize, parseDtype } from './dtype.js';
import { ATTR_DKEY, checkName, type FileContext, json, parseJson, readU64, u64 } from './layout.js';
import { RANK_MAX } from './selection.js';

/** An attribute's value: one element (shape null) or all elements of an array, flat in C order. */
export type AttrValue = ScalarValue | DtypeValues;

/** Akey (in ATTR_DKEY) of the object's last attribute creation index. */
const AKEY_MAX_ATTR_CORDER = 'Max Attribute Creation Order';

export interface AttrOptions {
  dtype?: DtypeLike;
  /** The array's shape (its product must be the number of values); default: 1-D. */
  shape?: readonly number[];
}

const TYPED_DTYPES: Array<[new (...a: never[]) => unknown, string]> = [
  [Int8Array, '|i1'],
  [Uint8Array, '|u1'],
  [Int16Array, '<i2'],
  [Uint16Array, '<u2'],
  [Int32Array, '<i4'],
  [Uint32Array, '<u4'],
  [BigInt64Array, '<i8'],
  [BigUint64Array, '<u8'],
  [Float32Array, '<f4'],
  [Float64Array, '<f8'],
];

/** The dtype h5py would give a JavaScript value (numbers → float64, bigints → int64, strings → vlen utf-8). */
export function inferDtype(value: unknown): Dtype {
  for (const [ctor, s] of TYPED_DTYPES) if (value instanceof ctor) return parseDtype(s);
  if (typeof value === 'number') return parseDtype('<f8');
  if (typeof value === 'bigint') return parseDtype('<i8');
  if (typeof value === 'string') return { class: 'vlen-string', charset: 'utf-8' };
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every((v) => typeof v === 'number')) return parseDtype('<f8');
    if (value.length > 0 && value.every((v) => typeof v === 'bigint')) return parseDtype('<i8');
    if (value.length > 0 && value.every((v) => typeof v === 'string'))
      return { class: 'vlen-string', charset: 'utf-8' };
    if (value.length > 0 && value.every((v) => typeof v === 'object' && v !== null && !Array.isArray(v)))
      return inferCompound(value as Array<Record<string, unknown>>);
    if (value.length === 0) throw new DaosError('DER_INVAL', 'an empty array needs an explicit dtype');
  }
  if (typeof value === 'object' && value !== null) return inferCompound([value as Record<string, unknown>]);
  throw new DaosError('DER_INVAL', `cannot store a ${typeof value} as an attribute`);
}

function inferCompound(elements: Array<Record<string, unknown>>): Dtype {
  const first = elements[0]!;
  const fields: Array<{ name: string; offset: number; type: Dtype }> = [];
  let offset = 0;
  for (const [name, v] of Object.entries(first)) {
    let type: Dtype;
    if (typeof v === 'number') type = parseDtype('<f8');
    else if (typeof v === 'bigint') type = parseDtype('<i8');
    else if (typeof v === 'string') {
      const longest = Math.max(1, ...elements.map((e) => Buffer.byteLength(String(e[name] ?? ''), 'utf8')));
      type = { class: 'string', size: longest, charset: 'utf-8' };
    } else throw new DaosError('DER_INVAL', `compound field '${name}' is a ${typeof v}; give a dtype`);
    fields.push({ name, offset, type });
    offset += dtypeSize(type);
  }
  return { class: 'compound', size: offset, fields };
}

function checkShape(shape: readonly number[], what: string): number {
  if (!Array.isArray(shape) || shape.length > RANK_MAX)
    throw new DaosError('DER_INVAL', `${what}: shape must be an array of at most ${RANK_MAX} extents`);
  let n = 1;
  for (const s of shape) {
    if (!Number.isSafeInteger(s) || s < 0) throw new DaosError('DER_INVAL', `${what}: extent ${s} in shape`);
    n *= s;
  }
  return n;
}

/** h5py's AttributeManager, asynchronous. */
export class AttributeManager {
  private readonly obj: DaosObject;
  private readonly file: FileContext;
  private readonly owner: string;

  /** @internal */
  constructor(obj: DaosObject, file: FileContext, owner: string) {
    this.obj = obj;
    this.file = file;
    this.owner = owner;
  }

  /** Create or replace attribute `name`. Everything is checked before anything is written. */
  async set(name: string, value: unknown, options?: DtypeLike | AttrOptions): Promise<void> {
    const what = `attribute '${name}' of ${this.owner}`;
    checkName(name, 'attribute name');
    this.file.checkWritable(`set ${what}`);
    const opts: AttrOptions =
      typeof options === 'string' || (options !== undefined && 'class' in options)
        ? { dtype: options as DtypeLike }
        : ((options as AttrOptions | undefined) ?? {});
    const dtype = opts.dtype !== undefined ? parseDtype(opts.dtype) : inferDtype(value);
    checkStorableDtype(dtype, what);
    const isArray = ArrayBuffer.isView(value) || Array.isArray(value);
    let shape: number[] | null;
    let n: number;
    if (!isArray) {
      if (opts.shape !== undefined && checkShape(opts.shape, what) !== 1)
        throw new DaosError('DER_INVAL', `${what}: one value cannot fill shape [${opts.shape.join(', ')}]`);
      shape = opts.shape ? [...opts.shape] : null;
      n = 1;
    } else {
      const len =
        dtype.class === 'compound' && value instanceof Uint8Array
          ? value.byteLength / dtype.size
          : (value as ArrayLike<unknown>).length;
      shape = opts.shape ? [...opts.shape] : [len];
      n = checkShape(shape, what);
      if (n !== len)
        throw new DaosError(
          'DER_INVAL',
          `${what}: shape [${shape.join(', ')}] holds ${n} values; got ${len}`,
        );
    }
    let bytes: Uint8Array;
    if (dtype.class === 'vlen-string') bytes = packStrings(checkStrings(isArray ? value : [value], n, what));
    else if (!isArray) bytes = encodeScalar(dtype, value, what);
    else {
      // Plain arrays of numbers or bigints become the type's typed array (h5py takes lists too),
      // each element checked against the type first.
      const ctor = typedArrayFor(dtype);
      let arr: unknown = value;
      if (ctor && Array.isArray(value)) {
        for (const [i, v] of value.entries()) encodeScalar(dtype, v, `${what} element ${i}`);
        arr = (ctor as unknown as { from(a: unknown[]): unknown }).from(value);
      }
      bytes = encodeValues(dtype, arr, n, what);
    }
    // A single value may not be empty: a zero-length array keeps one placeholder byte.
    if (bytes.byteLength === 0) bytes = new Uint8Array(1);
    const [last] = (await this.obj.fetch(ATTR_DKEY, [{ akey: AKEY_MAX_ATTR_CORDER, kind: 'single' }])) as [
      Uint8Array | undefined,
    ];
    const corder = readU64(last) + 1n;
    await this.obj.update(ATTR_DKEY, [
      { akey: `T-${name}`, kind: 'single', value: json(dtype) },
      { akey: `S-${name}`, kind: 'single', value: json(shape) },
      { akey: `V-${name}`, kind: 'single', value: bytes },
      { akey: `C-${name}`, kind: 'single', value: u64(corder) },
      { akey: AKEY_MAX_ATTR_CORDER, kind: 'single', value: u64(corder) },
    ]);
  }

  /** The datatype and shape (null for a scalar) of attribute `name`, or undefined. */
  async info(name: string): Promise<{ dtype: Dtype; shape: number[] | null } | undefined> {
    checkName(name, 'attribute name');
    const [t, s] = (await this.obj.fetch(ATTR_DKEY, [
      { akey: `T-${name}`, kind: 'single' },
      { akey: `S-${name}`, kind: 'single' },
    ])) as Array<Uint8Array | undefined>;
    if (!t) return undefined;
    return {
      dtype: parseJson<Dtype>(t, 'attribute datatype'),
      shape: parseJson<number[] | null>(s, 'attribute shape'),
    };
  }

  /** The value of attribute `name` (a scalar, or a flat array in C order), or undefined. */
  async get(name: string): Promise<AttrValue | undefined> {
    checkName(name, 'attribute name');
    const [t, s, v] = (await this.obj.fetch(ATTR_DKEY, [
      { akey: `T-${name}`, kind: 'single' },
      { akey: `S-${name}`, kind: 'single' },
      { akey: `V-${name}`, kind: 'single' },
    ])) as Array<Uint8Array | undefined>;
    if (!t || !v) return undefined;
    const dtype = parseJson<Dtype>(t, 'attribute datatype');
    const shape = parseJson<number[] | null>(s, 'attribute shape');
    if (shape === null) {
      if (dtype.class === 'vlen-string') return unpackStrings(v, 1)[0]!;
      return decodeScalar(dtype, v);
    }
    const n = shape.reduce((a, b) => a * b, 1);
    if (dtype.class === 'vlen-string') return unpackStrings(v, n);
    if (n === 0) {
      const ctor = typedArrayFor(dtype);
      return ctor ? (new ctor(0) as DtypeValues) : [];
    }
    return decodeValues(dtype, v, n);
  }

  async has(name: string): Promise<boolean> {
    return (await this.info(name)) !== undefined;
  }

  /**
   * Attribute names, in name order (default) or creation order (h5py's order on an object that
   * tracks it). Attributes written before creation indices were recorded come first, by name.
   */
  async keys(options: { order?: 'name' | 'creation' } = {}): Promise<string[]> {
    const order = options.order ?? 'name';
    if (order !== 'name' && order !== 'creation')
      throw new DaosError('DER_INVAL', `order must be 'name' or 'creation', not ${String(order)}`);
    const out: string[] = [];
    for await (const k of this.obj.listAkeys(ATTR_DKEY)) {
      const s = (k as Buffer).toString('utf8');
      if (s.startsWith('T-')) out.push(s.slice(2));
    }
    out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (order === 'name' || out.length < 2) return out;
    const corders = (await this.obj.fetch(
      ATTR_DKEY,
      out.map((n) => ({ akey: `C-${n}`, kind: 'single' as const })),
    )) as Array<Uint8Array | undefined>;
    const ranked = out.map((n, i) => ({ n, corder: readU64(corders[i]) }));
    // A stable sort: equal indices (none recorded) keep name order.
    ranked.sort((a, b) => (a.corder < b.corder ? -1 : a.corder > b.corder ? 1 : 0));
    return ranked.map((r) => r.n);
  }

  /** Remove attribute `name`; DER_NONEXIST when there is none. */
  async delete(name: string): Promise<void> {
    checkName(name, 'attribute name');
    this.file.checkWritable(`delete attribute '${name}' of ${this.owner}`);
    if (!(await this.has(name)))
      throw new DaosError('DER_NONEXIST', `${this.owner} has no attribute '${name}'`);
    await this.obj.punchAkeys(ATTR_DKEY, [`T-${name}`, `S-${name}`, `V-${name}`, `C-${name}`]);
  }
}
