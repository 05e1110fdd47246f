/**
 * Variable-length strings in a dataset: each element is a 16-byte reference (heap offset, byte
 * length; uint64 LE each) in the chunk's akey `0`, into akey `H` of the same chunk, a byte array
 * that writes append to (its end found with a max-recx query). Overwritten strings leave their
 * old bytes in the heap.
 */
import type { DaosObject } from '../../core/daos/object.js';
import type { ArrayFetchResult } from '../../core/wire/obj-types.js';
import { forData } from './chunk-io.js';
import { VLEN_REF_BYTES } from './dtype.js';
import { CHUNK_AKEY, CHUNK_IOS_IN_FLIGHT, chunkDkey, HEAP_AKEY, runLimited } from './layout.js';
import { chunkPlan, extentList, type Slab } from './selection.js';

/** Read a selection of a vlen-string dataset: references, then the heap range they span, per chunk. */
export async function readStrings(
  obj: DaosObject,
  chunks: readonly number[],
  slab: Slab,
  fill: string,
): Promise<string[]> {
  const out = new Array<string>(slab.size).fill(fill);
  await runLimited(chunkPlan(slab, chunks), CHUNK_IOS_IN_FLIGHT, async (io) => {
    const dk = chunkDkey(io.coords);
    const [res] = (await obj.fetch(dk, [
      { akey: CHUNK_AKEY, kind: 'array', recordSize: VLEN_REF_BYTES, extents: extentList(io) },
    ])) as [ArrayFetchResult];
    const refs = Buffer.from(res.data.buffer, res.data.byteOffset, res.data.byteLength);
    // Elements that hold data (the rest keep the fill value): their positions in `refs` and in `out`.
    const written: Array<{ at: number; mem: number }> = [];
    const posOf = new Map<number, number>();
    let pos = 0;
    for (let i = 0; i < io.idx.length; i++) {
      posOf.set(io.idx[i]!, pos);
      pos += io.nr[i]!;
    }
    forData(io, res.map, (idx, mem, nr, extentIdx) => {
      const base = posOf.get(extentIdx)! + (idx - extentIdx);
      for (let k = 0; k < nr; k++) written.push({ at: base + k, mem: mem + k });
    });
    let lo = Number.MAX_SAFE_INTEGER;
    let hi = 0;
    for (const w of written) {
      const off = Number(refs.readBigUInt64LE(w.at * VLEN_REF_BYTES));
      const len = Number(refs.readBigUInt64LE(w.at * VLEN_REF_BYTES + 8));
      if (len === 0) continue;
      lo = Math.min(lo, off);
      hi = Math.max(hi, off + len);
    }
    let heap: Buffer = Buffer.alloc(0);
    if (hi > lo) {
      const [h] = (await obj.fetch(dk, [
        { akey: HEAP_AKEY, kind: 'array', recordSize: 1, extents: [{ idx: lo, nr: hi - lo }] },
      ])) as [ArrayFetchResult];
      heap = Buffer.from(h.data.buffer, h.data.byteOffset, h.data.byteLength);
    }
    for (const w of written) {
      const off = Number(refs.readBigUInt64LE(w.at * VLEN_REF_BYTES));
      const len = Number(refs.readBigUInt64LE(w.at * VLEN_REF_BYTES + 8));
      out[w.mem] = len === 0 ? '' : heap.toString('utf8', off - lo, off - lo + len);
    }
  });
  return out;
}

/** Write a selection of a vlen-string dataset: per chunk, the bytes appended to its heap and the references, in one update. */
export async function writeStrings(
  obj: DaosObject,
  chunks: readonly number[],
  slab: Slab,
  strings: readonly string[],
): Promise<void> {
  await runLimited(chunkPlan(slab, chunks), CHUNK_IOS_IN_FLIGHT, async (io) => {
    const dk = chunkDkey(io.coords);
    const end = await obj.queryRecx(dk, HEAP_AKEY, 'max');
    let at = end ? Number(end.idx + end.nr) : 0;
    const parts: Buffer[] = [];
    const heapStart = at;
    const extents = io.idx.map((idx, i) => {
      const e = { idx, nr: io.nr[i]!, mem: io.mem[i]! };
      const refs = Buffer.alloc(e.nr * VLEN_REF_BYTES);
      for (let k = 0; k < e.nr; k++) {
        const b = Buffer.from(strings[e.mem + k]!, 'utf8');
        refs.writeBigUInt64LE(BigInt(b.byteLength === 0 ? 0 : at), k * VLEN_REF_BYTES);
        refs.writeBigUInt64LE(BigInt(b.byteLength), k * VLEN_REF_BYTES + 8);
        if (b.byteLength > 0) parts.push(b);
        at += b.byteLength;
      }
      return { idx: e.idx, nr: e.nr, data: refs as Uint8Array };
    });
    const heap = Buffer.concat(parts);
    await obj.update(dk, [
      { akey: CHUNK_AKEY, kind: 'array', recordSize: VLEN_REF_BYTES, extents },
      ...(heap.byteLength > 0
        ? [
            {
              akey: HEAP_AKEY,
              kind: 'array' as const,
              recordSize: 1,
              extents: [{ idx: heapStart, nr: heap.byteLength, data: heap as Uint8Array }],
            },
          ]
        : []),
    ]);
  });
}
