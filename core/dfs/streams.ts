import { Readable, Writable } from 'node:stream';
import type { DfsFile } from './file.js';

/** Bytes per read or write a DFS stream issues (one file chunk by default). */
export const STREAM_CHUNK_BYTES = 1 << 20;
/** Reads a read stream keeps in flight ahead of its consumer. */
const READ_AHEAD = 4;

export interface DfsReadStreamOptions {
  /** First byte to read. */
  start?: number;
  /** Last byte to read (inclusive, as Node's fs streams). */
  end?: number;
  highWaterMark?: number;
  encoding?: BufferEncoding;
}

export interface DfsWriteStreamOptions {
  /** Byte to start writing at (default 0, or the end for an append stream). */
  start?: number;
  highWaterMark?: number;
}

/**
 * A file as a Readable: reads of `highWaterMark` bytes (1 MiB by default) with a few in flight,
 * paused by backpressure. Like Node's fs streams it reads to the end of the file as it is when
 * the reads reach it (a file that grows meanwhile is read on).
 */
export class DfsReadStream extends Readable {
  bytesRead = 0;
  private file: DfsFile | undefined;
  private readonly opening: Promise<DfsFile>;
  private next: number;
  private readonly end: number;
  private limit = 0;
  private readonly chunk: number;
  private readonly queue: Array<Promise<Buffer>> = [];
  private pumping = false;

  constructor(file: DfsFile | Promise<DfsFile>, options: DfsReadStreamOptions = {}) {
    const chunk = options.highWaterMark ?? STREAM_CHUNK_BYTES;
    super({ highWaterMark: chunk, encoding: options.encoding });
    this.chunk = chunk;
    this.opening = Promise.resolve(file);
    this.next = options.start ?? 0;
    this.end = options.end === undefined ? Number.POSITIVE_INFINITY : options.end + 1;
  }

  get path(): string | undefined {
    return this.file?.path;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    this.opening
      .then(async (f) => {
        this.file = f;
        this.limit = Math.min(this.end, await f.size());
        this.emit('open', 0);
        this.emit('ready');
        callback();
      })
      .catch((err: Error) => callback(err));
  }

  override _read(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    const file = this.file!;
    try {
      for (;;) {
        while (this.queue.length < READ_AHEAD && this.next < this.limit) {
          const len = Math.min(this.chunk, this.limit - this.next);
          const buf = Buffer.allocUnsafe(len);
          const p = file.readKnown(buf, this.next).then(() => buf);
          p.catch(() => {});
          this.queue.push(p);
          this.next += len;
        }
        if (this.queue.length === 0) {
          // At the end as last seen: look again, the file may have grown.
          const size = Math.min(this.end, await file.size());
          if (size > this.limit) {
            this.limit = size;
            continue;
          }
          this.push(null);
          return;
        }
        const buf = await this.queue.shift()!;
        this.bytesRead += buf.byteLength;
        if (!this.push(buf)) return;
      }
    } catch (err) {
      this.destroy(err as Error);
    } finally {
      this.pumping = false;
    }
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      callback(err);
      return;
    }
    file.close().then(
      () => callback(err),
      (e: Error) => callback(err ?? e),
    );
  }
}

/**
 * A file as a Writable: writes go out in `highWaterMark`-byte pieces (1 MiB by default). A write
 * is called back only once nothing of its buffer is needed any more — as Node's fs streams do, so
 * a producer may refill its buffer then: whole pieces are written from the caller's buffer and
 * called back when stored; the bytes short of a piece are copied into the stream's own buffer and
 * go out with the next piece (or at `end`). Pieces of a `writev` go out in parallel. `finish`
 * comes once every byte is stored and the file's mtime is stamped.
 */
export class DfsWriteStream extends Writable {
  bytesWritten = 0;
  private file: DfsFile | undefined;
  private readonly opening: Promise<DfsFile>;
  private pos: number | undefined;
  private readonly chunk: number;
  /** This stream's copy of bytes short of a piece, and how many. */
  private gather: Buffer | undefined;
  private gathered = 0;
  private readonly inflight = new Set<Promise<void>>();

  constructor(file: DfsFile | Promise<DfsFile>, options: DfsWriteStreamOptions = {}) {
    const chunk = options.highWaterMark ?? STREAM_CHUNK_BYTES;
    super({ highWaterMark: chunk, decodeStrings: true });
    this.chunk = chunk;
    this.opening = Promise.resolve(file);
    this.pos = options.start;
  }

  get path(): string | undefined {
    return this.file?.path;
  }

  override _construct(callback: (err?: Error | null) => void): void {
    this.opening
      .then(async (f) => {
        this.file = f;
        this.pos ??= f.flags.append ? await f.size() : 0;
        this.emit('open', 0);
        this.emit('ready');
        callback();
      })
      .catch((err: Error) => callback(err));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.take([chunk], callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.take(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (err?: Error | null) => void): void {
    const rest = this.gathered > 0 ? this.gather!.subarray(0, this.gathered) : undefined;
    this.gather = undefined;
    this.gathered = 0;
    (rest ? this.writePiece(rest) : Promise.resolve())
      .then(() => Promise.all(this.inflight))
      .then(() => this.file!.close())
      .then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      callback(err);
      return;
    }
    Promise.allSettled(this.inflight)
      .then(() => file.close())
      .then(
        () => callback(err),
        (e: Error) => callback(err ?? e),
      );
  }

  private take(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    const writes: Array<Promise<void>> = [];
    for (const c of chunks) {
      let off = 0;
      if (this.gathered > 0) {
        // Top up the piece begun by earlier writes (a copy: `c` is the caller's).
        off = c.copy(this.gather!, this.gathered, 0, Math.min(c.length, this.chunk - this.gathered));
        this.gathered += off;
        if (this.gathered === this.chunk) {
          writes.push(this.writePiece(this.gather!));
          this.gather = undefined;
          this.gathered = 0;
        }
      }
      // Whole pieces straight from the caller's buffer: called back once they are stored.
      for (; c.length - off >= this.chunk; off += this.chunk)
        writes.push(this.writePiece(c.subarray(off, off + this.chunk)));
      if (off < c.length) {
        this.gather ??= Buffer.allocUnsafe(this.chunk);
        this.gathered += c.copy(this.gather, this.gathered, off);
      }
    }
    if (writes.length === 0) {
      callback();
      return;
    }
    Promise.all(writes).then(() => callback(), callback);
  }

  /** Write `piece` at the stream's position (the stream owns it, or its caller waits for it). */
  private writePiece(piece: Buffer): Promise<void> {
    const at = this.pos!;
    this.pos = at + piece.length;
    const p = this.file!.write(piece, at).then((w) => {
      this.bytesWritten += w;
    });
    this.inflight.add(p);
    const forget = () => this.inflight.delete(p);
    p.then(forget, forget);
    return p;
  }
}
