import { DaosError } from '../common/errors.js';
import { RECORD_BYTES_MAX } from '../common/limits.js';
import type { Oid } from '../common/oid.js';
import type { ArrayFetchResult } from '../wire/obj-types.js';
import type { Container } from './container.js';
import type { FetchIodIn, Index, UpdateIodIn } from './object.js';
import { DaosObject } from './object.js';

/**
 * DAOS's array API over an object, with DAOS's layout: chunk k lives under uint64 dkey k+1,
 * akey '0', record indexes relative to the chunk; dkey 0 holds the cell and chunk sizes. The size
 * is not stored: it is the highest written record + 1, found with max-key queries.
 * Offsets and lengths are in cells (records of `cellSize` bytes).
 */

const MD_DKEY = 0n;
const MD_AKEY = 'daos_array_md';
/** The chunks' akey, '0', as bytes once (keys go downstream as they are, unchanged: no encoding per I/O). */
const CHUNK_AKEY: Uint8Array = Buffer.from('0');
const ARRAY_MAGIC = 0xdaca55a9daca55a9n;
const MD_BYTES = 24;
/** Times setSize redoes its transaction when concurrent writes make it restart. */
const SET_SIZE_TRIES_MAX = 8;

export interface ArrayAttrs {
  cellSize: number;
  chunkSize: number;
}

export class DaosArray {
  readonly object: DaosObject;
  readonly cellSize: number;
  /** Cells per chunk. */
  readonly chunkSize: number;

  private constructor(object: DaosObject, attrs: ArrayAttrs) {
    this.object = object;
    this.cellSize = attrs.cellSize;
    this.chunkSize = attrs.chunkSize;
  }

  get oid(): Oid {
    return this.object.oid;
  }

  /** Create an array object (fails with DER_EXIST if `oid` already holds one). */
  static async create(container: Container, oid: Oid, attrs: ArrayAttrs): Promise<DaosArray> {
    checkAttrs(attrs);
    const object = new DaosObject(container, oid);
    const md = Buffer.alloc(MD_BYTES);
    md.writeBigUInt64LE(ARRAY_MAGIC, 0);
    md.writeBigUInt64LE(BigInt(attrs.cellSize), 8);
    md.writeBigUInt64LE(BigInt(attrs.chunkSize), 16);
    await object.update(MD_DKEY, [{ akey: MD_AKEY, kind: 'single', value: md }], { cond: 'dkey_insert' });
    return new DaosArray(object, attrs);
  }

  /**
   * A handle on an array whose attributes the caller keeps elsewhere (DAOS's
   * daos_array_open_with_attr, as libdfs uses for files): no I/O, and no metadata dkey is written.
   */
  static withAttrs(container: Container, oid: Oid, attrs: ArrayAttrs): DaosArray {
    checkAttrs(attrs);
    return new DaosArray(new DaosObject(container, oid), attrs);
  }

  /** Open an existing array; DER_NONEXIST when the object holds none. */
  static async open(container: Container, oid: Oid): Promise<DaosArray> {
    const object = new DaosObject(container, oid);
    const [md] = await object.fetch(MD_DKEY, [{ akey: MD_AKEY, kind: 'single' }]);
    if (!(md instanceof Uint8Array) || md.byteLength !== MD_BYTES) {
      throw new DaosError('DER_NONEXIST', `object ${oid.hi}.${oid.lo} holds no array`);
    }
    const b = Buffer.from(md.buffer, md.byteOffset, md.byteLength);
    if (b.readBigUInt64LE(0) !== ARRAY_MAGIC)
      throw new DaosError('DER_NONEXIST', `object ${oid.hi}.${oid.lo} holds no array (bad magic)`);
    return new DaosArray(object, {
      cellSize: Number(b.readBigUInt64LE(8)),
      chunkSize: Number(b.readBigUInt64LE(16)),
    });
  }

  /**
   * Write `bytes` (a whole number of cells) at cell `offset`. (Not an async function, nor are the
   * reads below: an array I/O within one chunk is one object call, and each async frame on the way
   * was a promise and a microtask more per I/O, alive while it waits: bench/README.md.)
   */
  write(offset: Index, bytes: Uint8Array): Promise<void> {
    try {
      if (!(bytes instanceof Uint8Array)) throw new DaosError('DER_INVAL', 'array write needs a Uint8Array');
      if (bytes.byteLength % this.cellSize !== 0) {
        throw new DaosError(
          'DER_INVAL',
          `write of ${bytes.byteLength} bytes is not a whole number of ${this.cellSize}-byte cells`,
        );
      }
      const start = toCell(offset);
      const cells = BigInt(bytes.byteLength / this.cellSize);
      const pieces = this.pieces(start, cells);
      // The common write, within one chunk, needs no Promise.all.
      if (pieces.length === 1) return this.writePiece(pieces[0]!, bytes);
      return Promise.all(pieces.map((p) => this.writePiece(p, bytes))).then(nothing);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private writePiece(p: Piece, bytes: Uint8Array): Promise<void> {
    const data =
      p.memCell === 0n && p.nr * BigInt(this.cellSize) === BigInt(bytes.byteLength)
        ? bytes
        : bytes.subarray(Number(p.memCell) * this.cellSize, Number(p.memCell + p.nr) * this.cellSize);
    const iod: UpdateIodIn = {
      akey: CHUNK_AKEY,
      kind: 'array',
      recordSize: this.cellSize,
      extents: [{ idx: p.idx, nr: p.nr, data }],
    };
    return this.object.update(p.dkey, [iod]);
  }

  /**
   * Read `length` cells from cell `offset`; unwritten cells read as zeros. With `into`, the cells
   * land in the caller's buffer (no allocation; the result is a view of it).
   */
  read(offset: Index, length: Index, options?: { epoch?: bigint; into?: Uint8Array }): Promise<Uint8Array> {
    return this.readWith(offset, length, options, dataOnly);
  }

  /**
   * read, also saying whether every cell of the range holds data (`full`): a reader that gets a
   * full range needs no size query (a short one may have met the end, or a sparse hole).
   */
  readData(
    offset: Index,
    length: Index,
    options?: { epoch?: bigint; into?: Uint8Array },
  ): Promise<{ data: Uint8Array; full: boolean }> {
    return this.readWith(offset, length, options, dataAndFull);
  }

  /** A read's pieces, each into its place; `done` makes the result of the data and the cells held. */
  private readWith<R>(
    offset: Index,
    length: Index,
    options: { epoch?: bigint; into?: Uint8Array } | undefined,
    done: (data: Uint8Array, held: bigint, cells: bigint) => R,
  ): Promise<R> {
    try {
      const start = toCell(offset);
      const cells = toCell(length);
      const bytes = Number(cells) * this.cellSize;
      const into = options?.into;
      if (into !== undefined && (!(into instanceof Uint8Array) || into.byteLength < bytes)) {
        throw new DaosError('DER_INVAL', `read of ${bytes} bytes needs an 'into' buffer at least that large`);
      }
      const pieces = this.pieces(start, cells);
      const epoch = options?.epoch;
      if (pieces.length === 1) return this.readOnePiece(pieces[0]!, into, epoch, bytes, cells, done);
      // Several pieces read into slices of one buffer.
      const out = into ?? Buffer.allocUnsafe(bytes);
      return Promise.all(pieces.map((p) => this.readPiece(p, out, epoch))).then((results) => {
        let held = 0n;
        for (const r of results) held += heldCells(r);
        return done(out.subarray(0, bytes), held, cells);
      });
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The common read, within one chunk: straight into the result, no Promise.all. An async method,
   * not a continuation made per read (see engine/bio/data-file.ts, groupToSettle).
   */
  private async readOnePiece<R>(
    p: Piece,
    into: Uint8Array | undefined,
    epoch: bigint | undefined,
    bytes: number,
    cells: bigint,
    done: (data: Uint8Array, held: bigint, cells: bigint) => R,
  ): Promise<R> {
    const r = await this.readPiece(p, into, epoch);
    return done(into ? whole(into, bytes) : r.data, heldCells(r), cells);
  }

  /** One chunk's part of a read: into `out` at the piece's place when given. */
  private readPiece(
    p: Piece,
    out: Uint8Array | undefined,
    epoch: bigint | undefined,
  ): Promise<ArrayFetchResult> {
    const at = Number(p.memCell) * this.cellSize;
    const len = Number(p.nr) * this.cellSize;
    const iod: FetchIodIn = {
      akey: CHUNK_AKEY,
      kind: 'array',
      recordSize: this.cellSize,
      extents: [{ idx: p.idx, nr: p.nr }],
      out: out && (at === 0 ? whole(out, len) : out.subarray(at, at + len)),
    };
    return this.object.fetchOne(
      p.dkey,
      iod,
      epoch === undefined ? undefined : { epoch },
    ) as Promise<ArrayFetchResult>;
  }

  /** Cells in the array: the highest written cell + 1. */
  async getSize(options?: { epoch?: bigint }): Promise<bigint> {
    const maxDkey = await this.object.queryDkey('max', options);
    if (typeof maxDkey !== 'bigint' || maxDkey === MD_DKEY) return 0n;
    const chunk = maxDkey - 1n;
    const recx = await this.object.queryRecx(maxDkey, CHUNK_AKEY, 'max', options);
    if (!recx) return 0n;
    return chunk * BigInt(this.chunkSize) + recx.idx + recx.nr;
  }

  /** Grow (the new cells read as zeros) or shrink (cells past `size` are punched) the array, atomically. */
  async setSize(size: Index): Promise<void> {
    const n = toCell(size);
    // A concurrent write to the array makes the transaction restart: redo it from a fresh size.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.setSizeOnce(n);
      } catch (err) {
        if (!(err instanceof DaosError) || err.code !== 'DER_TX_RESTART' || attempt >= SET_SIZE_TRIES_MAX)
          throw err;
      }
    }
  }

  private async setSizeOnce(n: bigint): Promise<void> {
    const current = await this.getSize();
    if (n === current) return;
    const tx = await this.object.container.openTx();
    const obj = tx.object(this.oid);
    const chunk = BigInt(this.chunkSize);
    if (n > current) {
      // The size is the highest written cell + 1: write one zero cell at the new end.
      const last = n - 1n;
      await obj.update(last / chunk + 1n, [
        {
          akey: CHUNK_AKEY,
          kind: 'array',
          recordSize: this.cellSize,
          extents: [{ idx: last % chunk, nr: 1, data: Buffer.alloc(this.cellSize) }],
        },
      ]);
    } else {
      const firstWhole = (n + chunk - 1n) / chunk; // first chunk lying entirely at or past n
      const doomed: bigint[] = [];
      for await (const k of this.object.listDkeys())
        if (typeof k === 'bigint' && k >= firstWhole + 1n) doomed.push(k);
      if (doomed.length > 0) await obj.punchDkeys(doomed);
      if (n % chunk !== 0n) {
        const k = n / chunk;
        const from = n % chunk;
        await obj.update(k + 1n, [
          {
            akey: CHUNK_AKEY,
            kind: 'array',
            recordSize: this.cellSize,
            extents: [{ idx: from, nr: chunk - from }],
          },
        ]);
      }
      if (n > 0n) {
        // The size is the highest written cell + 1: if cell n-1 is a hole, write a zero there (as DAOS does).
        const last = n - 1n;
        const dkey = last / chunk + 1n;
        const idx = last % chunk;
        const iod = { akey: CHUNK_AKEY, kind: 'array' as const, recordSize: this.cellSize };
        const [got] = await obj.fetch(dkey, [{ ...iod, extents: [{ idx, nr: 1 }] }]);
        if ((got as ArrayFetchResult).map.length === 0) {
          await obj.update(dkey, [{ ...iod, extents: [{ idx, nr: 1, data: Buffer.alloc(this.cellSize) }] }]);
        }
      }
    }
    await tx.commit();
  }

  /** Punch `length` cells from `offset`: they read as zeros (holes) afterwards. */
  async punch(offset: Index, length: Index): Promise<void> {
    const pieces = this.pieces(toCell(offset), toCell(length));
    await Promise.all(
      pieces.map((p) =>
        this.object.update(p.dkey, [
          { akey: CHUNK_AKEY, kind: 'array', recordSize: this.cellSize, extents: [{ idx: p.idx, nr: p.nr }] },
        ]),
      ),
    );
  }

  /** Punch the whole array object, metadata included. */
  async destroy(): Promise<void> {
    await this.object.punch();
  }

  /** Split a cell range into per-chunk pieces: dkey, index in the chunk, count, offset in the buffer. */
  private pieces(start: bigint, cells: bigint): Piece[] {
    const chunk = BigInt(this.chunkSize);
    const out: Piece[] = [];
    let pos = start;
    const end = start + cells;
    while (pos < end) {
      const k = pos / chunk;
      const idx = pos - k * chunk;
      const nr = end - pos < chunk - idx ? end - pos : chunk - idx;
      out.push({ dkey: k + 1n, idx, nr, memCell: pos - start });
      pos += nr;
    }
    return out;
  }
}

/** A read's or write's part within one chunk: its dkey, cells there, and where in the caller's bytes. */
interface Piece {
  dkey: bigint;
  idx: bigint;
  nr: bigint;
  memCell: bigint;
}

/** The first `len` bytes of `b`: `b` itself when that is all of it (no view per read). */
function whole(b: Uint8Array, len: number): Uint8Array {
  return b.length === len ? b : b.subarray(0, len);
}

const nothing = (): void => {};
const dataOnly = (data: Uint8Array): Uint8Array => data;
const dataAndFull = (data: Uint8Array, held: bigint, cells: bigint) => ({ data, full: held === cells });

/** Cells a fetched range holds data for. */
function heldCells(r: ArrayFetchResult): bigint {
  let n = 0n;
  for (const m of r.map) n += m.nr;
  return n;
}

function checkAttrs(a: ArrayAttrs): void {
  if (!Number.isInteger(a.cellSize) || a.cellSize < 1 || a.cellSize > RECORD_BYTES_MAX) {
    throw new DaosError('DER_INVAL', `cellSize ${a.cellSize} must be an integer 1..${RECORD_BYTES_MAX}`);
  }
  if (!Number.isSafeInteger(a.chunkSize) || a.chunkSize < 1)
    throw new DaosError('DER_INVAL', `chunkSize ${a.chunkSize} must be a positive integer (cells)`);
}

function toCell(v: Index): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return BigInt(v);
  if (typeof v === 'bigint' && v >= 0n) return v;
  throw new DaosError('DER_INVAL', `array offset/length ${String(v)} must be a non-negative integer`);
}
