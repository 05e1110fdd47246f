/**
 * Recovery on open. The data file's high-water mark is where the last extent that a committed
 * record (or a prepared dtx) references, or that the persisted free list holds, ends (the
 * allocator does not persist it: bio/allocator.ts). A crash can leave (a) bytes past it, written
 * for a batch that never committed, and (b) space below it that is neither referenced nor free
 * (space freed in memory but not yet on file, a reservation whose records never committed). Both
 * are reclaimed: the file is cut to the mark and, unless the free list and the referenced
 * extents tile [0, highWater) exactly, the free list is rebuilt from the referenced extents.
 */
import { type Extent, ExtentAllocator, verifyTiling } from '../bio/allocator.js';
import type { DataFile } from '../bio/data-file.js';
import { type DtxRecord, decodeDtx } from './dtx.js';
import type { IndexStore } from './index-store.js';
import { recordTag } from './keys.js';
import { ObjectFilter } from './object-filter.js';
import { PunchedObjects } from './punched.js';
import { decodeAnyPayload, payloadHeldBytes, WHERE_FILE } from './records.js';
import type { RecoveryStats } from './types.js';

export interface Recovered {
  alloc: ExtentAllocator;
  contBytes: Map<number, number>;
  punched: PunchedObjects;
  objects: ObjectFilter;
  dtx: DtxRecord[];
  stats: RecoveryStats;
}

export function recover(store: IndexStore, data: DataFile): Recovered {
  const free = store.freeExtents();
  const refs: Extent[] = [];
  const contBytes = new Map<number, number>();
  const objects = new ObjectFilter();
  for (const { key, value } of store.main.getRange({ snapshot: false })) {
    objects.noteKey(key);
    const payload = decodeAnyPayload(recordTag(key), value);
    if (payload === undefined) continue;
    const cid = key.readUInt32BE(0);
    contBytes.set(cid, (contBytes.get(cid) ?? 0) + payloadHeldBytes(payload));
    if (payload.where === WHERE_FILE) refs.push({ off: payload.off, len: payload.len });
  }
  const punched = new PunchedObjects();
  for (const key of store.punch.getKeys({ snapshot: false })) punched.noteKey(key);
  const dtx: DtxRecord[] = [];
  for (const { value } of store.dtx.getRange({})) {
    const r = decodeDtx(value);
    dtx.push(r);
    for (const e of r.effects.refs) refs.push(e);
  }

  const highWater = extentsEnd(free, refs);
  let bytesReclaimed = 0;
  const fileBytes = data.sizeBytes;
  if (fileBytes > highWater) bytesReclaimed += fileBytes - highWater;
  // Only when the size is wrong: on ext4, a truncate to 0 (a new target's file is empty) makes
  // the close of the file allocate every block written since (auto_da_alloc), measured at 44-52
  // ms per 256 MiB and 1.4 s for one target's close after an ior run.
  if (fileBytes !== highWater) data.truncate(highWater);

  const rebuilt = verifyTiling(highWater, free, refs);
  let alloc: ExtentAllocator;
  if (rebuilt === undefined) {
    alloc = new ExtentAllocator(highWater, free);
  } else {
    const before = free.reduce((n, e) => n + e.len, 0);
    alloc = new ExtentAllocator(highWater, rebuilt);
    bytesReclaimed += Math.max(0, alloc.freeBytes - before);
    const stale = [...store.free.getKeys({})];
    store.writeSync(() => {
      for (const key of stale) store.free.remove(key);
      alloc.markAllDirty();
      alloc.persist(store.allocatorStore);
    });
  }
  return {
    alloc,
    contBytes,
    punched,
    objects,
    dtx,
    stats: { bytesReclaimed, pendingDtx: dtx.length, punchesReplayed: 0 },
  };
}

/** Where the last of `free` and `refs` ends (0 when there are none). */
function extentsEnd(free: Extent[], refs: Extent[]): number {
  let end = 0;
  for (const e of free) end = Math.max(end, e.off + e.len);
  for (const e of refs) end = Math.max(end, e.off + e.len);
  return end;
}
