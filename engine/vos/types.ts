/**
 * The contract of one target's versioned object store (VOS). engine/obj drives it; nothing in
 * it knows about the network, placement or pools beyond the ids it is given.
 *
 * Keys reach the store as the bytes to be ordered (the client has already turned uint64 keys into
 * 8 big-endian bytes), so every listing is in byte order of the stored key. Epochs are HLC bigints.
 */
import type { Oid } from '../../core/common/oid.js';
import type { ShardRole } from '../../core/ec/stripe.js';
import type {
  FetchCond,
  FetchIod,
  FetchResult,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../../core/wire/obj-types.js';

export type {
  ArrayFetchResult,
  FetchCond,
  FetchIod,
  FetchResult,
  Recx,
  UpdateCond,
  UpdateIod,
} from '../../core/wire/obj-types.js';

/** A write operation. Every op of one `apply` or `prepare` call commits atomically, or none does. */
export type VosOp = (
  | { op: 'update'; cont: string; oid: Oid; dkey: Uint8Array; iods: UpdateIod[]; cond?: UpdateCond }
  /** Punch the whole object. */
  | { op: 'punch_obj'; cont: string; oid: Oid }
  /** Punch dkeys; with mustExist each must be visible or the op fails with DER_NONEXIST. */
  | { op: 'punch_dkeys'; cont: string; oid: Oid; dkeys: Uint8Array[]; mustExist?: boolean }
  /** Punch akeys under one dkey; mustExist as above. */
  | { op: 'punch_akeys'; cont: string; oid: Oid; dkey: Uint8Array; akeys: Uint8Array[]; mustExist?: boolean }
) & {
  /**
   * This op's own epoch, when it differs from the call's: the ops of one transaction take
   * consecutive epochs in op order (DAOS's minor epochs), so that a later write of the same key
   * wins over an earlier one. Never above the call's epoch.
   */
  epoch?: bigint;
};

/**
 * Optimistic transaction check: apply/prepare fail with DER_TX_RESTART when anything the ops
 * write, or any akey in `readSet`, was written or punched at an epoch after `readEpoch`, or is
 * locked by another prepared transaction.
 */
export interface TxCheck {
  readEpoch: bigint;
  readSet: Array<{ cont: string; oid: Oid; dkey: Uint8Array; akey?: Uint8Array }>;
}

/** Where a participant finds the outcome of a distributed transaction: the coordinator target. */
export interface DtxCoordinator {
  rank: number;
  target: number;
}

export interface VosOptions {
  /** Values below this size are stored inline in the index (default INLINE_BYTES_MAX_DEFAULT). */
  inlineBytesMax?: number;
  /** 'process' (default): an acknowledged write survives the process being killed. 'fsync': it survives power loss. */
  durability?: 'process' | 'fsync';
  /** LMDB map size in bytes (default TARGET_MAP_BYTES). */
  mapBytes?: number;
  /** Free bytes the index's file system must keep for commits (default INDEX_FREE_BYTES_MIN). */
  indexFreeBytesMin?: number;
}

export interface AggregateStats {
  /** Version and extent records removed. */
  recordsRemoved: number;
  /** Data-file bytes returned to the allocator. */
  bytesFreed: number;
}

export interface RecoveryStats {
  /** Data-file bytes found allocated but unreferenced by the index, now free again. */
  bytesReclaimed: number;
  /** Prepared transactions found on open (resolved by the engine with commitDtx/abortDtx). */
  pendingDtx: number;
  /** Punches replayed from a punch journal an earlier build left behind (see punch-journal.ts). */
  punchesReplayed: number;
}

/** One target's store: an LMDB index and a data file in its own folder. */
export interface VosTarget {
  readonly dir: string;
  /** What recovery found when the store was opened. */
  readonly recovery: RecoveryStats;

  /**
   * Apply ops atomically at `epoch` (group-committed with concurrent calls; durable when resolved,
   * except that, with durability 'process', a lone punch of a whole object that has no record here
   * is written by the target's next commit, within milliseconds: it hides nothing until then).
   */
  apply(epoch: bigint, ops: VosOp[], check?: TxCheck): Promise<void>;
  /**
   * Validate a transaction's reads on a target it does not write: DER_TX_RESTART when a read key
   * changed after the read epoch or is locked by a prepared transaction.
   */
  checkReads(check: TxCheck): void;
  /** First phase of a distributed transaction: validate, make durable, lock the keys; invisible to reads. */
  prepareDtx(
    dtxId: string,
    epoch: bigint,
    ops: VosOp[],
    coordinator: DtxCoordinator,
    check?: TxCheck,
  ): Promise<void>;
  /** Make a prepared transaction visible; `asCoordinator` also records the outcome for other participants. */
  commitDtx(dtxId: string, asCoordinator?: boolean): Promise<void>;
  /** Drop a prepared transaction and free its space. */
  abortDtx(dtxId: string): Promise<void>;
  /** Whether this target, as coordinator, recorded `dtxId` committed. */
  dtxCommitted(dtxId: string): boolean;
  /** Forget a coordinator's outcome record once every participant has committed. */
  forgetDtx(dtxId: string): Promise<void>;
  /** Prepared transactions not yet committed or aborted (after a crash). */
  pendingDtx(): Array<{ dtxId: string; coordinator: DtxCoordinator }>;

  /**
   * fetch, with the data-file reads of every fetch queued before they are flushed (a microtask) merged
   * into positional readv calls per contiguous run (the engine's read path).
   */
  fetchAsync(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]>;
  fetch(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): FetchResult[];
  /** Visible dkeys in byte order, after `after` (exclusive), at most `limit`. */
  listDkeys(
    cont: string,
    oid: Oid,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Uint8Array[];
  listAkeys(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Uint8Array[];
  /** Visible data ranges of an array akey, in index order, each with the epoch that wrote it. */
  listRecx(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Array<Recx & { epoch: bigint }>;
  /** Largest or smallest visible dkey of an object. */
  queryDkey(cont: string, oid: Oid, epoch: bigint, which: 'max' | 'min'): Uint8Array | undefined;
  /** Highest or lowest visible data range of an array akey. */
  queryRecx(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
    which: 'max' | 'min',
  ): Recx | undefined;
  /**
   * What an akey holds at `epoch` (for rebuild): a single value's visible version with the epoch
   * that wrote it, or an array's record size (its ranges come from listRecx); undefined when the
   * akey has no record here.
   */
  akeyVersion(
    cont: string,
    oid: Oid,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ):
    | { kind: 'single'; epoch: bigint; value: Uint8Array }
    | { kind: 'single'; epoch: undefined; value: undefined }
    | { kind: 'array'; recordSize: number }
    | undefined;
  /**
   * Remove the versions and extents under one dkey written at or below `upTo` (punches and akey
   * metadata stay); resolves to the records removed. Rebuild clears a dkey's old records from a
   * target this way before it copies the dkey's shard there; with `role`, only the array extents
   * of that EC shard (the target keeps serving another role of the object meanwhile).
   */
  discardDkey(cont: string, oid: Oid, dkey: Uint8Array, upTo: bigint, role?: ShardRole): Promise<number>;
  /** Object ids with any record in a container (for tools and rebuild). */
  listObjects(cont: string): Oid[];

  /**
   * Merge history at or below `upTo` that no epoch in `keep` (snapshots, open transactions) and
   * no read at `upTo` or later needs; free the data-file space it held.
   */
  aggregate(cont: string, upTo: bigint, keep: bigint[]): Promise<AggregateStats>;
  /** Remove every record of a container. */
  destroyContainer(cont: string): Promise<void>;
  /** Bytes held by a container (inline values and data-file extents). */
  containerBytes(cont: string): number;
  /**
   * Counters since the store was opened. csumErrors: reads of checksummed records (one per record
   * piece of a fetch) whose bytes failed their checksum; each failed its fetch with DER_CSUM.
   * punchedObjects (a gauge): objects with a punch record, held in memory so that reads of other
   * objects skip punch lookups; aggregation forgets those whose punches it removed.
   */
  counters(): { csumErrors: number; punchedObjects: number };
  /** Data-file size and bytes in use, for metrics and tests. */
  usage(): { fileBytes: number; usedBytes: number; freeBytes: number };
  /** Flush and close. The store must not be used afterwards. */
  close(): Promise<void>;
}
