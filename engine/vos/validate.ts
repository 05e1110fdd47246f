/**
 * Stateless validation of writes and reads: everything that can be checked without the index.
 * The client validates too; this is defence in depth, so errors name the key and sizes at fault.
 */
import { check, DaosError } from '../../core/common/errors.js';
import { EPOCH_MAX } from '../../core/common/hlc.js';
import {
  EXTENTS_PER_IOD_MAX,
  IO_BYTES_MAX,
  IODS_PER_IO_MAX,
  KEY_BYTES_MAX,
  RECORD_BYTES_MAX,
  RECORD_INDEX_LIMIT,
  SINGLE_VALUE_BYTES_MAX,
  TX_OPS_MAX,
} from '../../core/common/limits.js';
import { checkOid, type Oid } from '../../core/common/oid.js';
import { CSUM_CHUNK_BYTES, csumChunkCount, firstBadChunk } from '../../core/csum/index.js';
import type { FetchIod, Recx, TxCheck, UpdateIod, VosOp } from './types.js';

/** How a key shows in an error: printable ASCII as is, anything else as hex. */
export function showKey(key: Uint8Array): string {
  const printable = key.every((b) => b >= 0x20 && b < 0x7f);
  return printable
    ? JSON.stringify(Buffer.from(key).toString('latin1'))
    : `0x${Buffer.from(key).toString('hex')}`;
}

// checkKey and checkEpoch run on every I/O: they build no message (nor closure) unless they fail.
export function checkKey(key: unknown, what: 'dkey' | 'akey'): asserts key is Uint8Array {
  if (!(key instanceof Uint8Array)) throw new DaosError('DER_INVAL', `${what} must be a Uint8Array`);
  if (key.length === 0) throw new DaosError('DER_INVAL', `${what} is empty`);
  if (key.length > KEY_BYTES_MAX)
    throw new DaosError(
      'DER_KEY2BIG',
      `${what} ${showKey(key.subarray(0, 32))}... is ${key.length} bytes, over ${KEY_BYTES_MAX}`,
    );
}

export function checkEpoch(epoch: unknown, what: string): asserts epoch is bigint {
  if (!(typeof epoch === 'bigint' && epoch >= 1n && epoch <= EPOCH_MAX))
    throw new DaosError('DER_INVAL', `${what} epoch ${epoch} not in 1..2^64-1`);
}

export function checkWriteEpoch(epoch: unknown): asserts epoch is bigint {
  checkEpoch(epoch, 'write');
  check(epoch < EPOCH_MAX, 'DER_INVAL', 'cannot write at EPOCH_MAX');
}

export function checkTarget(cont: unknown, oid: unknown): asserts oid is Oid {
  check(typeof cont === 'string' && cont.length > 0, 'DER_INVAL', 'container id must be a non-empty string');
  checkOid(oid);
}

// The checks below run on every array I/O, once per extent: like checkKey, they build no
// message (nor closure) unless they fail.
function checkRecordSize(rs: unknown, akey: Uint8Array): asserts rs is number {
  if (!(typeof rs === 'number' && Number.isInteger(rs) && rs >= 1 && rs <= RECORD_BYTES_MAX))
    throw new DaosError(
      'DER_INVAL',
      `akey ${showKey(akey)}: record size ${rs} not in 1..${RECORD_BYTES_MAX}`,
    );
}

export function checkRecx(r: Recx, akey: Uint8Array): void {
  if (!(typeof r.idx === 'bigint' && typeof r.nr === 'bigint'))
    throw new DaosError('DER_INVAL', `akey ${showKey(akey)}: idx and nr must be bigints`);
  if (!(r.idx >= 0n && r.nr >= 1n))
    throw new DaosError(
      'DER_INVAL',
      `akey ${showKey(akey)}: extent idx ${r.idx} nr ${r.nr} (nr must be >= 1)`,
    );
  if (!(r.idx + r.nr <= RECORD_INDEX_LIMIT))
    throw new DaosError('DER_INVAL', `akey ${showKey(akey)}: extent idx ${r.idx} + nr ${r.nr} passes 2^64`);
}

/**
 * A value's or extent's checksums, when given: one per CSUM_CHUNK_BYTES chunk (DER_INVAL) and each
 * the CRC32C of its chunk (DER_CSUM: the data or its checksums were damaged on the way).
 */
function checkCsums(data: Uint8Array, csums: Uint32Array | undefined, what: () => string): void {
  if (csums === undefined) return;
  check(
    csums instanceof Uint32Array && csums.length === csumChunkCount(data.length),
    'DER_INVAL',
    () =>
      `${what()}: ${csums instanceof Uint32Array ? csums.length : 'no'} checksums for ${data.length} bytes (one per ${CSUM_CHUNK_BYTES} bytes)`,
  );
  const bad = firstBadChunk(data, csums);
  check(
    bad < 0,
    'DER_CSUM',
    () =>
      `${what()}: checksum of chunk ${bad} (bytes ${bad * CSUM_CHUNK_BYTES}..) does not match the data sent`,
  );
}

function checkUpdateIod(iod: UpdateIod, dkey: Uint8Array): void {
  checkKey(iod.akey, 'akey');
  if (iod.kind === 'single') {
    check(
      iod.value instanceof Uint8Array,
      'DER_INVAL',
      () => `akey ${showKey(iod.akey)}: single value must be a Uint8Array`,
    );
    check(
      iod.value.length <= SINGLE_VALUE_BYTES_MAX,
      'DER_REC2BIG',
      () =>
        `akey ${showKey(iod.akey)}: single value of ${iod.value.length} bytes, over ${SINGLE_VALUE_BYTES_MAX}`,
    );
    checkCsums(iod.value, iod.csums, () => `akey ${showKey(iod.akey)} under dkey ${showKey(dkey)}`);
    return;
  }
  if (iod.kind !== 'array') throw badKind(iod);
  checkRecordSize(iod.recordSize, iod.akey);
  if (!(Array.isArray(iod.extents) && iod.extents.length >= 1 && iod.extents.length <= EXTENTS_PER_IOD_MAX))
    throw new DaosError(
      'DER_INVAL',
      `akey ${showKey(iod.akey)}: an array update needs 1..${EXTENTS_PER_IOD_MAX} extents`,
    );
  for (const x of iod.extents) {
    checkRecx(x, iod.akey);
    if (x.data === undefined) continue;
    if (!(x.data instanceof Uint8Array && x.data.length === Number(x.nr) * iod.recordSize)) {
      throw new DaosError(
        'DER_INVAL',
        `akey ${showKey(iod.akey)}: extent idx ${x.idx} nr ${x.nr} x record size ${iod.recordSize} needs ${x.nr * BigInt(iod.recordSize)} bytes, got ${x.data?.length}`,
      );
    }
    if (x.csums !== undefined)
      checkCsums(
        x.data,
        x.csums,
        () => `akey ${showKey(iod.akey)} under dkey ${showKey(dkey)}, extent idx ${x.idx} nr ${x.nr}`,
      );
  }
}

/** An iod whose kind is neither 'single' nor 'array' (the types say it cannot be; callers may not). */
function badKind(iod: unknown): DaosError {
  return new DaosError(
    'DER_INVAL',
    `akey ${showKey((iod as { akey: Uint8Array }).akey)}: kind must be single or array`,
  );
}

function checkKeyList(keys: unknown, what: 'dkey' | 'akey'): asserts keys is Uint8Array[] {
  check(Array.isArray(keys) && keys.length >= 1, 'DER_INVAL', `punch needs at least one ${what}`);
  for (const k of keys) checkKey(k, what);
}

/** Validate every op of one apply/prepare; throws on the first fault. */
export function checkOps(ops: VosOp[]): void {
  check(Array.isArray(ops) && ops.length >= 1, 'DER_INVAL', 'no ops to apply');
  check(ops.length <= TX_OPS_MAX, 'DER_INVAL', `${ops.length} ops in one transaction, over ${TX_OPS_MAX}`);
  for (const op of ops) {
    checkTarget(op.cont, op.oid);
    if (op.epoch !== undefined) checkWriteEpoch(op.epoch);
    switch (op.op) {
      case 'update':
        checkKey(op.dkey, 'dkey');
        check(
          Array.isArray(op.iods) && op.iods.length >= 1 && op.iods.length <= IODS_PER_IO_MAX,
          'DER_INVAL',
          () => `dkey ${showKey(op.dkey)}: an update needs 1..${IODS_PER_IO_MAX} iods`,
        );
        for (const iod of op.iods) checkUpdateIod(iod, op.dkey);
        break;
      case 'punch_obj':
        break;
      case 'punch_dkeys':
        checkKeyList(op.dkeys, 'dkey');
        break;
      case 'punch_akeys':
        checkKey(op.dkey, 'dkey');
        checkKeyList(op.akeys, 'akey');
        break;
      default:
        check(false, 'DER_INVAL', `unknown op ${(op as { op: unknown }).op}`);
    }
  }
}

export function checkTxCheck(c: TxCheck): void {
  checkEpoch(c.readEpoch, 'read');
  check(Array.isArray(c.readSet), 'DER_INVAL', 'readSet must be an array');
  for (const r of c.readSet) {
    checkTarget(r.cont, r.oid);
    checkKey(r.dkey, 'dkey');
    if (r.akey !== undefined) checkKey(r.akey, 'akey');
  }
}

export function checkFetchIods(iods: FetchIod[]): void {
  check(
    Array.isArray(iods) && iods.length >= 1 && iods.length <= IODS_PER_IO_MAX,
    'DER_INVAL',
    `a fetch needs 1..${IODS_PER_IO_MAX} iods`,
  );
  for (const iod of iods) {
    checkKey(iod.akey, 'akey');
    if (iod.kind === 'single') continue;
    if (iod.kind !== 'array') throw badKind(iod);
    checkRecordSize(iod.recordSize, iod.akey);
    if (!Array.isArray(iod.extents))
      throw new DaosError('DER_INVAL', `akey ${showKey(iod.akey)}: extents must be an array`);
    if (iod.extents.length > EXTENTS_PER_IOD_MAX)
      throw new DaosError('DER_INVAL', `akey ${showKey(iod.akey)}: too many extents`);
    let bytes = 0n;
    for (const x of iod.extents) {
      checkRecx(x, iod.akey);
      bytes += x.nr * BigInt(iod.recordSize);
    }
    // The reply buffer is allocated whole: bound it before allocating.
    if (bytes > BigInt(IO_BYTES_MAX))
      throw new DaosError(
        'DER_INVAL',
        `akey ${showKey(iod.akey)}: fetch of ${bytes} bytes, over ${IO_BYTES_MAX}`,
      );
    if (iod.out !== undefined && !(iod.out instanceof Uint8Array && BigInt(iod.out.byteLength) >= bytes)) {
      throw new DaosError(
        'DER_INVAL',
        `akey ${showKey(iod.akey)}: output buffer of ${iod.out?.byteLength} bytes is smaller than the ${bytes} fetched`,
      );
    }
  }
}
