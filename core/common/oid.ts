import { DaosError } from './errors.js';

/**
 * A 128-bit DAOS object id. The top 32 bits of `hi` are the store's, as in DAOS:
 *   hi[63:56] object type (8 bits) | hi[55:48] redundancy (8 bits) | hi[47:32] group count (16 bits)
 * and the low 96 bits (hi[31:0] and lo) are the user's, unique within a container.
 */
export interface Oid {
  hi: bigint;
  lo: bigint;
}

/** Object types (DAOS's daos_otype_t numbering). They decide key order and the API on top. */
export const OBJ_TYPES = {
  multi_hashed: 0,
  oit: 1,
  dkey_uint64: 2,
  akey_uint64: 3,
  multi_uint64: 4,
  dkey_lexical: 5,
  akey_lexical: 6,
  multi_lexical: 7,
  kv: 8,
  kv_uint64: 9,
  kv_lexical: 10,
  array: 11,
  array_attr: 12,
  byte_array: 13,
} as const;
export type ObjType = keyof typeof OBJ_TYPES;
const TYPE_BY_NUMBER = new Map<number, ObjType>(Object.entries(OBJ_TYPES).map(([k, v]) => [v, k as ObjType]));

const TYPE_SHIFT = 56n;
const REDUN_SHIFT = 48n;
const GROUPS_SHIFT = 32n;
const MASK8 = 0xffn;
const MASK16 = 0xffffn;
const USER_HI_MASK = 0xffff_ffffn;
const U64_MASK = (1n << 64n) - 1n;

/** Largest user part of an object id: 96 bits. */
export const OID_USER_MAX = (1n << 96n) - 1n;

/** Compose an object id from its parts; `user` is the 96-bit user part. */
export function makeOid(type: ObjType, redun: number, groups: number, user: bigint): Oid {
  if (user < 0n || user > OID_USER_MAX)
    throw new DaosError('DER_INVAL', `object id user part ${user} is outside 0..2^96-1`);
  if (!Number.isInteger(redun) || redun < 0 || redun > 0xff)
    throw new DaosError('DER_INVAL', `redundancy ${redun} not 8-bit`);
  if (!Number.isInteger(groups) || groups < 1 || groups > 0xffff)
    throw new DaosError('DER_INVAL', `group count ${groups} not in 1..65535`);
  const hi =
    (BigInt(OBJ_TYPES[type]) << TYPE_SHIFT) |
    (BigInt(redun) << REDUN_SHIFT) |
    (BigInt(groups) << GROUPS_SHIFT) |
    ((user >> 64n) & USER_HI_MASK);
  return { hi, lo: user & U64_MASK };
}

/** The object type encoded in an id. */
export function oidType(oid: Oid): ObjType {
  const n = Number((oid.hi >> TYPE_SHIFT) & MASK8);
  const t = TYPE_BY_NUMBER.get(n);
  if (t === undefined)
    throw new DaosError('DER_INVAL', `object id ${oidToString(oid)} has unknown type ${n}`);
  return t;
}
/** The redundancy (DAOS's daos_obj_redun) encoded in an id. */
export function oidRedun(oid: Oid): number {
  return Number((oid.hi >> REDUN_SHIFT) & MASK8);
}
/** The group count encoded in an id. */
export function oidGroups(oid: Oid): number {
  return Number((oid.hi >> GROUPS_SHIFT) & MASK16);
}
/** The 96-bit user part of an id. */
export function oidUser(oid: Oid): bigint {
  return ((oid.hi & USER_HI_MASK) << 64n) | oid.lo;
}

/** DAOS prints object ids as "hi.lo" in decimal. */
export function oidToString(oid: Oid): string {
  return `${oid.hi}.${oid.lo}`;
}
export function oidParse(s: string): Oid {
  const m = /^(\d+)\.(\d+)$/.exec(s.trim());
  if (!m) throw new DaosError('DER_INVAL', `"${s}" is not an object id (expected hi.lo)`);
  const oid = { hi: BigInt(m[1]!), lo: BigInt(m[2]!) };
  if (oid.hi > U64_MASK || oid.lo > U64_MASK)
    throw new DaosError('DER_INVAL', `"${s}" has a part beyond 64 bits`);
  return oid;
}
export function oidEqual(a: Oid, b: Oid): boolean {
  return a.hi === b.hi && a.lo === b.lo;
}
/** Check that a value is a well-formed object id (as it arrives from users or the wire). */
export function checkOid(oid: unknown): asserts oid is Oid {
  const o = oid as Oid;
  if (
    typeof o !== 'object' ||
    o === null ||
    typeof o.hi !== 'bigint' ||
    typeof o.lo !== 'bigint' ||
    o.hi < 0n ||
    o.lo < 0n ||
    o.hi > U64_MASK ||
    o.lo > U64_MASK
  ) {
    throw new DaosError('DER_INVAL', 'object id must be { hi: bigint, lo: bigint } with 64-bit parts');
  }
}

/** Key types: how keys of an object type order (observable in listings). */
export type KeyKind = 'hashed' | 'lexical' | 'uint64';
export function dkeyKind(type: ObjType): KeyKind {
  switch (type) {
    case 'dkey_uint64':
    case 'multi_uint64':
    case 'kv_uint64':
    case 'array':
    case 'byte_array':
    case 'array_attr':
      return 'uint64';
    case 'dkey_lexical':
    case 'multi_lexical':
    case 'kv_lexical':
      return 'lexical';
    default:
      return 'hashed';
  }
}
export function akeyKind(type: ObjType): KeyKind {
  switch (type) {
    case 'akey_uint64':
    case 'multi_uint64':
      return 'uint64';
    case 'akey_lexical':
    case 'multi_lexical':
      return 'lexical';
    default:
      return 'hashed';
  }
}
