/**
 * Turning validated ops into index writes ("effects"), in two steps:
 *  - at submission, `stageOps` reserves data-file space for large payloads and queues their bytes;
 *  - inside the LMDB write transaction, `buildEffects` evaluates conditions and TX checks against
 *    the latest state (the batch's earlier writes included) and computes every record to write,
 *    throwing before anything is written; `writeEffects` then writes them.
 * A prepared dtx stores its effects (data-file references, not bytes) and writes them at commit.
 */
import { assert, check, DaosError } from '../../core/common/errors.js';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import type { Oid } from '../../core/common/oid.js';
import type { AllocatorStore, Extent, ExtentAllocator } from '../bio/allocator.js';
import type { DataFile } from '../bio/data-file.js';
import type { IndexStore } from './index-store.js';
import {
  akeyPrefix,
  dkeyPrefix,
  EPOCH_BYTES,
  EXTENT_KEY_TAIL_BYTES,
  extentKey,
  extentKeyIdx,
  keyEpoch,
  objPrefix,
  prefixEnd,
  punchKey,
  punchPrefix,
  recordTag,
  singleKey,
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
  encodeExtent,
  encodeMeta,
  encodeSingle,
  KIND_ARRAY,
  KIND_SINGLE,
  type Payload,
  payloadHeldBytes,
  WHERE_FILE,
  WHERE_HOLE,
  WHERE_INLINE,
} from './records.js';
import type { TxCheck, UpdateCond, VosOp } from './types.js';
import { showKey } from './validate.js';
import type { Visibility } from './visibility.js';

/** An update iod whose bytes have a place: inline, a reserved data-file extent, or a hole. */
type StagedIod =
  | { akey: Uint8Array; kind: 'single'; payload: Payload }
  | {
      akey: Uint8Array;
      kind: 'array';
      recordSize: number;
      extents: Array<{ idx: bigint; nr: bigint; payload: Payload }>;
    };

export type StagedOp =
  | {
      op: 'update';
      cont: string;
      oid: Oid;
      dkey: Uint8Array;
      iods: StagedIod[];
      cond?: UpdateCond;
      epoch?: bigint;
    }
  | Exclude<VosOp, { op: 'update' }>;

/** Everything one apply or dtx writes to the index. Plain data: a prepared dtx stores it as msgpack. */
export interface Effects {
  epoch: string;
  /** Main-db records: [key, value]. */
  puts: Array<[Buffer, Buffer]>;
  punches: Buffer[];
  /** Data-file extents the puts reference. */
  refs: Extent[];
  /** Container local id of each put, for accounting. */
  putConts: number[];
}

/** Reserve data-file space for payloads of `inlineBytesMax` bytes or more and queue their bytes. */
export function stageOps(
  ops: VosOp[],
  alloc: ExtentAllocator,
  data: DataFile,
  inlineBytesMax: number,
): { staged: StagedOp[]; reserved: Extent[] } {
  const place = { alloc, data, inlineBytesMax, reserved: [] as Extent[] };
  const staged: StagedOp[] = [];
  for (const op of ops) {
    if (op.op !== 'update') {
      staged.push(op);
      continue;
    }
    const iods: StagedIod[] = [];
    for (const iod of op.iods) {
      if (iod.kind === 'single') {
        iods.push({ akey: iod.akey, kind: 'single', payload: placed(place, iod.value, iod.csums) });
        continue;
      }
      const extents: Array<{ idx: bigint; nr: bigint; payload: Payload }> = [];
      for (const x of iod.extents) {
        const payload: Payload =
          x.data === undefined ? { where: WHERE_HOLE } : placed(place, x.data, x.csums);
        extents.push({ idx: x.idx, nr: x.nr, payload });
      }
      iods.push({ akey: iod.akey, kind: 'array', recordSize: iod.recordSize, extents });
    }
    const { cont, oid, dkey, cond, epoch } = op;
    staged.push({ op: 'update', cont, oid, dkey, iods, cond, epoch });
  }
  return { staged, reserved: place.reserved };
}

/**
 * Where a value's bytes go: inline when shorter than `inlineBytesMax`, else into data-file space
 * reserved (and noted in `reserved`) and queued for writing. Checksums (already checked against
 * the bytes by checkOps) are stored with the record.
 */
function placed(
  to: { alloc: ExtentAllocator; data: DataFile; inlineBytesMax: number; reserved: Extent[] },
  bytes: Uint8Array,
  csums: Uint32Array | undefined,
): Payload {
  if (bytes.length < to.inlineBytesMax) {
    const inline = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    return csums === undefined
      ? { where: WHERE_INLINE, bytes: inline }
      : { where: WHERE_INLINE, bytes: inline, csums };
  }
  const off = to.alloc.reserve(bytes.length);
  to.reserved.push({ off, len: bytes.length });
  to.data.queueWrite(off, bytes);
  return csums === undefined
    ? { where: WHERE_FILE, off, len: bytes.length }
    : { where: WHERE_FILE, off, len: bytes.length, csums };
}

function emptyEffects(epoch: bigint): Effects {
  return {
    epoch: epoch.toString(),
    puts: [],
    punches: [],
    refs: [],
    putConts: [],
  };
}

/** Inside the write transaction: check conditions and `txCheck`, then compute the records to write. */
export function buildEffects(
  vis: Visibility,
  store: IndexStore,
  callEpoch: bigint,
  ops: StagedOp[],
  txCheck?: TxCheck,
): Effects {
  const eff = emptyEffects(callEpoch);
  if (txCheck !== undefined) {
    for (const r of txCheck.readSet) {
      const cid = store.contId(r.cont);
      if (cid !== undefined) checkNoConflict(vis, cid, r.oid, txCheck.readEpoch, r.dkey, r.akey);
    }
  }
  // Kinds and record sizes given earlier in this call, so that two iods of one akey agree (none
  // to keep for a call of one iod: a KV put).
  const kinds =
    ops.length === 1 && ops[0]!.op === 'update' && ops[0]!.iods.length === 1
      ? undefined
      : new Map<string, { kind: number; recordSize: number }>();
  for (const op of ops) {
    const cid = store.contIdForWrite(op.cont);
    const readEpoch = txCheck?.readEpoch;
    const epoch = op.epoch ?? callEpoch;
    assert(epoch <= callEpoch, () => `op epoch ${epoch} above the call's ${callEpoch}`);
    if (op.op === 'punch_obj') {
      if (readEpoch !== undefined) checkNoConflict(vis, cid, op.oid, readEpoch);
      eff.punches.push(punchKey(punchPrefix(cid, op.oid), epoch));
    } else if (op.op === 'punch_dkeys') {
      for (const dkey of op.dkeys) {
        if (readEpoch !== undefined) checkNoConflict(vis, cid, op.oid, readEpoch, dkey);
        if (op.mustExist) {
          const p = vis.floor(cid, op.oid, EPOCH_MAX, dkey);
          check(
            vis.dkeyExists(cid, op.oid, dkey, EPOCH_MAX, p),
            'DER_NONEXIST',
            () => `punch of dkey ${showKey(dkey)}: no such dkey`,
          );
        }
        eff.punches.push(punchKey(punchPrefix(cid, op.oid, dkey), epoch));
      }
    } else if (op.op === 'punch_akeys') {
      for (const akey of op.akeys) {
        if (readEpoch !== undefined) checkNoConflict(vis, cid, op.oid, readEpoch, op.dkey, akey);
        if (op.mustExist) {
          const p = vis.floor(cid, op.oid, EPOCH_MAX, op.dkey, akey);
          check(
            vis.akeyExists(akeyPrefix(cid, op.oid, op.dkey, akey), EPOCH_MAX, p),
            'DER_NONEXIST',
            () => `punch of akey ${showKey(akey)} under dkey ${showKey(op.dkey)}: no such akey`,
          );
        }
        eff.punches.push(punchKey(punchPrefix(cid, op.oid, op.dkey, akey), epoch));
      }
    } else {
      buildUpdate(vis, cid, epoch, op, eff, kinds, readEpoch);
    }
  }
  return eff;
}

function buildUpdate(
  vis: Visibility,
  cid: number,
  epoch: bigint,
  op: Extract<StagedOp, { op: 'update' }>,
  eff: Effects,
  kinds: Map<string, { kind: number; recordSize: number }> | undefined,
  readEpoch: bigint | undefined,
): void {
  const { oid, dkey, cond } = op;
  if (cond === 'dkey_insert' || cond === 'dkey_update') {
    const exists = vis.dkeyExists(cid, oid, dkey, EPOCH_MAX, vis.floor(cid, oid, EPOCH_MAX, dkey));
    check(
      !(cond === 'dkey_insert' && exists),
      'DER_EXIST',
      () => `conditional insert: dkey ${showKey(dkey)} exists`,
    );
    check(
      !(cond === 'dkey_update' && !exists),
      'DER_NONEXIST',
      () => `conditional update: dkey ${showKey(dkey)} does not exist`,
    );
  }
  for (const iod of op.iods) {
    const pfx = akeyPrefix(cid, oid, dkey, iod.akey);
    if (readEpoch !== undefined) checkNoConflict(vis, cid, oid, readEpoch, dkey, iod.akey);
    if (cond === 'akey_insert' || cond === 'akey_update') {
      const what = () => akeyUnder(iod.akey, dkey);
      const exists = vis.akeyExists(pfx, EPOCH_MAX, vis.floor(cid, oid, EPOCH_MAX, dkey, iod.akey));
      check(!(cond === 'akey_insert' && exists), 'DER_EXIST', () => `conditional insert: ${what()} exists`);
      check(
        !(cond === 'akey_update' && !exists),
        'DER_NONEXIST',
        () => `conditional update: ${what()} does not exist`,
      );
    }
    const kind = iod.kind === 'single' ? KIND_SINGLE : KIND_ARRAY;
    const recordSize = iod.kind === 'single' ? 0 : iod.recordSize;
    const name = kinds === undefined ? '' : pfx.toString('latin1');
    const known = kinds?.get(name) ?? vis.meta(pfx);
    if (known !== undefined) {
      // (No message closures here: this runs for every write.)
      if (known.kind !== kind) {
        const is = (k: number) => (k === KIND_SINGLE ? 'a single value' : 'an array');
        throw new DaosError(
          'DER_INVAL',
          `${akeyUnder(iod.akey, dkey)} is ${is(known.kind)}, not ${is(kind)}`,
        );
      }
      if (known.recordSize !== recordSize)
        throw new DaosError(
          'DER_REC_SIZE',
          `${akeyUnder(iod.akey, dkey)} has record size ${known.recordSize}, not ${recordSize}`,
        );
    } else {
      kinds?.set(name, { kind, recordSize });
    }
    if (iod.kind === 'single') {
      eff.puts.push([singleKey(pfx, epoch), encodeSingle(iod.payload)]);
      eff.putConts.push(cid);
      if (iod.payload.where === WHERE_FILE) eff.refs.push({ off: iod.payload.off, len: iod.payload.len });
      // Its meta is written with the version (writeEffects: noteNewestSingle).
      continue;
    }
    // Its meta is written with the extents (writeEffects: noteArrayExtent).
    for (const x of iod.extents) {
      eff.puts.push([
        extentKey(pfx, x.idx, epoch),
        encodeExtent({ nr: x.nr, recordSize, payload: x.payload }),
      ]);
      eff.putConts.push(cid);
      if (x.payload.where === WHERE_FILE) eff.refs.push({ off: x.payload.off, len: x.payload.len });
    }
  }
}

const akeyUnder = (akey: Uint8Array, dkey: Uint8Array) => `akey ${showKey(akey)} under dkey ${showKey(dkey)}`;

/** TX_RESTART when anything under (oid[, dkey[, akey]]) or a punch above it is newer than readEpoch. */
export function checkNoConflict(
  vis: Visibility,
  cid: number,
  oid: Oid,
  readEpoch: bigint,
  dkey?: Uint8Array,
  akey?: Uint8Array,
): void {
  const restart = () => {
    const at =
      dkey === undefined
        ? 'object'
        : akey === undefined
          ? `dkey ${showKey(dkey)}`
          : `akey ${showKey(akey)} under dkey ${showKey(dkey)}`;
    return new DaosError('DER_TX_RESTART', `${at} changed after read epoch ${readEpoch}`);
  };
  if (vis.floor(cid, oid, EPOCH_MAX, dkey, akey) > readEpoch) throw restart();
  const pfx =
    dkey === undefined
      ? objPrefix(cid, oid)
      : akey === undefined
        ? dkeyPrefix(cid, oid, dkey)
        : akeyPrefix(cid, oid, dkey, akey);
  for (const k of vis.store.main.getKeys({ start: pfx, end: prefixEnd(pfx) })) {
    if (recordTag(k) !== TAG_META && keyEpoch(k) > readEpoch) throw restart();
  }
  // Punches below this level (dkeys or akeys of the subtree).
  if (akey !== undefined) return;
  // The akey punches of a dkey share the prefix of an akey punch without its (empty) akey.
  const below = dkey === undefined ? objPrefix(cid, oid) : punchPrefix(cid, oid, dkey, EMPTY).subarray(0, -2);
  for (const k of vis.store.punch.getKeys({ start: below, end: prefixEnd(below) })) {
    if (keyEpoch(k) > readEpoch) throw restart();
  }
}

/**
 * Inside the write transaction: write `eff`. A record replaced at the same key and epoch frees its
 * data-file extent: persisted free here, handed back to `freed` for release after the commit.
 */
export function writeEffects(
  vis: Visibility,
  store: IndexStore,
  allocStore: AllocatorStore,
  eff: Effects,
  freed: Extent[],
  contBytes: Map<number, number>,
): void {
  const { main } = store;
  for (let i = 0; i < eff.puts.length; i++) {
    const [key, value] = eff.puts[i]!;
    const cid = eff.putConts[i]!;
    const tag = recordTag(key);
    let newPayload: Payload;
    let mayReplace = true;
    // The akey's meta, kept first, tells whether a record can be on file at this key.
    if (tag === TAG_EXTENT) {
      const rec = decodeExtent(value);
      newPayload = rec.payload;
      mayReplace = noteArrayExtent(store, key, rec);
    } else {
      newPayload = decodeAnyPayload(tag, value)!;
      if (tag === TAG_SINGLE) mayReplace = noteNewestSingle(store, key, newPayload);
    }
    // The index is read here through lmdb-js's shared buffer (no ArrayBuffer per read): every
    // record read is decoded before the next read.
    const old = mayReplace ? main.getBinaryFast(key) : undefined;
    let delta = payloadHeldBytes(newPayload);
    if (old !== undefined) {
      const oldPayload = decodeAnyPayload(tag, old)!;
      delta -= payloadHeldBytes(oldPayload);
      if (oldPayload.where === WHERE_FILE) {
        allocStore.putFree(oldPayload.off, oldPayload.len);
        freed.push({ off: oldPayload.off, len: oldPayload.len });
      }
    }
    contBytes.set(cid, (contBytes.get(cid) ?? 0) + delta);
    main.put(key, value);
    vis.objects.noteKey(key);
  }
  for (const k of eff.punches) {
    store.punch.put(k, EMPTY);
    vis.notePunchKey(k);
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * Keep an akey's meta's `newest` at or above every single-value version on file, and its
 * `newestFile` that version's data-file extent: a version written at `key`, with `payload`, raises
 * it (and a new akey's meta starts with it; a version rewritten at the same epoch replaces it).
 * Here rather than in buildEffects so that every writer of single-value versions keeps it, a
 * prepared dtx's commit included. A meta written before `newest` was kept stays without it: that
 * akey's reads seek as before.
 * Returns whether a version may already be on file at `key` (false: the meta says none can be).
 */
function noteNewestSingle(store: IndexStore, key: Buffer, payload: Payload): boolean {
  const { main } = store;
  const pfx = key.subarray(0, key.length - 1 - EPOCH_BYTES);
  const epoch = keyEpoch(key);
  const file = payload.where === WHERE_FILE && payload.csums === undefined ? payload : undefined;
  const mkey = withTag(pfx, TAG_META);
  const old = main.getBinaryFast(mkey);
  if (old === undefined) {
    // No meta, so no record of this akey is on file (aggregation drops a meta last).
    store.putMeta(
      mkey,
      encodeMeta({ kind: KIND_SINGLE, recordSize: 0, maxNr: 0n, newest: epoch, newestFile: file }),
    );
    return false;
  }
  const m = decodeMeta(old);
  if (m.newest === undefined || epoch < m.newest) return true;
  if (epoch === m.newest && m.newestFile?.off === file?.off && m.newestFile?.len === file?.len) return true;
  store.putMeta(mkey, encodeMeta({ ...m, newest: epoch, newestFile: file }));
  return epoch === m.newest;
}

/**
 * Keep an array akey's meta, written with each of its extents (here rather than in buildEffects so
 * that every writer of extents keeps it, a prepared dtx's commit and a rebuild's copies included):
 * a new akey's meta starts here; `maxNr` grows to the longest extent; the extent at `key` (record
 * `rec`) becomes the `sole` one (records.ts) when the akey has no record yet, replaces it when
 * written at its very key (same idx and epoch), and ends it otherwise: the akey then has two.
 * Returns whether a record may already be on file at `key` (false: the meta says none can be).
 */
function noteArrayExtent(store: IndexStore, key: Buffer, rec: ExtentRecord): boolean {
  const { main } = store;
  const pfxLen = key.length - EXTENT_KEY_TAIL_BYTES;
  const mkey = withTag(key.subarray(0, pfxLen), TAG_META);
  const old = main.getBinaryFast(mkey);
  const epoch = keyEpoch(key);
  const idx = extentKeyIdx(key, pfxLen);
  const p = rec.payload;
  const sole =
    p.where === WHERE_FILE && p.csums === undefined ? { idx, epoch, nr: rec.nr, payload: p } : undefined;
  if (old === undefined) {
    // No meta, so no record of this akey is on file (aggregation drops a meta last).
    store.putMeta(mkey, encodeMeta({ kind: KIND_ARRAY, recordSize: rec.recordSize, maxNr: rec.nr, sole }));
    return false;
  }
  const m = decodeMeta(old);
  // (buildEffects refused an extent of a single-value akey before anything was written.)
  if (m.kind !== KIND_ARRAY) return true;
  const same = m.sole !== undefined && m.sole.idx === idx && m.sole.epoch === epoch;
  const longer = rec.nr > m.maxNr;
  if (m.sole !== undefined || longer)
    store.putMeta(
      mkey,
      encodeMeta({ ...m, maxNr: longer ? rec.nr : m.maxNr, sole: same ? sole : undefined }),
    );
  return m.sole === undefined || same;
}

/** Inside a transaction, before the extent record at `key` is removed: its akey's meta keeps no `sole`. */
export function forgetSoleExtent(store: IndexStore, key: Buffer): void {
  const { main } = store;
  const mkey = withTag(key.subarray(0, key.length - EXTENT_KEY_TAIL_BYTES), TAG_META);
  const old = main.getBinaryFast(mkey);
  if (old === undefined) return;
  const m = decodeMeta(old);
  if (m.sole !== undefined) store.putMeta(mkey, encodeMeta({ ...m, sole: undefined }));
}

/**
 * Inside a transaction, before the single-value version at `key` is removed: if its akey's meta
 * points at it (`newestFile`), drop that, so no read takes a value whose space is being freed.
 * `newest` stays: no version on file is newer, and a read finds what is left by a seek.
 */
export function forgetNewestSingle(store: IndexStore, key: Buffer): void {
  const { main } = store;
  const mkey = withTag(key.subarray(0, key.length - 1 - EPOCH_BYTES), TAG_META);
  const old = main.getBinaryFast(mkey);
  if (old === undefined) return;
  const m = decodeMeta(old);
  if (m.newestFile !== undefined && m.newest === keyEpoch(key))
    store.putMeta(mkey, encodeMeta({ ...m, newestFile: undefined }));
}

/** txCheck's conflict checks for every op of a call, against the state before any of them. */
function checkConflicts(vis: Visibility, store: IndexStore, ops: StagedOp[], txCheck: TxCheck): void {
  const e = txCheck.readEpoch;
  for (const r of txCheck.readSet) {
    const cid = store.contId(r.cont);
    if (cid !== undefined) checkNoConflict(vis, cid, r.oid, e, r.dkey, r.akey);
  }
  for (const op of ops) {
    const cid = store.contId(op.cont);
    if (cid === undefined) continue; // nothing stored yet: nothing changed after e
    if (op.op === 'punch_obj') checkNoConflict(vis, cid, op.oid, e);
    else if (op.op === 'punch_dkeys') for (const d of op.dkeys) checkNoConflict(vis, cid, op.oid, e, d);
    else if (op.op === 'punch_akeys')
      for (const a of op.akeys) checkNoConflict(vis, cid, op.oid, e, op.dkey, a);
    else for (const iod of op.iods) checkNoConflict(vis, cid, op.oid, e, op.dkey, iod.akey);
  }
}

/**
 * Inside a child transaction: build and write the ops one at a time, so that each op's
 * conditions see the ops before it (a transaction's sub-operations see their predecessors, as in
 * DAOS). Conflicts are checked first, against the state before the call. A throw aborts the child
 * transaction and with it every write of the call. Returns the call's effects, in op order.
 */
export function buildAndWriteInOrder(
  vis: Visibility,
  store: IndexStore,
  callEpoch: bigint,
  ops: StagedOp[],
  txCheck: TxCheck | undefined,
  freed: Extent[],
  contDelta: Map<number, number>,
): Effects {
  if (txCheck !== undefined) checkConflicts(vis, store, ops, txCheck);
  const all = emptyEffects(callEpoch);
  for (const op of ops) {
    const eff = buildEffects(vis, store, callEpoch, [op]);
    writeEffects(vis, store, store.allocatorStore, eff, freed, contDelta);
    all.puts.push(...eff.puts);
    all.punches.push(...eff.punches);
    all.refs.push(...eff.refs);
    all.putConts.push(...eff.putConts);
  }
  return all;
}
