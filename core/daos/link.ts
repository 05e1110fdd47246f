/**
 * What a client needs from a system: the management service (pools, containers, snapshots, oid
 * allocation) and each engine's object service. The embedded system hands the client the real
 * objects; the distributed system (a later issue) hands it RPC stubs with the same shapes.
 */
import type { Oid } from '../common/oid.js';
import type { ShardRole } from '../ec/stripe.js';
import type { PoolMap, TargetRef } from '../placement/pool-map.js';
import type { FetchCond, FetchIod, FetchResult, Recx, UpdateCond, UpdateIod } from '../wire/obj-types.js';

export type ContainerType = 'POSIX' | 'HDF5' | 'ARROW' | 'PYTHON' | 'UNKNOWN';
export const CONTAINER_TYPES: readonly ContainerType[] = ['POSIX', 'HDF5', 'ARROW', 'PYTHON', 'UNKNOWN'];

/** Container properties (DAOS names in camelCase). */
export interface ContProps {
  /** Redundancy factor 0..4: losses the container's objects must survive. */
  redunFactor: number;
  /** Default object class; when absent, chosen from the redundancy factor. */
  oclass?: string;
  /** 'crc32c': the client checksums every value and extent it writes; engines verify and store them (core/README.md). */
  checksum: 'off' | 'crc32c';
  /** Default array/file chunk size in bytes. */
  chunkSize: number;
}

export interface PoolInfo {
  uuid: string;
  label: string;
  totalBytes: number;
  map: PoolMap;
  createdMs: number;
  /** Owner user and group as principals (`alice@`), when the service keeps them. */
  owner?: string;
  group?: string;
  /**
   * Capability token of a connect (`dt1.…`, control/security/token.ts): the pool permissions the
   * caller was granted, signed by the management service. Absent from lists and lookups.
   */
  token?: string;
}

/** How a pool is connected or a container opened: read-only or read-write (DAOS's open modes). */
export interface OpenOptions {
  mode?: 'ro' | 'rw';
  /** Open a container even when its status is UNCLEAN (DAOS_COO_FORCE); otherwise DER_RF. */
  force?: boolean;
}

export interface PoolQuery {
  uuid: string;
  label: string;
  totalBytes: number;
  freeBytes: number;
  targets: number;
  disabledTargets: number;
  mapVersion: number;
  rebuild: { state: 'idle' | 'busy' | 'done'; objects: number; bytes: number };
}

export interface SnapshotInfo {
  epoch: bigint;
  name: string;
}

export interface ContInfo {
  uuid: string;
  label: string;
  pool: string;
  type: ContainerType;
  props: ContProps;
  createdMs: number;
  snapshots: SnapshotInfo[];
  /** Owner user and group as principals (`alice@`), when the service keeps them. */
  owner?: string;
  group?: string;
  /** Capability token of an open (contLookup with a mode): the container permissions granted. */
  token?: string;
  /**
   * DAOS's container status: UNCLEAN once more fault domains (ranks) had DOWN targets at once
   * than its redundancy factor survives — some of its data may be lost, and opening it fails
   * with DER_RF until it is set HEALTHY again (contSetProps({ status: 'HEALTHY' })).
   */
  status?: ContStatus;
}

export type ContStatus = 'HEALTHY' | 'UNCLEAN';

/** What contSetProps changes: properties, the label, and an UNCLEAN status back to HEALTHY. */
export type ContPropsUpdate = Partial<ContProps> & { label?: string; status?: 'HEALTHY' };

export interface ContCreateOptions {
  label?: string;
  uuid?: string;
  type?: ContainerType;
  props?: Partial<ContProps>;
}

/** The management service as a client sees it. */
export interface MgmtApi {
  /**
   * Connect: the pool's info and, from a service that enforces ACLs, a token of the permissions
   * the caller holds in `mode` (default 'ro'; DER_NO_PERM when the pool ACL grants too little).
   */
  poolConnect(poolId: string, options?: OpenOptions): Promise<PoolInfo>;
  poolQuery(poolUuid: string): Promise<PoolQuery>;
  contCreate(poolUuid: string, options: ContCreateOptions): Promise<ContInfo>;
  /**
   * Without a mode: the container's info (needs its get-prop permission `t` where ACLs are
   * enforced). With a mode: open — DAOS's open-mode check, and a container token in `token`.
   */
  contLookup(poolUuid: string, contId: string, options?: OpenOptions): Promise<ContInfo>;
  contList(poolUuid: string): Promise<ContInfo[]>;
  contDestroy(poolUuid: string, contId: string, force: boolean): Promise<void>;
  contSetProps(poolUuid: string, contUuid: string, props: ContPropsUpdate): Promise<ContInfo>;
  contGetAttrs(poolUuid: string, contUuid: string): Promise<Record<string, Uint8Array>>;
  contSetAttrs(poolUuid: string, contUuid: string, attrs: Record<string, Uint8Array>): Promise<void>;
  contDelAttrs(poolUuid: string, contUuid: string, names: string[]): Promise<void>;
  /** Reserve `count` object ids; resolves to the first (user part). */
  contAllocOids(poolUuid: string, contUuid: string, count: number): Promise<bigint>;
  snapCreate(poolUuid: string, contUuid: string, name?: string): Promise<bigint>;
  snapDestroy(poolUuid: string, contUuid: string, epoch: bigint): Promise<void>;
  /** The container's owner, group and ACL entries (optional: not every service keeps ACLs yet). */
  contGetAcl?(poolUuid: string, contId: string): Promise<{ owner: string; group: string; entries: string[] }>;
  /** Add or replace ACL entries; resolves to the new ACL. */
  contUpdateAcl?(poolUuid: string, contId: string, entries: string | readonly string[]): Promise<string[]>;
  /** Change the container's owner user and/or group (needs `o`). */
  contSetOwner?(
    poolUuid: string,
    contId: string,
    owner: { user?: string; group?: string },
  ): Promise<ContInfo>;
  /** Merge history no snapshot needs, now, on every target (DAOS runs it in the background too). */
  contAggregate(poolUuid: string, contUuid: string): Promise<{ recordsRemoved: number; bytesFreed: number }>;
}

/** Who a request is from and where it goes (pool and container handles are checked by the engine). */
export interface ObjTarget {
  pool: string;
  cont: string;
  oid: Oid;
  target: TargetRef;
  /** The pool map version the sender placed the request with (DAOS's map version on every RPC). */
  mapVersion?: number;
  /**
   * The container's capability token from open: engines that know the management service's key
   * for the pool verify it on every RPC (no round trip) and refuse a request without one.
   */
  token?: string;
}

/** A write buffered by a transaction, already placed on its target. */
export type TxOp =
  | { kind: 'update'; to: ObjTarget; dkey: Uint8Array; iods: UpdateIod[]; cond?: UpdateCond }
  | {
      kind: 'punch_obj';
      to: ObjTarget;
      /**
       * A collective punch (DAOS's for objects of many shards): the object's shards on these
       * other targets of the same rank are punched too, at the same epoch, in one call. Only for a
       * punch of its own (not in a transaction), of a class with no redundancy.
       */
      shards?: TargetRef[];
    }
  | { kind: 'punch_dkeys'; to: ObjTarget; dkeys: Uint8Array[]; mustExist?: boolean }
  | { kind: 'punch_akeys'; to: ObjTarget; dkey: Uint8Array; akeys: Uint8Array[]; mustExist?: boolean };

/** An engine's object service as a client sees it. Writes resolve to the epoch they were given. */
export interface ObjApi {
  update(to: ObjTarget, dkey: Uint8Array, iods: UpdateIod[], cond?: UpdateCond): Promise<bigint>;
  fetch(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]>;
  punch(op: Exclude<TxOp, { kind: 'update' }>): Promise<bigint>;
  listDkeys(
    to: ObjTarget,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]>;
  listAkeys(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]>;
  listRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Promise<Array<Recx & { epoch: bigint }>>;
  /**
   * The largest (or smallest) visible dkey of the object's shard on `to`. With `shards` (other
   * targets of the same rank), of its shards there too: one collective query instead of one per
   * shard.
   */
  queryDkey(
    to: ObjTarget,
    epoch: bigint,
    which: 'max' | 'min',
    shards?: TargetRef[],
  ): Promise<Uint8Array | undefined>;
  queryRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
    which: 'max' | 'min',
  ): Promise<Recx | undefined>;
  /**
   * Commit a transaction's writes atomically at one new epoch, this engine coordinating. Fails
   * with DER_TX_RESTART (nothing applied) when a written or read key changed after `readEpoch`.
   */
  txCommit(
    ops: TxOp[],
    check?: { readEpoch: bigint; readSet: Array<{ to: ObjTarget; dkey: Uint8Array; akey?: Uint8Array }> },
  ): Promise<bigint>;
}

/** A transaction's read check: nothing read at `readEpoch` may have changed since. */
export type TxCheckIn = NonNullable<Parameters<ObjApi['txCommit']>[1]>;

/**
 * What an engine asks of another engine's targets while it coordinates a write: the Engine itself
 * when both run in one process, an RPC stub (RemoteEngine) when they do not. Every op of one call
 * addresses the same target of the peer.
 */
export interface EnginePeer {
  /**
   * Read a target's records as they are (no redirection): what a coordinator reads back of an
   * erasure-coded stripe before re-encoding its parity. The same call as ObjApi.fetch.
   */
  fetch: ObjApi['fetch'];
  /** Apply writes at once: op i at `epochs[i]`, all or none, after the optional read check. */
  tgtApply(epoch: bigint, ops: TxOp[], epochs: bigint[], check?: TxCheckIn): Promise<void>;
  /** First phase of a distributed transaction (durable, locked, invisible). */
  tgtPrepare(
    dtxId: string,
    epoch: bigint,
    ops: TxOp[],
    epochs: bigint[],
    coordinator: TargetRef,
    check?: TxCheckIn,
  ): Promise<void>;
  /** Commit a prepared transaction and record its outcome there (so any participant can tell). */
  tgtCommit(target: number, dtxId: string): Promise<void>;
  tgtAbort(target: number, dtxId: string): Promise<void>;
  /** Drop the outcome record once every participant has committed. */
  tgtForget(target: number, dtxId: string): Promise<void>;
  /** DER_TX_RESTART when a key in the read set changed after the read epoch. */
  tgtCheckReads(check: TxCheckIn): Promise<void>;
  /** Whether `target` (or, without it, any target of the peer) recorded `dtxId` committed. */
  dtxCommitted(dtxId: string, target?: number): Promise<boolean>;
  /**
   * What a rebuild reads of one of the peer's targets (engine to engine, no capability token):
   * keys, an akey's kind and single-value version, an array akey's ranges or one extent.
   */
  rebuildRead?(target: number, req: RebuildReadReq): Promise<RebuildReadReply>;
}

/** A rebuild read (EnginePeer.rebuildRead); every read is at `epoch`. */
export type RebuildReadReq = { pool: string; cont: string; oid: Oid; epoch: bigint } & (
  | { what: 'dkeys' }
  | { what: 'akeys'; dkey: Uint8Array }
  | { what: 'akey'; dkey: Uint8Array; akey: Uint8Array }
  /** With `role`: only that EC shard's ranges (a target may hold records of several roles). */
  | { what: 'recx'; dkey: Uint8Array; akey: Uint8Array; role?: ShardRole }
  | { what: 'extent'; dkey: Uint8Array; akey: Uint8Array; recordSize: number; recx: Recx }
  /**
   * Not a read: drop the target's records of the dkey at or below `epoch` (before a copy there);
   * with `role`, only that EC shard's array extents.
   */
  | { what: 'discard'; dkey: Uint8Array; role?: ShardRole }
);

export interface RebuildReadReply {
  /** dkeys / akeys: every key, in order. */
  keys?: Uint8Array[];
  /** akey: its kind; for a single value the visible version (absent when punched). */
  akey?: { kind: 'single'; epoch?: bigint; value?: Uint8Array } | { kind: 'array'; recordSize: number };
  /** recx: visible ranges with the epochs that wrote them. */
  recx?: Array<Recx & { epoch: bigint }>;
  /** discard: records removed. */
  removed?: number;
  /** extent: the records (holes as zeros) and which of them hold data. */
  data?: Uint8Array;
  map?: Recx[];
}

/** Progress of an engine's part of a pool's rebuild (or rebalance) for one pool map version. */
export interface EngineRebuildStatus {
  /** The pool map version the scan ran for (0: none ran). */
  version: number;
  state: 'idle' | 'busy' | 'done' | 'failed';
  /** Objects this engine moved or rebuilt shards of, and bytes it wrote to their new homes. */
  objects: number;
  bytes: number;
  error?: string;
}

/**
 * How an engine checks the capability token a request carries, without a round trip: throw
 * DER_NO_PERM unless `token`, verified with the management service's key `publicKeyPem`, grants
 * `perm` on container `cont` of `pool` now. (control/security/token.ts `tokenChecker` makes one;
 * the engine takes it as an option because engine/ does not import control/.)
 */
export type TokenCheck = (
  publicKeyPem: string,
  token: string,
  perm: 'r' | 'w',
  pool: string,
  cont: string,
) => void;

/** A system as a client sees it. */
export interface SystemLink {
  readonly mgmt: MgmtApi;
  /** The object service of engine `rank`. */
  engine(rank: number): ObjApi;
  /** Epochs for reads and snapshots, ordered after every acknowledged write. */
  now(): bigint;
  /** The newest map of a pool that engines sent back in replies, if any. */
  latestMap?(pool: string): PoolMap | undefined;
}
