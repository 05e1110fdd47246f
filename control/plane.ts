/**
 * The control plane as its callers see it: what `dmg` does, what the gRPC API serves, what a
 * program imports from `daos-ts/control` (the counterpart of DAOS's Go management package).
 *
 * Three things implement it:
 *   - `EmbeddedControl` (control/embedded-control.ts): over a DaosSystem in this process
 *     (`dmg --embedded DIR`);
 *   - `daos_server` (control/server/): engines as supervised child processes;
 *   - `ManagementClient` (control/grpc/client.ts): the gRPC client of a running daos_server.
 * The gRPC server (control/grpc/server.ts) serves any implementation, so every caller programs
 * against this one interface and the tests run the same cases over each.
 *
 * Names follow DAOS (dmg's commands, rank states, pool-map target states). Sizes are bytes,
 * times milliseconds; every failure is a DaosError.
 */
import type { ContInfo, PoolInfo, PoolQuery } from '../core/daos/link.js';
import type { TargetState } from '../core/placement/pool-map.js';

/** DAOS's rank (member) states. */
export type RankState =
  | 'AwaitFormat'
  | 'Starting'
  | 'Ready'
  | 'Joined'
  | 'Stopping'
  | 'Stopped'
  | 'Excluded'
  | 'Errored'
  | 'Unresponsive'
  | 'AdminExcluded';

export interface SystemMember {
  rank: number;
  state: RankState;
  /** The engine's data-plane address (tcp://host:port), when it runs. */
  address?: string;
  pid?: number;
  /** How many times the server restarted this engine after it died. */
  restarts: number;
  /** Why the rank is in its state (the last exit, a failed heartbeat ...). */
  info?: string;
}

export interface SystemQuery {
  name: string;
  members: SystemMember[];
}

/** One engine's storage as `dmg storage scan` shows it. */
export interface StorageTierInfo {
  rank: number;
  class: 'ram' | 'file';
  mount: string;
  totalBytes: number;
  freeBytes: number;
  formatted: boolean;
}

export interface PoolCreateRequest {
  label: string;
  /** Total size in bytes (or a size string like '4G'). */
  size: number | string;
  uuid?: string;
  /** Ranks to place the pool on; default every joined rank. */
  ranks?: number[];
  /** Initial properties (DAOS names, e.g. { label, ec_cell_sz, self_heal }). */
  properties?: Record<string, string>;
  /** Initial ACL entries (`A:flags:principal:perms`). */
  acl?: string[];
  /** Owner user and group (`name@`); default the caller. */
  owner?: string;
  group?: string;
}

/** Progress of a long operation, for a progress bar. */
export interface Progress {
  done: number;
  total: number;
  what: string;
}

export type OnProgress = (p: Progress) => void;

/** Where clients find the system: what `daos_agent` hands out (DAOS's GetAttachInfo). */
export interface AttachInfo {
  system: string;
  /** rank -> data-plane address. */
  engines: Array<{ rank: number; address: string }>;
  /** The management service's gRPC address. */
  mgmt: string;
}

export interface ControlPlane {
  // ---- system ----
  systemQuery(options?: { ranks?: number[] }): Promise<SystemQuery>;
  systemStop(options?: { ranks?: number[]; force?: boolean; onProgress?: OnProgress }): Promise<SystemQuery>;
  systemStart(options?: { ranks?: number[]; onProgress?: OnProgress }): Promise<SystemQuery>;
  /** Administratively exclude ranks (AdminExcluded; their targets go DOWN in every pool map). */
  systemExclude(ranks: number[]): Promise<SystemQuery>;

  // ---- storage ----
  storageScan(): Promise<StorageTierInfo[]>;
  storageFormat(options?: { force?: boolean; onProgress?: OnProgress }): Promise<StorageTierInfo[]>;

  // ---- pools ----
  poolCreate(request: PoolCreateRequest): Promise<PoolInfo>;
  poolDestroy(id: string, options?: { force?: boolean; recursive?: boolean }): Promise<void>;
  poolList(): Promise<PoolInfo[]>;
  poolQuery(id: string): Promise<PoolQuery>;
  poolGetProp(id: string, names?: string[]): Promise<Record<string, string>>;
  poolSetProp(id: string, props: Record<string, string>): Promise<void>;
  poolGetAcl(id: string): Promise<{ owner: string; group: string; entries: string[] }>;
  poolOverwriteAcl(id: string, entries: string[]): Promise<string[]>;
  poolUpdateAcl(id: string, entries: string[]): Promise<string[]>;
  poolDeleteAcl(id: string, principal: string): Promise<string[]>;
  /**
   * Targets (default all) of a rank go DOWN in the pool's map and the rebuild starts. DER_BUSY
   * while a rebuild runs; DER_RF when it would break a container's redundancy factor, unless `force`.
   */
  poolExclude(
    id: string,
    rank: number,
    targets?: number[],
    options?: { force?: boolean },
  ): Promise<PoolQuery>;
  /** Extend the pool onto more engine ranks of the system (the rebuild rebalances it). */
  poolExtend(id: string, ranks: number[]): Promise<PoolQuery>;
  poolDrain(id: string, rank: number, targets?: number[]): Promise<PoolQuery>;
  poolReintegrate(id: string, rank: number, targets?: number[]): Promise<PoolQuery>;

  // ---- containers (admin) ----
  contSetOwner(pool: string, cont: string, owner: { user?: string; group?: string }): Promise<ContInfo>;

  // ---- clients ----
  attachInfo(): Promise<AttachInfo>;
}

/** Pool-map target states a rank's targets can be moved to by an operator. */
export type OperatorTargetState = Extract<TargetState, 'DOWN' | 'DRAIN' | 'UP'>;
