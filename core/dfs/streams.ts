import { Readable, Writable } from 'node:stream';
import type { DfsFile } from './file.js';

/** Bytes per read or write a DFS stream issues (one file chunk by default). */
export const STREAM_CHUNK_BYTES = 1 << 20;
/** Reads a read stream keeps in flight ahead of its consumer. */
const READ_AHEAD = 4;
/** Writes a write stream keeps in flight behind its producer. */
const WRITE_BEHIND = 4;

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
 * A file as a Writable: small writes gather into `highWaterMark`-byte writes (1 MiB by default)
 * with a few in flight; `finish` comes once every byte is stored and the file's mtime is stamped.
 */
export class DfsWriteStream extends Writable {
  bytesWritten = 0;
  private file: DfsFile | undefined;
  private readonly opening: Promise<DfsFile>;
  private pos: number | undefined;
  private readonly chunk: number;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inflight: Array<Promise<unknown>> = [];

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
    this.flush(true)
      .then(() => Promise.all(this.inflight.splice(0)))
      .then(() => this.file!.close())
      .then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    const file = this.file;
    if (!file) {
      callback(err);
      return;
    }
    Promise.allSettled(this.inflight.splice(0))
      .then(() => file.close())
      .then(
        () => callback(err),
        (e: Error) => callback(err ?? e),
      );
  }

  private take(chunks: Buffer[], callback: (err?: Error | null) => void): void {
    for (const c of chunks) {
      this.pending.push(c);
      this.pendingBytes += c.byteLength;
    }
    if (this.pendingBytes < this.chunk) {
      callback();
      return;
    }
    this.flush(false).then(() => callback(), callback);
  }

  private async flush(final: boolean): Promise<void> {
    while (this.pendingBytes >= this.chunk || (final && this.pendingBytes > 0)) {
      const all =
        this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
      const n = Math.min(this.chunk, all.byteLength);
      const piece = all.subarray(0, n);
      const rest = all.subarray(n);
      this.pending = rest.byteLength > 0 ? [rest] : [];
      this.pendingBytes = rest.byteLength;
      const at = this.pos!;
      this.pos = at + n;
      const p = this.file!.write(piece, at).then((w) => {
        this.bytesWritten += w;
      });
      p.catch(() => {});
      this.inflight.push(p);
      if (this.inflight.length >= WRITE_BEHIND) await this.inflight.shift();
    }
  }
}
