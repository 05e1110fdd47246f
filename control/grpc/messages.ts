/**
 * The control plane's shapes (control/plane.ts, core/daos/link.ts) as the messages of
 * control/proto, both ways. Wire types are what @grpc/proto-loader hands over with
 * PROTO_LOADER_OPTIONS: snake_case, uint64 as a decimal string, scalars defaulted, `optional`
 * fields and oneof members absent when unset, message fields null when unset.
 *
 * 64-bit values are converted exactly: sizes and times become numbers only when they are safe
 * integers (else DER_OVERFLOW), epochs become bigints. A malformed message is DER_PROTO.
 */
import { check, DaosError } from '../../core/common/errors.js';
import type {
  ContainerType,
  ContInfo,
  ContProps,
  ContPropsUpdate,
  ContStatus,
  PoolInfo,
  PoolQuery,
} from '../../core/daos/link.js';
import type { PoolMap, TargetState } from '../../core/placement/pool-map.js';
import type {
  AttachInfo,
  PoolCreateRequest,
  Progress,
  RankState,
  StorageTierInfo,
  SystemMember,
  SystemQuery,
} from '../plane.js';

/** A uint64 as proto-loader decodes it (longs: String); numbers and bigints are accepted to encode. */
export type U64 = string;

const U64_MAX = (1n << 64n) - 1n;

/** A non-negative safe integer (a size, a time, a count) as a uint64 field. */
export function u64ToWire(value: number, field: string): U64 {
  check(Number.isSafeInteger(value) && value >= 0, 'DER_INVAL', `${field}: ${value} is not a uint64`);
  return String(value);
}

/** A bigint (an epoch) as a uint64 field. */
export function bigU64ToWire(value: bigint, field: string): U64 {
  check(value >= 0n && value <= U64_MAX, 'DER_INVAL', `${field}: ${value} is not a uint64`);
  return value.toString();
}

/** A uint64 field as a bigint (epochs). */
export function u64FromWireBig(value: unknown, field: string): bigint {
  check(typeof value === 'string' && /^[0-9]+$/.test(value), 'DER_PROTO', `${field}: not a uint64`);
  return BigInt(value);
}

/** A uint64 field as a number; DER_OVERFLOW past 2^53 - 1. */
export function u64FromWire(value: unknown, field: string): number {
  const big = u64FromWireBig(value, field);
  check(
    big <= BigInt(Number.MAX_SAFE_INTEGER),
    'DER_OVERFLOW',
    `${field}: ${big} is larger than this side can hold exactly (2^53 - 1)`,
  );
  return Number(big);
}

function present<T>(value: T | null | undefined, field: string): T {
  if (value === null || value === undefined) throw new DaosError('DER_PROTO', `${field}: missing`);
  return value;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], field: string): T {
  check((allowed as readonly string[]).includes(value), 'DER_PROTO', `${field}: unknown value '${value}'`);
  return value as T;
}

// ---- common ----

export interface WireUint32List {
  values: number[];
}
export interface WireStringList {
  values: string[];
}
export interface WireStringMap {
  entries: Record<string, string>;
}
export interface WireProgress {
  done: number;
  total: number;
  what: string;
}

/** An optional list: absent stays absent, empty stays empty. */
export function listToWire<T>(values: readonly T[] | undefined): { values: T[] } | undefined {
  return values === undefined ? undefined : { values: [...values] };
}

/** An optional list of ranks or target indexes: each must be a uint32 (protobuf would wrap -1). */
export function u32ListToWire(
  values: readonly number[] | undefined,
  field: string,
): WireUint32List | undefined {
  if (values === undefined) return undefined;
  for (const v of values) u32ToWire(v, field);
  return { values: [...values] };
}

/** A rank or target index as a uint32 field. */
export function u32ToWire(value: number, field: string): number {
  check(
    Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff,
    'DER_INVAL',
    `${field}: ${value} is not a uint32`,
  );
  return value;
}

export function listFromWire<T>(list: { values: T[] } | null | undefined): T[] | undefined {
  return list === null || list === undefined ? undefined : [...list.values];
}

export function progressToWire(p: Progress): WireProgress {
  return { done: p.done, total: p.total, what: p.what };
}

export function progressFromWire(p: WireProgress): Progress {
  return { done: p.done, total: p.total, what: p.what };
}

// ---- system ----

const RANK_STATES: readonly RankState[] = [
  'AwaitFormat',
  'Starting',
  'Ready',
  'Joined',
  'Stopping',
  'Stopped',
  'Excluded',
  'Errored',
  'Unresponsive',
  'AdminExcluded',
];

export interface WireSystemMember {
  rank: number;
  state: string;
  address?: string;
  pid?: number;
  restarts: number;
  info?: string;
}
export interface WireSystemQuery {
  name: string;
  members: WireSystemMember[];
}

export function systemQueryToWire(q: SystemQuery): WireSystemQuery {
  return {
    name: q.name,
    members: q.members.map((m) => {
      const w: WireSystemMember = { rank: m.rank, state: m.state, restarts: m.restarts };
      if (m.address !== undefined) w.address = m.address;
      if (m.pid !== undefined) w.pid = m.pid;
      if (m.info !== undefined) w.info = m.info;
      return w;
    }),
  };
}

export function systemQueryFromWire(w: WireSystemQuery): SystemQuery {
  return {
    name: w.name,
    members: w.members.map((m) => {
      const member: SystemMember = {
        rank: m.rank,
        state: oneOf(m.state, RANK_STATES, 'member.state'),
        restarts: m.restarts,
      };
      if (m.address !== undefined) member.address = m.address;
      if (m.pid !== undefined) member.pid = m.pid;
      if (m.info !== undefined) member.info = m.info;
      return member;
    }),
  };
}

// ---- storage ----

export interface WireStorageTier {
  rank: number;
  class: string;
  mount: string;
  total_bytes: U64;
  free_bytes: U64;
  formatted: boolean;
}

export function storageToWire(tiers: StorageTierInfo[]): { tiers: WireStorageTier[] } {
  return {
    tiers: tiers.map((t) => ({
      rank: t.rank,
      class: t.class,
      mount: t.mount,
      total_bytes: u64ToWire(t.totalBytes, 'totalBytes'),
      free_bytes: u64ToWire(t.freeBytes, 'freeBytes'),
      formatted: t.formatted,
    })),
  };
}

export function storageFromWire(w: { tiers: WireStorageTier[] }): StorageTierInfo[] {
  return w.tiers.map((t) => ({
    rank: t.rank,
    class: oneOf(t.class, ['ram', 'file'] as const, 'tier.class'),
    mount: t.mount,
    totalBytes: u64FromWire(t.total_bytes, 'total_bytes'),
    freeBytes: u64FromWire(t.free_bytes, 'free_bytes'),
    formatted: t.formatted,
  }));
}

// ---- pools ----

const TARGET_STATES: readonly TargetState[] = ['NEW', 'UP', 'UPIN', 'DOWN', 'DOWNOUT', 'DRAIN'];

export interface WirePoolMap {
  version: number;
  targets: Array<{ rank: number; target: number }>;
  states: string[];
  ec_cell_bytes?: U64;
}
export interface WirePoolInfo {
  uuid: string;
  label: string;
  total_bytes: U64;
  map: WirePoolMap | null;
  created_ms: U64;
  owner?: string;
  group?: string;
  token?: string;
}
export interface WirePoolQuery {
  uuid: string;
  label: string;
  total_bytes: U64;
  free_bytes: U64;
  targets: number;
  disabled_targets: number;
  map_version: number;
  rebuild: { state: string; objects: U64; bytes: U64 } | null;
}
export interface WirePoolCreateReq {
  label: string;
  size_bytes?: U64;
  size_text?: string;
  uuid?: string;
  ranks?: WireUint32List | null;
  properties?: WireStringMap | null;
  acl?: WireStringList | null;
  owner?: string;
  group?: string;
}

export function poolMapToWire(map: PoolMap): WirePoolMap {
  const w: WirePoolMap = {
    version: map.version,
    targets: map.targets.map((t) => ({ rank: t.rank, target: t.target })),
    states: [...map.states],
  };
  if (map.ecCellBytes !== undefined) w.ec_cell_bytes = u64ToWire(map.ecCellBytes, 'map.ecCellBytes');
  return w;
}

export function poolMapFromWire(w: WirePoolMap): PoolMap {
  check(w.states.length === w.targets.length, 'DER_PROTO', 'pool map: one state per target');
  const map: PoolMap = {
    version: w.version,
    targets: w.targets.map((t) => ({ rank: t.rank, target: t.target })),
    states: w.states.map((s) => oneOf(s, TARGET_STATES, 'map.states')),
  };
  if (w.ec_cell_bytes !== undefined) map.ecCellBytes = u64FromWire(w.ec_cell_bytes, 'map.ec_cell_bytes');
  return map;
}

export function poolInfoToWire(p: PoolInfo): WirePoolInfo {
  const w: WirePoolInfo = {
    uuid: p.uuid,
    label: p.label,
    total_bytes: u64ToWire(p.totalBytes, 'totalBytes'),
    map: poolMapToWire(p.map),
    created_ms: u64ToWire(p.createdMs, 'createdMs'),
  };
  if (p.owner !== undefined) w.owner = p.owner;
  if (p.group !== undefined) w.group = p.group;
  if (p.token !== undefined) w.token = p.token;
  return w;
}

export function poolInfoFromWire(w: WirePoolInfo): PoolInfo {
  const p: PoolInfo = {
    uuid: w.uuid,
    label: w.label,
    totalBytes: u64FromWire(w.total_bytes, 'total_bytes'),
    map: poolMapFromWire(present(w.map, 'pool.map')),
    createdMs: u64FromWire(w.created_ms, 'created_ms'),
  };
  if (w.owner !== undefined) p.owner = w.owner;
  if (w.group !== undefined) p.group = w.group;
  if (w.token !== undefined && w.token !== null) p.token = w.token;
  return p;
}

export function poolQueryToWire(q: PoolQuery): WirePoolQuery {
  return {
    uuid: q.uuid,
    label: q.label,
    total_bytes: u64ToWire(q.totalBytes, 'totalBytes'),
    free_bytes: u64ToWire(q.freeBytes, 'freeBytes'),
    targets: q.targets,
    disabled_targets: q.disabledTargets,
    map_version: q.mapVersion,
    rebuild: {
      state: q.rebuild.state,
      objects: u64ToWire(q.rebuild.objects, 'rebuild.objects'),
      bytes: u64ToWire(q.rebuild.bytes, 'rebuild.bytes'),
    },
  };
}

export function poolQueryFromWire(w: WirePoolQuery): PoolQuery {
  const rebuild = present(w.rebuild, 'pool query rebuild');
  return {
    uuid: w.uuid,
    label: w.label,
    totalBytes: u64FromWire(w.total_bytes, 'total_bytes'),
    freeBytes: u64FromWire(w.free_bytes, 'free_bytes'),
    targets: w.targets,
    disabledTargets: w.disabled_targets,
    mapVersion: w.map_version,
    rebuild: {
      state: oneOf(rebuild.state, ['idle', 'busy', 'done'] as const, 'rebuild.state'),
      objects: u64FromWire(rebuild.objects, 'rebuild.objects'),
      bytes: u64FromWire(rebuild.bytes, 'rebuild.bytes'),
    },
  };
}

export function poolCreateToWire(r: PoolCreateRequest): WirePoolCreateReq {
  const w: WirePoolCreateReq = { label: r.label };
  if (typeof r.size === 'number') w.size_bytes = u64ToWire(r.size, 'size');
  else w.size_text = r.size;
  if (r.uuid !== undefined) w.uuid = r.uuid;
  if (r.ranks !== undefined) w.ranks = listToWire(r.ranks);
  if (r.properties !== undefined) w.properties = { entries: { ...r.properties } };
  if (r.acl !== undefined) w.acl = listToWire(r.acl);
  if (r.owner !== undefined) w.owner = r.owner;
  if (r.group !== undefined) w.group = r.group;
  return w;
}

export function poolCreateFromWire(w: WirePoolCreateReq): PoolCreateRequest {
  let size: number | string;
  if (w.size_bytes !== undefined) size = u64FromWire(w.size_bytes, 'size_bytes');
  else if (w.size_text !== undefined) size = w.size_text;
  else throw new DaosError('DER_INVAL', 'pool create: no size');
  const r: PoolCreateRequest = { label: w.label, size };
  if (w.uuid !== undefined) r.uuid = w.uuid;
  const ranks = listFromWire(w.ranks);
  if (ranks !== undefined) r.ranks = ranks;
  if (w.properties !== null && w.properties !== undefined) r.properties = { ...w.properties.entries };
  const acl = listFromWire(w.acl);
  if (acl !== undefined) r.acl = acl;
  if (w.owner !== undefined) r.owner = w.owner;
  if (w.group !== undefined) r.group = w.group;
  return r;
}

// ---- containers ----

const CONTAINER_TYPES: readonly ContainerType[] = ['POSIX', 'HDF5', 'ARROW', 'PYTHON', 'UNKNOWN'];
const CONT_STATUSES: readonly ContStatus[] = ['HEALTHY', 'UNCLEAN'];

export interface WireContInfo {
  uuid: string;
  label: string;
  pool: string;
  type: string;
  props: { redun_factor: number; oclass?: string; checksum: string; chunk_size: U64 } | null;
  created_ms: U64;
  snapshots: Array<{ epoch: U64; name: string }>;
  owner?: string;
  group?: string;
  token?: string;
  status?: string;
}

export function contInfoToWire(c: ContInfo): WireContInfo {
  const props: NonNullable<WireContInfo['props']> = {
    redun_factor: c.props.redunFactor,
    checksum: c.props.checksum,
    chunk_size: u64ToWire(c.props.chunkSize, 'chunkSize'),
  };
  if (c.props.oclass !== undefined) props.oclass = c.props.oclass;
  const w: WireContInfo = {
    uuid: c.uuid,
    label: c.label,
    pool: c.pool,
    type: c.type,
    props,
    created_ms: u64ToWire(c.createdMs, 'createdMs'),
    snapshots: c.snapshots.map((s) => ({ epoch: bigU64ToWire(s.epoch, 'snapshot.epoch'), name: s.name })),
  };
  if (c.owner !== undefined) w.owner = c.owner;
  if (c.group !== undefined) w.group = c.group;
  if (c.token !== undefined) w.token = c.token;
  if (c.status !== undefined) w.status = c.status;
  return w;
}

export function contInfoFromWire(w: WireContInfo): ContInfo {
  const p = present(w.props, 'cont.props');
  const c: ContInfo = {
    uuid: w.uuid,
    label: w.label,
    pool: w.pool,
    type: oneOf(w.type, CONTAINER_TYPES, 'cont.type'),
    props: {
      redunFactor: p.redun_factor,
      checksum: oneOf(p.checksum, ['off', 'crc32c'] as const, 'props.checksum'),
      chunkSize: u64FromWire(p.chunk_size, 'chunk_size'),
    },
    createdMs: u64FromWire(w.created_ms, 'created_ms'),
    snapshots: w.snapshots.map((s) => ({ epoch: u64FromWireBig(s.epoch, 'snapshot.epoch'), name: s.name })),
  };
  if (p.oclass !== undefined) c.props.oclass = p.oclass;
  if (w.token !== undefined && w.token !== null) c.token = w.token;
  if (w.owner !== undefined) c.owner = w.owner;
  if (w.group !== undefined) c.group = w.group;
  if (w.status !== undefined && w.status !== null) c.status = oneOf(w.status, CONT_STATUSES, 'cont.status');
  return c;
}

// ---- attach info ----

export interface WireAttachInfo {
  system: string;
  engines: Array<{ rank: number; address: string }>;
  mgmt: string;
}

export function attachInfoToWire(a: AttachInfo): WireAttachInfo {
  return { system: a.system, engines: a.engines.map((e) => ({ ...e })), mgmt: a.mgmt };
}

export function attachInfoFromWire(w: WireAttachInfo): AttachInfo {
  return {
    system: w.system,
    engines: w.engines.map((e) => ({ rank: e.rank, address: e.address })),
    mgmt: w.mgmt,
  };
}

// ---- client API (client.proto) ----

/** Partial container properties (and a label) as ClientContProps: absent stays absent. */
export interface WireContPropsPatch {
  redun_factor?: number;
  oclass?: string;
  checksum?: string;
  chunk_size?: U64;
  label?: string;
  status?: string;
}

export type ContPropsPatch = ContPropsUpdate;

export function contPropsPatchToWire(p: ContPropsPatch): WireContPropsPatch {
  const w: WireContPropsPatch = {};
  if (p.redunFactor !== undefined) w.redun_factor = u32ToWire(p.redunFactor, 'props.redunFactor');
  if (p.oclass !== undefined) w.oclass = p.oclass;
  if (p.checksum !== undefined) w.checksum = p.checksum;
  if (p.chunkSize !== undefined) w.chunk_size = u64ToWire(p.chunkSize, 'props.chunkSize');
  if (p.label !== undefined) w.label = p.label;
  if (p.status !== undefined) w.status = p.status;
  return w;
}

export function contPropsPatchFromWire(w: WireContPropsPatch | null | undefined): ContPropsPatch {
  const p: ContPropsPatch = {};
  if (w === null || w === undefined) return p;
  if (w.redun_factor !== undefined) p.redunFactor = w.redun_factor;
  if (w.oclass !== undefined) p.oclass = w.oclass;
  // The service validates the value (DER_INVAL), as it does for an in-process caller.
  if (w.checksum !== undefined) p.checksum = w.checksum as ContProps['checksum'];
  if (w.chunk_size !== undefined) p.chunkSize = u64FromWire(w.chunk_size, 'props.chunk_size');
  if (w.label !== undefined) p.label = w.label;
  // Validated by the service (only HEALTHY may be set).
  if (w.status !== undefined && w.status !== null) p.status = w.status as 'HEALTHY';
  return p;
}
