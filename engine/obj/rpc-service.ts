/**
 * An engine's object service on the wire: serveEngine listens on an address and maps each opcode
 * to the Engine method of the same name, using the codec of core/daos/remote-engine.ts (the one
 * the client side, RemoteEngine, uses). Every header is shape-checked before the engine sees it:
 * a malformed request gets DER_INVAL naming the field, and the engine keeps serving.
 */
import { DaosError } from '../../core/common/errors.js';
import { hlc } from '../../core/common/hlc.js';
import { IO_BYTES_MAX } from '../../core/common/limits.js';
import {
  BulkIn,
  BulkOut,
  decodeFetchIods,
  decodeOp,
  decodePoolMap,
  decodePunchOp,
  decodeRebuildReq,
  decodeRebuildSnapshots,
  decodeRef,
  decodeShards,
  decodeTarget,
  decodeTargetOps,
  decodeTxCheck,
  decodeUpdateIods,
  ENGINE_OPCODES,
  encodeFetchResults,
  encodePoolMap,
  encodeRebuildReply,
  expectArray,
  expectBigint,
  expectBytes,
  expectCount,
  expectId,
  expectObject,
  expectOneOf,
  expectString,
  FETCH_CONDS,
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
  UPDATE_CONDS,
  WHICH,
} from '../../core/daos/obj-codec.js';
import { BufferPool } from '../../core/wire/buffer-pool.js';
import type { FetchIod } from '../../core/wire/obj-types.js';
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
  opcodeName,
} from '../../core/wire/opcodes.js';
import { type HandlerReply, type Listener, transportFor } from '../../core/wire/transport.js';
import type { Engine } from './engine.js';

/** Buffers of large fetch replies, reused once a reply has been written. */
const fetchBuffers = new BufferPool();

/** What the service needs beyond the engine. */
export interface ServeContext {
  /** Route to the other engines (the process that runs the engine knows how to connect). */
  setPeers?: (peers: Array<{ rank: number; address: string }>) => void;
}

/** Serve `engine`'s object service, its peer calls and its management calls on `address`. */
export async function serveEngine(
  engine: Engine,
  address: string,
  ctx: ServeContext = {},
): Promise<Listener> {
  return transportFor(address).listen(
    address,
    (opcode, header, bulk) => handle(engine, opcode, header, bulk, ctx),
    {
      opcodes: ENGINE_OPCODES,
    },
  );
}

const cond =
  <T extends string>(values: readonly T[]) =>
  (v: unknown, f: string) =>
    expectOneOf(v, f, values);

/**
 * DER_REC2BIG when a fetch's iods together ask for more than IO_BYTES_MAX bytes. The targets
 * bound each iod, but the reply is built whole: without this, a few iods each under the limit
 * make the engine allocate and fill gigabytes for a reply the wire could never carry.
 */
function checkFetchBytes(iods: FetchIod[]): void {
  let bytes = 0n;
  for (const iod of iods) {
    if (iod.kind !== 'array') continue;
    for (const e of iod.extents) bytes += e.nr * BigInt(iod.recordSize);
  }
  if (bytes > BigInt(IO_BYTES_MAX))
    throw new DaosError('DER_REC2BIG', `fetch asks for ${bytes} bytes; the limit is ${IO_BYTES_MAX}`);
}

/** One request: decode (shape-checked), call the engine, encode the reply. */
export async function handle(
  engine: Engine,
  opcode: number,
  header: unknown,
  bulk: Uint8Array | undefined,
  ctx: ServeContext = {},
): Promise<HandlerReply> {
  const reply = await dispatch(engine, opcode, header, bulk, ctx);
  const newer = newerMap(engine, header);
  return newer ? { ...reply, header: { ...(reply.header as object), poolMap: newer } } : reply;
}

/**
 * The engine's pool map when it is newer than the one the request was placed with (the `mv` of
 * its target): it goes back in the reply, so the client places its next requests right.
 */
function newerMap(engine: Engine, header: unknown): { pool: string; map: unknown } | undefined {
  const h = header as { to?: unknown; op?: { to?: unknown }; ops?: Array<{ to?: unknown }> };
  const to = (h.to ?? h.op?.to ?? (Array.isArray(h.ops) ? h.ops[0]?.to : undefined)) as
    | { pool?: unknown; mv?: unknown }
    | undefined;
  if (typeof to?.pool !== 'string' || typeof to.mv !== 'number') return undefined;
  const map = engine.poolMap(to.pool);
  return map && map.version > to.mv ? { pool: to.pool, map: encodePoolMap(map) } : undefined;
}

async function dispatch(
  engine: Engine,
  opcode: number,
  header: unknown,
  bulk: Uint8Array | undefined,
  ctx: ServeContext,
): Promise<HandlerReply> {
  if (opcode === OPC_PING) return { header };
  const h = expectObject(header, 'header');
  // A caller's clock: epochs given out here order after what the caller has seen.
  if (h.hlc !== undefined) hlc.update(expectBigint(h.hlc, 'hlc'));
  const input = new BulkIn(bulk);
  // Bulk is only accepted by the opcodes that carry data; the others must not send any.
  const noBulk = () => input.done();
  switch (opcode) {
    case OPC_OBJ_UPDATE: {
      const to = decodeTarget(h.to);
      const dkey = expectBytes(h.dkey, 'dkey');
      const iods = decodeUpdateIods(h.iods, input);
      const c = optional(h.cond, 'cond', cond(UPDATE_CONDS));
      input.done();
      return { header: { epoch: await engine.update(to, dkey, iods, c) } };
    }
    case OPC_OBJ_FETCH: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const dkey = expectBytes(h.dkey, 'dkey');
      const iods = decodeFetchIods(h.iods);
      checkFetchBytes(iods);
      const c = optional(h.cond, 'cond', cond(FETCH_CONDS));
      noBulk();
      // Large array reads land in pooled buffers, given back once the reply is with the kernel.
      const taken: Buffer[] = [];
      const withOut = iods.map((iod) => {
        if (iod.kind !== 'array') return iod;
        const bytes = Number(iod.extents.reduce((n, e) => n + e.nr, 0n) * BigInt(iod.recordSize));
        const buf = fetchBuffers.take(bytes);
        if (!buf) return iod;
        taken.push(buf);
        return { ...iod, out: buf.subarray(0, bytes) };
      });
      const release = () => {
        for (const b of taken.splice(0)) fetchBuffers.give(b);
      };
      try {
        const results = await engine.fetch(to, epoch, dkey, withOut, c);
        const out = new BulkOut();
        const header = { results: encodeFetchResults(results, out) };
        return { header, bulk: out.join(), sent: release };
      } catch (err) {
        release();
        throw err;
      }
    }
    case OPC_OBJ_PUNCH: {
      const op = decodePunchOp(h.op, input);
      noBulk();
      return { header: { epoch: await engine.punch(op) } };
    }
    case OPC_OBJ_LIST_DKEYS: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const after = optional(h.after, 'after', expectBytes);
      const limit = expectCount(h.limit, 'limit');
      noBulk();
      return { header: { keys: await engine.listDkeys(to, epoch, after, limit) } };
    }
    case OPC_OBJ_LIST_AKEYS: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const dkey = expectBytes(h.dkey, 'dkey');
      const after = optional(h.after, 'after', expectBytes);
      const limit = expectCount(h.limit, 'limit');
      noBulk();
      return { header: { keys: await engine.listAkeys(to, epoch, dkey, after, limit) } };
    }
    case OPC_OBJ_LIST_RECX: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const dkey = expectBytes(h.dkey, 'dkey');
      const akey = expectBytes(h.akey, 'akey');
      noBulk();
      const recx = await engine.listRecx(to, epoch, dkey, akey);
      return { header: { recx: recx.map((r) => ({ idx: r.idx, nr: r.nr, epoch: r.epoch })) } };
    }
    case OPC_OBJ_QUERY_DKEY: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const which = expectOneOf(h.which, 'which', WHICH);
      const shards = optional(h.shards, 'shards', decodeShards);
      noBulk();
      return { header: { key: await engine.queryDkey(to, epoch, which, shards) } };
    }
    case OPC_OBJ_QUERY_RECX: {
      const to = decodeTarget(h.to);
      const epoch = expectBigint(h.epoch, 'epoch');
      const dkey = expectBytes(h.dkey, 'dkey');
      const akey = expectBytes(h.akey, 'akey');
      const which = expectOneOf(h.which, 'which', WHICH);
      noBulk();
      const r = await engine.queryRecx(to, epoch, dkey, akey, which);
      return { header: { recx: r === undefined ? undefined : { idx: r.idx, nr: r.nr } } };
    }
    case OPC_TX_COMMIT: {
      const ops = expectArray(h.ops, 'ops').map((op, i) => decodeOp(op, input, `ops[${i}]`));
      const check = decodeTxCheck(h.check);
      input.done();
      return { header: { epoch: await engine.txCommit(ops, check) } };
    }
    case OPC_ENGINE_POOL_CREATE: {
      const pool = expectId(h.pool, 'pool');
      const bytesPerTarget = expectCount(h.bytesPerTarget, 'bytesPerTarget');
      const map = optional(h.map, 'map', decodePoolMap);
      const tokenKey = optional(h.tokenKey, 'tokenKey', expectString);
      noBulk();
      engine.poolCreate(pool, bytesPerTarget, map, tokenKey);
      return { header: {} };
    }
    case OPC_ENGINE_POOL_MAP: {
      const pool = expectId(h.pool, 'pool');
      const map = decodePoolMap(h.map);
      noBulk();
      await engine.poolMapUpdate(pool, map);
      return { header: {} };
    }
    case OPC_ENGINE_POOL_USED: {
      const pool = expectId(h.pool, 'pool');
      noBulk();
      return { header: { bytes: engine.poolUsedBytes(pool) } };
    }
    case OPC_ENGINE_AGGREGATE: {
      const cont = expectId(h.cont, 'cont');
      const upTo = expectBigint(h.upTo, 'upTo');
      const keep = expectArray(h.keep, 'keep').map((e, i) => expectBigint(e, `keep[${i}]`));
      noBulk();
      return { header: await engine.aggregate(cont, upTo, keep) };
    }
    case OPC_ENGINE_PEERS: {
      const peers = expectArray(h.peers, 'peers').map((raw, i) => {
        const p = expectObject(raw, `peers[${i}]`);
        return {
          rank: expectCount(p.rank, `peers[${i}].rank`),
          address: expectString(p.address, `peers[${i}].address`),
        };
      });
      noBulk();
      if (!ctx.setPeers)
        throw new DaosError('DER_NOTSUPPORTED', `engine rank ${engine.rank} takes no peer list`);
      ctx.setPeers(peers);
      return { header: {} };
    }
    case OPC_ENGINE_COUNTERS: {
      noBulk();
      return { header: engine.counters() };
    }
    case OPC_ENGINE_RESOLVE_DTX: {
      noBulk();
      return { header: { resolved: await engine.resolvePendingDtx() } };
    }
    case OPC_TGT_APPLY: {
      const t = decodeTargetOps(h, input);
      input.done();
      await engine.tgtApply(t.epoch, t.ops, t.epochs, t.check);
      return { header: {} };
    }
    case OPC_TGT_PREPARE: {
      const dtxId = expectId(h.dtxId, 'dtxId');
      const coordinator = decodeRef(h.coordinator, 'coordinator');
      const t = decodeTargetOps(h, input);
      input.done();
      await engine.tgtPrepare(dtxId, t.epoch, t.ops, t.epochs, coordinator, t.check);
      return { header: {} };
    }
    case OPC_TGT_COMMIT:
    case OPC_TGT_ABORT:
    case OPC_TGT_FORGET: {
      const target = expectCount(h.target, 'target');
      const dtxId = expectId(h.dtxId, 'dtxId');
      noBulk();
      if (opcode === OPC_TGT_COMMIT) await engine.tgtCommit(target, dtxId);
      else if (opcode === OPC_TGT_ABORT) await engine.tgtAbort(target, dtxId);
      else await engine.tgtForget(target, dtxId);
      return { header: {} };
    }
    case OPC_TGT_CHECK_READS: {
      const check = decodeTxCheck(h.check);
      noBulk();
      if (!check) throw new DaosError('DER_INVAL', 'bad request: check is required');
      await engine.tgtCheckReads(check);
      return { header: {} };
    }
    case OPC_DTX_COMMITTED: {
      const dtxId = expectId(h.dtxId, 'dtxId');
      const target = optional(h.target, 'target', expectCount);
      noBulk();
      return { header: { committed: await engine.dtxCommitted(dtxId, target) } };
    }
    case OPC_TGT_REBUILD_READ: {
      const { target, req } = decodeRebuildReq(h);
      noBulk();
      const out = new BulkOut();
      const header = encodeRebuildReply(await engine.rebuildRead(target, req), out);
      return { header, bulk: out.join() };
    }
    case OPC_ENGINE_REBUILD_START: {
      const pool = expectId(h.pool, 'pool');
      const version = expectCount(h.version, 'version');
      noBulk();
      engine.rebuildStart(pool, version, decodeRebuildSnapshots(h.snapshots));
      return { header: {} };
    }
    case OPC_ENGINE_REBUILD_STATUS: {
      const pool = expectId(h.pool, 'pool');
      noBulk();
      return { header: { ...engine.rebuildStatus(pool) } };
    }
    case OPC_ENGINE_REBUILD_DISCARD: {
      const pool = expectId(h.pool, 'pool');
      const targets = optional(h.targets, 'targets', (v, f) =>
        expectArray(v, f).map((t, i) => expectCount(t, `${f}[${i}]`)),
      );
      noBulk();
      await engine.rebuildDiscard(pool, targets);
      return { header: {} };
    }
    case OPC_ENGINE_POOL_DESTROY: {
      const pool = expectId(h.pool, 'pool');
      noBulk();
      engine.poolDestroy(pool);
      return { header: {} };
    }
    case OPC_ENGINE_CONT_CREATE: {
      const pool = expectId(h.pool, 'pool');
      const cont = expectId(h.cont, 'cont');
      noBulk();
      engine.contCreate(pool, cont);
      return { header: {} };
    }
    case OPC_ENGINE_CONT_DESTROY: {
      const pool = expectId(h.pool, 'pool');
      const cont = expectId(h.cont, 'cont');
      noBulk();
      await engine.contDestroy(pool, cont);
      return { header: {} };
    }
    default:
      throw new DaosError('DER_UNREG', `engine rank ${engine.rank} does not serve ${opcodeName(opcode)}`);
  }
}
