/**
 * RemoteMgmt: the MgmtApi of core/daos/link.ts over gRPC (ClientSvc, control/proto/client.proto),
 * what a client linked to a running daos_server uses for pools, containers, attributes, oids and
 * snapshots. One channel; every call has a deadline; failures are the service's DaosErrors (same
 * code and message) or a GrpcStatusError when the call never reached it.
 */
import * as grpc from '@grpc/grpc-js';
import { check } from '../../core/common/errors.js';
import type {
  ContCreateOptions,
  ContInfo,
  ContPropsUpdate,
  MgmtApi,
  OpenOptions,
  PoolInfo,
  PoolQuery,
} from '../../core/daos/link.js';
import { type ConnectOptions, callUnary, openChannel } from './client.js';
import {
  bigU64ToWire,
  contInfoFromWire,
  contPropsPatchToWire,
  poolInfoFromWire,
  poolQueryFromWire,
  type U64,
  u64FromWire,
  u64FromWireBig,
  u64ToWire,
  type WireContInfo,
  type WirePoolInfo,
  type WirePoolQuery,
} from './messages.js';
import { serviceDefinitions } from './proto-files.js';

/** Metadata key of the agent-signed credential a client sends with each call (checked by ACLs later). */
export const CREDENTIAL_METADATA_KEY = 'daos-credential';

export interface RemoteMgmtOptions extends ConnectOptions {
  /**
   * The caller's credential from daos_agent (`dc1.…`), sent as `daos-credential` metadata; a
   * function is asked before each call (credentials last CREDENTIAL_TTL_MS: it fetches fresh ones).
   */
  credential?: string | (() => Promise<string>);
}

export class RemoteMgmt implements MgmtApi {
  readonly address: string;
  private readonly channel: grpc.Client;
  private readonly timeoutMs: number;
  private readonly definition = serviceDefinitions().ClientSvc;
  private readonly credential: string | (() => Promise<string>) | undefined;

  constructor(options: RemoteMgmtOptions) {
    this.address = options.address;
    this.credential = options.credential;
    ({ channel: this.channel, timeoutMs: this.timeoutMs } = openChannel(options));
  }

  /** Close the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.channel.close();
  }

  private async call<T>(method: string, request: object): Promise<T> {
    const m = this.definition[method] as grpc.MethodDefinition<object, unknown> | undefined;
    check(m !== undefined, 'DER_NOSYS', `ClientSvc.${method}: not in control/proto`);
    const metadata = new grpc.Metadata();
    const credential = typeof this.credential === 'function' ? await this.credential() : this.credential;
    if (credential !== undefined) metadata.set(CREDENTIAL_METADATA_KEY, credential);
    return callUnary<T>(this.channel, m, request, metadata, this.timeoutMs, `ClientSvc.${method}`);
  }

  async poolConnect(poolId: string, options: OpenOptions = {}): Promise<PoolInfo> {
    const request: Record<string, unknown> = { pool: poolId };
    if (options.mode !== undefined) request.mode = options.mode;
    return poolInfoFromWire(await this.call<WirePoolInfo>('PoolConnect', request));
  }

  async poolQuery(poolUuid: string): Promise<PoolQuery> {
    return poolQueryFromWire(await this.call<WirePoolQuery>('PoolQuery', { pool: poolUuid }));
  }

  async contCreate(poolUuid: string, options: ContCreateOptions): Promise<ContInfo> {
    const request: Record<string, unknown> = { pool: poolUuid };
    if (options.label !== undefined) request.label = options.label;
    if (options.uuid !== undefined) request.uuid = options.uuid;
    if (options.type !== undefined) request.type = options.type;
    if (options.props !== undefined) request.props = contPropsPatchToWire(options.props);
    return contInfoFromWire(await this.call<WireContInfo>('ContCreate', request));
  }

  async contLookup(poolUuid: string, contId: string, options: OpenOptions = {}): Promise<ContInfo> {
    const request: Record<string, unknown> = { pool: poolUuid, cont: contId };
    if (options.mode !== undefined) request.mode = options.mode;
    if (options.force) request.force = true;
    return contInfoFromWire(await this.call<WireContInfo>('ContLookup', request));
  }

  async contList(poolUuid: string): Promise<ContInfo[]> {
    const reply = await this.call<{ conts: WireContInfo[] }>('ContList', { pool: poolUuid });
    return reply.conts.map(contInfoFromWire);
  }

  async contDestroy(poolUuid: string, contId: string, force: boolean): Promise<void> {
    await this.call('ContDestroy', { pool: poolUuid, cont: contId, force });
  }

  async contSetProps(poolUuid: string, contUuid: string, props: ContPropsUpdate): Promise<ContInfo> {
    const request = { pool: poolUuid, cont: contUuid, props: contPropsPatchToWire(props) };
    return contInfoFromWire(await this.call<WireContInfo>('ContSetProps', request));
  }

  async contGetAttrs(poolUuid: string, contUuid: string): Promise<Record<string, Uint8Array>> {
    const reply = await this.call<{ attrs: Record<string, Uint8Array> }>('ContGetAttrs', {
      pool: poolUuid,
      cont: contUuid,
    });
    return { ...reply.attrs };
  }

  async contSetAttrs(poolUuid: string, contUuid: string, attrs: Record<string, Uint8Array>): Promise<void> {
    await this.call('ContSetAttrs', { pool: poolUuid, cont: contUuid, attrs });
  }

  async contDelAttrs(poolUuid: string, contUuid: string, names: string[]): Promise<void> {
    await this.call('ContDelAttrs', { pool: poolUuid, cont: contUuid, names });
  }

  async contAllocOids(poolUuid: string, contUuid: string, count: number): Promise<bigint> {
    const request = { pool: poolUuid, cont: contUuid, count: u64ToWire(count, 'count') };
    return u64FromWireBig((await this.call<{ value: U64 }>('ContAllocOids', request)).value, 'oid');
  }

  async snapCreate(poolUuid: string, contUuid: string, name?: string): Promise<bigint> {
    const request: Record<string, unknown> = { pool: poolUuid, cont: contUuid };
    if (name !== undefined) request.name = name;
    return u64FromWireBig((await this.call<{ value: U64 }>('SnapCreate', request)).value, 'epoch');
  }

  async snapDestroy(poolUuid: string, contUuid: string, epoch: bigint): Promise<void> {
    await this.call('SnapDestroy', { pool: poolUuid, cont: contUuid, epoch: bigU64ToWire(epoch, 'epoch') });
  }

  async contGetAcl(
    poolUuid: string,
    contId: string,
  ): Promise<{ owner: string; group: string; entries: string[] }> {
    const r = await this.call<{ owner: string; group: string; entries: string[] }>('ContGetAcl', {
      pool: poolUuid,
      cont: contId,
    });
    return { owner: r.owner, group: r.group, entries: [...r.entries] };
  }

  async contUpdateAcl(
    poolUuid: string,
    contId: string,
    entries: string | readonly string[],
  ): Promise<string[]> {
    const acl = typeof entries === 'string' ? { text: entries } : { entries: { values: [...entries] } };
    const r = await this.call<{ values: string[] }>('ContUpdateAcl', {
      pool: poolUuid,
      cont: contId,
      ...acl,
    });
    return [...r.values];
  }

  async contAggregate(
    poolUuid: string,
    contUuid: string,
  ): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    const r = await this.call<{ records_removed: U64; bytes_freed: U64 }>('ContAggregate', {
      pool: poolUuid,
      cont: contUuid,
    });
    return {
      recordsRemoved: u64FromWire(r.records_removed, 'records_removed'),
      bytesFreed: u64FromWire(r.bytes_freed, 'bytes_freed'),
    };
  }
}
