/** daos-ts/control: the typed management client dmg is built on (pools, system, storage, ACLs). */
export { type ControlConnection, type ControlOptions, connectControl } from './connect.js';
export { EMBEDDED_SYSTEM_NAME, EmbeddedControl } from './embedded-control.js';
export { connectManagement, ManagementClient } from './grpc/client.js';
export { type ControlServer, serveControl } from './grpc/server.js';
export type { AclInfo, PoolCreateOptions } from './mgmt/mgmt-service.js';
export { POOL_PROP_NAMES, POOL_PROPS, type PoolPropSpec } from './mgmt/pool-props.js';
export type {
  AttachInfo,
  ControlPlane,
  OnProgress,
  OperatorTargetState,
  PoolCreateRequest,
  Progress,
  RankState,
  StorageTierInfo,
  SystemMember,
  SystemQuery,
} from './plane.js';
export {
  type Ace,
  type Acl,
  type AclKind,
  aclBytes,
  defaultAcl,
  deleteAcl,
  evaluateAcl,
  formatAce,
  formatAcl,
  type Identity,
  type Ownership,
  type Perm,
  parseAce,
  parseAcl,
  permString,
  principalKey,
  principalOf,
  updateAcl,
} from './security/acl.js';
export { loadServerConfig, parseServerConfig, type ServerConfig } from './server/config.js';
export { DaosServer, type DaosServerOptions } from './server/server.js';
export { serveTelemetry } from './server/telemetry.js';
