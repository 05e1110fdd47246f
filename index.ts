/** daos-ts: the main entry point (libdaos and the embedded system). */
export { DaosError, DER, type DerName, derName } from './core/common/errors.js';
export { EPOCH_MAX, hlc } from './core/common/hlc.js';
export * as limits from './core/common/limits.js';
export {
  makeOid,
  type ObjType,
  type Oid,
  oidGroups,
  oidParse,
  oidRedun,
  oidToString,
  oidType,
  oidUser,
} from './core/common/oid.js';
export { formatBytes, parseBytes } from './core/common/units.js';
export { DaosArray } from './core/daos/array.js';

import { registerMgmtConnector } from './core/daos/client.js';

export {
  AGENT_SOCKET_DEFAULT,
  attach,
  type ConnectOptions,
  connect,
  DaosClient,
  type MgmtConnector,
  registerMgmtConnector,
} from './core/daos/client.js';
export { Container } from './core/daos/container.js';
export type { Key, ListedKey } from './core/daos/keys.js';
export { KV } from './core/daos/kv.js';
export type {
  ContainerType,
  ContInfo,
  ContProps,
  PoolInfo,
  PoolQuery,
  SnapshotInfo,
} from './core/daos/link.js';
export { DaosObject } from './core/daos/object.js';
export { Pool } from './core/daos/pool.js';
export { Tx } from './core/daos/tx.js';
export * as oclass from './core/placement/oclass.js';
export type { ArrayFetchResult, Recx } from './core/wire/obj-types.js';
export { DaosSystem, type SystemOptions } from './embedded/system.js';

// connect({ agentSocket }) reaches the management service over gRPC; the client (grpc-js) is
// loaded on the first connect only. core/ cannot import control/, so it is registered here.
registerMgmtConnector(async (options) => {
  const { RemoteMgmt } = await import('./control/grpc/remote-mgmt.js');
  return new RemoteMgmt(options);
});
