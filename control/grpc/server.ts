/**
 * The gRPC server of the control plane: serves any ControlPlane (the management service of
 * daos_server, the embedded system) over the services of control/proto. Mutual TLS unless the
 * transport config says allow_insecure; with TLS the client certificate's CN is its component
 * (DAOS's rule): `admin` and `server` may call everything, `agent` GetAttachInfo and ClientSvc.
 * With `client`, ClientSvc serves that MgmtApi (client-api.ts); without, its calls are
 * DER_NOTSUPPORTED.
 *
 * Options objects reach the plane with exactly the fields the caller set (an `onProgress` is
 * always there for stop/start/format: it feeds the stream), never undefined.
 */
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { check, DaosError } from '../../core/common/errors.js';
import type { ControlPlane, OnProgress } from '../plane.js';
import type { TransportConfig } from '../server/config.js';
import { clientApiRoutes, type MgmtSource } from './client-api.js';
import {
  attachInfoToWire,
  contInfoToWire,
  listFromWire,
  poolCreateFromWire,
  poolInfoToWire,
  poolQueryToWire,
  progressToWire,
  storageToWire,
  systemQueryToWire,
  type WirePoolCreateReq,
  type WireStringList,
  type WireUint32List,
} from './messages.js';
import { CONTROL_MESSAGE_BYTES_MAX, SERVICES, type ServiceName, serviceDefinitions } from './proto-files.js';
import { statusOfError } from './status.js';

/** How long close() waits for calls in flight before cutting them off. */
export const CONTROL_SHUTDOWN_GRACE_MS = 5_000;

/** Certificate CNs (components) and the methods each may call; '*' is every method. */
export const COMPONENT_METHODS: Readonly<Record<string, readonly string[]>> = {
  admin: ['*'],
  server: ['*'],
  agent: ['MgmtSvc.GetAttachInfo', 'ClientSvc.*'],
};

export interface ServeOptions {
  /** `host:port`; port 0 binds a free port (reported as `port`). */
  address: string;
  transport: TransportConfig;
  /** The management service clients call through ClientSvc (client.proto); absent: not served. */
  client?: MgmtSource;
}

export interface ControlServer {
  readonly port: number;
  /** Stop accepting calls, let calls in flight finish (up to CONTROL_SHUTDOWN_GRACE_MS). */
  close(): Promise<void>;
}

/** The server credentials a transport config asks for: mutual TLS, or insecure when allowed. */
export function serverCredentials(transport: TransportConfig): grpc.ServerCredentials {
  if (transport.allow_insecure) return grpc.ServerCredentials.createInsecure();
  const { ca_cert, cert, key } = transport;
  check(
    ca_cert !== undefined && cert !== undefined && key !== undefined,
    'DER_INVAL',
    'transport_config: ca_cert, cert and key are required unless allow_insecure is true',
  );
  return grpc.ServerCredentials.createSsl(
    readFileSync(ca_cert),
    [{ cert_chain: readFileSync(cert), private_key: readFileSync(key) }],
    true,
  );
}

type Request = Record<string, unknown>;
type Unary = (request: Request, metadata?: grpc.Metadata) => Promise<unknown>;
type Streaming = (request: Request, onProgress: OnProgress) => Promise<unknown>;

interface Routes {
  unary: Record<string, Unary>;
  streaming: Record<string, Streaming>;
}

const id = (r: Request): string => r.id as string;
const u32List = (r: Request, field: string): number[] | undefined =>
  listFromWire(r[field] as WireUint32List | null | undefined);

/** Copy onto `into` those of `fields` that the request carries (proto3 `optional`: absent when unset). */
function options<T extends object>(r: Request, fields: readonly string[], into: T): T {
  for (const f of fields) if (r[f] !== undefined) (into as Record<string, unknown>)[f] = r[f];
  return into;
}

/** Every RPC as a call of the plane: the request decoded, the result encoded. */
function routes(plane: ControlPlane, client: MgmtSource | undefined): Record<ServiceName, Routes> {
  const targets = (r: Request): [string, number, number[] | undefined] => [
    id(r),
    r.rank as number,
    u32List(r, 'targets'),
  ];
  const withRanks = <T extends object>(r: Request, into: T): T & { ranks?: number[] } => {
    const ranks = u32List(r, 'ranks');
    return ranks === undefined ? into : { ...into, ranks };
  };
  return {
    SystemSvc: {
      unary: {
        Query: async (r) => systemQueryToWire(await plane.systemQuery(withRanks(r, {}))),
        Exclude: async (r) => systemQueryToWire(await plane.systemExclude(r.ranks as number[])),
      },
      streaming: {
        Stop: async (r, onProgress) =>
          systemQueryToWire(await plane.systemStop(withRanks(r, options(r, ['force'], { onProgress })))),
        Start: async (r, onProgress) =>
          systemQueryToWire(await plane.systemStart(withRanks(r, { onProgress }))),
      },
    },
    StorageSvc: {
      unary: { Scan: async () => storageToWire(await plane.storageScan()) },
      streaming: {
        Format: async (r, onProgress) =>
          storageToWire(await plane.storageFormat(options(r, ['force'], { onProgress }))),
      },
    },
    PoolSvc: {
      unary: {
        Create: async (r) =>
          poolInfoToWire(await plane.poolCreate(poolCreateFromWire(r as unknown as WirePoolCreateReq))),
        Destroy: async (r) => {
          await plane.poolDestroy(id(r), options(r, ['force', 'recursive'], {}));
          return {};
        },
        List: async () => ({ pools: (await plane.poolList()).map(poolInfoToWire) }),
        Query: async (r) => poolQueryToWire(await plane.poolQuery(id(r))),
        GetProp: async (r) => ({
          entries: await plane.poolGetProp(id(r), listFromWire(r.names as WireStringList | null | undefined)),
        }),
        SetProp: async (r) => {
          await plane.poolSetProp(id(r), { ...(r.props as Record<string, string>) });
          return {};
        },
        GetAcl: async (r) => plane.poolGetAcl(id(r)),
        OverwriteAcl: async (r) => ({ values: await plane.poolOverwriteAcl(id(r), r.entries as string[]) }),
        UpdateAcl: async (r) => ({ values: await plane.poolUpdateAcl(id(r), r.entries as string[]) }),
        DeleteAcl: async (r) => ({ values: await plane.poolDeleteAcl(id(r), r.principal as string) }),
        Exclude: async (r) =>
          poolQueryToWire(await plane.poolExclude(...targets(r), { force: r.force === true })),
        Drain: async (r) => poolQueryToWire(await plane.poolDrain(...targets(r))),
        Reintegrate: async (r) => poolQueryToWire(await plane.poolReintegrate(...targets(r))),
        Extend: async (r) =>
          poolQueryToWire(
            await plane.poolExtend(id(r), ((r.ranks as number[] | undefined) ?? []).map(Number)),
          ),
      },
      streaming: {},
    },
    ContSvc: {
      unary: {
        SetOwner: async (r) =>
          contInfoToWire(
            await plane.contSetOwner(r.pool as string, r.cont as string, options(r, ['user', 'group'], {})),
          ),
      },
      streaming: {},
    },
    MgmtSvc: {
      unary: { GetAttachInfo: async () => attachInfoToWire(await plane.attachInfo()) },
      streaming: {},
    },
    ClientSvc: {
      unary:
        client !== undefined
          ? clientApiRoutes(client)
          : Object.fromEntries(
              SERVICES.ClientSvc.map((m) => [
                m,
                async () => {
                  throw new DaosError('DER_NOTSUPPORTED', `ClientSvc.${m}: this server serves no client API`);
                },
              ]),
            ),
      streaming: {},
    },
  };
}

/** What a server call tells of its peer (grpc-js's AuthContext, which it does not export). */
type AuthenticatedCall = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getAuthContext'>;

/** The component (certificate CN) of a TLS peer, or undefined on an insecure channel. */
function peerComponent(call: AuthenticatedCall): string | undefined {
  const context = call.getAuthContext();
  if (context.transportSecurityType !== 'ssl') return undefined;
  const cn = context.sslPeerCertificate?.subject?.CN;
  return typeof cn === 'string' ? cn : '';
}

function authorize(call: AuthenticatedCall, method: string): void {
  const component = peerComponent(call);
  if (component === undefined) return;
  const allowed = Object.hasOwn(COMPONENT_METHODS, component) ? COMPONENT_METHODS[component] : undefined;
  if (allowed === undefined) {
    throw new DaosError(
      'DER_NO_PERM',
      `certificate CN '${component}' is not a DAOS component (admin, server, agent)`,
    );
  }
  const service = method.slice(0, method.indexOf('.'));
  if (!allowed.includes('*') && !allowed.includes(method) && !allowed.includes(`${service}.*`)) {
    throw new DaosError('DER_NO_PERM', `component '${component}' may not call ${method}`);
  }
}

function implementation(service: ServiceName, r: Routes): grpc.UntypedServiceImplementation {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const method of SERVICES[service]) {
    const name = `${service}.${method}`;
    const unary = r.unary[method];
    const streaming = r.streaming[method];
    if (unary !== undefined) {
      impl[method] = (
        call: grpc.ServerUnaryCall<Request, unknown>,
        callback: grpc.sendUnaryData<unknown>,
      ) => {
        Promise.resolve()
          .then(() => {
            authorize(call, name);
            return unary(call.request, call.metadata);
          })
          .then(
            (reply) => callback(null, reply),
            (err: unknown) => callback(statusOfError(err)),
          );
      };
    } else if (streaming !== undefined) {
      impl[method] = (call: grpc.ServerWritableStream<Request, unknown>) => {
        Promise.resolve()
          .then(() => {
            authorize(call, name);
            return streaming(call.request, (p) => {
              // Progress is best effort: a client gone or slow must not fail the plane's operation.
              if (!call.cancelled) call.write({ progress: progressToWire(p) });
            });
          })
          .then(
            (result) => {
              call.write({ result });
              call.end();
            },
            (err: unknown) => call.emit('error', statusOfError(err)),
          );
      };
    } else {
      throw new Error(`invariant violated: no route for ${name}`);
    }
  }
  return impl;
}

/** Serve `plane` on `address`; resolves once bound. */
export async function serveControl(plane: ControlPlane, opts: ServeOptions): Promise<ControlServer> {
  const credentials = serverCredentials(opts.transport);
  const server = new grpc.Server({
    'grpc.max_receive_message_length': CONTROL_MESSAGE_BYTES_MAX,
    'grpc.max_send_message_length': CONTROL_MESSAGE_BYTES_MAX,
  });
  const definitions = serviceDefinitions();
  const all = routes(plane, opts.client);
  for (const service of Object.keys(SERVICES) as ServiceName[]) {
    server.addService(definitions[service], implementation(service, all[service]));
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.address, credentials, (err, bound) =>
      err ? reject(new DaosError('DER_INVAL', `gRPC bind ${opts.address}: ${err.message}`)) : resolve(bound),
    ),
  );
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.forceShutdown(), CONTROL_SHUTDOWN_GRACE_MS);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
