/**
 * Large buffers kept for reuse. A fresh multi-MiB buffer costs page faults and zeroing on every
 * request (on a small VM, more than the copy that fills it); a reused one does not. Sizes are
 * powers of two from BUFFER_POOL_MIN_BYTES to BUFFER_POOL_MAX_BYTES; smaller or larger requests
 * are not pooled. A buffer is given back only once nothing refers to it any more.
 */

/** Smallest pooled buffer: below this, allocation is cheap. */
export const BUFFER_POOL_MIN_BYTES = 256 * 1024;
/** Largest pooled buffer. */
export const BUFFER_POOL_MAX_BYTES = 16 * 1024 * 1024;
/** Bytes a pool keeps idle at most (the rest is left to the garbage collector). */
export const BUFFER_POOL_IDLE_BYTES_MAX = 64 * 1024 * 1024;

export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private idleBytes = 0;

  /** A buffer of at least `bytes` (a power of two), or undefined when `bytes` is not pooled. */
  take(bytes: number): Buffer | undefined {
    if (bytes < BUFFER_POOL_MIN_BYTES || bytes > BUFFER_POOL_MAX_BYTES) return undefined;
    const size = 2 ** Math.ceil(Math.log2(bytes));
    const buf = this.free.get(size)?.pop();
    if (buf) {
      this.idleBytes -= size;
      return buf;
    }
    return Buffer.allocUnsafe(size);
  }

  /** Give back a buffer that `take` returned and nothing uses any more. */
  give(buf: Buffer): void {
    if (this.idleBytes + buf.byteLength > BUFFER_POOL_IDLE_BYTES_MAX) return;
    let list = this.free.get(buf.byteLength);
    if (!list) {
      list = [];
      this.free.set(buf.byteLength, list);
    }
    list.push(buf);
    this.idleBytes += buf.byteLength;
  }

  /** Bytes kept idle. */
  get idle(): number {
    return this.idleBytes;
  }
}
