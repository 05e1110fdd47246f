import { constants as fsc } from 'node:fs';
import { type FileHandle, open as openLocal, unlink as unlinkLocal } from 'node:fs/promises';
import { DaosError } from '../../core/common/errors.js';
import type { Dfs } from '../../core/dfs/dfs.js';
import type { DfsFile } from '../../core/dfs/file.js';
import type { Comm } from './comm.js';
import type { Datatype } from './datatype.js';
import { FileView, type ViewRuns } from './view.js';

// Access modes, with MPICH's values.
export const MODE_CREATE = 1;
export const MODE_RDONLY = 2;
export const MODE_WRONLY = 4;
export const MODE_RDWR = 8;
export const MODE_DELETE_ON_CLOSE = 16;
export const MODE_UNIQUE_OPEN = 32;
export const MODE_EXCL = 64;
export const MODE_APPEND = 128;
export const MODE_SEQUENTIAL = 256;
// Seek whence, with MPICH's values.
export const SEEK_SET = 600;
export const SEEK_CUR = 602;
export const SEEK_END = 604;

/** ROMIO's defaults for its hints. */
export const CB_BUFFER_SIZE_DEFAULT = 16 * 1024 * 1024;
export const IND_RD_BUFFER_SIZE_DEFAULT = 4 * 1024 * 1024;
/** Independent reads or writes a rank keeps in flight when a view splits an access into runs. */
const RUN_IO_IN_FLIGHT = 32;
/** Data sieving reads a span instead of its runs when the runs cover at least this share of it. */
const SIEVE_DENSITY_MIN = 0.25;

type Toggle = 'enable' | 'disable' | 'automatic';

/** MPI info hints this implementation honours (values as strings or numbers, as MPI_Info holds them). */
export interface MpiInfo {
  /** Bytes an aggregator moves per round of two-phase I/O. */
  cb_buffer_size?: string | number;
  /** How many ranks act as aggregators (default: all). */
  cb_nodes?: string | number;
  /** Collective buffering for reads/writes: always, never, or when the ranks' accesses interleave. */
  romio_cb_read?: Toggle;
  romio_cb_write?: Toggle;
  /** Data sieving of independent strided reads (one span read, then picked apart). */
  romio_ds_read?: Toggle;
  /** Bytes per data-sieving read. */
  ind_rd_buffer_size?: string | number;
}

/** The bytes under a file: a local file or a DFS file. */
interface Backend {
  /** Read into `buf` from `pos`; bytes past the end of the file read as zeros. Resolves to the bytes that existed. */
  read(buf: Uint8Array, pos: number): Promise<number>;
  write(buf: Uint8Array, pos: number): Promise<void>;
  size(): Promise<number>;
  setSize(n: number): Promise<void>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

class LocalBackend implements Backend {
  constructor(private readonly fh: FileHandle) {}
  async read(buf: Uint8Array, pos: number): Promise<number> {
    let got = 0;
    while (got < buf.byteLength) {
      const { bytesRead } = await this.fh.read(buf, got, buf.byteLength - got, pos + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    buf.fill(0, got);
    return got;
  }
  async write(buf: Uint8Array, pos: number): Promise<void> {
    let done = 0;
    while (done < buf.byteLength)
      done += (await this.fh.write(buf, done, buf.byteLength - done, pos + done)).bytesWritten;
  }
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }
  setSize(n: number): Promise<void> {
    return this.fh.truncate(n);
  }
  sync(): Promise<void> {
    return this.fh.sync();
  }
  close(): Promise<void> {
    return this.fh.close();
  }
}

class DfsBackend implements Backend {
  constructor(private readonly file: DfsFile) {}
  async read(buf: Uint8Array, pos: number): Promise<number> {
    // A byte array reads holes and the bytes past its end as zeros: no size query per read.
    await this.file.readKnown(buf, pos);
    return buf.byteLength;
  }
  async write(buf: Uint8Array, pos: number): Promise<void> {
    await this.file.write(buf, pos);
  }
  size(): Promise<number> {
    return this.file.size();
  }
  setSize(n: number): Promise<void> {
    return this.file.truncate(n);
  }
  sync(): Promise<void> {
    return this.file.sync();
  }
  close(): Promise<void> {
    return this.file.close();
  }
}

/** Where a file lives: `daos:/path` (the job's DFS container, or options.dfs) or a local path. */
function parsePath(path: string): { kind: 'dfs'; path: string } | { kind: 'local'; path: string } {
  if (typeof path !== 'string' || path.length === 0)
    throw new DaosError('DER_INVAL', 'MPI file path must be a non-empty string');
  if (path.startsWith('daos:')) {
    const rest = path.slice('daos:'.length);
    if (rest.startsWith('//'))
      throw new DaosError('DER_INVAL', `use daos:/path (the job's container), not ${path}`);
    return { kind: 'dfs', path: rest.startsWith('/') ? rest : `/${rest}` };
  }
  return { kind: 'local', path };
}

function toBytes(buf: ArrayBufferView, what: string): Uint8Array {
  if (!ArrayBuffer.isView(buf)) throw new DaosError('DER_INVAL', `${what} needs a typed array or Buffer`);
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function hintNumber(v: string | number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = typeof v === 'number' ? v : Number.parseInt(v, 10);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new DaosError('DER_INVAL', `hint ${name}=${String(v)} must be a positive integer`);
  return n;
}

function hintToggle(v: Toggle | undefined, name: string): Toggle {
  if (v === undefined) return 'automatic';
  if (v !== 'enable' && v !== 'disable' && v !== 'automatic')
    throw new DaosError('DER_INVAL', `hint ${name}=${String(v)} must be enable, disable or automatic`);
  return v;
}

/** One piece of a rank's access that falls in an aggregator's window. */
interface Pieces {
  offs: Float64Array;
  lens: Float64Array;
  data?: Uint8Array;
}

/**
 * An MPI file opened collectively by every rank of a communicator: file views, individual file
 * pointers, independent (`read`, `writeAt`, ...) and collective (`readAll`, `writeAtAll`, ...)
 * access. Collective calls use ROMIO's two-phase algorithm: the accessed range is split into
 * one file domain per aggregator, and in rounds of `cb_buffer_size` bytes the ranks send their
 * pieces to the aggregators, which do few large contiguous reads and writes.
 */
export class MpiFile {
  private view = FileView.DEFAULT;
  /** The individual file pointer, in etypes of the view. */
  private pos = 0;
  private closed = false;
  private readonly cbBuffer: number;
  private readonly cbNodes: number;
  private readonly cbRead: Toggle;
  private readonly cbWrite: Toggle;
  private readonly dsRead: Toggle;
  private readonly indRdBuffer: number;

  private constructor(
    readonly comm: Comm,
    readonly path: string,
    readonly amode: number,
    private readonly backend: Backend,
    info: MpiInfo,
    private readonly remove: (() => Promise<void>) | undefined,
  ) {
    this.cbBuffer = hintNumber(info.cb_buffer_size, CB_BUFFER_SIZE_DEFAULT, 'cb_buffer_size');
    this.cbNodes = Math.min(comm.size, hintNumber(info.cb_nodes, comm.size, 'cb_nodes'));
    this.cbRead = hintToggle(info.romio_cb_read, 'romio_cb_read');
    this.cbWrite = hintToggle(info.romio_cb_write, 'romio_cb_write');
    this.dsRead = hintToggle(info.romio_ds_read, 'romio_ds_read');
    this.indRdBuffer = hintNumber(info.ind_rd_buffer_size, IND_RD_BUFFER_SIZE_DEFAULT, 'ind_rd_buffer_size');
  }

  /**
   * Open collectively (MPI_File_open): rank 0 creates the file when asked, then every rank opens
   * it. A failure on any rank fails the open on every rank with the same error.
   */
  static async open(
    comm: Comm,
    path: string,
    amode: number,
    info: MpiInfo = {},
    options: { dfs?: Dfs } = {},
  ): Promise<MpiFile> {
    const where = parsePath(path);
    const access = amode & (MODE_RDONLY | MODE_WRONLY | MODE_RDWR);
    let failure: string | undefined;
    if (access !== MODE_RDONLY && access !== MODE_WRONLY && access !== MODE_RDWR)
      failure = `amode ${amode} must hold exactly one of MODE_RDONLY, MODE_WRONLY, MODE_RDWR`;
    else if (access === MODE_RDONLY && amode & (MODE_CREATE | MODE_EXCL))
      failure = 'MODE_CREATE and MODE_EXCL need write access';
    else if (amode & MODE_SEQUENTIAL) failure = 'MODE_SEQUENTIAL is not supported';
    const hintsOk = (() => {
      try {
        hintNumber(info.cb_buffer_size, 1, 'cb_buffer_size');
        hintNumber(info.cb_nodes, 1, 'cb_nodes');
        hintToggle(info.romio_cb_read, 'romio_cb_read');
        hintToggle(info.romio_cb_write, 'romio_cb_write');
        hintToggle(info.romio_ds_read, 'romio_ds_read');
        hintNumber(info.ind_rd_buffer_size, 1, 'ind_rd_buffer_size');
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    })();
    failure ??= hintsOk;
    const dfs =
      where.kind === 'dfs' && failure === undefined ? (options.dfs ?? (await comm.dfs())) : undefined;
    const read = access !== MODE_WRONLY;
    const write = access !== MODE_RDONLY;
    const openOne = async (create: boolean): Promise<Backend> => {
      if (dfs) {
        const file = await dfs.open(where.path, {
          read,
          write,
          create,
          exclusive: create && (amode & MODE_EXCL) !== 0,
        });
        return new DfsBackend(file);
      }
      let flags = access === MODE_RDONLY ? fsc.O_RDONLY : access === MODE_WRONLY ? fsc.O_WRONLY : fsc.O_RDWR;
      if (create) flags |= fsc.O_CREAT | (amode & MODE_EXCL ? fsc.O_EXCL : 0);
      return new LocalBackend(await openLocal(where.path, flags, 0o644));
    };
    // Rank 0 creates; everyone learns whether that worked before opening.
    let backend: Backend | undefined;
    if (comm.rank === 0 && failure === undefined) {
      try {
        backend = await openOne((amode & MODE_CREATE) !== 0);
      } catch (err) {
        failure = errorText(err);
      }
    }
    const first = await comm.bcast(failure ?? null, 0);
    if (first !== null) {
      await backend?.close();
      throw openError(path, first);
    }
    if (comm.rank !== 0) {
      try {
        backend = await openOne(false);
      } catch (err) {
        failure = errorText(err);
      }
    }
    const failures = await comm.allgather(failure ?? null);
    const bad = failures.findIndex((f) => f !== null);
    if (bad >= 0) {
      await backend?.close();
      throw openError(path, `rank ${bad}: ${failures[bad]}`);
    }
    const remove =
      amode & MODE_DELETE_ON_CLOSE
        ? dfs
          ? () => dfs.unlink(where.path)
          : () => unlinkLocal(where.path)
        : undefined;
    const f = new MpiFile(comm, path, amode, backend!, info, remove);
    if (amode & MODE_APPEND) f.pos = Math.floor((await backend!.size()) / f.view.etype.size);
    return f;
  }

  // ---- views and pointers ----

  /** Set the view (collective): displacement in bytes, etype, filetype. Resets the file pointer. */
  async setView(
    disp: number,
    etype: Datatype,
    filetype: Datatype,
    datarep = 'native',
    _info?: MpiInfo,
  ): Promise<void> {
    this.checkOpen();
    if (datarep !== 'native')
      throw new DaosError('DER_NOTSUPPORTED', `data representation "${datarep}": only native`);
    let error: string | null = null;
    let view: FileView | undefined;
    try {
      view = new FileView(disp, etype, filetype);
    } catch (err) {
      error = errorText(err);
    }
    const errors = await this.comm.allgather(error);
    const bad = errors.findIndex((e) => e !== null);
    if (bad >= 0) throw new DaosError('DER_INVAL', `setView failed on rank ${bad}: ${errors[bad]}`);
    this.view = view!;
    this.pos = 0;
  }

  getView(): { disp: number; etype: Datatype; filetype: Datatype; datarep: 'native' } {
    return { disp: this.view.disp, etype: this.view.etype, filetype: this.view.filetype, datarep: 'native' };
  }

  /** Move the individual file pointer (in etypes). */
  async seek(offset: number, whence = SEEK_SET): Promise<void> {
    this.checkOpen();
    let base = 0;
    if (whence === SEEK_CUR) base = this.pos;
    else if (whence === SEEK_END) base = await this.viewEnd();
    else if (whence !== SEEK_SET)
      throw new DaosError('DER_INVAL', `seek whence ${whence} must be SEEK_SET, SEEK_CUR or SEEK_END`);
    const to = base + offset;
    if (!Number.isSafeInteger(to) || to < 0)
      throw new DaosError('DER_INVAL', `seek to etype ${to} is before the start of the view`);
    this.pos = to;
  }

  /** The individual file pointer, in etypes. */
  getPosition(): number {
    return this.pos;
  }

  /** Absolute byte offset in the file of view etype `offset`. */
  getByteOffset(offset: number): number {
    return this.view.byteOffset(offset);
  }

  async getSize(): Promise<number> {
    this.checkOpen();
    return this.backend.size();
  }

  /** Set the size (collective; every rank must pass the same size). */
  async setSize(size: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    if (!Number.isSafeInteger(size) || size < 0)
      throw new DaosError('DER_INVAL', `size ${size} must be a non-negative integer`);
    const sizes = await this.comm.allgather(size);
    if (sizes.some((s) => s !== size))
      throw new DaosError('DER_INVAL', `setSize: ranks passed different sizes (${sizes.join(', ')})`);
    if (this.comm.rank === 0) await this.backend.setSize(size);
    await this.comm.barrier();
  }

  /** Make sure the file is at least `size` bytes (collective). */
  async preallocate(size: number): Promise<void> {
    this.checkOpen();
    this.checkWritable();
    if (this.comm.rank === 0 && (await this.backend.size()) < size) await this.backend.setSize(size);
    await this.comm.barrier();
  }

  /** Flush (collective). */
  async sync(): Promise<void> {
    this.checkOpen();
    await this.backend.sync();
    await this.comm.barrier();
  }

  /** Close (collective); a file opened with MODE_DELETE_ON_CLOSE is removed once all closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.backend.close();
    await this.comm.barrier();
    if (this.remove && this.comm.rank === 0) await this.remove();
  }

  // ---- independent access ----

  /** Read at the individual file pointer (advancing it); resolves to the bytes that existed. */
  async read(buf: ArrayBufferView): Promise<number> {
    const n = await this.readAt(this.pos, buf);
    this.advance(buf);
    return n;
  }

  async write(buf: ArrayBufferView): Promise<number> {
    const n = await this.writeAt(this.pos, buf);
    this.advance(buf);
    return n;
  }

  /** Read at view etype `offset`. */
  async readAt(offset: number, buf: ArrayBufferView): Promise<number> {
    this.checkOpen();
    this.checkReadable();
    const bytes = toBytes(buf, 'readAt');
    const runs = this.runsOf(offset, bytes.byteLength, 'readAt');
    return this.readRuns(runs, bytes);
  }

  async writeAt(offset: number, buf: ArrayBufferView): Promise<number> {
    this.checkOpen();
    this.checkWritable();
    const bytes = toBytes(buf, 'writeAt');
    const runs = this.runsOf(offset, bytes.byteLength, 'writeAt');
    await this.writeRuns(runs, bytes);
    return bytes.byteLength;
  }

  /** Nonblocking forms: the I/O starts now; await the Promise (MPI_Wait). */
  iread(buf: ArrayBufferView): Promise<number> {
    return this.read(buf);
  }
  iwrite(buf: ArrayBufferView): Promise<number> {
    return this.write(buf);
  }
  ireadAt(offset: number, buf: ArrayBufferView): Promise<number> {
    return this.readAt(offset, buf);
  }
  iwriteAt(offset: number, buf: ArrayBufferView): Promise<number> {
    return this.writeAt(offset, buf);
  }

  // ---- collective access ----

  async readAll(buf: ArrayBufferView): Promise<number> {
    const n = await this.readAtAll(this.pos, buf);
    this.advance(buf);
    return n;
  }

  async writeAll(buf: ArrayBufferView): Promise<number> {
    const n = await this.writeAtAll(this.pos, buf);
    this.advance(buf);
    return n;
  }

  /** Collective read at view etype `offset` (every rank calls it, with its own offset and buffer). */
  async readAtAll(offset: number, buf: ArrayBufferView): Promise<number> {
    this.checkOpen();
    this.checkReadable();
    const bytes = toBytes(buf, 'readAtAll');
    const runs = this.runsOf(offset, bytes.byteLength, 'readAtAll');
    const plan = await this.plan(runs, this.cbRead);
    if (!plan) return this.readRuns(runs, bytes);
    const size = await this.backend.size();
    for (let round = 0; round < plan.rounds; round++) {
      // Phase 1: tell each aggregator which of its window's bytes this rank needs.
      const asks = plan.aggregators.map((_, i) => plan.piecesFor(i, round));
      const got = await this.comm.alltoall(
        this.toRanks(
          plan,
          asks.map((p) => (p ? { offs: p.offs, lens: p.lens } : null)),
        ),
      );
      // Phase 2: aggregators read their windows and send each rank its bytes.
      const replies: Array<Uint8Array | null> = new Array(this.comm.size).fill(null);
      const a = plan.aggregators.indexOf(this.comm.rank);
      if (a >= 0) {
        const requests = got as Array<Pieces | null>;
        const span = spanOf(requests);
        if (span) {
          const window = Buffer.alloc(span.end - span.start);
          await this.readCovering(requests, span, window);
          requests.forEach((req, r) => {
            if (!req) return;
            let total = 0;
            for (let k = 0; k < req.lens.length; k++) total += req.lens[k]!;
            const out = new Uint8Array(total);
            let at = 0;
            for (let k = 0; k < req.offs.length; k++) {
              const from = req.offs[k]! - span.start;
              out.set(window.subarray(from, from + req.lens[k]!), at);
              at += req.lens[k]!;
            }
            replies[r] = out;
          });
        }
      }
      const data = (await this.comm.alltoall(replies)) as Array<Uint8Array | null>;
      plan.aggregators.forEach((aggRank, i) => {
        const p = asks[i];
        const d = data[aggRank];
        if (!p || !d) return;
        let at = 0;
        for (let k = 0; k < p.offs.length; k++) {
          bytes.set(d.subarray(at, at + p.lens[k]!), p.bufs![k]!);
          at += p.lens[k]!;
        }
      });
    }
    return countExisting(plan.runs, size);
  }

  /** Collective write at view etype `offset`. */
  async writeAtAll(offset: number, buf: ArrayBufferView): Promise<number> {
    this.checkOpen();
    this.checkWritable();
    const bytes = toBytes(buf, 'writeAtAll');
    const runs = this.runsOf(offset, bytes.byteLength, 'writeAtAll');
    const plan = await this.plan(runs, this.cbWrite);
    if (!plan) {
      await this.writeRuns(runs, bytes);
      return bytes.byteLength;
    }
    for (let round = 0; round < plan.rounds; round++) {
      const pieces = plan.aggregators.map((_, i) => {
        const p = plan.piecesFor(i, round);
        if (!p) return null;
        let total = 0;
        for (let k = 0; k < p.lens.length; k++) total += p.lens[k]!;
        const data = new Uint8Array(total);
        let at = 0;
        for (let k = 0; k < p.offs.length; k++) {
          data.set(bytes.subarray(p.bufs![k]!, p.bufs![k]! + p.lens[k]!), at);
          at += p.lens[k]!;
        }
        return { offs: p.offs, lens: p.lens, data };
      });
      const got = (await this.comm.alltoall(this.toRanks(plan, pieces))) as Array<Pieces | null>;
      if (plan.aggregators.includes(this.comm.rank)) await this.writeWindow(got);
    }
    return bytes.byteLength;
  }

  // ---- internals ----

  private advance(buf: ArrayBufferView): void {
    this.pos += buf.byteLength / this.view.etype.size;
  }

  private runsOf(offset: number, nbytes: number, what: string): ViewRuns {
    if (nbytes % this.view.etype.size !== 0)
      throw new DaosError(
        'DER_INVAL',
        `${what}: ${nbytes} bytes is not a whole number of ${this.view.etype.size}-byte etypes`,
      );
    return this.view.map(offset, nbytes / this.view.etype.size);
  }

  /** The end of the file in view etypes (for SEEK_END): the view bytes that lie before the file's end. */
  private async viewEnd(): Promise<number> {
    const size = await this.backend.size();
    if (size <= this.view.disp) return 0;
    // Binary search the largest view byte whose file offset is below size.
    let lo = 0;
    let hi = size - this.view.disp;
    while (lo < hi) {
      const mid = Math.floor((lo + hi + 1) / 2);
      if (this.view.fileOffsetOf(mid - 1) < size) lo = mid;
      else hi = mid - 1;
    }
    return Math.floor(lo / this.view.etype.size);
  }

  /** Independent read of runs: data sieving over dense spans, else the runs in parallel. */
  private async readRuns(runs: ViewRuns, bytes: Uint8Array): Promise<number> {
    if (runs.count === 0) return 0;
    const size = await this.backend.size();
    const spanStart = runs.fileOffsets[0]!;
    const spanEnd = runs.fileOffsets[runs.count - 1]! + runs.lengths[runs.count - 1]!;
    let covered = 0;
    for (let k = 0; k < runs.count; k++) covered += runs.lengths[k]!;
    const sieve =
      runs.count > 1 &&
      this.dsRead !== 'disable' &&
      (this.dsRead === 'enable' || covered / (spanEnd - spanStart) >= SIEVE_DENSITY_MIN);
    if (sieve) {
      // Read the span in ind_rd_buffer_size pieces and pick the runs out of each.
      let k = 0;
      for (let start = spanStart; start < spanEnd && k < runs.count; ) {
        const end = Math.min(spanEnd, start + this.indRdBuffer);
        const chunk = Buffer.allocUnsafe(end - start);
        await this.backend.read(chunk, start);
        while (k < runs.count && runs.fileOffsets[k]! < end) {
          const from = Math.max(runs.fileOffsets[k]!, start);
          const to = Math.min(runs.fileOffsets[k]! + runs.lengths[k]!, end);
          bytes.set(
            chunk.subarray(from - start, to - start),
            runs.bufOffsets[k]! + (from - runs.fileOffsets[k]!),
          );
          if (to < runs.fileOffsets[k]! + runs.lengths[k]!) break;
          k++;
        }
        start = end;
      }
    } else {
      await inParallel(runs.count, RUN_IO_IN_FLIGHT, (k) =>
        this.backend.read(
          bytes.subarray(runs.bufOffsets[k]!, runs.bufOffsets[k]! + runs.lengths[k]!),
          runs.fileOffsets[k]!,
        ),
      );
    }
    return countExisting(runs, size);
  }

  private async writeRuns(runs: ViewRuns, bytes: Uint8Array): Promise<void> {
    await inParallel(runs.count, RUN_IO_IN_FLIGHT, (k) =>
      this.backend.write(
        bytes.subarray(runs.bufOffsets[k]!, runs.bufOffsets[k]! + runs.lengths[k]!),
        runs.fileOffsets[k]!,
      ),
    );
  }

  /**
   * Plan a collective access, or undefined to do it independently: gather every rank's file
   * range; with collective buffering on (or, 'automatic', when the ranges interleave), split the
   * whole range into one file domain per aggregator, walked in rounds of cb_buffer_size bytes.
   */
  private async plan(runs: ViewRuns, toggle: Toggle) {
    const mine =
      runs.count === 0
        ? null
        : [runs.fileOffsets[0]!, runs.fileOffsets[runs.count - 1]! + runs.lengths[runs.count - 1]!];
    const ranges = (await this.comm.allgather(mine)).filter((r): r is number[] => r !== null);
    if (toggle === 'disable' || ranges.length === 0) return undefined;
    if (toggle === 'automatic' && !interleaved(ranges)) return undefined;
    const gmin = Math.min(...ranges.map((r) => r[0]!));
    const gmax = Math.max(...ranges.map((r) => r[1]!));
    const n = this.cbNodes;
    // Aggregators spread over the ranks; file domains of equal size.
    const aggregators = Array.from({ length: n }, (_, i) => Math.floor((i * this.comm.size) / n));
    const fd = Math.ceil((gmax - gmin) / n);
    const rounds = Math.ceil(fd / this.cbBuffer);
    const cb = this.cbBuffer;
    // Per aggregator, a cursor into this rank's runs (sorted by file offset; windows move forward).
    const cursor = new Array<number>(n).fill(0);
    const piecesFor = (i: number, round: number) => {
      const wStart = gmin + i * fd + round * cb;
      const wEnd = Math.min(gmin + (i + 1) * fd, gmax, wStart + cb);
      if (wStart >= wEnd) return null;
      const offs: number[] = [];
      const lens: number[] = [];
      const bufs: number[] = [];
      let k = cursor[i]!;
      while (k < runs.count && runs.fileOffsets[k]! + runs.lengths[k]! <= wStart) k++;
      cursor[i] = k;
      for (; k < runs.count && runs.fileOffsets[k]! < wEnd; k++) {
        const from = Math.max(runs.fileOffsets[k]!, wStart);
        const to = Math.min(runs.fileOffsets[k]! + runs.lengths[k]!, wEnd);
        offs.push(from);
        lens.push(to - from);
        bufs.push(runs.bufOffsets[k]! + (from - runs.fileOffsets[k]!));
      }
      if (offs.length === 0) return null;
      return { offs: Float64Array.from(offs), lens: Float64Array.from(lens), bufs };
    };
    return { runs, aggregators, rounds, piecesFor };
  }

  /** One value per rank for an alltoall: aggregator i's piece goes to its rank, null elsewhere. */
  private toRanks<T>(plan: { aggregators: number[] }, perAggregator: Array<T | null>): Array<T | null> {
    const out: Array<T | null> = new Array(this.comm.size).fill(null);
    plan.aggregators.forEach((r, i) => {
      out[r] = perAggregator[i] ?? null;
    });
    return out;
  }

  /** An aggregator's round of a collective write: one write per contiguous span it received. */
  private async writeWindow(got: Array<Pieces | null>): Promise<void> {
    const span = spanOf(got);
    if (!span) return;
    const window = Buffer.alloc(span.end - span.start);
    const covered: Array<[number, number]> = [];
    for (const p of got) {
      if (!p?.data) continue;
      let at = 0;
      for (let k = 0; k < p.offs.length; k++) {
        window.set(p.data.subarray(at, at + p.lens[k]!), p.offs[k]! - span.start);
        covered.push([p.offs[k]!, p.offs[k]! + p.lens[k]!]);
        at += p.lens[k]!;
      }
    }
    const merged = mergeRanges(covered);
    await inParallel(merged.length, RUN_IO_IN_FLIGHT, (k) => {
      const [s, e] = merged[k]!;
      return this.backend.write(window.subarray(s - span.start, e - span.start), s);
    });
  }

  /** An aggregator's round of a collective read: the requested bytes of its window, in few reads. */
  private async readCovering(
    requests: Array<Pieces | null>,
    span: { start: number; end: number },
    window: Buffer,
  ): Promise<void> {
    const wanted: Array<[number, number]> = [];
    for (const r of requests)
      if (r) for (let k = 0; k < r.offs.length; k++) wanted.push([r.offs[k]!, r.offs[k]! + r.lens[k]!]);
    const merged = mergeRanges(wanted);
    let covered = 0;
    for (const [s, e] of merged) covered += e - s;
    if (covered / (span.end - span.start) >= SIEVE_DENSITY_MIN) {
      await this.backend.read(window, span.start);
      return;
    }
    await inParallel(merged.length, RUN_IO_IN_FLIGHT, (k) => {
      const [s, e] = merged[k]!;
      return this.backend.read(window.subarray(s - span.start, e - span.start), s);
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new DaosError('DER_NO_HDL', `MPI file ${this.path} is closed`);
  }
  private checkReadable(): void {
    if ((this.amode & MODE_WRONLY) !== 0)
      throw new DaosError('DER_NO_PERM', `MPI file ${this.path} is open write-only`);
  }
  private checkWritable(): void {
    if ((this.amode & MODE_RDONLY) !== 0)
      throw new DaosError('DER_NO_PERM', `MPI file ${this.path} is open read-only`);
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string };
  return e?.message ?? String(err);
}

function openError(path: string, text: string): DaosError {
  const code = /EEXIST|DER_EXIST/.test(text)
    ? 'DER_EXIST'
    : /ENOENT|DER_NONEXIST/.test(text)
      ? 'DER_NONEXIST'
      : /EACCES|EROFS|DER_NO_PERM/.test(text)
        ? 'DER_NO_PERM'
        : 'DER_INVAL';
  return new DaosError(code, `MPI_File_open of ${path} failed: ${text}`);
}

/** True when some rank's range starts before another's ends (ROMIO's interleave test). */
function interleaved(ranges: number[][]): boolean {
  const sorted = [...ranges].sort((a, b) => a[0]! - b[0]!);
  for (let i = 1; i < sorted.length; i++) if (sorted[i]![0]! < sorted[i - 1]![1]!) return true;
  return false;
}

function spanOf(
  pieces: Array<{ offs: Float64Array; lens: Float64Array } | null>,
): { start: number; end: number } | undefined {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (const p of pieces) {
    if (!p) continue;
    for (let k = 0; k < p.offs.length; k++) {
      start = Math.min(start, p.offs[k]!);
      end = Math.max(end, p.offs[k]! + p.lens[k]!);
    }
  }
  return end > start ? { start, end } : undefined;
}

function mergeRanges(ranges: Array<[number, number]>): Array<[number, number]> {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}

function countExisting(runs: ViewRuns, size: number): number {
  let n = 0;
  for (let k = 0; k < runs.count; k++)
    n += Math.max(0, Math.min(runs.lengths[k]!, size - runs.fileOffsets[k]!));
  return n;
}

async function inParallel(count: number, width: number, fn: (k: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await fn(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, count) }, worker));
}
