/**
 * The coordinating engine's side of erasure-coded writes: how one write (update or punch) of an
 * EC object becomes per-shard writes of one transaction.
 *
 * - Single values and punches go to every serving member of the group (as replication does).
 * - An array iod's extents are cut per data shard (cells at their original indexes); every stripe
 *   it touches gets its p parity cells re-encoded from the stripe's new data: a stripe the write
 *   covers whole from the write alone, any other from its current cells read back (newest epoch,
 *   from the data shards, rebuilt from parity when a data shard is out) with the write merged in,
 *   holes as zeros. A stripe left with no data at all gets its parity punched instead, so a parity
 *   shard holds an akey (and its dkey) exactly when some data shard does: listings, key queries,
 *   conditions and read checks can be served by a parity shard alone.
 * - Conditions (update conds, punch mustExist) are checked on the parity shards when one serves
 *   (a data shard only holds the keys whose data it holds); with every parity shard out, on the
 *   data shards (see the README for what that means).
 *
 * A StripeCache lives for one transaction commit: later ops of the same transaction see the
 * stripes as earlier ops left them (and punches of the same transaction as zeros).
 */

import { bigMax, bigMin } from '../../core/common/bigint.js';
import { DaosError } from '../../core/common/errors.js';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import type { Oid } from '../../core/common/oid.js';
import { chunkCsums, csumChunkCount, firstBadChunk } from '../../core/csum/index.js';
import type { TxOp } from '../../core/daos/link.js';
import {
  cellRecordsFor,
  parityIndex,
  splitExtent,
  stripeExtent,
  stripesTouched,
} from '../../core/ec/stripe.js';
import {
  addRange,
  type CellRead,
  codecFor,
  type Ranges,
  readStripeCells,
  subtractRange,
} from '../../core/ec/stripe-io.js';
import type { TargetRef } from '../../core/placement/pool-map.js';
import type { ArrayFetchResult, Recx, UpdateIod } from '../../core/wire/obj-types.js';

type ArrayIod = Extract<UpdateIod, { kind: 'array' }>;
type Extent = Recx & { data?: Uint8Array; csums?: Uint32Array };

/** What the expansion needs to know about the op's redundancy group. */
export interface EcGroup {
  k: number;
  p: number;
  /** The k + p members, data shards first. */
  members: TargetRef[];
  /** Whether each member serves I/O (pool map). */
  up: boolean[];
  /**
   * Per member, the shard's new home while a move (rebuild, drain, reintegration, extension) is
   * under way: it gets the member's writes too (without conditions), and is never read.
   */
  also?: ReadonlyArray<TargetRef | undefined>;
  cellBytes: number;
  /** Read records of an array akey from a member at the newest epoch (local store or peer). */
  fetch(
    ref: TargetRef,
    dkey: Uint8Array,
    akey: Uint8Array,
    recordSize: number,
    recx: Recx,
  ): Promise<CellRead>;
}

interface StripeState {
  cells: Uint8Array[];
  /** Records holding data after the ops so far (absolute indexes). */
  present: Ranges;
}

/** Per-commit memory of EC stripes and punches, keyed by object / dkey / akey. */
export class StripeCache {
  private readonly stripes = new Map<string, StripeState>();
  private readonly punched = new Set<string>();

  get(key: string): StripeState | undefined {
    return this.stripes.get(key);
  }

  set(key: string, s: StripeState): void {
    this.stripes.set(key, s);
  }

  /** Whether `name` (obj/dkey/akey) or something above it was punched earlier in this commit. */
  punchedAbove(name: string): boolean {
    for (let i = name.length; i > 0; i = name.lastIndexOf('/', i - 1)) {
      if (this.punched.has(name.slice(0, i))) return true;
    }
    return false;
  }

  punch(name: string): void {
    this.punched.add(name);
    for (const k of [...this.stripes.keys()])
      if (k === name || k.startsWith(`${name}/`)) this.stripes.delete(k);
  }
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/** Lock / cache names: object, object/dkey, object/dkey/akey. */
export function ecName(pool: string, cont: string, oid: Oid, dkey?: Uint8Array, akey?: Uint8Array): string {
  let n = `${pool}/${cont}/${oid.hi.toString(16)}.${oid.lo.toString(16)}`;
  if (dkey) n += `/${hex(dkey)}`;
  if (akey) n += `/${hex(akey)}`;
  return n;
}

/** The names an EC op writes (what the coordinator locks around its read-modify-write). */
export function ecLockNames(op: TxOp): string[] {
  const { pool, cont, oid } = op.to;
  switch (op.kind) {
    case 'update':
      return op.iods.filter((i) => i.kind === 'array').map((i) => ecName(pool, cont, oid, op.dkey, i.akey));
    case 'punch_obj':
      return [ecName(pool, cont, oid)];
    case 'punch_dkeys':
      return op.dkeys.map((d) => ecName(pool, cont, oid, d));
    case 'punch_akeys':
      return op.akeys.map((a) => ecName(pool, cont, oid, op.dkey, a));
  }
}

/** One EC op as per-member ops (only members that serve and have something to write). */
export async function ecExpand(
  op: TxOp,
  group: EcGroup,
  cache: StripeCache,
): Promise<Array<{ ref: TargetRef; op: TxOp }>> {
  const { k, p, members, up } = group;
  const parityServing = up.slice(k).some(Boolean);
  /** Conditions go to the parity shards (which hold every key) when one serves. */
  const checksHere = (i: number) => i >= k || !parityServing;
  const { pool, cont, oid } = op.to;
  const at = (i: number) => ({ ...op.to, target: members[i]! });

  if (op.kind !== 'update') {
    for (const name of ecLockNames(op)) cache.punch(name);
    const out: Array<{ ref: TargetRef; op: TxOp }> = [];
    const extras: Array<{ ref: TargetRef; op: TxOp }> = [];
    members.forEach((ref, i) => {
      const extra = group.also?.[i];
      if (extra) {
        const to = { ...op.to, target: extra, mapVersion: undefined };
        extras.push({
          ref: extra,
          op: op.kind === 'punch_obj' ? { ...op, to } : { ...op, to, mustExist: undefined },
        });
      }
      if (!up[i]) return;
      const perMember: TxOp =
        op.kind === 'punch_obj'
          ? { ...op, to: at(i) }
          : { ...op, to: at(i), mustExist: checksHere(i) ? op.mustExist : undefined };
      out.push({ ref, op: perMember });
    });
    return [...out, ...extras];
  }

  const perMember: UpdateIod[][] = members.map(() => op.iods.filter((iod) => iod.kind === 'single'));
  for (const iod of op.iods) {
    if (iod.kind !== 'array') continue;
    const rs = iod.recordSize;
    const cr = cellRecordsFor(rs, group.cellBytes);
    // A checksummed write (the client sent csums): verified here, where the extents are cut, and
    // every piece and parity cell carries checksums of its own bytes.
    const csummed = iod.extents.some((e) => e.csums !== undefined);
    for (const e of iod.extents) {
      if (!e.data || !e.csums) continue;
      const bad = firstBadChunk(e.data, e.csums);
      if (bad >= 0 || e.csums.length !== csumChunkCount(e.data.byteLength)) {
        throw new DaosError(
          'DER_CSUM',
          `extent {idx ${e.idx}, nr ${e.nr}} of akey ${Buffer.from(iod.akey).toString('hex')}: checksums do not match the data`,
        );
      }
    }
    const withCsums = (x: Extent): Extent => (csummed && x.data ? { ...x, csums: chunkCsums(x.data) } : x);
    // Data: each extent cut at cell boundaries, each piece to its data shard.
    const pieces: Extent[][] = Array.from({ length: k }, () => []);
    for (const e of iod.extents) {
      for (const piece of splitExtent(e.idx, e.nr, k, cr)) {
        const from = Number(piece.offsetInExtent) * rs;
        pieces[piece.shard]!.push(
          withCsums(
            e.data
              ? { idx: piece.idx, nr: piece.nr, data: e.data.subarray(from, from + Number(piece.nr) * rs) }
              : { idx: piece.idx, nr: piece.nr },
          ),
        );
      }
    }
    pieces.forEach((extents, i) => {
      if (extents.length > 0) perMember[i]!.push({ akey: iod.akey, kind: 'array', recordSize: rs, extents });
    });
    // Parity: every touched stripe re-encoded from its new data.
    const parity: Extent[][] = Array.from({ length: p }, () => []);
    const name = ecName(pool, cont, oid, op.dkey, iod.akey);
    for (const cover of stripesTouched(iod.extents, k, cr)) {
      const key = `${name}/${cover.stripe}`;
      let st = cache.get(key);
      if (!st) {
        st =
          cover.full || cache.punchedAbove(name)
            ? { cells: Array.from({ length: k }, () => new Uint8Array(cr * rs)), present: [] }
            : await readBack(group, op.dkey, iod, cr, cover.stripe, cover.cells);
        cache.set(key, st);
      }
      applyExtents(st, iod, cover.stripe, k, cr);
      const where = (j: number) => parityIndex(cover.stripe, cr, j);
      if (st.present.length === 0) {
        for (let j = 0; j < p; j++) parity[j]!.push(where(j));
      } else {
        const cells = await codecFor(k, p).encode(st.cells);
        for (let j = 0; j < p; j++) parity[j]!.push(withCsums({ ...where(j), data: cells[j]! }));
      }
    }
    parity.forEach((extents, j) => {
      if (extents.length > 0)
        perMember[k + j]!.push({ akey: iod.akey, kind: 'array', recordSize: rs, extents });
    });
  }
  const out: Array<{ ref: TargetRef; op: TxOp }> = [];
  const extras: Array<{ ref: TargetRef; op: TxOp }> = [];
  members.forEach((ref, i) => {
    const extra = group.also?.[i];
    if (extra && perMember[i]!.length > 0)
      extras.push({
        ref: extra,
        op: {
          ...op,
          to: { ...op.to, target: extra, mapVersion: undefined },
          iods: perMember[i]!,
          cond: undefined,
        },
      });
    if (!up[i] || perMember[i]!.length === 0) return;
    out.push({
      ref,
      op: { ...op, to: at(i), iods: perMember[i]!, cond: checksHere(i) ? op.cond : undefined },
    });
  });
  if (out.length === 0) {
    throw new DaosError(
      'DER_DATA_LOSS',
      `EC write of object ${oid.hi.toString(16)}.${oid.lo.toString(16)}: no serving shard takes any of it`,
    );
  }
  return [...out, ...extras];
}

/** The stripe's current cells (those the write does not cover whole) and its data ranges. */
async function readBack(
  group: EcGroup,
  dkey: Uint8Array,
  iod: ArrayIod,
  cr: number,
  stripe: bigint,
  covers: Array<'full' | 'partial' | 'none'>,
): Promise<StripeState> {
  const { k, p, members, up } = group;
  const rs = iod.recordSize;
  const want = covers.flatMap((c, i) => (c === 'full' ? [] : [i]));
  const unavailable = new Set<number>();
  up.forEach((u, i) => {
    if (!u) unavailable.add(i);
  });
  const r = await readStripeCells({
    k,
    p,
    cellRecords: cr,
    stripe,
    want,
    unavailable,
    fetch: (shard, recx) => group.fetch(members[shard]!, dkey, iod.akey, rs, recx),
  });
  let present: Ranges = [];
  const cells = Array.from({ length: k }, (_, i) => {
    const c = r.cells[i];
    for (const m of r.maps[i] ?? []) present = addRange(present, m.idx, m.idx + m.nr);
    return c ? Uint8Array.from(c) : new Uint8Array(cr * rs);
  });
  return { cells, present };
}

/** Write an iod's extents (data, or zeros for punched records) over a stripe's cells. */
function applyExtents(st: StripeState, iod: ArrayIod, stripe: bigint, k: number, cr: number): void {
  const rs = iod.recordSize;
  const { idx: lo, nr } = stripeExtent(stripe, k, cr);
  const hi = lo + nr;
  const crb = BigInt(cr);
  for (const e of iod.extents) {
    const from = bigMax(e.idx, lo);
    const to = bigMin(e.idx + e.nr, hi);
    if (to <= from) continue;
    for (const piece of splitExtent(from, to - from, k, cr)) {
      const cell = st.cells[piece.shard]!;
      const dst = Number(piece.idx % crb) * rs;
      const len = Number(piece.nr) * rs;
      if (e.data) {
        const src = Number(piece.idx - e.idx) * rs;
        cell.set(e.data.subarray(src, src + len), dst);
      } else cell.fill(0, dst, dst + len);
    }
    st.present = e.data ? addRange(st.present, from, to) : subtractRange(st.present, from, to);
  }
}

/** A fetch result of one array iod as a cell read. */
export function asCellRead(results: unknown[]): CellRead {
  const r = results[0] as ArrayFetchResult | undefined;
  if (!r || !(r.data instanceof Uint8Array))
    throw new DaosError('DER_PROTO', 'EC read-back: no array result');
  return { data: r.data, map: r.map };
}

/** A fetch at the newest epoch of one extent of an array akey. */
export const NEWEST = EPOCH_MAX;
