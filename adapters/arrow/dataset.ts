/**
 * Arrow tables in a container. A dataset is a KV object holding its schema (as an Arrow IPC
 * schema message, field and schema metadata included), its layout (the DAOS array of every
 * node's slot), one record per batch (rows, and per node the byte range of each buffer), the
 * stored dictionaries, and the commit record (batch count, row count, array ends) which an append
 * writes last: a reader works from the commit record it read, so it sees whole batches only and
 * never what a later append adds. A catalog KV object at a reserved id maps names to datasets.
 */
import { Readable } from 'node:stream';
import {
  type DataType,
  type Field,
  isArrowRecordBatch,
  isArrowTable,
  makeData,
  RecordBatch,
  RecordBatchReader,
  Schema,
  Struct,
  Table,
  tableFromIPC,
  tableToIPC,
  type Vector,
  vectorFromArray,
} from 'apache-arrow';
import { DaosError } from '../../core/common/errors.js';
import { KEY_BYTES_MAX } from '../../core/common/limits.js';
import type { Oid } from '../../core/common/oid.js';
import { DaosArray } from '../../core/daos/array.js';
import type { Container } from '../../core/daos/container.js';
import type { KV } from '../../core/daos/kv.js';
import { Decoder, type SlotReader } from './decode.js';
import { type DictRec, Encoder, type Rec, slotKey } from './encode.js';
import { type Slot, schemaNodes, type TypeNode } from './nodes.js';

/** User part of the catalog object's id (reserved; allocated ids stay below 2^64). */
const CATALOG_USER = 0x41n << 64n;
/** Bytes per chunk (dkey) of the column arrays, unless writeTable is told otherwise. */
export const ARROW_CHUNK_BYTES_DEFAULT = 1024 * 1024;
/** Bytes one array read or write moves at most (larger ones are split). */
const IO_PIECE_BYTES = 4 * 1024 * 1024;
/** Array reads or writes one call keeps in flight. */
const IO_IN_FLIGHT_MAX = 16;
/** Version of the stored layout. */
const LAYOUT_VERSION = 1;

const K_SCHEMA = 'schema';
const K_LAYOUT = 'layout';
const K_COMMIT = 'commit';
const K_LOCK = 'lock';
const batchKey = (i: number): string => `b/${String(i).padStart(10, '0')}`;
const dictKey = (node: number, k: number): string => `d/${node}/${k}`;

interface Layout {
  version: number;
  chunkSize: number;
  /** Array object id ("hi.lo" in hex) per slot key ("node.slot"). */
  arrays: Record<string, string>;
}

interface Commit {
  batches: number;
  rows: number;
  /** Bytes used in each slot array. */
  ends: Record<string, number>;
  /** Dictionaries stored per dictionary node. */
  dicts: Record<number, number>;
}

interface BatchRec {
  rows: number;
  nodes: Rec;
}

export interface WriteTableOptions {
  /** Bytes per chunk of the column arrays (default ARROW_CHUNK_BYTES_DEFAULT). */
  chunkSize?: number;
  /** Object class of the column arrays (default: the container's for arrays). */
  oclass?: string;
}

export interface ReadOptions {
  /** Columns to read, in this order (default: all). */
  columns?: readonly string[];
  /** Rows [start, end) (default: all). */
  rows?: readonly [number, number];
  /**
   * Give every batch one dictionary per column, all the stored ones joined (what the IPC file
   * format needs when appends brought new dictionaries); default: each batch its own.
   */
  joinDictionaries?: boolean;
}

/** What appendBatches takes: batches, a table, a reader, or IPC bytes (a Node stream or a buffer). */
export type BatchSource =
  | Table
  | RecordBatch
  | RecordBatchReader
  | Iterable<RecordBatch>
  | AsyncIterable<RecordBatch>
  | NodeJS.ReadableStream
  | Uint8Array;

const json = (v: unknown): string => JSON.stringify(v);
const oidText = (o: Oid): string => `${o.hi.toString(16)}.${o.lo.toString(16)}`;
function oidFrom(text: string): Oid {
  const [hi, lo] = text.split('.');
  return { hi: BigInt(`0x${hi}`), lo: BigInt(`0x${lo}`) };
}
const parse = <T>(v: Uint8Array | undefined, what: string): T => {
  if (!v) throw new DaosError('DER_IO', `dataset ${what} record is missing`);
  return JSON.parse(Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8')) as T;
};

/** Runs at most `max` tasks at once. */
class Limiter {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    while (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    try {
      return await task();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

function catalog(container: Container): KV {
  return container.kv(container.reservedOid(CATALOG_USER, { type: 'multi_lexical' }));
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || Buffer.byteLength(name) > KEY_BYTES_MAX)
    throw new DaosError('DER_INVAL', `dataset name must be a string of 1..${KEY_BYTES_MAX} bytes`);
}

/**
 * A type's shape for comparing schemas: its own parameters and children, without dictionary ids
 * (a batch read back from IPC may number its dictionaries differently).
 */
export function typeSignature(type: DataType): string {
  const t = type as unknown as Record<string, unknown>;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(t)) {
    if (k === 'id' || k === 'children' || k === 'dictionary' || k === 'indices') continue;
    // An absent parameter (no time zone) is undefined when built, null when read from IPC.
    if (v === null || v === undefined || ['number', 'string', 'boolean'].includes(typeof v))
      parts.push(`${k}=${String(v ?? null)}`);
  }
  if (t.indices) parts.push(`indices=${typeSignature(t.indices as DataType)}`);
  if (t.dictionary) parts.push(`dictionary=${typeSignature(t.dictionary as DataType)}`);
  const kids = (type.children ?? []) as Field[];
  if (kids.length > 0)
    parts.push(
      `children=[${kids.map((c) => `${c.name}${c.nullable ? '?' : ''}:${typeSignature(c.type)}`).join(',')}]`,
    );
  return `{${parts.join(' ')}}`;
}

/** Why a batch's schema does not fit the dataset's (names, order and types), or undefined. */
function schemaMismatch(stored: Schema, got: Schema): string | undefined {
  const want = stored.fields.map((f) => f.name);
  const have = got.fields.map((f) => f.name);
  if (want.join('\u0000') !== have.join('\u0000'))
    return `columns [${have.join(', ')}] differ from the dataset's [${want.join(', ')}]`;
  for (let i = 0; i < want.length; i++) {
    const a = stored.fields[i]!.type as DataType;
    const b = got.fields[i]!.type as DataType;
    if (typeSignature(a) !== typeSignature(b))
      return `column "${want[i]}" is ${String(b)} in the batch but ${String(a)} in the dataset`;
  }
  return undefined;
}

async function* batchesOf(source: BatchSource): AsyncGenerator<RecordBatch> {
  if (isArrowTable(source)) {
    yield* source.batches;
    return;
  }
  if (isArrowRecordBatch(source)) {
    yield source;
    return;
  }
  let items: Iterable<unknown> | AsyncIterable<unknown>;
  if (source instanceof Uint8Array) items = RecordBatchReader.from(source);
  else if (source instanceof Readable || typeof (source as NodeJS.ReadableStream).pipe === 'function')
    items = await RecordBatchReader.from(source as NodeJS.ReadableStream);
  else items = source as Iterable<unknown> | AsyncIterable<unknown>;
  if (
    items === null ||
    typeof items !== 'object' ||
    !(Symbol.asyncIterator in items || Symbol.iterator in items)
  )
    throw new DaosError('DER_INVAL', 'appendBatches needs record batches, a table, a reader or IPC bytes');
  for await (const b of items) {
    if (!isArrowRecordBatch(b))
      throw new DaosError('DER_INVAL', 'appendBatches source yielded something not a RecordBatch');
    yield b;
  }
}

/** The I/O side of a dataset: its KV object and column arrays. */
class Store {
  private readonly arrays = new Map<string, DaosArray>();
  readonly limiter = new Limiter(IO_IN_FLIGHT_MAX);

  constructor(
    readonly container: Container,
    readonly kv: KV,
    readonly layout: Layout,
  ) {}

  array(node: number, slot: Slot): DaosArray {
    const key = slotKey(node, slot);
    let a = this.arrays.get(key);
    if (!a) {
      const oid = this.layout.arrays[key];
      if (!oid) throw new DaosError('DER_IO', `dataset layout has no array for ${key}`);
      a = DaosArray.withAttrs(this.container, oidFrom(oid), {
        cellSize: 1,
        chunkSize: this.layout.chunkSize,
      });
      this.arrays.set(key, a);
    }
    return a;
  }

  async read(node: number, slot: Slot, off: number, len: number): Promise<Uint8Array> {
    const array = this.array(node, slot);
    const out = Buffer.allocUnsafeSlow(len);
    const jobs: Array<Promise<unknown>> = [];
    for (let at = 0; at < len; at += IO_PIECE_BYTES) {
      const n = Math.min(IO_PIECE_BYTES, len - at);
      jobs.push(this.limiter.run(() => array.read(off + at, n, { into: out.subarray(at, at + n) })));
    }
    await Promise.all(jobs);
    return new Uint8Array(out.buffer, out.byteOffset, len);
  }

  async write(node: number, slot: Slot, off: number, bytes: Uint8Array): Promise<void> {
    const array = this.array(node, slot);
    const jobs: Array<Promise<unknown>> = [];
    for (let at = 0; at < bytes.byteLength; at += IO_PIECE_BYTES) {
      const piece = bytes.subarray(at, Math.min(bytes.byteLength, at + IO_PIECE_BYTES));
      jobs.push(this.limiter.run(() => array.write(off + at, piece)));
    }
    await Promise.all(jobs);
  }
}

async function findDataset(container: Container, name: string): Promise<Oid> {
  checkName(name);
  const v = await catalog(container).get(name);
  if (!v) throw new DaosError('DER_NONEXIST', `no Arrow dataset "${name}" in container ${container.label}`);
  return oidFrom(Buffer.from(v).toString('utf8'));
}

/** A dataset's store, schema and commit record (not its batch records). */
async function openStore(
  container: Container,
  name: string,
): Promise<{ store: Store; schema: Schema; commit: Commit }> {
  const kv = container.kv(await findDataset(container, name));
  const [schemaBytes, layoutBytes, commitBytes] = await Promise.all([
    kv.get(K_SCHEMA),
    kv.get(K_LAYOUT),
    kv.get(K_COMMIT),
  ]);
  if (!schemaBytes) throw new DaosError('DER_IO', `dataset "${name}" has no schema record`);
  const layout = parse<Layout>(layoutBytes, 'layout');
  if (layout.version !== LAYOUT_VERSION)
    throw new DaosError('DER_NOTSUPPORTED', `dataset "${name}" has layout version ${layout.version}`);
  const commit = parse<Commit>(commitBytes, 'commit');
  return { store: new Store(container, kv, layout), schema: schemaFrom(schemaBytes), commit };
}

/** Schema of stored IPC bytes. */
function schemaFrom(bytes: Uint8Array): Schema {
  return tableFromIPC(bytes).schema;
}

/**
 * Write batches after the commit record `commit`: their buffers, records and dictionaries.
 * Resolves to the commit record that publishes them (the caller writes it). Every batch is
 * checked against `schema` before any of its bytes is written.
 */
async function appendAll(
  store: Store,
  schema: Schema,
  roots: TypeNode[],
  commit: Commit,
  batches: AsyncIterable<RecordBatch>,
  first: RecordBatch | undefined,
): Promise<Commit> {
  const ends = { ...commit.ends };
  const dicts = { ...commit.dicts };
  const encoder = new Encoder(ends, dicts);
  let count = commit.batches;
  let rows = commit.rows;
  const one = async (batch: RecordBatch): Promise<void> => {
    const why = schemaMismatch(schema, batch.schema);
    if (why) throw new DaosError('DER_INVAL', `schema mismatch: ${why}; nothing appended`);
    if (batch.numRows === 0) return;
    const nodes: Rec = {};
    roots.forEach((root, i) => {
      const col = batch.data.children[i]!;
      encoder.encode(root, col, 0, batch.numRows, nodes);
    });
    const pieces = encoder.pieces.splice(0);
    const fresh = encoder.newDicts.splice(0);
    await Promise.all([
      ...pieces.map((p) => store.write(p.node, p.slot, p.off, p.bytes)),
      ...fresh.map((d) => store.kv.put(dictKey(d.node, d.k), json(d.rec))),
      store.kv.put(batchKey(count), json({ rows: batch.numRows, nodes } satisfies BatchRec)),
    ]);
    count++;
    rows += batch.numRows;
  };
  if (first) await one(first);
  for await (const b of batches) await one(b);
  return { batches: count, rows, ends, dicts };
}

/**
 * Store `table` as dataset `name` of `container`: its schema (with metadata), then its batches.
 * DER_EXIST if the name is taken, DER_NOTSUPPORTED for a column type the adapter does not
 * store (unions); either way nothing is written.
 */
export async function writeTable(
  container: Container,
  name: string,
  table: Table,
  options: WriteTableOptions = {},
): Promise<void> {
  if (!isArrowTable(table)) throw new DaosError('DER_INVAL', 'writeTable needs an apache-arrow Table');
  await createDataset(container, name, table.schema, table.batches, options);
}

/**
 * Create dataset `name` with `schema` and the batches of `source`; the name is published in the
 * catalog last, so the dataset appears whole or not at all. Resolves to the rows stored.
 */
export async function createDataset(
  container: Container,
  name: string,
  schema: Schema,
  source: BatchSource,
  options: WriteTableOptions = {},
): Promise<number> {
  checkName(name);
  const chunkSize = options.chunkSize ?? ARROW_CHUNK_BYTES_DEFAULT;
  if (!Number.isSafeInteger(chunkSize) || chunkSize < 1)
    throw new DaosError('DER_INVAL', `chunkSize ${chunkSize} must be a positive integer (bytes)`);
  const { roots, all } = schemaNodes(schema);
  const cat = catalog(container);
  if (await cat.get(name))
    throw new DaosError('DER_EXIST', `Arrow dataset "${name}" exists in container ${container.label}`);
  container.checkWritable();
  // The first batch is checked before anything is written.
  const it = batchesOf(source)[Symbol.asyncIterator]();
  const head = await it.next();
  if (!head.done) {
    const why = schemaMismatch(schema, head.value.schema);
    if (why) throw new DaosError('DER_INVAL', `schema mismatch writing "${name}": ${why}; nothing written`);
  }
  const kvOid = await container.newOid({ type: 'multi_lexical' });
  const arrays: Record<string, string> = {};
  for (const node of all)
    for (const slot of node.slots)
      arrays[slotKey(node.id, slot)] = oidText(
        await container.newOid({ type: 'array', oclass: options.oclass }),
      );
  const layout: Layout = { version: LAYOUT_VERSION, chunkSize, arrays };
  const store = new Store(container, container.kv(kvOid), layout);
  const empty: Commit = { batches: 0, rows: 0, ends: {}, dicts: {} };
  await Promise.all([
    store.kv.put(K_SCHEMA, tableToIPC(new Table(schema), 'stream')),
    store.kv.put(K_LAYOUT, json(layout)),
  ]);
  const rest = { [Symbol.asyncIterator]: () => it };
  const commit = await appendAll(store, schema, roots, empty, rest, head.done ? undefined : head.value);
  await store.kv.put(K_COMMIT, json(commit));
  try {
    await cat.put(name, oidText(kvOid), { cond: 'insert' });
  } catch (err) {
    if (err instanceof DaosError && err.code === 'DER_EXIST')
      throw new DaosError('DER_EXIST', `Arrow dataset "${name}" was created by someone else meanwhile`);
    throw err;
  }
  return commit.rows;
}

/** The names of the container's Arrow datasets, in order. */
export async function listDatasets(container: Container): Promise<string[]> {
  const out: string[] = [];
  for await (const k of catalog(container).keys()) out.push(String(k));
  return out;
}

/**
 * Clear the append lock a dead writer left on dataset `name`; resolves to whether there was one.
 * Only when no append is running: two appends at once would overwrite each other's bytes.
 */
export async function unlockDataset(container: Container, name: string): Promise<boolean> {
  const kv = container.kv(await findDataset(container, name));
  if (!(await kv.get(K_LOCK))) return false;
  await kv.remove(K_LOCK);
  return true;
}

/** Remove a dataset: its catalog entry, its column arrays and its KV object. */
export async function removeDataset(container: Container, name: string): Promise<void> {
  const oid = await findDataset(container, name);
  const kv = container.kv(oid);
  const layout = parse<Layout>(await kv.get(K_LAYOUT), 'layout');
  await catalog(container).remove(name);
  await Promise.all(Object.values(layout.arrays).map((a) => container.object(oidFrom(a)).punch()));
  await kv.object.punch();
}

/**
 * An open dataset: the schema and the committed batches as of opening. Later appends are not
 * seen (open it again to see them).
 */
export class ArrowDataset {
  readonly name: string;
  readonly schema: Schema;
  /** Rows committed when the dataset was opened. */
  readonly numRows: number;
  private readonly store: Store;
  private readonly roots: TypeNode[];
  private readonly batchRecs: BatchRec[];
  /** First row of each batch, and numRows at the end. */
  private readonly starts: number[];
  private readonly dicts = new Map<string, Promise<Vector>>();
  /** Dictionaries stored per dictionary node, and their joined forms. */
  private readonly dictCounts: Record<number, number>;
  private readonly joined = new Map<number, Promise<{ vector: Vector; bases: number[] }>>();
  /** Decoders giving each batch its own dictionary, and joined dictionaries. */
  private readonly decoders: [Decoder, Decoder];

  private constructor(name: string, store: Store, schema: Schema, commit: Commit, batchRecs: BatchRec[]) {
    this.name = name;
    this.store = store;
    this.schema = schema;
    this.batchRecs = batchRecs;
    this.roots = schemaNodes(schema).roots;
    this.numRows = commit.rows;
    this.dictCounts = commit.dicts;
    this.starts = [0];
    for (const b of batchRecs) this.starts.push(this.starts[this.starts.length - 1]! + b.rows);
    const read: SlotReader = (node, slot, off, len) => this.store.read(node, slot, off, len);
    this.decoders = [
      new Decoder(read, (node, k) => this.dictionary(node, k, false)),
      new Decoder(read, (node, k) => this.dictionary(node, k, true)),
    ];
  }

  /** Open dataset `name` at its latest commit. */
  static async open(container: Container, name: string): Promise<ArrowDataset> {
    const { store, schema, commit } = await openStore(container, name);
    const recs = await Promise.all(
      Array.from({ length: commit.batches }, (_, i) =>
        store.limiter.run(async () => parse<BatchRec>(await store.kv.get(batchKey(i)), `batch ${i}`)),
      ),
    );
    return new ArrowDataset(name, store, schema, commit, recs);
  }

  /** Batches in the snapshot. */
  get numBatches(): number {
    return this.batchRecs.length;
  }

  private decoder(joined: boolean): Decoder {
    return this.decoders[joined ? 1 : 0];
  }

  /** Stored dictionary k of a node (read once per handle). */
  private stored(node: TypeNode, k: number): Promise<Vector> {
    const key = dictKey(node.id, k);
    let p = this.dicts.get(key);
    if (!p) {
      p = this.store.kv
        .get(key)
        .then((v) => this.decoder(false).dictionary(node, parse<DictRec>(v, `dictionary ${key}`)));
      this.dicts.set(key, p);
    }
    return p;
  }

  /**
   * The dictionary of a batch: stored dictionary k itself, or (`joined`) every stored dictionary
   * of the node in one chunk, the batch's indices moved past the dictionaries before k: one
   * dictionary for the whole dataset, as the IPC file format needs (it allows no replacement
   * dictionaries, and polars reads no delta dictionaries).
   */
  private async dictionary(
    node: TypeNode,
    k: number,
    joined: boolean,
  ): Promise<{ vector: Vector; base: number }> {
    const count = this.dictCounts[node.id] ?? 1;
    if (!joined || count <= 1) return { vector: await this.stored(node, k), base: 0 };
    let p = this.joined.get(node.id);
    if (!p) {
      p = (async () => {
        const all = await Promise.all(Array.from({ length: count }, (_, i) => this.stored(node, i)));
        const bases: number[] = [];
        let n = 0;
        for (const v of all) {
          bases.push(n);
          n += v.length;
        }
        return {
          vector: vectorFromArray(
            all.flatMap((v) => [...v]),
            node.dict!.type,
          ),
          bases,
        };
      })();
      this.joined.set(node.id, p);
    }
    const j = await p;
    return { vector: j.vector, base: j.bases[k] ?? 0 };
  }

  /** The schema and column indexes of a projection (DER_NONEXIST naming an unknown column). */
  private project(columns: readonly string[] | undefined): { schema: Schema; index: number[] } {
    if (columns === undefined) return { schema: this.schema, index: this.schema.fields.map((_, i) => i) };
    if (!Array.isArray(columns)) throw new DaosError('DER_INVAL', 'columns must be an array of column names');
    const names = this.schema.fields.map((f) => f.name);
    const index = columns.map((c) => {
      const i = names.indexOf(c);
      if (i < 0)
        throw new DaosError(
          'DER_NONEXIST',
          `dataset "${this.name}" has no column "${c}" (columns: ${names.join(', ')})`,
        );
      return i;
    });
    if (new Set(index).size !== index.length)
      throw new DaosError('DER_INVAL', `columns [${columns.join(', ')}] repeat a name`);
    return {
      schema: new Schema(
        index.map((i) => this.schema.fields[i]!),
        this.schema.metadata,
      ),
      index,
    };
  }

  private checkRows(rows: readonly [number, number] | undefined): [number, number] {
    if (rows === undefined) return [0, this.numRows];
    const [s, e] = Array.isArray(rows) ? rows : [Number.NaN, Number.NaN];
    if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || s < 0 || e < s || e > this.numRows)
      throw new DaosError(
        'DER_INVAL',
        `rows [${String(rows)}) out of range: need 0 <= start <= end <= ${this.numRows} (dataset "${this.name}")`,
      );
    return [s, e];
  }

  /** Rows [s, e) of batch `b` (batch-relative) for the projected columns. */
  private async batch(
    b: number,
    s: number,
    e: number,
    schema: Schema,
    index: number[],
    joined: boolean,
  ): Promise<RecordBatch> {
    const rec = this.batchRecs[b]!;
    const dec = this.decoder(joined);
    const children = await Promise.all(index.map((i) => dec.decode(this.roots[i]!, rec.nodes, s, e)));
    const data = makeData({ type: new Struct(schema.fields), length: e - s, nullCount: 0, children });
    return new RecordBatch(schema, data);
  }

  /** Read columns and rows [start, end) as a Table (one batch per stored batch it touches). */
  async read(options: ReadOptions = {}): Promise<Table> {
    const { schema, index } = this.project(options.columns);
    const [s, e] = this.checkRows(options.rows);
    const jobs: Array<Promise<RecordBatch>> = [];
    for (let b = 0; b < this.batchRecs.length; b++) {
      const from = Math.max(s, this.starts[b]!);
      const to = Math.min(e, this.starts[b + 1]!);
      if (from < to)
        jobs.push(
          this.batch(
            b,
            from - this.starts[b]!,
            to - this.starts[b]!,
            schema,
            index,
            options.joinDictionaries === true,
          ),
        );
    }
    const batches = await Promise.all(jobs);
    return batches.length > 0 ? new Table(schema, batches) : new Table(schema);
  }

  /** The snapshot's batches one at a time, the next one prefetched (optionally only some columns). */
  async *batches(
    options: { columns?: readonly string[]; joinDictionaries?: boolean } = {},
  ): AsyncGenerator<RecordBatch> {
    const { schema, index } = this.project(options.columns);
    const joined = options.joinDictionaries === true;
    // The next batch is fetched while the caller works on this one.
    const fetch = (b: number): Promise<RecordBatch> | undefined => {
      if (b >= this.batchRecs.length) return undefined;
      const p = this.batch(b, 0, this.batchRecs[b]!.rows, schema, index, joined);
      p.catch(() => undefined); // a caller that stops early never awaits it
      return p;
    };
    let next = fetch(0);
    for (let b = 0; next; b++) {
      const current = await next;
      next = fetch(b + 1);
      yield current;
    }
  }

  /** Append batches to this dataset (see appendBatches); this handle keeps its snapshot. */
  async append(source: BatchSource): Promise<number> {
    return appendTo(this.store, this.name, this.schema, this.roots, source);
  }
}

async function appendTo(
  store: Store,
  name: string,
  schema: Schema,
  roots: TypeNode[],
  source: BatchSource,
): Promise<number> {
  const it = batchesOf(source)[Symbol.asyncIterator]();
  const head = await it.next();
  if (head.done) return 0;
  const why = schemaMismatch(schema, head.value.schema);
  if (why)
    throw new DaosError('DER_INVAL', `schema mismatch appending to "${name}": ${why}; nothing appended`);
  try {
    await store.kv.put(K_LOCK, json({ pid: process.pid, at: new Date().toISOString() }), { cond: 'insert' });
  } catch (err) {
    if (err instanceof DaosError && err.code === 'DER_EXIST')
      throw new DaosError(
        'DER_BUSY',
        `another append to dataset "${name}" is in progress (if its writer died, unlockDataset clears it)`,
      );
    throw err;
  }
  try {
    const commit = parse<Commit>(await store.kv.get(K_COMMIT), 'commit');
    const rest = { [Symbol.asyncIterator]: () => it };
    const next = await appendAll(store, schema, roots, commit, rest, head.value);
    if (next.batches === commit.batches) return 0;
    await store.kv.put(K_COMMIT, json(next));
    return next.rows - commit.rows;
  } finally {
    await store.kv.remove(K_LOCK);
  }
}

/**
 * Append record batches (a reader, an iterable or async iterable of batches, a Table, or a Node
 * stream / buffer of IPC bytes) to dataset `name`; resolves to the rows added. Each batch must
 * have the dataset's columns and types (DER_INVAL otherwise). The rows become visible together,
 * when the commit record is written at the end: a failure part way leaves the dataset as it was.
 * One append at a time per dataset (DER_BUSY otherwise).
 */
export async function appendBatches(
  container: Container,
  name: string,
  source: BatchSource,
): Promise<number> {
  const { store, schema } = await openStore(container, name);
  return appendTo(store, name, schema, schemaNodes(schema).roots, source);
}

/** Open dataset `name`: schema, row count and batches as of now. */
export function openDataset(container: Container, name: string): Promise<ArrowDataset> {
  return ArrowDataset.open(container, name);
}

/** Read columns and rows [start, end) of dataset `name` as a Table. */
export async function readTable(
  container: Container,
  name: string,
  options: ReadOptions = {},
): Promise<Table> {
  return (await ArrowDataset.open(container, name)).read(options);
}
