/**
 * Prepared distributed transactions: their durable records and the in-memory key locks they hold.
 *
 * A lock name is hierarchical: "cont/oid", "cont/oid/dkey", "cont/oid/dkey/akey" (keys in hex). A
 * name conflicts with a locked name that is itself, an ancestor or a descendant, so a prepared
 * object punch blocks every key of the object and a prepared akey update blocks its object punch.
 */
import { pack, unpack } from 'msgpackr';
import { assert, check } from '../../core/common/errors.js';
import type { Oid } from '../../core/common/oid.js';
import type { Effects } from './effects.js';
import type { DtxCoordinator, TxCheck, VosOp } from './types.js';

export interface DtxRecord {
  dtxId: string;
  coordinator: DtxCoordinator;
  /** Lock names, to re-lock after a restart. */
  locks: string[];
  effects: Effects;
}

export function encodeDtx(r: DtxRecord): Buffer {
  return pack(r);
}

export function decodeDtx(buf: Buffer): DtxRecord {
  const r = unpack(buf) as DtxRecord;
  assert(
    typeof r.dtxId === 'string' && Array.isArray(r.locks) && r.effects !== undefined,
    'malformed dtx record',
  );
  return r;
}

function lockName(cont: string, oid: Oid, dkey?: Uint8Array, akey?: Uint8Array): string {
  let n = `${cont}/${oid.hi.toString(16)}.${oid.lo.toString(16)}`;
  if (dkey !== undefined) n += `/${Buffer.from(dkey).toString('hex')}`;
  if (akey !== undefined) n += `/${Buffer.from(akey).toString('hex')}`;
  return n;
}

/** The names `ops` write. */
export function opLockNames(ops: VosOp[]): string[] {
  const names: string[] = [];
  for (const op of ops) {
    if (op.op === 'punch_obj') names.push(lockName(op.cont, op.oid));
    else if (op.op === 'punch_dkeys') for (const d of op.dkeys) names.push(lockName(op.cont, op.oid, d));
    else if (op.op === 'punch_akeys')
      for (const a of op.akeys) names.push(lockName(op.cont, op.oid, op.dkey, a));
    else for (const iod of op.iods) names.push(lockName(op.cont, op.oid, op.dkey, iod.akey));
  }
  return [...new Set(names)];
}

/** The names a TX check reads. */
export function readLockNames(c: TxCheck | undefined): string[] {
  return c === undefined ? [] : c.readSet.map((r) => lockName(r.cont, r.oid, r.dkey, r.akey));
}

function ancestors(name: string): string[] {
  const parts = name.split('/');
  const out: string[] = [];
  // parts[0] is the container, parts[1] the object: the object is the shortest lockable name.
  for (let i = 2; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

export class LockTable {
  /** Locked name -> how many prepared dtxs hold it. */
  private readonly held = new Map<string, number>();
  /** Name -> how many locked names lie strictly below it. */
  private readonly below = new Map<string, number>();

  conflicts(names: string[]): string | undefined {
    for (const n of names) {
      if (this.held.has(n) || (this.below.get(n) ?? 0) > 0) return n;
      for (const a of ancestors(n)) if (this.held.has(a)) return n;
    }
    return undefined;
  }

  /** Fail DER_TX_RESTART when any name is locked by a prepared dtx. */
  checkFree(names: string[]): void {
    const n = this.conflicts(names);
    check(n === undefined, 'DER_TX_RESTART', `key ${n} is locked by a prepared transaction`);
  }

  lock(names: string[]): void {
    for (const n of names) {
      this.held.set(n, (this.held.get(n) ?? 0) + 1);
      for (const a of ancestors(n)) this.below.set(a, (this.below.get(a) ?? 0) + 1);
    }
  }

  unlock(names: string[]): void {
    for (const n of names) {
      const c = this.held.get(n);
      assert(c !== undefined && c > 0, () => `unlock of ${n}, which is not locked`);
      if (c === 1) this.held.delete(n);
      else this.held.set(n, c - 1);
      for (const a of ancestors(n)) {
        const b = this.below.get(a)!;
        if (b === 1) this.below.delete(a);
        else this.below.set(a, b - 1);
      }
    }
  }
}
