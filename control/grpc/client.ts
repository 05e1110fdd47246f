/**
 * ManagementClient: the ControlPlane of a daos_server reached over gRPC (what `dmg` and
 * `daos_agent` use). One channel for every service; every call has a deadline; a failure is the
 * plane's own DaosError, or a GrpcStatusError (a DaosError keeping `grpcCode`) when the call never
 * reached it: a refused TLS handshake or a server that is down is gRPC 14 UNAVAILABLE.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { check, DaosError } from '../../core/common/errors.js';
import type { ContInfo, PoolInfo, PoolQuery } from '../../core/daos/link.js';
import type {
  AttachInfo,
  ControlPlane,
  OnProgress,
  PoolCreateRequest,
  StorageTierInfo,
  SystemQuery,
} from '../plane.js';
import type { TransportConfig } from '../server/config.js';
import {
  attachInfoFromWire,
  contInfoFromWire,
  listToWire,
  poolCreateToWire,
  poolInfoFromWire,
  poolQueryFromWire,
  progressFromWire,
  storageFromWire,
  systemQueryFromWire,
  u32ListToWire,
  u32ToWire,
  type WireAttachInfo,
  type WireContInfo,
  type WirePoolInfo,
  type WirePoolQuery,
  type WireProgress,
  type WireStorageTier,
  type WireSystemQuery,
} from './messages.js';
import { CONTROL_MESSAGE_BYTES_MAX, type ServiceName, serviceDefinitions } from './proto-files.js';
import { errorOfStatus } from './status.js';

/** Deadline of one control-plane call. */
export const CONTROL_RPC_TIMEOUT_MS = 60_000;
/** Deadline of the streamed long operations (system stop/start, storage format). */
export const CONTROL_STREAM_TIMEOUT_MS = 600_000;

export interface ConnectOptions {
  /** `host:port` of the server. */
  address: string;
  /**
   * allow_insecure: a plaintext channel. Otherwise TLS verifying the server against `ca_cert`,
   * presenting `cert`/`key` (both or neither; a daos_server refuses a client without one).
   */
  transport: TransportConfig;
  /** Deadline of unary calls; default CONTROL_RPC_TIMEOUT_MS. */
  timeoutMs?: number;
}

/** A channel to `address` with the transport's credentials, and the checked call deadline. */
export function openChannel(options: ConnectOptions): { channel: grpc.Client; timeoutMs: number } {
  const timeoutMs = options.timeoutMs ?? CONTROL_RPC_TIMEOUT_MS;
  check(
    Number.isInteger(timeoutMs) && timeoutMs > 0,
    'DER_INVAL',
    `timeoutMs ${timeoutMs}: not a positive integer`,
  );
  const channel = new grpc.Client(options.address, channelCredentials(options.transport), {
    'grpc.max_receive_message_length': CONTROL_MESSAGE_BYTES_MAX,
    'grpc.max_send_message_length': CONTROL_MESSAGE_BYTES_MAX,
  });
  return { channel, timeoutMs };
}

/** One unary call with a deadline; a failed status comes back as the DaosError it carries. */
export function callUnary<T>(
  channel: grpc.Client,
  m: grpc.MethodDefinition<object, unknown>,
  request: object,
  metadata: grpc.Metadata,
  timeoutMs: number,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    channel.makeUnaryRequest(
      m.path,
      m.requestSerialize,
      m.responseDeserialize,
      request,
      metadata,
      { deadline: Date.now() + timeoutMs },
      (err, reply) => (err ? reject(errorOfStatus(err, what)) : resolve(reply as T)),
    );
  });
}

/** The channel credentials a transport config asks for. */
export function channelCredentials(transport: TransportConfig): grpc.ChannelCredentials {
  if (transport.allow_insecure) return grpc.credentials.createInsecure();
  const { ca_cert, cert, key } = transport;
  check(
    ca_cert !== undefined,
    'DER_INVAL',
    'transport_config: ca_cert is required unless allow_insecure is true',
  );
  check(
    (cert === undefined) === (key === undefined),
    'DER_INVAL',
    'transport_config: cert and key go together',
  );
  return grpc.credentials.createSsl(
    readFileSync(ca_cert),
    key === undefined ? null : readFileSync(key),
    cert === undefined ? null : readFileSync(cert),
  );
}

/** A ManagementClient for the server at `options.address`; the channel connects on first call. */
export function connectManagement(options: ConnectOptions): ManagementClient {
  return new ManagementClient(options);
}

type Message = object;

export class ManagementClient implements ControlPlane {
  readonly address: string;
  private readonly channel: grpc.Client;
  private readonly timeoutMs: number;
  private readonly definitions = serviceDefinitions();

  constructor(options: ConnectOptions) {
    this.address = options.address;
    ({ channel: this.channel, timeoutMs: this.timeoutMs } = openChannel(options));
  }

  /** Close the channel; calls in flight fail with CANCELLED. */
  close(): void {
    this.channel.close();
  }

  private method(service: ServiceName, method: string): grpc.MethodDefinition<Message, unknown> {
    const definition = this.definitions[service][method];
    check(definition !== undefined, 'DER_NOSYS', `${service}.${method}: not in control/proto`);
    return definition as grpc.MethodDefinition<Message, unknown>;
  }

  private unary<T>(service: ServiceName, method: string, request: Message): Promise<T> {
    const m = this.method(service, method);
    return callUnary<T>(
      this.channel,
      m,
      request,
      new grpc.Metadata(),
      this.timeoutMs,
      `${service}.${method}`,
    );
  }

  /** A streamed call: progress messages, then one `result`. */
  private streamed<T>(
    service: ServiceName,
    method: string,
    request: Message,
    onProgress: OnProgress | undefined,
  ): Promise<T> {
    const m = this.method(service, method);
    const name = `${service}.${method}`;
    return new Promise<T>((resolve, reject) => {
      const stream = this.channel.makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + CONTROL_STREAM_TIMEOUT_MS },
      );
      let result: T | undefined;
      let failed: DaosError | undefined;
      stream.on('data', (item: { progress?: WireProgress; result?: T }) => {
        if (item.result !== undefined) result = item.result;
        else if (item.progress !== undefined && onProgress !== undefined && failed === undefined) {
          try {
            onProgress(progressFromWire(item.progress));
          } catch (err) {
            // The caller's progress callback failed: the call fails with it, the server sees CANCELLED.
            failed =
              err instanceof DaosError
                ? err
                : new DaosError('DER_MISC', `${name} onProgress: ${String(err)}`, { cause: err });
            reject(failed);
            stream.cancel();
          }
        }
      });
      stream.on('error', (err: grpc.ServiceError) => reject(errorOfStatus(err, name)));
      stream.on('status', (status: grpc.StatusObject) => {
        if (status.code !== grpc.status.OK) return; // 'error' reports it
        if (result === undefined)
          reject(
            errorOfStatus({ code: grpc.status.INTERNAL, details: 'stream ended without a result' }, name),
          );
        else resolve(result);
      });
    });
  }

  // ---- system ----

  async systemQuery(options?: { ranks?: number[] }): Promise<SystemQuery> {
    const reply = await this.unary<WireSystemQuery>('SystemSvc', 'Query', {
      ranks: u32ListToWire(options?.ranks, 'ranks'),
    });
    return systemQueryFromWire(reply);
  }

  async systemStop(options?: {
    ranks?: number[];
    force?: boolean;
    onProgress?: OnProgress;
  }): Promise<SystemQuery> {
    const request = { ranks: u32ListToWire(options?.ranks, 'ranks'), force: options?.force };
    return systemQueryFromWire(
      await this.streamed<WireSystemQuery>('SystemSvc', 'Stop', request, options?.onProgress),
    );
  }

  async systemStart(options?: { ranks?: number[]; onProgress?: OnProgress }): Promise<SystemQuery> {
    const request = { ranks: u32ListToWire(options?.ranks, 'ranks') };
    return systemQueryFromWire(
      await this.streamed<WireSystemQuery>('SystemSvc', 'Start', request, options?.onProgress),
    );
  }

  async systemExclude(ranks: number[]): Promise<SystemQuery> {
    return systemQueryFromWire(
      await this.unary<WireSystemQuery>('SystemSvc', 'Exclude', {
        ranks: u32ListToWire(ranks, 'ranks')?.values,
      }),
    );
  }

  // ---- storage ----

  async storageScan(): Promise<StorageTierInfo[]> {
    return storageFromWire(await this.unary<{ tiers: WireStorageTier[] }>('StorageSvc', 'Scan', {}));
  }

  async storageFormat(options?: { force?: boolean; onProgress?: OnProgress }): Promise<StorageTierInfo[]> {
    const reply = await this.streamed<{ tiers: WireStorageTier[] }>(
      'StorageSvc',
      'Format',
      { force: options?.force },
      options?.onProgress,
    );
    return storageFromWire(reply);
  }

  // ---- pools ----

  async poolCreate(request: PoolCreateRequest): Promise<PoolInfo> {
    return poolInfoFromWire(await this.unary<WirePoolInfo>('PoolSvc', 'Create', poolCreateToWire(request)));
  }

  async poolDestroy(id: string, options?: { force?: boolean; recursive?: boolean }): Promise<void> {
    await this.unary('PoolSvc', 'Destroy', { id, force: options?.force, recursive: options?.recursive });
  }

  async poolList(): Promise<PoolInfo[]> {
    const reply = await this.unary<{ pools: WirePoolInfo[] }>('PoolSvc', 'List', {});
    return reply.pools.map(poolInfoFromWire);
  }

  async poolQuery(id: string): Promise<PoolQuery> {
    return poolQueryFromWire(await this.unary<WirePoolQuery>('PoolSvc', 'Query', { id }));
  }

  async poolGetProp(id: string, names?: string[]): Promise<Record<string, string>> {
    const reply = await this.unary<{ entries: Record<string, string> }>('PoolSvc', 'GetProp', {
      id,
      names: listToWire(names),
    });
    return { ...reply.entries };
  }

  async poolSetProp(id: string, props: Record<string, string>): Promise<void> {
    await this.unary('PoolSvc', 'SetProp', { id, props });
  }

  async poolGetAcl(id: string): Promise<{ owner: string; group: string; entries: string[] }> {
    const reply = await this.unary<{ owner: string; group: string; entries: string[] }>('PoolSvc', 'GetAcl', {
      id,
    });
    return { owner: reply.owner, group: reply.group, entries: reply.entries };
  }

  async poolOverwriteAcl(id: string, entries: string[]): Promise<string[]> {
    return (await this.unary<{ values: string[] }>('PoolSvc', 'OverwriteAcl', { id, entries })).values;
  }

  async poolUpdateAcl(id: string, entries: string[]): Promise<string[]> {
    return (await this.unary<{ values: string[] }>('PoolSvc', 'UpdateAcl', { id, entries })).values;
  }

  async poolDeleteAcl(id: string, principal: string): Promise<string[]> {
    return (await this.unary<{ values: string[] }>('PoolSvc', 'DeleteAcl', { id, principal })).values;
  }

  async poolExclude(
    id: string,
    rank: number,
    targets?: number[],
    options: { force?: boolean } = {},
  ): Promise<PoolQuery> {
    return this.poolTargets('Exclude', id, rank, targets, options.force === true);
  }

  async poolExtend(id: string, ranks: number[]): Promise<PoolQuery> {
    const request = { id, ranks: ranks.map((r) => u32ToWire(r, 'ranks')) };
    return poolQueryFromWire(await this.unary<WirePoolQuery>('PoolSvc', 'Extend', request));
  }

  async poolDrain(id: string, rank: number, targets?: number[]): Promise<PoolQuery> {
    return this.poolTargets('Drain', id, rank, targets);
  }

  async poolReintegrate(id: string, rank: number, targets?: number[]): Promise<PoolQuery> {
    return this.poolTargets('Reintegrate', id, rank, targets);
  }

  private async poolTargets(
    method: string,
    id: string,
    rank: number,
    targets?: number[],
    force = false,
  ): Promise<PoolQuery> {
    const request = {
      id,
      rank: u32ToWire(rank, 'rank'),
      targets: u32ListToWire(targets, 'targets'),
      ...(force ? { force } : {}),
    };
    return poolQueryFromWire(await this.unary<WirePoolQuery>('PoolSvc', method, request));
  }

  // ---- containers ----

  async contSetOwner(
    pool: string,
    cont: string,
    owner: { user?: string; group?: string },
  ): Promise<ContInfo> {
    const request = { pool, cont, user: owner.user, group: owner.group };
    return contInfoFromWire(await this.unary<WireContInfo>('ContSvc', 'SetOwner', request));
  }

  // ---- clients ----

  async attachInfo(): Promise<AttachInfo> {
    return attachInfoFromWire(await this.unary<WireAttachInfo>('MgmtSvc', 'GetAttachInfo', {}));
  }
}
