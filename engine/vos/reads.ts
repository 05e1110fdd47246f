/**
 * The read operations of a target: fetch, record-extent listing and queries, object listing.
 * All run synchronously against LMDB's last committed snapshot; data-file bytes are read with
 * positional reads straight into the output buffer.
 */
import { check, DaosError } from '../../core/common/errors.js';
import type { Oid } from '../../core/common/oid.js';
import { CSUM_CHUNK_BYTES, firstBadChunk } from '../../core/csum/index.js';
import { mergeRanges, type Piece, resolveExtents } from './extents.js';
import { akeyPrefix, contPrefix, keyOid, OBJ_PREFIX_BYTES, objPrefix, prefixEnd } from './keys.js';
import {
  type AkeyMeta,
  type ExtentRecord,
  KIND_ARRAY,
  KIND_SINGLE,
  type Payload,
  WHERE_FILE,
  WHERE_HOLE,
} from './records.js';
import type { FetchCond, FetchIod, FetchResult, Recx } from './types.js';
import { showKey } from './validate.js';
import type { Visibility } from './visibility.js';

/**
 * Checksum checks a fetch planned: each verifies bytes once the data-file reads are done (at once
 * for a plain fetch, after the turn's merged reads for fetchAsync), throwing DER_CSUM on a mismatch.
 */
export type CsumChecks = Array<() => void>;

export function fetch(
  vis: Visibility,
  cid: number | undefined,
  oid: Oid,
  e: bigint,
  dkey: Uint8Array,
  iods: FetchIod[],
  cond: FetchCond | undefined,
  checks: CsumChecks,
): FetchResult[] {
  if (cond === 'dkey_fetch') {
    const exists = cid !== undefined && vis.dkeyExists(cid, oid, dkey, e, vis.floor(cid, oid, e, dkey));
    check(exists, 'DER_NONEXIST', () => `conditional fetch: dkey ${showKey(dkey)} does not exist`);
  }
  const out: FetchResult[] = [];
  for (const iod of iods) {
    // Error messages are built only when thrown: formatting keys, or a closure per iod to do it
    // later, on every read would cost more than the read.
    if (cid === undefined) {
      if (cond === 'akey_fetch')
        throw new DaosError('DER_NONEXIST', `conditional fetch: ${what(iod.akey, dkey)} does not exist`);
      out.push(iod.kind === 'single' ? undefined : emptyArray(iod.recordSize, iod.extents, iod.out));
      continue;
    }
    const pfx = akeyPrefix(cid, oid, dkey, iod.akey);
    const p = vis.floor(cid, oid, e, dkey, iod.akey);
    if (cond === 'akey_fetch' && !vis.akeyExists(pfx, e, p))
      throw new DaosError('DER_NONEXIST', `conditional fetch: ${what(iod.akey, dkey)} does not exist`);
    if (iod.kind === 'single') {
      const m = vis.meta(pfx);
      if (m !== undefined && m.kind !== KIND_SINGLE)
        throw new DaosError('DER_INVAL', `${what(iod.akey, dkey)} is an array, fetched as a single value`);
      const v = m === undefined ? undefined : vis.singleOf(m, pfx, e, p);
      if (v !== undefined) {
        const bytes = vis.singleBytes(v.payload);
        const csums = v.payload.where === WHERE_HOLE ? undefined : v.payload.csums;
        if (csums !== undefined)
          checks.push(() =>
            verifyChunks(bytes, csums, 0, () => `${what(iod.akey, dkey)}: single value at epoch ${v.epoch}`),
          );
        out.push(bytes);
        continue;
      }
      out.push(undefined);
      continue;
    }
    const m = vis.arrayMeta(pfx);
    if (m === undefined) {
      out.push(emptyArray(iod.recordSize, iod.extents, iod.out));
      continue;
    }
    check(
      m.kind === KIND_ARRAY,
      'DER_INVAL',
      () => `${what(iod.akey, dkey)} is a single value, fetched as an array`,
    );
    check(
      m.recordSize === iod.recordSize,
      'DER_REC_SIZE',
      () => `${what(iod.akey, dkey)} has record size ${m.recordSize}, fetched with ${iod.recordSize}`,
    );
    const whatArray = () => what(iod.akey, dkey);
    out.push(fetchArray(vis, pfx, e, p, m, iod.recordSize, iod.extents, iod.out, checks, whatArray));
  }
  return out;
}

/** How an error names an akey. */
function what(akey: Uint8Array, dkey: Uint8Array): string {
  return `akey ${showKey(akey)} under dkey ${showKey(dkey)}`;
}

/** Bytes of `extents` of `recordSize`-byte records (a loop: see engine/bio/data-file.ts, groupToSettle). */
function extentsBytes(extents: Recx[], recordSize: number): number {
  let n = 0;
  for (const x of extents) n += Number(x.nr) * recordSize;
  return n;
}

function emptyArray(
  recordSize: number,
  extents: Recx[],
  into: Uint8Array | undefined,
): { data: Uint8Array; map: Recx[] } {
  const total = extentsBytes(extents, recordSize);
  if (!into) return { data: Buffer.alloc(total), map: [] };
  const data = into.subarray(0, total);
  data.fill(0);
  return { data, map: [] };
}

function fetchArray(
  vis: Visibility,
  pfx: Buffer,
  e: bigint,
  p: bigint,
  m: AkeyMeta,
  rs: number,
  extents: Recx[],
  into: Uint8Array | undefined,
  checks: CsumChecks,
  what: () => string,
) {
  const total = extentsBytes(extents, rs);
  // Unzeroed: every byte is either copied from a data piece or zeroed as a hole below.
  // (The caller's buffer itself when it is a Buffer of exactly this size: no view of it per read.)
  const data = !into
    ? Buffer.allocUnsafe(total)
    : Buffer.isBuffer(into) && into.length === total
      ? into
      : Buffer.from(into.buffer, into.byteOffset, total);
  const visible: Array<{ start: bigint; end: bigint }> = [];
  let outOff = 0;
  for (const x of extents) {
    const lo = x.idx;
    const hi = x.idx + x.nr;
    const pieces = resolveExtents(vis.extentsOf(m, pfx, e, p, lo, hi), lo, hi);
    let filled = outOff; // bytes of `data` before this are written
    for (const piece of pieces) {
      const rec = piece.src.src;
      if (rec.payload.where === WHERE_HOLE) continue;
      const from = Number(piece.start - piece.src.start) * rs;
      const len = Number(piece.end - piece.start) * rs;
      const at = outOff + Number(piece.start - lo) * rs;
      if (at > filled) data.fill(0, filled, at);
      if (rec.payload.csums === undefined) vis.copyPayload(rec.payload, from, len, data, at);
      else {
        const src = piece.src;
        readVerified(vis, rec.payload, rec.payload.csums, from, len, data, at, checks, () => {
          const where =
            rec.payload.where === WHERE_FILE ? `, data-file offset ${rec.payload.off}` : ' (inline)';
          return `${what()}: extent idx ${src.start} nr ${src.end - src.start} at epoch ${src.epoch}${where}`;
        });
      }
      filled = at + len;
      visible.push({ start: piece.start, end: piece.end });
    }
    outOff += Number(x.nr) * rs;
    if (outOff > filled) data.fill(0, filled, outOff);
  }
  return { data, map: mergeRanges(visible) };
}

/**
 * Copy bytes [from, from + len) of a checksummed record into out at `at`, planning their check:
 * the whole chunks around the range are read (into `out` itself when the range is whole chunks,
 * else into a scratch buffer copied out once verified) and verified when the reads are done.
 */
function readVerified(
  vis: Visibility,
  payload: Exclude<Payload, { where: typeof WHERE_HOLE }>,
  csums: Uint32Array,
  from: number,
  len: number,
  out: Uint8Array,
  at: number,
  checks: CsumChecks,
  describe: () => string,
): void {
  const recordLen = payload.where === WHERE_FILE ? payload.len : payload.bytes.length;
  const firstChunk = Math.floor(from / CSUM_CHUNK_BYTES);
  const start = firstChunk * CSUM_CHUNK_BYTES;
  const end = Math.min(Math.ceil((from + len) / CSUM_CHUNK_BYTES) * CSUM_CHUNK_BYTES, recordLen);
  if (start === from && end === from + len) {
    vis.copyPayload(payload, from, len, out, at);
    checks.push(() => verifyChunks(out.subarray(at, at + len), csums, firstChunk, describe));
    return;
  }
  const scratch = Buffer.allocUnsafe(end - start);
  vis.copyPayload(payload, start, end - start, scratch, 0);
  checks.push(() => {
    verifyChunks(scratch, csums, firstChunk, describe);
    out.set(scratch.subarray(from - start, from - start + len), at);
  });
}

/** DER_CSUM naming the record and chunk when `data` (whole chunks from `firstChunk`) fails its checksums. */
function verifyChunks(
  data: Uint8Array,
  csums: Uint32Array,
  firstChunk: number,
  describe: () => string,
): void {
  const bad = firstBadChunk(data, csums, firstChunk);
  if (bad >= 0)
    throw new DaosError(
      'DER_CSUM',
      `${describe()}: chunk ${bad} (record bytes ${bad * CSUM_CHUNK_BYTES}..) does not match its checksum`,
    );
}

/** Data pieces of an array akey at e (holes dropped), or [] for a missing or single-value akey. */
function dataPieces(
  vis: Visibility,
  cid: number | undefined,
  oid: Oid,
  e: bigint,
  dkey: Uint8Array,
  akey: Uint8Array,
): Piece<ExtentRecord>[] {
  if (cid === undefined) return [];
  const pfx = akeyPrefix(cid, oid, dkey, akey);
  const m = vis.meta(pfx);
  if (m === undefined || m.kind !== KIND_ARRAY) return [];
  const p = vis.floor(cid, oid, e, dkey, akey);
  return vis.resolveAll(pfx, e, p).filter((x) => x.src.src.payload.where !== WHERE_HOLE);
}

export function listRecx(
  vis: Visibility,
  cid: number | undefined,
  oid: Oid,
  e: bigint,
  dkey: Uint8Array,
  akey: Uint8Array,
) {
  const out: Array<Recx & { epoch: bigint }> = [];
  for (const piece of dataPieces(vis, cid, oid, e, dkey, akey)) {
    const last = out[out.length - 1];
    // Adjacent pieces written at the same epoch read as one range.
    if (last !== undefined && last.epoch === piece.src.epoch && last.idx + last.nr === piece.start) {
      last.nr += piece.end - piece.start;
    } else {
      out.push({ idx: piece.start, nr: piece.end - piece.start, epoch: piece.src.epoch });
    }
  }
  return out;
}

export function queryRecx(
  vis: Visibility,
  cid: number | undefined,
  oid: Oid,
  e: bigint,
  dkey: Uint8Array,
  akey: Uint8Array,
  which: 'max' | 'min',
): Recx | undefined {
  const merged = mergeRanges(dataPieces(vis, cid, oid, e, dkey, akey));
  return which === 'max' ? merged[merged.length - 1] : merged[0];
}

/** Distinct object ids with any record (data or punch) in a container, in id order. */
export function listObjects(vis: Visibility, cid: number | undefined): Oid[] {
  if (cid === undefined) return [];
  const seen = new Map<string, Oid>();
  for (const db of [vis.store.main, vis.store.punch]) {
    const cEnd = prefixEnd(contPrefix(cid));
    let pos = contPrefix(cid);
    for (;;) {
      const k = vis.store.firstKey(db, pos, cEnd);
      if (k === undefined) break;
      const oid = keyOid(k);
      seen.set(k.subarray(0, OBJ_PREFIX_BYTES).toString('hex'), oid);
      const obj = objPrefix(cid, oid);
      if (obj.every((b) => b === 0xff)) break;
      pos = prefixEnd(obj);
    }
  }
  return [...seen.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, oid]) => oid);
}
