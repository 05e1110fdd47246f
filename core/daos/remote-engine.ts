/** An engine's object service over the wire: `RemoteEngine` implements ObjApi over a Connection. */
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
import type { Connection } from '../wire/transport.js';
import type { ObjApi, ObjTarget, TxOp } from './link.js';
import {
  BulkIn,
  BulkOut,
  bytesList,
  decodeFetchResults,
  decodeOptionalRecx,
  decodeRecxEpochs,
  encodeFetchIods,
  encodeOp,
  encodeTarget,
  encodeTxCheck,
  encodeUpdateIods,
  expectBigint,
  expectBytes,
  expectObject,
  OPC_ENGINE_CONT_CREATE,
  OPC_ENGINE_CONT_DESTROY,
  OPC_ENGINE_POOL_CREATE,
  OPC_ENGINE_POOL_DESTROY,
  optional,
  type PunchOp,
  type TxCheck,
} from './obj-codec.js';

/** An engine in another process (or behind any transport), as the object service a client calls. */
export class RemoteEngine implements ObjApi {
  constructor(readonly conn: Connection) {}

  private async call(opcode: number, header: unknown, bulk?: Uint8Array) {
    const reply = await this.conn.request(opcode, header, bulk);
    return { header: expectObject(reply.header, 'reply'), bulk: reply.bulk };
  }

  private async epochCall(opcode: number, header: unknown, bulk?: Uint8Array): Promise<bigint> {
    const { header: h } = await this.call(opcode, header, bulk);
    return expectBigint(h.epoch, 'reply.epoch');
  }

  /** Liveness probe; resolves to the echoed header. */
  async ping(header: unknown = {}): Promise<unknown> {
    return (await this.conn.request(OPC_PING, header)).header;
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
    const reply = await this.call(OPC_OBJ_FETCH, header);
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

  async queryDkey(to: ObjTarget, epoch: bigint, which: 'max' | 'min'): Promise<Uint8Array | undefined> {
    const { header } = await this.call(OPC_OBJ_QUERY_DKEY, { to: encodeTarget(to), epoch, which });
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

  async poolCreate(pool: string, bytesPerTarget: number): Promise<void> {
    await this.call(OPC_ENGINE_POOL_CREATE, { pool, bytesPerTarget });
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
