/**
 * A target's data file: the bytes of values too large to keep inline in the index, at offsets the
 * ExtentAllocator hands out.
 *
 * Writes are queued at submission and written by `flushWrites`, which the index calls at the start
 * of the transaction that will reference them: always before that commit, and in one positional
 * writev per contiguous run, so a batch of small values becomes a few large writes.
 */
import fs from 'node:fs';
import { assert } from '../../core/common/errors.js';

/**
 * Values read out are carved from slabs of this size, as Node's Buffer pool does for small
 * buffers: a fresh ArrayBuffer per 4 KiB value costs more in allocation and GC than the read.
 */
const READ_SLAB_BYTES = 1024 * 1024;
/** Larger values get their own buffer. */
const SLAB_VALUE_BYTES_MAX = 64 * 1024;
/** Linux's IOV_MAX: the most buffers one writev may take. */
const IOVECS_PER_WRITE_MAX = 1024;

interface PendingWrite {
  off: number;
  bytes: Uint8Array;
}

interface QueuedRead {
  off: number;
  len: number;
  out: Uint8Array;
  outOff: number;
}

export class DataFile {
  private fd: number;
  private pending: PendingWrite[] = [];
  private slab = Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
  private slabUsed = 0;
  /** Bytes written since the last fdatasync. */
  private unsynced = false;
  /** While set, `read` queues instead of reading (see deferReads). */
  private deferring = false;
  private readQueue: QueuedRead[] = [];
  private readsDone: Promise<void> | undefined;
  private afterReadsQueue: Array<() => void> = [];

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
  }

  static open(path: string): DataFile {
    const fd = fs.openSync(path, fs.existsSync(path) ? 'r+' : 'w+');
    return new DataFile(path, fd);
  }

  get sizeBytes(): number {
    return fs.fstatSync(this.fd).size;
  }

  /** Queue `bytes` for offset `off` (reserved by the caller); written by the next flushWrites. */
  queueWrite(off: number, bytes: Uint8Array): void {
    assert(bytes.length > 0, 'empty data-file write');
    this.pending.push({ off, bytes });
  }

  get hasPendingWrites(): boolean {
    return this.pending.length > 0;
  }

  /** Write every queued write, coalescing contiguous ones into one writev. */
  flushWrites(): void {
    if (this.pending.length === 0) return;
    const writes = this.pending;
    this.pending = [];
    writes.sort((a, b) => a.off - b.off);
    let i = 0;
    while (i < writes.length) {
      const start = writes[i]!.off;
      let end = start + writes[i]!.bytes.length;
      const run: Uint8Array[] = [writes[i]!.bytes];
      i++;
      while (i < writes.length && writes[i]!.off === end && run.length < IOVECS_PER_WRITE_MAX) {
        assert(writes[i]!.off >= end, 'overlapping data-file writes in one batch');
        run.push(writes[i]!.bytes);
        end += writes[i]!.bytes.length;
        i++;
      }
      this.writeRun(start, end - start, run);
    }
    this.unsynced = true;
  }

  private writeRun(off: number, len: number, run: Uint8Array[]): void {
    const done =
      run.length === 1 ? fs.writeSync(this.fd, run[0]!, 0, len, off) : fs.writevSync(this.fd, run, off);
    if (done === len) return;
    // A short write (rare: signals, a full disk): finish it buffer by buffer.
    let pos = off;
    for (const b of run) {
      let from = Math.min(b.length, Math.max(0, off + done - pos));
      while (from < b.length) {
        const n = fs.writeSync(this.fd, b, from, b.length - from, pos + from);
        assert(n > 0, `data-file write at ${pos + from} made no progress`);
        from += n;
      }
      pos += b.length;
    }
  }

  /** fdatasync when anything was written since the last sync. */
  sync(): void {
    if (!this.unsynced) return;
    fs.fdatasyncSync(this.fd);
    this.unsynced = false;
  }

  /**
   * Run `fn` (which plans reads through `read`/`readValue`) with its reads queued; they are
   * performed at the end of this event-loop turn together with every other queued read, sorted
   * and merged into one positional readv per contiguous run — as a block layer merges requests.
   * Resolves to fn's result once its bytes are in place.
   */
  deferReads<T>(fn: () => T): Promise<T> {
    this.deferring = true;
    let value: T;
    try {
      value = fn();
    } finally {
      this.deferring = false;
    }
    if (this.readQueue.length === 0) return Promise.resolve(value);
    this.readsDone ??= new Promise<void>((resolve, reject) =>
      queueMicrotask(() => {
        this.readsDone = undefined;
        try {
          this.flushReads();
          resolve();
        } catch (err) {
          reject(err);
        }
      }),
    );
    return this.readsDone.then(() => value);
  }

  /** Whether reads are queued: space they refer to must not be reused until they are done. */
  get hasQueuedReads(): boolean {
    return this.readQueue.length > 0;
  }

  /** Run `fn` once the queued reads are done (now, if none are queued). */
  afterReads(fn: () => void): void {
    if (this.readQueue.length === 0) fn();
    else this.afterReadsQueue.push(fn);
  }

  private flushReads(): void {
    const reads = this.readQueue;
    this.readQueue = [];
    try {
      reads.sort((a, b) => a.off - b.off);
      let i = 0;
      while (i < reads.length) {
        const start = reads[i]!.off;
        let end = start + reads[i]!.len;
        const run = [reads[i]!];
        i++;
        while (i < reads.length && reads[i]!.off === end && run.length < IOVECS_PER_WRITE_MAX) {
          run.push(reads[i]!);
          end += reads[i]!.len;
          i++;
        }
        if (run.length === 1) this.readNow(start, run[0]!.len, run[0]!.out, run[0]!.outOff);
        else this.readRun(start, end - start, run);
      }
    } finally {
      const after = this.afterReadsQueue;
      this.afterReadsQueue = [];
      for (const fn of after) fn();
    }
  }

  private readRun(off: number, len: number, run: QueuedRead[]): void {
    const bufs = run.map((r) => r.out.subarray(r.outOff, r.outOff + r.len));
    const done = fs.readvSync(this.fd, bufs, off);
    if (done === len) return;
    // A short read: finish piece by piece (the ends are checked there).
    let pos = off;
    for (const r of run) {
      const have = Math.min(r.len, Math.max(0, off + done - pos));
      if (have < r.len) this.readNow(pos + have, r.len - have, r.out, r.outOff + have);
      pos += r.len;
    }
  }

  /** Read `len` bytes at `off` into `out` at `outOff` (queued while deferring). */
  read(off: number, len: number, out: Uint8Array, outOff: number): void {
    if (this.deferring) {
      this.readQueue.push({ off, len, out, outOff });
      return;
    }
    this.readNow(off, len, out, outOff);
  }

  private readNow(off: number, len: number, out: Uint8Array, outOff: number): void {
    let done = 0;
    while (done < len) {
      const n = fs.readSync(this.fd, out, outOff + done, len - done, off + done);
      assert(n > 0, `data file ends before ${off + len} (read at ${off + done})`);
      done += n;
    }
  }

  /** A new buffer holding the `len` bytes at `off`. */
  readValue(off: number, len: number): Buffer {
    let out: Buffer;
    if (len > SLAB_VALUE_BYTES_MAX) {
      out = Buffer.allocUnsafe(len);
    } else {
      if (this.slabUsed + len > READ_SLAB_BYTES) {
        this.slab = Buffer.allocUnsafeSlow(READ_SLAB_BYTES);
        this.slabUsed = 0;
      }
      out = this.slab.subarray(this.slabUsed, this.slabUsed + len);
      // Keep slices 8-byte aligned, like Node's pool.
      this.slabUsed += (len + 7) & ~7;
    }
    this.read(off, len, out, 0);
    return out;
  }

  truncate(len: number): void {
    fs.ftruncateSync(this.fd, len);
  }

  close(): void {
    assert(this.pending.length === 0, 'data file closed with writes still queued');
    fs.closeSync(this.fd);
    this.fd = -1;
  }
}
