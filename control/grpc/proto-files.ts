/**
 * Where the control plane's .proto files are and how they are loaded: at runtime, by
 * @grpc/proto-loader, with no code generation. The files live in control/proto at the package
 * root; this module finds them from its own location, which is control/grpc/ when run from the
 * TypeScript sources (vitest) and dist/control/grpc/ when run from the build, so the package
 * ships control/proto next to dist (package.json "files").
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** The service files, in load order; each declares one service of package daos.ctl. */
export const PROTO_FILES = [
  'system.proto',
  'storage.proto',
  'pool.proto',
  'cont.proto',
  'mgmt.proto',
  'client.proto',
] as const;

/**
 * Decoding rules shared by server and client: snake_case names as in the files, 64-bit integers
 * as decimal strings (converted exactly in messages.ts), scalars present with their defaults,
 * and `optional` fields and oneof members absent when unset.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: false,
};

/** The control plane's gRPC services and their methods. */
export const SERVICES = {
  SystemSvc: ['Query', 'Stop', 'Start', 'Exclude'],
  StorageSvc: ['Scan', 'Format'],
  PoolSvc: [
    'Create',
    'Destroy',
    'List',
    'Query',
    'GetProp',
    'SetProp',
    'GetAcl',
    'OverwriteAcl',
    'UpdateAcl',
    'DeleteAcl',
    'Exclude',
    'Drain',
    'Reintegrate',
    'Extend',
  ],
  ContSvc: ['SetOwner'],
  MgmtSvc: ['GetAttachInfo'],
  ClientSvc: [
    'PoolConnect',
    'PoolQuery',
    'ContCreate',
    'ContLookup',
    'ContList',
    'ContDestroy',
    'ContSetProps',
    'ContGetAttrs',
    'ContSetAttrs',
    'ContDelAttrs',
    'ContAllocOids',
    'SnapCreate',
    'SnapDestroy',
    'ContGetAcl',
    'ContUpdateAcl',
    'ContAggregate',
  ],
} as const;

/**
 * Largest control-plane message either side sends or accepts (gRPC's default, made explicit): a
 * pool list of a few thousand pools with their maps fits.
 */
export const CONTROL_MESSAGE_BYTES_MAX = 4 * 1024 * 1024;

export type ServiceName = keyof typeof SERVICES;
export const PROTO_PACKAGE = 'daos.ctl';

/** The folder holding the .proto files, from the sources or from dist/. */
export function protoDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // control/grpc -> control/proto (sources); dist/control/grpc -> control/proto (build).
  const candidates = [join(here, '..', 'proto'), join(here, '..', '..', '..', 'control', 'proto')];
  const found = candidates.find((dir) => existsSync(join(dir, PROTO_FILES[0])));
  if (found === undefined) throw new Error(`control/proto not found (looked in ${candidates.join(', ')})`);
  return found;
}

let loaded: Record<ServiceName, grpc.ServiceDefinition> | undefined;

/** The service definitions, loaded once per process. */
export function serviceDefinitions(): Record<ServiceName, grpc.ServiceDefinition> {
  if (loaded !== undefined) return loaded;
  const dir = protoDir();
  const definition = protoLoader.loadSync(
    PROTO_FILES.map((f) => join(dir, f)),
    { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] },
  );
  const services = {} as Record<ServiceName, grpc.ServiceDefinition>;
  for (const name of Object.keys(SERVICES) as ServiceName[]) {
    const service = definition[`${PROTO_PACKAGE}.${name}`];
    // Message and enum definitions carry `format`; services do not.
    if (service === undefined || 'format' in service) {
      throw new Error(`service ${PROTO_PACKAGE}.${name} missing from ${dir}`);
    }
    for (const method of SERVICES[name]) {
      if (!(method in service)) throw new Error(`${PROTO_PACKAGE}.${name}.${method} missing from ${dir}`);
    }
    services[name] = service as grpc.ServiceDefinition;
  }
  loaded = services;
  return services;
}
