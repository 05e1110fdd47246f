/**
 * Aggregation: deleting history that no read can see any more, and container destruction.
 *
 * For each akey, the checkpoints are the kept epochs below `upTo` and `upTo` itself (a read at or
 * after `upTo` sees records <= upTo only through what is visible at upTo). A record at or below
 * `upTo` survives iff it answers a read at some checkpoint: the visible single-value version, or
 * an extent that wins at least one record (data or hole). Everything else is deleted and its
 * data-file space freed. Work goes in transactions of at most RECORDS_PER_TXN_MAX records,
 * awaited one after another, so aggregation never holds the write lock for long.
 */

import { bigCompare } from '../../core/common/bigint.js';
import type { Oid } from '../../core/common/oid.js';
import { recordOfRole, type ShardRole } from '../../core/ec/stripe.js';
import type { Extent } from '../bio/allocator.js';
import { forgetNewestSingle, forgetSoleExtent } from './effects.js';
import { type Candidate, resolveExtents } from './extents.js';
import {
  contPrefix,
  dkeyPrefix,
  EPOCH_BYTES,
  extentKeyIdx,
  keyEpoch,
  keyOid,
  OBJ_PREFIX_BYTES,
  objNameOfKey,
  prefixEnd,
  readEsc,
  recordTag,
  recordTagPos,
  TAG_EXTENT,
  TAG_META,
  TAG_SINGLE,
  withTag,
} from './keys.js';
import {
  decodeAnyPayload,
  decodeExtent,
  decodeMeta,
  type ExtentRecord,
  payloadHeldBytes,
  WHERE_FILE,
} from './records.js';
import type { AggregateStats } from './types.js';
import type { Visibility } from './visibility.js';

/** Records deleted per LMDB transaction: bounds how long aggregation holds the write lock. */
const RECORDS_PER_TXN_MAX = 1000;

type Commit = <T>(fn: (freed: Extent[]) => T) => Promise<T>;

export async function aggregateContainer(
  vis: Visibility,
  cid: number,
  upTo: bigint,
  keep: bigint[],
  dtxPending: boolean,
  contBytes: Map<number, number>,
  commit: Commit,
): Promise<AggregateStats> {
  const stats: AggregateStats = { recordsRemoved: 0, bytesFreed: 0 };
  const checkpoints = [...new Set([...keep.filter((k) => k < upTo), upTo])].sort(bigCompare);
  const { main } = vis.store;
  const end = prefixEnd(contPrefix(cid));
  let pos = contPrefix(cid);
  let doomed: Buffer[] = [];
  const metas: Buffer[] = [];
  const flush = async () => {
    const keys = doomed;
    const metaKeys = metas.splice(0);
    doomed = [];
    await commit((freed) => {
      deleteRecords(vis, cid, keys, freed, contBytes, stats);
      for (const pfx of metaKeys) {
        // Only when nothing was written to the akey meanwhile.
        if (
          vis.store.firstKey(main, pfx, withTag(pfx, TAG_META)) === undefined &&
          vis.store.firstKey(main, withTag(pfx, TAG_META + 1), prefixEnd(pfx)) === undefined
        ) {
          vis.store.removeMeta(withTag(pfx, TAG_META));
        }
      }
    });
  };
  for (;;) {
    const k = vis.store.firstKey(main, pos, end);
    if (k === undefined) break;
    const oid = keyOid(k);
    const { key: dkey, end: dEnd } = readEsc(k, OBJ_PREFIX_BYTES);
    const { key: akey, end: aEnd } = readEsc(k, dEnd);
    const pfx = Buffer.from(k.subarray(0, aEnd));
    const floors = checkpoints.map((c) => vis.floor(cid, oid, c, dkey, akey));
    const { dead, left } = akeyGarbage(vis, pfx, upTo, checkpoints, floors);
    for (const d of dead) doomed.push(d);
    if (left === 0 && dead.length > 0) metas.push(pfx);
    if (doomed.length >= RECORDS_PER_TXN_MAX) await flush();
    pos = prefixEnd(pfx);
  }
  if (doomed.length > 0 || metas.length > 0) await flush();
  if (!dtxPending) await dropStalePunches(vis, cid, upTo, stats, commit);
  return stats;
}

/** Keys of an akey's records at or below upTo that no checkpoint reads, and how many records remain. */
function akeyGarbage(vis: Visibility, pfx: Buffer, upTo: bigint, checkpoints: bigint[], floors: bigint[]) {
  const { main } = vis.store;
  const singles: Array<{ key: Buffer; epoch: bigint }> = [];
  for (const key of main.getKeys({ start: withTag(pfx, TAG_SINGLE), end: withTag(pfx, TAG_SINGLE + 1) })) {
    singles.push({ key: Buffer.from(key), epoch: keyEpoch(key) });
  }
  const extents: Candidate<Buffer>[] = [];
  let order = 0;
  const records: Map<Buffer, ExtentRecord> = new Map();
  for (const { key, value } of main.getRange({
    start: withTag(pfx, TAG_EXTENT),
    end: withTag(pfx, TAG_EXTENT + 1),
  })) {
    const rec = decodeExtent(value);
    const idx = extentKeyIdx(key, pfx.length);
    const k = Buffer.from(key);
    records.set(k, rec);
    extents.push({ start: idx, end: idx + rec.nr, epoch: keyEpoch(key), order: order++, src: k });
  }
  const live = new Set<Buffer>();
  checkpoints.forEach((c, i) => {
    const p = floors[i]!;
    // singles are newest first: the first at or below c is the one a read at c finds.
    const v = singles.find((s) => s.epoch <= c);
    if (v !== undefined && v.epoch > p) live.add(v.key);
    const cands = extents.filter((x) => x.epoch <= c && x.epoch > p);
    for (const piece of resolveExtents(cands, 0n, 1n << 64n)) live.add(piece.src.src);
  });
  const dead: Buffer[] = [];
  for (const s of singles) if (s.epoch <= upTo && !live.has(s.key)) dead.push(s.key);
  for (const x of extents) if (x.epoch <= upTo && !live.has(x.src)) dead.push(x.src);
  return { dead, left: singles.length + extents.length - dead.length };
}

/** Inside a transaction: delete main records, freeing their data-file space after the commit. */
function deleteRecords(
  vis: Visibility,
  cid: number,
  keys: Buffer[],
  freed: Extent[],
  contBytes: Map<number, number>,
  stats: AggregateStats,
) {
  const { main } = vis.store;
  for (const key of keys) {
    const value = main.get(key);
    if (value === undefined) continue;
    const tag = recordTag(key);
    if (tag === TAG_META) {
      vis.store.removeMeta(key);
      continue;
    }
    const payload = decodeAnyPayload(tag, value);
    if (tag === TAG_SINGLE) forgetNewestSingle(vis.store, key);
    else if (tag === TAG_EXTENT) forgetSoleExtent(vis.store, key);
    main.remove(key);
    if (payload === undefined) continue;
    stats.recordsRemoved++;
    contBytes.set(cid, (contBytes.get(cid) ?? 0) - payloadHeldBytes(payload));
    if (payload.where === WHERE_FILE) {
      vis.store.allocatorStore.putFree(payload.off, payload.len);
      freed.push({ off: payload.off, len: payload.len });
      stats.bytesFreed += payload.len;
    }
  }
}

/** Delete punches at or below upTo that no longer hide any record (nothing at or below them is left). */
async function dropStalePunches(
  vis: Visibility,
  cid: number,
  upTo: bigint,
  stats: AggregateStats,
  commit: Commit,
) {
  const { main, punch } = vis.store;
  const stale: Buffer[] = [];
  for (const key of punch.getKeys({ start: contPrefix(cid), end: prefixEnd(contPrefix(cid)) })) {
    const p = keyEpoch(key);
    if (p > upTo) continue;
    // The main-db prefix of the punched subtree: the punch key without its level byte and epoch.
    const sub = Buffer.concat([
      key.subarray(0, OBJ_PREFIX_BYTES),
      key.subarray(OBJ_PREFIX_BYTES + 1, key.length - EPOCH_BYTES),
    ]);
    let hides = false;
    for (const k of main.getKeys({ start: sub, end: prefixEnd(sub) })) {
      if (recordTag(k) !== TAG_META && keyEpoch(k) <= p) {
        hides = true;
        break;
      }
    }
    if (!hides) stale.push(Buffer.from(key));
  }
  for (let i = 0; i < stale.length; i += RECORDS_PER_TXN_MAX) {
    const chunk = stale.slice(i, i + RECORDS_PER_TXN_MAX);
    await commit(() => {
      for (const k of chunk) punch.remove(k);
    });
    stats.recordsRemoved += chunk.length;
    forgetUnpunched(vis, chunk);
  }
}

/**
 * Drop from `vis.punched` the objects of `removed` punch keys that have no punch record left (an
 * unlinked file's object, say, once its punch hides nothing): the set would otherwise grow by one
 * entry per punched object for as long as the target is open. Synchronous, so that no commit
 * comes between the look and the delete; a later punch of the object notes it again.
 */
function forgetUnpunched(vis: Visibility, removed: Buffer[]): void {
  const { punch } = vis.store;
  const seen = new Set<string>();
  for (const key of removed) {
    const name = objNameOfKey(key);
    if (seen.has(name)) continue;
    seen.add(name);
    const pfx = key.subarray(0, OBJ_PREFIX_BYTES);
    if (vis.store.firstKey(punch, pfx, prefixEnd(pfx)) === undefined) vis.punched.forgetKey(pfx);
  }
}

/**
 * Remove the versions and extents under one dkey written at or below `upTo` (punches and akey
 * metadata stay), in bounded transactions: what a rebuild clears from a target before it copies
 * the dkey's shard there, so that records the target kept from an older layout cannot mix with
 * the copy. With `role` (an EC shard the target takes while it keeps serving another role of the
 * object), only that role's array extents go.
 */
export async function discardDkeyRecords(
  vis: Visibility,
  cid: number,
  oid: Oid,
  dkey: Uint8Array,
  upTo: bigint,
  contBytes: Map<number, number>,
  commit: Commit,
  role?: ShardRole,
): Promise<number> {
  const prefix = dkeyPrefix(cid, oid, dkey);
  const recordSizes = new Map<string, number>();
  const ofRole = (k: Buffer): boolean => {
    const pos = recordTagPos(k);
    if (k[pos] !== TAG_EXTENT) return false;
    const akeyPfx = k.subarray(0, pos);
    const name = akeyPfx.toString('latin1');
    let rsize = recordSizes.get(name);
    if (rsize === undefined) {
      const meta = vis.store.main.get(withTag(Buffer.from(akeyPfx), TAG_META));
      rsize = meta === undefined ? 1 : decodeMeta(meta as Buffer).recordSize;
      recordSizes.set(name, rsize);
    }
    return recordOfRole(extentKeyIdx(k, pos), rsize, role!);
  };
  const keys = [...vis.store.main.getKeys({ start: prefix, end: prefixEnd(prefix) })]
    .map((k) => Buffer.from(k))
    .filter((k) => recordTag(k) !== TAG_META && keyEpoch(k) <= upTo && (role === undefined || ofRole(k)));
  const stats: AggregateStats = { recordsRemoved: 0, bytesFreed: 0 };
  for (let i = 0; i < keys.length; i += RECORDS_PER_TXN_MAX) {
    const chunk = keys.slice(i, i + RECORDS_PER_TXN_MAX);
    await commit((freed) => deleteRecords(vis, cid, chunk, freed, contBytes, stats));
  }
  return stats.recordsRemoved;
}

/** Remove every record of a container, in bounded transactions. */
export async function destroyContainerRecords(vis: Visibility, cid: number, commit: Commit): Promise<void> {
  const ignored = new Map<number, number>();
  const stats: AggregateStats = { recordsRemoved: 0, bytesFreed: 0 };
  for (const db of [vis.store.main, vis.store.punch]) {
    for (;;) {
      const keys = [
        ...db.getKeys({
          start: contPrefix(cid),
          end: prefixEnd(contPrefix(cid)),
          limit: RECORDS_PER_TXN_MAX,
        }),
      ].map((k) => Buffer.from(k));
      if (keys.length === 0) break;
      await commit((freed) => {
        if (db === vis.store.main) deleteRecords(vis, cid, keys, freed, ignored, stats);
        else for (const k of keys) db.remove(k);
      });
    }
  }
}
