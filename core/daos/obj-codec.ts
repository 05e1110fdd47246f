/**
 * The codec of the object and engine-management RPCs: headers and bulk, the one both sides use —
 * core/daos/remote-engine.ts to call an engine, engine/obj/rpc-service.ts to serve one.
 *
 * Bulk data never travels in the header: the data of single values and extents (update, and the
 * updates of a transaction) and the fetched data (fetch reply) are concatenated, in iod order, in
 * the frame's bulk, and the header carries their lengths. Every decoder checks the shape of what
 * it reads (types of every field) and fails with DER_INVAL naming the field.
 */
import { DaosError } from '../common/errors.js';
import { IO_BYTES_MAX, LABEL_BYTES_MAX } from '../common/limits.js';
import type { Oid } from '../common/oid.js';
import { csumsFromBytes, csumsToBytes } from '../csum/index.js';
import type { ShardRole } from '../ec/stripe.js';
import type { PoolMap, TargetRef, TargetState } from '../placement/pool-map.js';
import type { FetchCond, FetchIod, FetchResult, Recx, UpdateCond, UpdateIod } from '../wire/obj-types.js';
import { OPCODES_KNOWN } from '../wire/opcodes.js';
import type {
  EngineRebuildStatus,
  ObjApi,
  ObjTarget,
  RebuildReadReply,
  RebuildReadReq,
  TxOp,
} from './link.js';

// ---- engine-management opcodes (what the management service tells an engine) ----
// Above the object (0x01xx) and transaction (0x02xx) ranges of core/wire/opcodes.ts.

/** Register a pool and its per-target quota on an engine. */
export const OPC_ENGINE_POOL_CREATE = 0x0301;
/** Forget a pool (and its containers) on an engine. */
export const OPC_ENGINE_POOL_DESTROY = 0x0302;
/** Register a container of a pool on an engine. */
export const OPC_ENGINE_CONT_CREATE = 0x0303;
/** Destroy a container's data on every target of an engine. */
export const OPC_ENGINE_CONT_DESTROY = 0x0304;

/** A newer pool map for a pool. */
export const OPC_ENGINE_POOL_MAP = 0x0305;
/** Bytes a pool's data takes on the engine. */
export const OPC_ENGINE_POOL_USED = 0x0306;
/** Aggregate a container on every target of the engine. */
export const OPC_ENGINE_AGGREGATE = 0x0307;
/** The addresses of the other engines (rank -> address). */
export const OPC_ENGINE_PEERS = 0x0308;
/** Resolve transactions left prepared (at start, once the peers are known). */
export const OPC_ENGINE_RESOLVE_DTX = 0x0309;
/** The engine's counters (checksum errors found by its targets). */
export const OPC_ENGINE_COUNTERS = 0x030a;

// ---- engine-to-engine opcodes (a coordinating engine and the targets of its transaction) ----

/** Apply writes on one target at once (op i at epochs[i]). */
export const OPC_TGT_APPLY = 0x0401;
/** First phase of a distributed transaction on one target. */
export const OPC_TGT_PREPARE = 0x0402;
/** Commit a prepared transaction on one target (recording its outcome there). */
export const OPC_TGT_COMMIT = 0x0403;
/** Abort a prepared transaction on one target. */
export const OPC_TGT_ABORT = 0x0404;
/** Forget a transaction's outcome record on one target. */
export const OPC_TGT_FORGET = 0x0405;
/** Check a transaction's read set on the engine's targets. */
export const OPC_TGT_CHECK_READS = 0x0406;
/** Whether a target (or any target) of the engine recorded a transaction committed. */
export const OPC_DTX_COMMITTED = 0x0407;
/** A rebuild's read of one target: keys, an akey's version, ranges or an extent (no token). */
export const OPC_TGT_REBUILD_READ = 0x0408;

/** Start the engine's part of a pool's rebuild for a map version. */
export const OPC_ENGINE_REBUILD_START = 0x030b;
/** Progress of the engine's part of a pool's rebuild. */
export const OPC_ENGINE_REBUILD_STATUS = 0x030c;
/** Drop what some targets of the engine hold for a pool (before reintegration refills them). */
export const OPC_ENGINE_REBUILD_DISCARD = 0x030d;

/** Every opcode an engine's RPC service answers. */
export const ENGINE_OPCODES: ReadonlySet<number> = new Set([
  ...OPCODES_KNOWN,
  OPC_ENGINE_POOL_CREATE,
  OPC_ENGINE_POOL_DESTROY,
  OPC_ENGINE_CONT_CREATE,
  OPC_ENGINE_CONT_DESTROY,
  OPC_ENGINE_POOL_MAP,
  OPC_ENGINE_POOL_USED,
  OPC_ENGINE_AGGREGATE,
  OPC_ENGINE_PEERS,
  OPC_ENGINE_RESOLVE_DTX,
  OPC_ENGINE_COUNTERS,
  OPC_TGT_APPLY,
  OPC_TGT_PREPARE,
  OPC_TGT_COMMIT,
  OPC_TGT_ABORT,
  OPC_TGT_FORGET,
  OPC_TGT_CHECK_READS,
  OPC_DTX_COMMITTED,
  OPC_TGT_REBUILD_READ,
  OPC_ENGINE_REBUILD_START,
  OPC_ENGINE_REBUILD_STATUS,
  OPC_ENGINE_REBUILD_DISCARD,
]);

// ---- shape checks ----

type Obj = Record<string, unknown>;

function inval(field: string, what: string): DaosError {
  return new DaosError('DER_INVAL', `bad request: ${field} must be ${what}`);
}

export function expectObject(v: unknown, field: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Uint8Array)
    throw inval(field, 'an object');
  return v as Obj;
}

export function expectArray(v: unknown, field: string): unknown[] {
  if (!Array.isArray(v)) throw inval(field, 'an array');
  return v;
}

export function expectString(v: unknown, field: string): string {
  if (typeof v !== 'string') throw inval(field, 'a string');
  return v;
}

export function expectBytes(v: unknown, field: string): Uint8Array {
  if (!(v instanceof Uint8Array)) throw inval(field, 'bytes');
  return v;
}

/**
 * A pool or container id (a UUID or a label): 1..LABEL_BYTES_MAX characters. Engines key
 * container data by it, so an unbounded one would reach the store (and its key-size limits).
 */
export function expectId(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > LABEL_BYTES_MAX)
    throw inval(field, `a string of 1..${LABEL_BYTES_MAX} characters`);
  return v;
}

/** A checksum list: bytes, each CRC a little-endian uint32 (core/csum). */
export function expectCsums(v: unknown, field: string): Uint32Array {
  return csumsFromBytes(expectBytes(v, field), field);
}

/** A non-negative bigint (epochs, indexes, counts, oid halves). */
export function expectBigint(v: unknown, field: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw inval(field, 'a bigint in 0..2^64-1');
  return v;
}

/** A non-negative safe integer number. */
export function expectCount(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw inval(field, 'a non-negative integer');
  return v;
}

function optional<T>(v: unknown, field: string, check: (v: unknown, field: string) => T): T | undefined {
  return v === undefined || v === null ? undefined : check(v, field);
}

function expectBool(v: unknown, field: string): boolean {
  if (typeof v !== 'boolean') throw inval(field, 'a boolean');
  return v;
}

function expectOneOf<T extends string>(v: unknown, field: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v))
    throw inval(field, `one of ${values.join(', ')}`);
  return v as T;
}

function bytesList(v: unknown, field: string): Uint8Array[] {
  return expectArray(v, field).map((k, i) => expectBytes(k, `${field}[${i}]`));
}

const UPDATE_CONDS: readonly UpdateCond[] = ['dkey_insert', 'dkey_update', 'akey_insert', 'akey_update'];
const FETCH_CONDS: readonly FetchCond[] = ['dkey_fetch', 'akey_fetch'];
const WHICH: readonly ('max' | 'min')[] = ['max', 'min'];

// ---- bulk: pieces out, a cursor in ----

/** Bulk pieces being gathered for one frame. */
export class BulkOut {
  readonly pieces: Uint8Array[] = [];
  private bytes = 0;

  /** Append `data`; returns its length for the header. */
  add(data: Uint8Array): number {
    if (data.byteLength > 0) this.pieces.push(data);
    this.bytes += data.byteLength;
    return data.byteLength;
  }

  /** The bulk: undefined when empty, the one piece when alone, else one concatenation. */
  join(): Uint8Array | undefined {
    if (this.bytes === 0) return undefined;
    if (this.pieces.length === 1) return this.pieces[0];
    return Buffer.concat(this.pieces, this.bytes);
  }
}

/** Reads the bulk of one frame in order; every length is checked against what is left. */
export class BulkIn {
  private off = 0;
  private readonly bulk: Uint8Array;

  constructor(bulk: Uint8Array | undefined) {
    this.bulk = bulk ?? new Uint8Array(0);
  }

  take(len: number, field: string): Uint8Array {
    if (len > this.bulk.byteLength - this.off)
      throw inval(field, `at most the ${this.bulk.byteLength - this.off} bulk bytes left (got ${len})`);
    const out = this.bulk.subarray(this.off, this.off + len);
    this.off += len;
    return out;
  }

  /** Every bulk byte must have been claimed by the header. */
  done(): void {
    if (this.off !== this.bulk.byteLength)
      throw new DaosError(
        'DER_INVAL',
        `bad request: bulk has ${this.bulk.byteLength - this.off} bytes the header does not account for`,
      );
  }
}

// ---- codec: targets, iods, ops, results ----

export function encodeTarget(to: ObjTarget): Obj {
  return {
    pool: to.pool,
    cont: to.cont,
    oid: { hi: to.oid.hi, lo: to.oid.lo },
    target: { rank: to.target.rank, target: to.target.target },
    mv: to.mapVersion,
    ...(to.token === undefined ? {} : { tok: to.token }),
  };
}

/** Longest capability token a request may carry (control/security/signed-envelope.ts ENVELOPE_BYTES_MAX). */
export const TOKEN_WIRE_BYTES_MAX = 16 * 1024;

export function decodeTarget(v: unknown, field = 'to'): ObjTarget {
  const o = expectObject(v, field);
  const oid = expectObject(o.oid, `${field}.oid`);
  const target = expectObject(o.target, `${field}.target`);
  const decodedOid: Oid = {
    hi: expectBigint(oid.hi, `${field}.oid.hi`),
    lo: expectBigint(oid.lo, `${field}.oid.lo`),
  };
  const ref: TargetRef = {
    rank: expectCount(target.rank, `${field}.target.rank`),
    target: expectCount(target.target, `${field}.target.target`),
  };
  const to: ObjTarget = {
    pool: expectId(o.pool, `${field}.pool`),
    cont: expectId(o.cont, `${field}.cont`),
    oid: decodedOid,
    target: ref,
  };
  if (o.mv !== undefined && o.mv !== null) to.mapVersion = expectCount(o.mv, `${field}.mv`);
  if (o.tok !== undefined && o.tok !== null) {
    const tok = expectString(o.tok, `${field}.tok`);
    if (tok.length > TOKEN_WIRE_BYTES_MAX)
      throw new DaosError('DER_INVAL', `bad request: ${field}.tok is longer than ${TOKEN_WIRE_BYTES_MAX}`);
    to.token = tok;
  }
  return to;
}

function encodeRecx(r: Recx): Obj {
  return { idx: r.idx, nr: r.nr };
}

function decodeRecx(v: unknown, field: string): Recx {
  const o = expectObject(v, field);
  return { idx: expectBigint(o.idx, `${field}.idx`), nr: expectBigint(o.nr, `${field}.nr`) };
}

/** Update iods: values and extent data go to `bulk`, their lengths to the header. */
export function encodeUpdateIods(iods: UpdateIod[], bulk: BulkOut): Obj[] {
  return iods.map((iod) => {
    if (iod.kind === 'single') {
      const single: Obj = { akey: iod.akey, kind: 'single', len: bulk.add(iod.value) };
      if (iod.csums !== undefined) single.cs = csumsToBytes(iod.csums);
      return single;
    }
    return {
      akey: iod.akey,
      kind: 'array',
      recordSize: iod.recordSize,
      extents: iod.extents.map((e) => {
        if (e.data === undefined) return encodeRecx(e);
        const x: Obj = { ...encodeRecx(e), len: bulk.add(e.data) };
        if (e.csums !== undefined) x.cs = csumsToBytes(e.csums);
        return x;
      }),
    };
  });
}

export function decodeUpdateIods(v: unknown, bulk: BulkIn, field = 'iods'): UpdateIod[] {
  return expectArray(v, field).map((raw, i) => {
    const f = `${field}[${i}]`;
    const o = expectObject(raw, f);
    const akey = expectBytes(o.akey, `${f}.akey`);
    const kind = expectOneOf(o.kind, `${f}.kind`, ['single', 'array'] as const);
    if (kind === 'single') {
      const value = bulk.take(expectCount(o.len, `${f}.len`), `${f}.len`);
      const csums = optional(o.cs, `${f}.cs`, expectCsums);
      return csums === undefined ? { akey, kind, value } : { akey, kind, value, csums };
    }
    const recordSize = expectCount(o.recordSize, `${f}.recordSize`);
    const extents = expectArray(o.extents, `${f}.extents`).map((rawE, j) => {
      const fe = `${f}.extents[${j}]`;
      const e = expectObject(rawE, fe);
      const recx = decodeRecx(e, fe);
      const len = optional(e.len, `${fe}.len`, expectCount);
      if (len === undefined) return recx;
      const data = bulk.take(len, `${fe}.len`);
      const csums = optional(e.cs, `${fe}.cs`, expectCsums);
      return csums === undefined ? { ...recx, data } : { ...recx, data, csums };
    });
    return { akey, kind, recordSize, extents };
  });
}

/** Fetch iods (an `out` buffer stays with the caller). */
export function encodeFetchIods(iods: FetchIod[]): Obj[] {
  return iods.map((iod) =>
    iod.kind === 'single'
      ? { akey: iod.akey, kind: 'single' }
      : { akey: iod.akey, kind: 'array', recordSize: iod.recordSize, extents: iod.extents.map(encodeRecx) },
  );
}

export function decodeFetchIods(v: unknown, field = 'iods'): FetchIod[] {
  return expectArray(v, field).map((raw, i) => {
    const f = `${field}[${i}]`;
    const o = expectObject(raw, f);
    const akey = expectBytes(o.akey, `${f}.akey`);
    const kind = expectOneOf(o.kind, `${f}.kind`, ['single', 'array'] as const);
    if (kind === 'single') return { akey, kind };
    return {
      akey,
      kind,
      recordSize: expectCount(o.recordSize, `${f}.recordSize`),
      extents: expectArray(o.extents, `${f}.extents`).map((e, j) => decodeRecx(e, `${f}.extents[${j}]`)),
    };
  });
}

/** Fetch results: data to `bulk`, kinds, lengths and maps to the header. */
export function encodeFetchResults(results: FetchResult[], bulk: BulkOut): Obj[] {
  return results.map((r) => {
    if (r === undefined) return { kind: 'none' };
    if (r instanceof Uint8Array) return { kind: 'single', len: bulk.add(r) };
    return { kind: 'array', len: bulk.add(r.data), map: r.map.map(encodeRecx) };
  });
}

/** Fetch results as views of the reply bulk, or copied into the iods' `out` buffers. */
export function decodeFetchResults(
  v: unknown,
  bulk: BulkIn,
  iods?: FetchIod[],
  field = 'results',
): FetchResult[] {
  return expectArray(v, field).map((raw, i) => {
    const f = `${field}[${i}]`;
    const o = expectObject(raw, f);
    const kind = expectOneOf(o.kind, `${f}.kind`, ['none', 'single', 'array'] as const);
    if (kind === 'none') return undefined;
    const data = bulk.take(expectCount(o.len, `${f}.len`), `${f}.len`);
    if (kind === 'single') return data;
    const map = expectArray(o.map, `${f}.map`).map((m, j) => decodeRecx(m, `${f}.map[${j}]`));
    const iod = iods?.[i];
    if (iod?.kind === 'array' && iod.out !== undefined) {
      if (iod.out.byteLength < data.byteLength)
        throw new DaosError(
          'DER_TRUNC',
          `fetch buffer of ${iod.out.byteLength} bytes is short of the ${data.byteLength} bytes fetched`,
        );
      const view = iod.out.subarray(0, data.byteLength);
      // Already there when the transport read the reply bulk into `out` (replyBulkInto).
      if (data.buffer !== view.buffer || data.byteOffset !== view.byteOffset) view.set(data);
      return { data: view, map };
    }
    return { data, map };
  });
}

export type PunchOp = Exclude<TxOp, { kind: 'update' }>;

/** One transaction op; an update's data goes to `bulk`. */
export function encodeOp(op: TxOp, bulk: BulkOut): Obj {
  const to = encodeTarget(op.to);
  switch (op.kind) {
    case 'update':
      return { kind: op.kind, to, dkey: op.dkey, iods: encodeUpdateIods(op.iods, bulk), cond: op.cond };
    case 'punch_obj':
      return op.shards === undefined ? { kind: op.kind, to } : { kind: op.kind, to, shards: op.shards };
    case 'punch_dkeys':
      return { kind: op.kind, to, dkeys: op.dkeys, mustExist: op.mustExist };
    case 'punch_akeys':
      return { kind: op.kind, to, dkey: op.dkey, akeys: op.akeys, mustExist: op.mustExist };
  }
}

/** `collective`: the op is a punch of its own, which may name more shards (TxOp punch_obj). */
export function decodeOp(v: unknown, bulk: BulkIn, field = 'op', collective = false): TxOp {
  const o = expectObject(v, field);
  const kind = expectOneOf(o.kind, `${field}.kind`, [
    'update',
    'punch_obj',
    'punch_dkeys',
    'punch_akeys',
  ] as const);
  const to = decodeTarget(o.to, `${field}.to`);
  const mustExist = optional(o.mustExist, `${field}.mustExist`, expectBool);
  switch (kind) {
    case 'update':
      return {
        kind,
        to,
        dkey: expectBytes(o.dkey, `${field}.dkey`),
        iods: decodeUpdateIods(o.iods, bulk, `${field}.iods`),
        cond: optional(o.cond, `${field}.cond`, (c, f) => expectOneOf(c, f, UPDATE_CONDS)),
      };
    case 'punch_obj':
      if (o.shards === undefined || o.shards === null) return { kind, to };
      if (!collective) throw inval(`${field}.shards`, 'absent from a punch in a transaction');
      return { kind, to, shards: decodeShards(o.shards, `${field}.shards`) };
    case 'punch_dkeys':
      return { kind, to, dkeys: bytesList(o.dkeys, `${field}.dkeys`), mustExist };
    case 'punch_akeys':
      return {
        kind,
        to,
        dkey: expectBytes(o.dkey, `${field}.dkey`),
        akeys: bytesList(o.akeys, `${field}.akeys`),
        mustExist,
      };
  }
}

/** Most targets one collective object punch or key query may name (a rank has far fewer). */
export const COLLECTIVE_SHARDS_MAX = 1024;

/** A collective call's other targets (`shards`): at most COLLECTIVE_SHARDS_MAX of them. */
export function decodeShards(v: unknown, field: string): TargetRef[] {
  const list = expectArray(v, field);
  if (list.length > COLLECTIVE_SHARDS_MAX) throw inval(field, `at most ${COLLECTIVE_SHARDS_MAX} targets`);
  return list.map((s, i) => decodeRef(s, `${field}[${i}]`));
}

export function decodePunchOp(v: unknown, bulk: BulkIn): PunchOp {
  const op = decodeOp(v, bulk, 'op', true);
  if (op.kind === 'update') throw inval('op.kind', 'a punch kind');
  return op;
}

export type TxCheck = NonNullable<Parameters<ObjApi['txCommit']>[1]>;

export function encodeTxCheck(check: TxCheck | undefined): Obj | undefined {
  if (check === undefined) return undefined;
  return {
    readEpoch: check.readEpoch,
    readSet: check.readSet.map((r) => ({ to: encodeTarget(r.to), dkey: r.dkey, akey: r.akey })),
  };
}

export function decodeTxCheck(v: unknown, field = 'check'): TxCheck | undefined {
  if (v === undefined || v === null) return undefined;
  const o = expectObject(v, field);
  return {
    readEpoch: expectBigint(o.readEpoch, `${field}.readEpoch`),
    readSet: expectArray(o.readSet, `${field}.readSet`).map((raw, i) => {
      const f = `${field}.readSet[${i}]`;
      const r = expectObject(raw, f);
      return {
        to: decodeTarget(r.to, `${f}.to`),
        dkey: expectBytes(r.dkey, `${f}.dkey`),
        akey: optional(r.akey, `${f}.akey`, expectBytes),
      };
    }),
  };
}

export function decodeRecxEpochs(v: unknown, field = 'recx'): Array<Recx & { epoch: bigint }> {
  return expectArray(v, field).map((raw, i) => {
    const o = expectObject(raw, `${field}[${i}]`);
    return { ...decodeRecx(o, `${field}[${i}]`), epoch: expectBigint(o.epoch, `${field}[${i}].epoch`) };
  });
}

export function decodeOptionalRecx(v: unknown, field = 'recx'): Recx | undefined {
  return optional(v, field, decodeRecx);
}

const TARGET_STATES: readonly TargetState[] = ['NEW', 'UP', 'UPIN', 'DOWN', 'DOWNOUT', 'DRAIN'];

export function encodePoolMap(map: PoolMap): Obj {
  return {
    version: map.version,
    targets: map.targets.map((t) => ({ rank: t.rank, target: t.target })),
    states: map.states,
    ecCellBytes: map.ecCellBytes,
  };
}

export function decodePoolMap(v: unknown, field = 'map'): PoolMap {
  const o = expectObject(v, field);
  const targets = expectArray(o.targets, `${field}.targets`).map((raw, i) =>
    decodeRef(raw, `${field}.targets[${i}]`),
  );
  const states = expectArray(o.states, `${field}.states`).map((s, i) =>
    expectOneOf(s, `${field}.states[${i}]`, TARGET_STATES),
  );
  if (states.length !== targets.length) throw inval(`${field}.states`, 'as long as targets');
  const map: PoolMap = { version: expectCount(o.version, `${field}.version`), targets, states };
  const ecCellBytes = optional(o.ecCellBytes, `${field}.ecCellBytes`, expectCount);
  if (ecCellBytes !== undefined) {
    if (ecCellBytes < 1) throw inval(`${field}.ecCellBytes`, 'at least 1');
    map.ecCellBytes = ecCellBytes;
  }
  return map;
}

export function decodeRef(v: unknown, field: string): TargetRef {
  const o = expectObject(v, field);
  return { rank: expectCount(o.rank, `${field}.rank`), target: expectCount(o.target, `${field}.target`) };
}

/** The ops of one target call with their per-op epochs (engine to engine). */
export function decodeTargetOps(
  h: Obj,
  bulk: BulkIn,
): { epoch: bigint; ops: TxOp[]; epochs: bigint[]; check: TxCheck | undefined } {
  const ops = expectArray(h.ops, 'ops').map((op, i) => decodeOp(op, bulk, `ops[${i}]`));
  const epochs = expectArray(h.epochs, 'epochs').map((e, i) => expectBigint(e, `epochs[${i}]`));
  return { epoch: expectBigint(h.epoch, 'epoch'), ops, epochs, check: decodeTxCheck(h.check) };
}

export {
  bytesList,
  bytesList as decodeBytesList,
  expectBool,
  expectOneOf,
  FETCH_CONDS,
  optional,
  UPDATE_CONDS,
  WHICH,
};

// ---- rebuild reads (engine to engine) ----

const REBUILD_READS = ['dkeys', 'akeys', 'akey', 'recx', 'extent', 'discard'] as const;

export function encodeRebuildReq(target: number, req: RebuildReadReq): Obj {
  const o: Obj = {
    target,
    pool: req.pool,
    cont: req.cont,
    oid: { hi: req.oid.hi, lo: req.oid.lo },
    epoch: req.epoch,
    what: req.what,
  };
  if (req.what !== 'dkeys') o.dkey = req.dkey;
  if (req.what === 'akey' || req.what === 'recx' || req.what === 'extent') o.akey = req.akey;
  if (req.what === 'extent') {
    o.recordSize = req.recordSize;
    o.recx = encodeRecx(req.recx);
  }
  if ((req.what === 'recx' || req.what === 'discard') && req.role) o.role = { ...req.role };
  return o;
}

function decodeRole(v: unknown): ShardRole | undefined {
  if (v === undefined) return undefined;
  const r = expectObject(v, 'role');
  const role = {
    k: expectCount(r.k, 'role.k'),
    shard: expectCount(r.shard, 'role.shard'),
    cellBytes: expectCount(r.cellBytes, 'role.cellBytes'),
  };
  if (role.k < 1) throw inval('role.k', 'at least 1');
  if (role.cellBytes < 1) throw inval('role.cellBytes', 'at least 1');
  return role;
}

export function decodeRebuildReq(h: Obj): { target: number; req: RebuildReadReq } {
  const oid = expectObject(h.oid, 'oid');
  const base = {
    pool: expectId(h.pool, 'pool'),
    cont: expectId(h.cont, 'cont'),
    oid: { hi: expectBigint(oid.hi, 'oid.hi'), lo: expectBigint(oid.lo, 'oid.lo') },
    epoch: expectBigint(h.epoch, 'epoch'),
  };
  const what = expectOneOf(h.what, 'what', REBUILD_READS);
  const target = expectCount(h.target, 'target');
  if (what === 'dkeys') return { target, req: { ...base, what } };
  const dkey = expectBytes(h.dkey, 'dkey');
  if (what === 'akeys') return { target, req: { ...base, what, dkey } };
  const role = decodeRole(h.role);
  if (what === 'discard') return { target, req: { ...base, what, dkey, ...(role && { role }) } };
  const akey = expectBytes(h.akey, 'akey');
  if (what === 'recx') return { target, req: { ...base, what, dkey, akey, ...(role && { role }) } };
  if (what !== 'extent') return { target, req: { ...base, what, dkey, akey } };
  const recordSize = expectCount(h.recordSize, 'recordSize');
  const recx = decodeRecx(h.recx, 'recx');
  if (BigInt(recordSize) * recx.nr > BigInt(IO_BYTES_MAX))
    throw inval('recx', `at most ${IO_BYTES_MAX} bytes`);
  return { target, req: { ...base, what, dkey, akey, recordSize, recx } };
}

/** A rebuild read's reply: single values and extent data go to `bulk`. */
export function encodeRebuildReply(r: RebuildReadReply, bulk: BulkOut): Obj {
  const o: Obj = {};
  if (r.keys) o.keys = r.keys;
  if (r.akey) {
    o.akey =
      r.akey.kind === 'array'
        ? { kind: 'array', recordSize: r.akey.recordSize }
        : r.akey.value === undefined
          ? { kind: 'single' }
          : { kind: 'single', epoch: r.akey.epoch, len: bulk.add(r.akey.value) };
  }
  if (r.recx) o.recx = r.recx.map((x) => ({ idx: x.idx, nr: x.nr, epoch: x.epoch }));
  if (r.removed !== undefined) o.removed = r.removed;
  if (r.data) {
    o.len = bulk.add(r.data);
    o.map = (r.map ?? []).map(encodeRecx);
  }
  return o;
}

export function decodeRebuildReply(h: Obj, bulk: BulkIn): RebuildReadReply {
  const r: RebuildReadReply = {};
  if (h.keys !== undefined) r.keys = bytesList(h.keys, 'reply.keys');
  if (h.akey !== undefined) {
    const a = expectObject(h.akey, 'reply.akey');
    const kind = expectOneOf(a.kind, 'reply.akey.kind', ['single', 'array'] as const);
    if (kind === 'array') r.akey = { kind, recordSize: expectCount(a.recordSize, 'reply.akey.recordSize') };
    else if (a.len === undefined) r.akey = { kind };
    else
      r.akey = {
        kind,
        epoch: expectBigint(a.epoch, 'reply.akey.epoch'),
        value: bulk.take(expectCount(a.len, 'reply.akey.len'), 'reply.akey'),
      };
  }
  if (h.recx !== undefined) r.recx = decodeRecxEpochs(h.recx, 'reply.recx');
  if (h.removed !== undefined) r.removed = expectCount(h.removed, 'reply.removed');
  if (h.len !== undefined) {
    r.data = bulk.take(expectCount(h.len, 'reply.len'), 'reply.data');
    r.map = expectArray(h.map, 'reply.map').map((m, i) => decodeRecx(m, `reply.map[${i}]`));
  }
  return r;
}

export function decodeRebuildStatus(h: Obj): EngineRebuildStatus {
  const state = expectOneOf(h.state, 'reply.state', ['idle', 'busy', 'done', 'failed'] as const);
  const s: EngineRebuildStatus = {
    version: expectCount(h.version, 'reply.version'),
    state,
    objects: expectCount(h.objects, 'reply.objects'),
    bytes: expectCount(h.bytes, 'reply.bytes'),
  };
  if (h.error !== undefined) s.error = expectString(h.error, 'reply.error');
  return s;
}

/** A rebuild's snapshot epochs per container, on the wire: [cont, epochs] pairs. */
export function encodeRebuildSnapshots(s: Record<string, bigint[]>): Array<[string, bigint[]]> {
  return Object.entries(s);
}

export function decodeRebuildSnapshots(v: unknown): Record<string, bigint[]> | undefined {
  if (v === undefined) return undefined;
  const out: Record<string, bigint[]> = {};
  for (const [i, pair] of expectArray(v, 'snapshots').entries()) {
    const [cont, epochs] = expectArray(pair, `snapshots[${i}]`);
    out[expectId(cont, `snapshots[${i}].cont`)] = expectArray(epochs, `snapshots[${i}].epochs`).map((e, j) =>
      expectBigint(e, `snapshots[${i}].epochs[${j}]`),
    );
  }
  return out;
}
