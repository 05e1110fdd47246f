/** Tables of every type the Arrow adapter stores, and comparisons by schema and by value. */
import * as A from 'apache-arrow';

/** A deterministic PRNG (mulberry32) so that tables are the same on every run. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function field(name: string, type: A.DataType, meta?: Record<string, string>): A.Field {
  return new A.Field(name, type, true, meta ? new Map(Object.entries(meta)) : undefined);
}

/**
 * A table of `rows` rows with a column of every stored type, nulls in every column (and inside
 * lists and structs), field and schema metadata, built as `batches` record batches.
 */
export function everyTypeTable(rows: number, batches: number, seed = 1): A.Table {
  const rnd = prng(seed);
  const nullish = <T>(v: () => T): T | null => (rnd() < 0.2 ? null : v());
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo));
  const str = (): string => {
    const n = int(0, 30); // some inline (<= 12 bytes) views, some not
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + int(0, 26));
    return rnd() < 0.1 ? `${s}é✓` : s;
  };
  const struct = new A.Struct([field('a', new A.Int32()), field('b', new A.Utf8())]);
  const cols: Array<[A.Field, () => unknown]> = [
    [field('i8', new A.Int8(), { unit: 'count' }), () => int(-128, 128)],
    [field('i16', new A.Int16()), () => int(-32768, 32768)],
    [field('i32', new A.Int32()), () => int(-(2 ** 31), 2 ** 31)],
    [field('i64', new A.Int64()), () => BigInt(int(-(2 ** 31), 2 ** 31)) * 1000003n],
    [field('u8', new A.Uint8()), () => int(0, 256)],
    [field('u16', new A.Uint16()), () => int(0, 65536)],
    [field('u32', new A.Uint32()), () => int(0, 2 ** 32)],
    [field('u64', new A.Uint64()), () => BigInt(int(0, 2 ** 32)) * 4294967311n],
    [field('f16', new A.Float16()), () => int(-1000, 1000) / 8],
    [field('f32', new A.Float32()), () => Math.fround(rnd() * 1e6)],
    [field('f64', new A.Float64()), () => rnd() * 1e12],
    [field('bool', new A.Bool()), () => rnd() < 0.5],
    [field('utf8', new A.Utf8()), str],
    [field('lutf8', new A.LargeUtf8()), str],
    [field('view', new A.Utf8View()), str],
    [field('bin', new A.Binary()), () => Uint8Array.from({ length: int(0, 20) }, () => int(0, 256))],
    [field('date_day', new A.DateDay()), () => new Date(Date.UTC(2000, 0, 1) + int(0, 10000) * 86400000)],
    [
      field('date_ms', new A.DateMillisecond()),
      () => new Date(Date.UTC(2000, 0, 1) + int(0, 2 ** 30) * 1000),
    ],
    [field('ts_utc', new A.TimestampMillisecond('UTC')), () => Date.UTC(2020, 0, 1) + int(0, 2 ** 30)],
    [
      field('ts_paris', new A.TimestampMicrosecond('Europe/Paris')),
      () => Date.UTC(2020, 0, 1) + int(0, 2 ** 30),
    ],
    [field('ts_naive', new A.TimestampSecond()), () => Date.UTC(2020, 0, 1) + int(0, 2 ** 30) * 1000],
    [
      field('dec', new A.Decimal(2, 20, 128)),
      () => Uint32Array.from({ length: 4 }, (_, i) => (i < 2 ? int(0, 2 ** 32) : 0)),
    ],
    [
      field('list', new A.List(field('item', new A.Int32()))),
      () => Array.from({ length: int(0, 5) }, () => nullish(() => int(-9, 9))),
    ],
    [field('struct', struct), () => ({ a: nullish(() => int(0, 100)), b: nullish(str) })],
    [
      field('dict', new A.Dictionary(new A.Utf8(), new A.Int32(), 0)),
      () => ['red', 'green', 'blue', 'a much longer colour'][int(0, 4)],
    ],
    [field('fsb', new A.FixedSizeBinary(3)), () => Uint8Array.from({ length: 3 }, () => int(0, 256))],
    [field('nul', new A.Null()), () => null],
  ];
  const schema = new A.Schema(
    cols.map(([f]) => f),
    new Map([
      ['origin', 'daos-ts test'],
      ['rows', String(rows)],
    ]),
  );
  const out: A.RecordBatch[] = [];
  const per = Math.ceil(rows / batches);
  // One dictionary for the whole table, as IPC writers keep it.
  const dictValues = A.vectorFromArray(['red', 'green', 'blue', 'a much longer colour'], new A.Utf8());
  for (let start = 0; start < rows; start += per) {
    const n = Math.min(per, rows - start);
    const children = cols.map(([f, gen]) => {
      if (f.name === 'dict') {
        const idx = Int32Array.from({ length: n }, () => int(0, 4));
        const valid = Array.from({ length: n }, () => rnd() >= 0.2);
        return A.makeData({
          type: f.type as A.Dictionary,
          length: n,
          nullCount: valid.filter((v) => !v).length,
          nullBitmap: bitmap(valid),
          data: idx,
          dictionary: dictValues,
        });
      }
      if (f.name === 'dec') {
        const words = new Uint32Array(n * 4);
        const valid: boolean[] = [];
        for (let i = 0; i < n; i++) {
          words.set(gen() as Uint32Array, i * 4);
          valid.push(rnd() >= 0.2);
        }
        return A.makeData({
          type: f.type as A.Decimal,
          length: n,
          nullCount: valid.filter((v) => !v).length,
          nullBitmap: bitmap(valid),
          data: words,
        });
      }
      const values = Array.from({ length: n }, () => (f.name === 'nul' ? null : nullish(gen)));
      return A.vectorFromArray(values, f.type).data[0]!;
    });
    const data = A.makeData({ type: new A.Struct(schema.fields), length: n, nullCount: 0, children });
    out.push(new A.RecordBatch(schema, data));
  }
  return new A.Table(schema, out);
}

function bitmap(valid: boolean[]): Uint8Array {
  const b = new Uint8Array((valid.length + 7) >> 3);
  valid.forEach((v, i) => {
    if (v) b[i >> 3]! |= 1 << (i & 7);
  });
  return b;
}

/** A schema as plain data: field names, types (with their parameters), nullability and metadata. */
export function describeSchema(s: A.Schema): unknown {
  const typeOf = (t: A.DataType): unknown => {
    const o: Record<string, unknown> = { type: A.Type[t.typeId] ?? t.typeId };
    for (const [k, v] of Object.entries(t)) {
      if (k === 'children' || k === 'id') continue;
      // An absent parameter (no time zone) is undefined when built, null when read from IPC.
      o[k] = v instanceof A.DataType ? typeOf(v) : (v ?? null);
    }
    if (t.children?.length) o.children = t.children.map(fieldOf);
    return o;
  };
  const fieldOf = (f: A.Field): unknown => ({
    name: f.name,
    nullable: f.nullable,
    metadata: [...f.metadata],
    type: typeOf(f.type),
  });
  return { fields: s.fields.map(fieldOf), metadata: [...s.metadata] };
}

/** A value as plain data (bigints and bytes as strings, vectors and rows as arrays and objects). */
export function plain(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return `${v}n`;
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (ArrayBuffer.isView(v)) return Array.from(v as unknown as ArrayLike<unknown>, plain);
  if (v instanceof Date) return v.getTime();
  if (v instanceof A.Vector) return [...v].map(plain);
  if (typeof v === 'object') {
    const j = (v as { toJSON?: () => unknown }).toJSON ? (v as { toJSON: () => unknown }).toJSON() : v;
    return Object.fromEntries(Object.entries(j as object).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

/** Every column's values, as plain data. */
export function tableValues(t: A.Table): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const f of t.schema.fields) out[f.name] = [...t.getChild(f.name)!].map(plain);
  return out;
}

/** A table's rows [s, e) as a table built by slicing every batch (offset != 0 in every Data). */
export function sliceTable(t: A.Table, s: number, e: number): A.Table {
  return t.slice(s, e);
}

/**
 * A table of the rarer stored types: fixed-size list, map, large list, large binary, BinaryView,
 * times, durations, intervals, a dictionary inside a struct, decimal256, each with nulls.
 */
export function moreTypesTable(rows: number, batches: number, seed = 2): A.Table {
  const rnd = prng(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo));
  const nullish = <T>(v: () => T): T | null => (rnd() < 0.2 ? null : v());
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(0, 256));
  const cols: Array<[A.Field, () => unknown]> = [
    [
      field('fsl', new A.FixedSizeList(3, field('item', new A.Int16()))),
      () => [int(-99, 99), nullish(() => int(0, 9)), 7],
    ],
    [
      field(
        'map',
        new A.Map_(
          field(
            'entries',
            new A.Struct([new A.Field('key', new A.Utf8(), false), field('value', new A.Int32())]),
          ),
        ),
      ),
      () => new Map(Array.from({ length: int(0, 4) }, (_, i) => [`k${i}`, nullish(() => int(0, 1000))])),
    ],
    [
      field('llist', new A.LargeList(field('item', new A.Float64()))),
      () => Array.from({ length: int(0, 4) }, () => rnd()),
    ],
    [field('lbin', new A.LargeBinary()), () => bytes(int(0, 30))],
    [field('bview', new A.BinaryView()), () => bytes(int(0, 30))],
    [field('time', new A.TimeMillisecond()), () => int(0, 86_400_000)],
    [field('timens', new A.TimeNanosecond()), () => BigInt(int(0, 2 ** 31)) * 1000n],
    [field('dur', new A.DurationMillisecond()), () => BigInt(int(-(2 ** 31), 2 ** 31))],
    [field('ivl', new A.IntervalDayTime()), () => Int32Array.of(int(0, 1000), int(0, 86_400_000))],
    [
      field(
        'sdict',
        new A.Struct([
          field('d', new A.Dictionary(new A.Utf8(), new A.Int8(), 9)),
          field('n', new A.Int32()),
        ]),
      ),
      () => ({ d: ['x', 'y', 'zz'][int(0, 3)], n: int(0, 5) }),
    ],
  ];
  const schema = new A.Schema(
    cols.map(([f]) => f),
    new Map([['kind', 'rarer types']]),
  );
  const out: A.RecordBatch[] = [];
  const per = Math.ceil(rows / batches);
  for (let start = 0; start < rows; start += per) {
    const n = Math.min(per, rows - start);
    const children = cols.map(
      ([f, gen]) =>
        A.vectorFromArray(
          Array.from({ length: n }, () => nullish(gen)),
          f.type,
        ).data[0]!,
    );
    out.push(
      new A.RecordBatch(
        schema,
        A.makeData({ type: new A.Struct(schema.fields), length: n, nullCount: 0, children }),
      ),
    );
  }
  return new A.Table(schema, out);
}
