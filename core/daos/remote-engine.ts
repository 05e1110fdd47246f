/** An engine's object service over the wire: `RemoteEngine` implements ObjApi over a Connection. */
import { hlc } from '../common/hlc.js';
import type { PoolMap, TargetRef } from '../placement/pool-map.js';
import type { FetchCond, FetchIod, FetchResult, Recx, UpdateCond, UpdateIod } from '../wire/obj-types.js';
import {
  OPC_OBJ_FETCH,
  OPC_OBJ_LIST_AKEYS,
  OPC_OBJ_LIST_DKEYS,
  OPC_OBJ_LIST_RECX,
  OPC_OBJ_PUNCH,
  OPC_OBJ_QUERY_DKEY,
  OPC_OBJ_QUERY_RECX,
  OPC_OBJ_UPDATE,
  OPC_PING,
  OPC_TX_COMMIT,
} from '../wire/opcodes.js';
import type { Connection, RequestOptions } from '../wire/transport.js';
import { decodeEngineCounters, type EngineCounters } from './engine-counters.js';
import type {
  EnginePeer,
  EngineRebuildStatus,
  ObjApi,
  ObjTarget,
  RebuildReadReply,
  RebuildReadReq,
  TxOp,
} from './link.js';
import {
  BulkIn,
  BulkOut,
  bytesList,
  decodeFetchResults,
  decodeOptionalRecx,
  decodePoolMap,
  decodeRebuildReply,
  decodeRebuildStatus,
  decodeRecxEpochs,
  encodeFetchIods,
  encodeOp,
  encodePoolMap,
  encodeRebuildReq,
  encodeRebuildSnapshots,
  encodeTarget,
  encodeTxCheck,
  encodeUpdateIods,
  expectBigint,
  expectBool,
  expectBytes,
  expectCount,
  expectObject,
  expectString,
  OPC_DTX_COMMITTED,
  OPC_ENGINE_AGGREGATE,
  OPC_ENGINE_CONT_CREATE,
  OPC_ENGINE_CONT_DESTROY,
  OPC_ENGINE_COUNTERS,
  OPC_ENGINE_PEERS,
  OPC_ENGINE_POOL_CREATE,
  OPC_ENGINE_POOL_DESTROY,
  OPC_ENGINE_POOL_MAP,
  OPC_ENGINE_POOL_USED,
  OPC_ENGINE_REBUILD_DISCARD,
  OPC_ENGINE_REBUILD_START,
  OPC_ENGINE_REBUILD_STATUS,
  OPC_ENGINE_RESOLVE_DTX,
  OPC_TGT_ABORT,
  OPC_TGT_APPLY,
  OPC_TGT_CHECK_READS,
  OPC_TGT_COMMIT,
  OPC_TGT_FORGET,
  OPC_TGT_PREPARE,
  OPC_TGT_REBUILD_READ,
  optional,
  type PunchOp,
  type TxCheck,
} from './obj-codec.js';

/**
 * An engine in another process (or behind any transport): the object service a client calls, the
 * peer a coordinating engine calls, and the engine control the management service calls.
 * Writes carry the caller's clock (`hlc`) and replies' epochs move it, so that epochs stay
 * ordered across processes (a snapshot taken here orders after every write acknowledged here).
 */
export class RemoteEngine implements ObjApi, EnginePeer {
  constructor(
    readonly conn: Connection,
    /** Rank of the engine, when known (the management service needs it). */
    readonly rank = -1,
    /** Targets of the engine, when known. */
    readonly targetCount = 0,
    /** Told of a newer pool map that came back in a reply. */
    private readonly onPoolMap?: (pool: string, map: PoolMap) => void,
  ) {}

  private async call(
    opcode: number,
    header: Record<string, unknown>,
    bulk?: Uint8Array,
    options?: RequestOptions,
  ) {
    const reply = await this.conn.request(opcode, header, bulk, options);
    const h = expectObject(reply.header, 'reply');
    if (h.poolMap !== undefined && this.onPoolMap) {
      const m = expectObject(h.poolMap, 'reply.poolMap');
      this.onPoolMap(expectString(m.pool, 'reply.poolMap.pool'), decodePoolMap(m.map, 'reply.poolMap.map'));
    }
    return { header: h, bulk: reply.bulk };
  }

  private async epochCall(
    opcode: number,
    header: Record<string, unknown>,
    bulk?: Uint8Array,
  ): Promise<bigint> {
    const { header: h } = await this.call(opcode, { ...header, hlc: hlc.peek() }, bulk);
    const epoch = expectBigint(h.epoch, 'reply.epoch');
    hlc.update(epoch);
    return epoch;
  }

  /** Liveness probe; resolves to the echoed header. `timeoutMs` bounds the wait (DER_TIMEDOUT). */
  async ping(header: Record<string, unknown> = {}, options: { timeoutMs?: number } = {}): Promise<unknown> {
    const opts = options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs };
    return (await this.conn.request(OPC_PING, header, undefined, opts)).header;
  }

  async update(to: ObjTarget, dkey: Uint8Array, iods: UpdateIod[], cond?: UpdateCond): Promise<bigint> {
    const bulk = new BulkOut();
    const header = { to: encodeTarget(to), dkey, iods: encodeUpdateIods(iods, bulk), cond };
    return this.epochCall(OPC_OBJ_UPDATE, header, bulk.join());
  }

  async fetch(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    iods: FetchIod[],
    cond?: FetchCond,
  ): Promise<FetchResult[]> {
    const header = { to: encodeTarget(to), epoch, dkey, iods: encodeFetchIods(iods), cond };
    // One array iod with a buffer of its own: its bytes are the whole reply bulk, read by the
    // kernel straight into that buffer (decodeFetchResults then copies nothing).
    const only = iods.length === 1 ? iods[0] : undefined;
    const into = only?.kind === 'array' ? only.out : undefined;
    const reply = await this.call(OPC_OBJ_FETCH, header, undefined, into && { replyBulkInto: into });
    return decodeFetchResults(reply.header.results, new BulkIn(reply.bulk), iods, 'reply.results');
  }

  async punch(op: PunchOp): Promise<bigint> {
    return this.epochCall(OPC_OBJ_PUNCH, { op: encodeOp(op, new BulkOut()) });
  }

  async listDkeys(
    to: ObjTarget,
    epoch: bigint,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    const { header } = await this.call(OPC_OBJ_LIST_DKEYS, { to: encodeTarget(to), epoch, after, limit });
    return bytesList(header.keys, 'reply.keys');
  }

  async listAkeys(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    after: Uint8Array | undefined,
    limit: number,
  ): Promise<Uint8Array[]> {
    const h = { to: encodeTarget(to), epoch, dkey, after, limit };
    const { header } = await this.call(OPC_OBJ_LIST_AKEYS, h);
    return bytesList(header.keys, 'reply.keys');
  }

  async listRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
  ): Promise<Array<Recx & { epoch: bigint }>> {
    const { header } = await this.call(OPC_OBJ_LIST_RECX, { to: encodeTarget(to), epoch, dkey, akey });
    return decodeRecxEpochs(header.recx, 'reply.recx');
  }

  async queryDkey(
    to: ObjTarget,
    epoch: bigint,
    which: 'max' | 'min',
    shards?: TargetRef[],
  ): Promise<Uint8Array | undefined> {
    const h =
      shards === undefined
        ? { to: encodeTarget(to), epoch, which }
        : { to: encodeTarget(to), epoch, which, shards };
    const { header } = await this.call(OPC_OBJ_QUERY_DKEY, h);
    return optional(header.key, 'reply.key', expectBytes);
  }

  async queryRecx(
    to: ObjTarget,
    epoch: bigint,
    dkey: Uint8Array,
    akey: Uint8Array,
    which: 'max' | 'min',
  ): Promise<Recx | undefined> {
    const h = { to: encodeTarget(to), epoch, dkey, akey, which };
    const { header } = await this.call(OPC_OBJ_QUERY_RECX, h);
    return decodeOptionalRecx(header.recx, 'reply.recx');
  }

  async txCommit(ops: TxOp[], check?: TxCheck): Promise<bigint> {
    const bulk = new BulkOut();
    const header = { ops: ops.map((op) => encodeOp(op, bulk)), check: encodeTxCheck(check) };
    return this.epochCall(OPC_TX_COMMIT, header, bulk.join());
  }

  // ---- engine management (what the management service tells an engine) ----

  /** `tokenKey`: the management service's public key (SPKI PEM); the engine checks tokens with it. */
  async poolCreate(pool: string, bytesPerTarget: number, map?: PoolMap, tokenKey?: string): Promise<void> {
    const header = { pool, bytesPerTarget, map: map && encodePoolMap(map), tokenKey };
    await this.call(OPC_ENGINE_POOL_CREATE, header);
  }

  async poolMapUpdate(pool: string, map: PoolMap): Promise<void> {
    await this.call(OPC_ENGINE_POOL_MAP, { pool, map: encodePoolMap(map) });
  }

  async poolUsedBytes(pool: string): Promise<number> {
    const { header } = await this.call(OPC_ENGINE_POOL_USED, { pool });
    return expectCount(header.bytes, 'reply.bytes');
  }

  async aggregate(
    cont: string,
    upTo: bigint,
    keep: bigint[],
  ): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    const { header } = await this.call(OPC_ENGINE_AGGREGATE, { cont, upTo, keep });
    return {
      recordsRemoved: expectCount(header.recordsRemoved, 'reply.recordsRemoved'),
      bytesFreed: expectCount(header.bytesFreed, 'reply.bytesFreed'),
    };
  }

  /**
   * The engine's counters (core/daos/engine-counters.ts): checksum errors its targets found, in
   * total and per target; calls, failures and latency per kind of operation; bytes written and
   * read. `timeoutMs` bounds the wait (DER_TIMEDOUT), for callers that must not hang on a stuck
   * engine (telemetry scrapes).
   */
  async counters(options: { timeoutMs?: number } = {}): Promise<EngineCounters> {
    const reply = await this.conn.request(
      OPC_ENGINE_COUNTERS,
      {},
      undefined,
      options.timeoutMs === undefined ? undefined : { timeoutMs: options.timeoutMs },
    );
    return decodeEngineCounters(reply.header);
  }

  /** Tell the engine where its peers listen. */
  async setPeers(peers: Array<{ rank: number; address: string }>): Promise<void> {
    await this.call(OPC_ENGINE_PEERS, { peers });
  }

  /** Resolve transactions left prepared; resolves to how many were. */
  async resolvePendingDtx(): Promise<number> {
    const { header } = await this.call(OPC_ENGINE_RESOLVE_DTX, {});
    return expectCount(header.resolved, 'reply.resolved');
  }

  // ---- engine to engine (EnginePeer) ----

  private async targetOps(
    opcode: number,
    extra: Record<string, unknown>,
    epoch: bigint,
    ops: TxOp[],
    epochs: bigint[],
    check?: TxCheck,
  ): Promise<void> {
    const bulk = new BulkOut();
    const header = {
      ...extra,
      epoch,
      ops: ops.map((op) => encodeOp(op, bulk)),
      epochs,
      check: encodeTxCheck(check),
    };
    await this.call(opcode, header, bulk.join());
  }

  async tgtApply(epoch: bigint, ops: TxOp[], epochs: bigint[], check?: TxCheck): Promise<void> {
    await this.targetOps(OPC_TGT_APPLY, {}, epoch, ops, epochs, check);
  }

  async tgtPrepare(
    dtxId: string,
    epoch: bigint,
    ops: TxOp[],
    epochs: bigint[],
    coordinator: TargetRef,
    check?: TxCheck,
  ): Promise<void> {
    const extra = { dtxId, coordinator: { rank: coordinator.rank, target: coordinator.target } };
    await this.targetOps(OPC_TGT_PREPARE, extra, epoch, ops, epochs, check);
  }

  async tgtCommit(target: number, dtxId: string): Promise<void> {
    await this.call(OPC_TGT_COMMIT, { target, dtxId });
  }

  async tgtAbort(target: number, dtxId: string): Promise<void> {
    await this.call(OPC_TGT_ABORT, { target, dtxId });
  }

  async tgtForget(target: number, dtxId: string): Promise<void> {
    await this.call(OPC_TGT_FORGET, { target, dtxId });
  }

  async tgtCheckReads(check: TxCheck): Promise<void> {
    await this.call(OPC_TGT_CHECK_READS, { check: encodeTxCheck(check) });
  }

  async dtxCommitted(dtxId: string, target?: number): Promise<boolean> {
    const { header } = await this.call(OPC_DTX_COMMITTED, { dtxId, target });
    return expectBool(header.committed, 'reply.committed');
  }

  async rebuildRead(target: number, req: RebuildReadReq): Promise<RebuildReadReply> {
    const reply = await this.call(OPC_TGT_REBUILD_READ, encodeRebuildReq(target, req));
    return decodeRebuildReply(reply.header, new BulkIn(reply.bulk));
  }

  // ---- rebuild (what the management service tells an engine) ----

  async rebuildStart(pool: string, version: number, snapshots?: Record<string, bigint[]>): Promise<void> {
    await this.call(OPC_ENGINE_REBUILD_START, {
      pool,
      version,
      ...(snapshots && { snapshots: encodeRebuildSnapshots(snapshots) }),
    });
  }

  async rebuildStatus(pool: string): Promise<EngineRebuildStatus> {
    const { header } = await this.call(OPC_ENGINE_REBUILD_STATUS, { pool });
    return decodeRebuildStatus(header);
  }

  async rebuildDiscard(pool: string, targets?: readonly number[]): Promise<void> {
    await this.call(OPC_ENGINE_REBUILD_DISCARD, { pool, targets });
  }

  async poolDestroy(pool: string): Promise<void> {
    await this.call(OPC_ENGINE_POOL_DESTROY, { pool });
  }

  async contCreate(pool: string, cont: string): Promise<void> {
    await this.call(OPC_ENGINE_CONT_CREATE, { pool, cont });
  }

  async contDestroy(pool: string, cont: string): Promise<void> {
    await this.call(OPC_ENGINE_CONT_DESTROY, { pool, cont });
  }

  /** Close the connection. */
  close(): Promise<void> {
    return this.conn.close();
  }
}
