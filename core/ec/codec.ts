/**
 * EcCodec: Reed–Solomon encode and reconstruct of one stripe (k data cells, p parity cells) on
 * top of the native `@ronomon/reed-solomon` addon, which runs in Node's thread pool.
 *
 * The library's constraints, and how this wrapper meets them:
 * - k <= MAX_K (24), m <= MAX_M (6); checked in the constructor (DER_INVAL).
 * - A shard is a multiple of 8 bytes, and its parity depends on the shard size as a whole (the
 *   Cauchy bit-matrix mixes bytes across a shard), so zero-padding a cell would make a parity cell
 *   longer than its data cells. Instead the first floor(L / 8) * 8 bytes of each cell go through
 *   the library and the last L mod 8 bytes through a byte-wise GF(2^8) code (gf256.ts): every
 *   parity cell is exactly as long as the data cells, for any length L >= 1.
 * - All data shards sit in one Buffer and all parity shards in another; lengths are uint32.
 * - A zero-length (or detached) buffer aborts the process from a C assert, which no try/catch
 *   sees: every length is checked here before the library is called.
 * - At least k sources and 1..m targets, disjoint, as bitmasks over 0..k+m-1 (data then parity).
 */
import { createRequire } from 'node:module';
import { assert, check, DaosError } from '../common/errors.js';
import { gfEncode, gfReconstruct } from './gf256.js';
import { EC_CODEC_CELL_BYTES_MAX } from './limits.js';

interface ReedSolomonLib {
  MAX_K: number;
  MAX_M: number;
  create(k: number, m: number): Buffer;
  encode(
    context: Buffer,
    sources: number,
    targets: number,
    buffer: Buffer,
    bufferOffset: number,
    bufferSize: number,
    parity: Buffer,
    parityOffset: number,
    paritySize: number,
    end: (error?: Error | null) => void,
  ): void;
}

/** Spare encode buffers one codec keeps. */
const EC_SCRATCH_BUFFERS_MAX = 4;

/** Shard sizes the library takes are multiples of this. */
const LIB_SHARD_ALIGN_BYTES = 8;

let lib: ReedSolomonLib | undefined;
function rs(): ReedSolomonLib {
  if (!lib) {
    try {
      lib = createRequire(import.meta.url)('@ronomon/reed-solomon') as ReedSolomonLib;
    } catch (e) {
      throw new DaosError('DER_NOSYS', `the Reed–Solomon addon @ronomon/reed-solomon does not load`, {
        cause: e,
      });
    }
  }
  return lib;
}

/** Largest data and parity counts the codec takes (the library's MAX_K and MAX_M). */
export const EC_DATA_CELLS_MAX = 24;
export const EC_PARITY_CELLS_MAX = 6;

export class EcCodec {
  readonly k: number;
  readonly p: number;
  private readonly context: Buffer;
  /** Spare data buffers of past encodes, for reuse (at most EC_SCRATCH_BUFFERS_MAX). */
  private readonly scratch: Buffer[] = [];

  constructor(k: number, p: number) {
    check(
      Number.isInteger(k) && k >= 1 && k <= EC_DATA_CELLS_MAX,
      'DER_INVAL',
      () => `EC data cells must be an integer in 1..${EC_DATA_CELLS_MAX}, got ${k}`,
    );
    check(
      Number.isInteger(p) && p >= 1 && p <= EC_PARITY_CELLS_MAX,
      'DER_INVAL',
      () => `EC parity cells must be an integer in 1..${EC_PARITY_CELLS_MAX}, got ${p}`,
    );
    const r = rs();
    assert(r.MAX_K >= EC_DATA_CELLS_MAX && r.MAX_M >= EC_PARITY_CELLS_MAX, 'reed-solomon limits shrank');
    this.k = k;
    this.p = p;
    this.context = r.create(k, p);
  }

  /** The p parity cells of k data cells of one length L >= 1; each parity cell is L bytes. */
  async encode(data: Uint8Array[]): Promise<Uint8Array[]> {
    const { k, p } = this;
    check(
      Array.isArray(data) && data.length === k,
      'DER_INVAL',
      () => `encode takes ${k} data cells, got ${describeCount(data)}`,
    );
    const len = commonLength(data, 'data cell');
    const bulk = len - (len % LIB_SHARD_ALIGN_BYTES);
    const parity: Uint8Array[] = [];
    if (bulk > 0) {
      // The data copy goes to a reused scratch buffer (fresh large buffers cost page faults);
      // parity is handed out, so it is fresh, and uninitialised: every byte is a target.
      const buf = this.takeScratch(bulk * k);
      for (let i = 0; i < k; i++) buf.set(data[i]!.subarray(0, bulk), i * bulk);
      const par = Buffer.allocUnsafeSlow(bulk * p);
      try {
        await this.run(maskRange(0, k), maskRange(k, k + p), buf, par, bulk);
      } finally {
        this.giveScratch(buf);
      }
      for (let j = 0; j < p; j++) {
        if (bulk === len) parity.push(new Uint8Array(par.buffer, par.byteOffset + j * bulk, bulk));
        else {
          const cell = new Uint8Array(len);
          cell.set(par.subarray(j * bulk, (j + 1) * bulk));
          parity.push(cell);
        }
      }
    } else {
      for (let j = 0; j < p; j++) parity.push(new Uint8Array(len));
    }
    if (bulk < len) {
      const tails = gfEncode(
        k,
        p,
        data.map((d) => d.subarray(bulk, len)),
        len - bulk,
      );
      for (let j = 0; j < p; j++) parity[j]!.set(tails[j]!, bulk);
    }
    return parity;
  }

  /**
   * All k+p cells (data 0..k-1, then parity k..k+p-1) from the ones present (undefined = missing):
   * present cells are returned as given, missing ones rebuilt. More than p missing is
   * DER_DATA_LOSS; wrong counts or unequal lengths are DER_INVAL.
   */
  async reconstruct(cells: Array<Uint8Array | undefined>): Promise<Uint8Array[]> {
    const { k, p } = this;
    const n = k + p;
    check(
      Array.isArray(cells) && cells.length === n,
      'DER_INVAL',
      () => `reconstruct takes ${n} cell slots (${k} data + ${p} parity), got ${describeCount(cells)}`,
    );
    const missing: number[] = [];
    for (let i = 0; i < n; i++) if (cells[i] === undefined || cells[i] === null) missing.push(i);
    if (missing.length > p) {
      throw new DaosError(
        'DER_DATA_LOSS',
        `EC ${k}+${p} stripe lost cells ${missing.join(',')}: ${missing.length} missing, at most ${p} can be rebuilt`,
      );
    }
    const len = commonLength(cells, 'cell', true);
    if (missing.length === 0) return cells as Uint8Array[];

    const bulk = len - (len % LIB_SHARD_ALIGN_BYTES);
    const out: Uint8Array[] = cells.map((c) => c ?? new Uint8Array(len));
    if (bulk > 0) {
      const buf = Buffer.alloc(bulk * k);
      const par = Buffer.alloc(bulk * p);
      let sources = 0;
      for (let i = 0; i < n; i++) {
        const c = cells[i];
        if (!c) continue;
        sources |= 1 << i;
        if (i < k) buf.set(c.subarray(0, bulk), i * bulk);
        else par.set(c.subarray(0, bulk), (i - k) * bulk);
      }
      let targets = 0;
      for (const i of missing) targets |= 1 << i;
      await this.run(sources, targets, buf, par, bulk);
      for (const i of missing) {
        const from =
          i < k ? buf.subarray(i * bulk, (i + 1) * bulk) : par.subarray((i - k) * bulk, (i - k + 1) * bulk);
        out[i]!.set(from);
      }
    }
    if (bulk < len) {
      const tails = gfReconstruct(
        k,
        p,
        cells.map((c) => c?.subarray(bulk, len)),
        len - bulk,
      );
      for (const i of missing) out[i]!.set(tails[i]!, bulk);
    }
    return out;
  }

  private takeScratch(bytes: number): Buffer {
    const i = this.scratch.findIndex((b) => b.length === bytes);
    if (i < 0) return Buffer.allocUnsafeSlow(bytes);
    return this.scratch.splice(i, 1)[0]!;
  }

  private giveScratch(buf: Buffer): void {
    if (this.scratch.length >= EC_SCRATCH_BUFFERS_MAX) this.scratch.shift();
    this.scratch.push(buf);
  }

  /** One library call; sizes were checked by the callers (bulk >= 8, a multiple of 8). */
  private run(sources: number, targets: number, buf: Buffer, par: Buffer, bulk: number): Promise<void> {
    const { k, p } = this;
    assert(
      bulk > 0 && bulk % LIB_SHARD_ALIGN_BYTES === 0 && buf.length === bulk * k && par.length === bulk * p,
      'reed-solomon buffer sizes',
    );
    return new Promise((resolve, reject) => {
      rs().encode(this.context, sources, targets, buf, 0, bulk * k, par, 0, bulk * p, (err) => {
        if (err)
          reject(new DaosError('DER_IO', `reed-solomon ${k}+${p} failed: ${err.message}`, { cause: err }));
        else resolve();
      });
    });
  }
}

function maskRange(from: number, to: number): number {
  let m = 0;
  for (let i = from; i < to; i++) m |= 1 << i;
  return m;
}

function describeCount(v: unknown): string {
  return Array.isArray(v) ? String(v.length) : typeof v;
}

/** The one length all cells share: 1..EC_CODEC_CELL_BYTES_MAX bytes, or DER_INVAL naming the culprit. */
function commonLength(cells: Array<Uint8Array | undefined>, what: string, skipMissing = false): number {
  let len = -1;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i];
    if (skipMissing && (c === undefined || c === null)) continue;
    check(c instanceof Uint8Array, 'DER_INVAL', () => `${what} ${i} is not a Uint8Array`);
    check(c.length >= 1, 'DER_INVAL', () => `${what} ${i} is empty: EC cells are at least 1 byte`);
    check(
      c.length <= EC_CODEC_CELL_BYTES_MAX,
      'DER_INVAL',
      () =>
        `${what} ${i} is ${c.length} bytes, more than EC_CODEC_CELL_BYTES_MAX (${EC_CODEC_CELL_BYTES_MAX})`,
    );
    if (len < 0) len = c.length;
    check(
      c.length === len,
      'DER_INVAL',
      () => `${what} ${i} is ${c.length} bytes, the first is ${len}: cells of a stripe share one length`,
    );
  }
  return len;
}
