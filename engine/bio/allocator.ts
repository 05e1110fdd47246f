/**
 * The extent allocator of a target's data file: a high-water mark and a free list of byte
 * extents, sorted by offset and coalesced.
 *
 * Space is handed out in memory when a write is submitted; the change reaches the persisted copy
 * (through an AllocatorStore, inside the LMDB transaction that also commits the index records
 * that reference the space) at the next `persist`. Space freed by deleting records must only be
 * `release`d after that deleting transaction commits, or a new write could overwrite bytes that a
 * still-committed record references.
 *
 * Only the free list is persisted, not the high-water mark: on open it is where the last
 * referenced or free extent ends (recovery.ts), and a commit that only appends space (a new
 * value past the end, the common write) writes nothing here. Putting the mark in every such
 * commit cost 5–10 µs of the transaction's median and 16–26 at its 90th percentile (1 MiB
 * array writes at 1 in flight, this VM, 2026-11-28; bench/README.md, "The write path's own work").
 */
import { assert } from '../../core/common/errors.js';

/** Where the allocator's state is persisted: implemented by the index over its own sub-db. */
export interface AllocatorStore {
  putFree(off: number, len: number): void;
  removeFree(off: number): void;
}

export interface Extent {
  off: number;
  len: number;
}

export class ExtentAllocator {
  /** Free extents, sorted by offset, never adjacent (coalesced), never empty. */
  private readonly offs: number[] = [];
  private readonly lens: number[] = [];
  private highWaterBytes: number;
  private freeTotalBytes = 0;
  /** Offsets whose persisted free-list entry may differ from memory. */
  private readonly dirty = new Set<number>();

  constructor(highWater: number, free: Extent[]) {
    assert(Number.isSafeInteger(highWater) && highWater >= 0, () => `bad high-water mark ${highWater}`);
    this.highWaterBytes = highWater;
    const sorted = [...free].sort((a, b) => a.off - b.off);
    for (const e of sorted) this.insertFree(e.off, e.len);
  }

  get highWater(): number {
    return this.highWaterBytes;
  }
  get freeBytes(): number {
    return this.freeTotalBytes;
  }
  get usedBytes(): number {
    return this.highWaterBytes - this.freeTotalBytes;
  }
  get freeExtents(): Extent[] {
    return this.offs.map((off, i) => ({ off, len: this.lens[i]! }));
  }

  /** Hand out `len` bytes: the first free extent that fits, else past the high-water mark. */
  reserve(len: number): number {
    assert(Number.isSafeInteger(len) && len > 0, () => `bad allocation length ${len}`);
    for (let i = 0; i < this.offs.length; i++) {
      const flen = this.lens[i]!;
      if (flen < len) continue;
      const off = this.offs[i]!;
      this.dirty.add(off);
      if (flen === len) {
        this.offs.splice(i, 1);
        this.lens.splice(i, 1);
      } else {
        this.offs[i] = off + len;
        this.lens[i] = flen - len;
        this.dirty.add(off + len);
      }
      this.freeTotalBytes -= len;
      return off;
    }
    const off = this.highWaterBytes;
    this.highWaterBytes += len;
    return off;
  }

  /** Return space: a failed submission's reservation, or space whose freeing has committed. */
  release(off: number, len: number): void {
    assert(Number.isSafeInteger(off) && off >= 0 && len > 0, () => `bad release (${off}, ${len})`);
    assert(
      off + len <= this.highWaterBytes,
      () => `release (${off}, ${len}) past high water ${this.highWaterBytes}`,
    );
    this.insertFree(off, len);
  }

  /** Write every change since the last call into `store` (inside the index transaction). */
  persist(store: AllocatorStore): void {
    if (this.dirty.size === 0) return;
    for (const off of this.dirty) {
      const i = this.indexOf(off);
      if (i >= 0) store.putFree(off, this.lens[i]!);
      else store.removeFree(off);
    }
    this.dirty.clear();
  }

  /** Mark everything dirty so that the next `persist` rewrites the whole (cleared) store. */
  markAllDirty(): void {
    for (const off of this.offs) this.dirty.add(off);
  }

  private insertFree(off: number, len: number): void {
    // i: first free extent starting after off.
    let lo = 0;
    let hi = this.offs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.offs[mid]! <= off) lo = mid + 1;
      else hi = mid;
    }
    const i = lo;
    const prevEnd = i > 0 ? this.offs[i - 1]! + this.lens[i - 1]! : -1;
    assert(prevEnd <= off, () => `double free: (${off}, ${len}) overlaps a free extent ending at ${prevEnd}`);
    const next = i < this.offs.length ? this.offs[i]! : Number.POSITIVE_INFINITY;
    assert(off + len <= next, () => `double free: (${off}, ${len}) overlaps a free extent at ${next}`);
    this.freeTotalBytes += len;
    this.dirty.add(off);
    let start = off;
    let end = off + len;
    let at = i;
    if (prevEnd === off) {
      at = i - 1;
      start = this.offs[at]!;
    }
    if (next === end) {
      end += this.lens[i]!;
      this.dirty.add(next);
      this.offs.splice(i, 1);
      this.lens.splice(i, 1);
    }
    if (at === i) {
      this.offs.splice(i, 0, start);
      this.lens.splice(i, 0, end - start);
    } else {
      this.lens[at] = end - start;
    }
    this.dirty.add(start);
  }

  private indexOf(off: number): number {
    let lo = 0;
    let hi = this.offs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const v = this.offs[mid]!;
      if (v === off) return mid;
      if (v < off) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}

/**
 * Check that `free` and `referenced` extents tile [0, highWater) exactly. Returns the free list
 * implied by the referenced extents when they do not (gaps are unreferenced space to reclaim);
 * undefined when the persisted free list is right. Overlapping references are corruption.
 */
export function verifyTiling(highWater: number, free: Extent[], referenced: Extent[]): Extent[] | undefined {
  const refs = [...referenced].sort((a, b) => a.off - b.off);
  for (let i = 1; i < refs.length; i++) {
    const p = refs[i - 1]!;
    assert(
      p.off + p.len <= refs[i]!.off,
      () => `data-file extents (${p.off}, ${p.len}) and (${refs[i]!.off}) overlap`,
    );
  }
  const all = [...free, ...refs].sort((a, b) => a.off - b.off);
  let pos = 0;
  let tiles = true;
  for (const e of all) {
    if (e.off !== pos) tiles = false;
    pos = Math.max(pos, e.off + e.len);
  }
  if (tiles && pos === highWater) return undefined;
  const rebuilt: Extent[] = [];
  pos = 0;
  for (const r of refs) {
    if (r.off > pos) rebuilt.push({ off: pos, len: r.off - pos });
    pos = r.off + r.len;
  }
  assert(pos <= highWater, () => `a referenced extent ends at ${pos}, past the high-water mark ${highWater}`);
  if (pos < highWater) rebuilt.push({ off: pos, len: highWater - pos });
  return rebuilt;
}
