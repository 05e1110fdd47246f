import { DaosError } from '../common/errors.js';
import { hlc } from '../common/hlc.js';
import type { PoolMap } from '../placement/pool-map.js';
import { LazyConnection } from '../wire/lazy.js';
import { type AgentTransport, agentAttachInfo, agentCredential } from './agent-link.js';
import type { MgmtApi, SystemLink } from './link.js';
import { Pool } from './pool.js';
import { RemoteEngine } from './remote-engine.js';

export interface DaosClientOptions {
  /** The caller's credential from daos_agent (kept for ACL checks). */
  credential?: string;
  /** Run by close(): release the link's connections. */
  onClose?: () => Promise<void>;
}

/** A client of one system: connects to pools. */
export class DaosClient {
  private closed = false;
  /** The agent-signed credential of this process (`dc1.…`), when connected through daos_agent. */
  readonly credential: string | undefined;
  private readonly onClose: (() => Promise<void>) | undefined;

  constructor(
    readonly link: SystemLink,
    options: DaosClientOptions = {},
  ) {
    this.credential = options.credential;
    this.onClose = options.onClose;
  }

  /** Connect to a pool by label or UUID. */
  async connectPool(id: string, options: { mode?: 'ro' | 'rw' } = {}): Promise<Pool> {
    if (this.closed) throw new DaosError('DER_NO_HDL', 'client is closed');
    const mode = options.mode ?? 'rw';
    if (mode !== 'ro' && mode !== 'rw')
      throw new DaosError('DER_INVAL', `pool connect mode must be ro or rw, not ${String(mode)}`);
    return new Pool(this.link, await this.link.mgmt.poolConnect(id, { mode }), mode);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.onClose?.();
  }
}

/** A management service client: what `connect()` builds for the address daos_agent gives. */
export type MgmtConnector = (options: {
  /** host:port of the management service's gRPC API. */
  address: string;
  /** The agent's transport settings (insecure, or TLS with the agent's CA and certificate). */
  transport: AgentTransport;
  /** The caller's credential, or how to get a fresh one before each call (credentials expire). */
  credential?: string | (() => Promise<string>);
}) => Promise<MgmtApi & { close?(): void }>;

let defaultConnector: MgmtConnector | undefined;

/**
 * Set the connector `connect()` uses when none is passed. core/ cannot import the gRPC client
 * (control/): the package entry point (index.ts) registers control/grpc/remote-mgmt.ts here.
 */
export function registerMgmtConnector(connector: MgmtConnector): void {
  defaultConnector = connector;
}

export interface ConnectOptions {
  /** daos_agent's socket (`runtime_dir/daos_agent.sock`). */
  agentSocket?: string;
  /** How to reach the management service; default: the registered one (gRPC, from 'daos-ts'). */
  connectMgmt?: MgmtConnector;
}

/** How old a credential from the agent may get before connect()'s client asks for a new one. */
export const CREDENTIAL_REFRESH_MS = 60_000;

/** Default agent socket (DAOS's). */
export const AGENT_SOCKET_DEFAULT = '/var/run/daos_agent/daos_agent.sock';

/**
 * Connect to a running daos_server through the local daos_agent: the agent gives the attach info
 * (the management service's address and every engine's) and a credential for this process; pools
 * and containers go to the management service (gRPC ClientSvc), object I/O straight to the
 * engines (core/wire over TCP, one lazy connection per rank).
 */
export async function connect(options: ConnectOptions = {}): Promise<DaosClient> {
  const socket = options.agentSocket ?? AGENT_SOCKET_DEFAULT;
  const connector = options.connectMgmt ?? defaultConnector;
  if (connector === undefined)
    throw new DaosError(
      'DER_NOTSUPPORTED',
      "connect(): no management connector registered; import { connect } from 'daos-ts' (or pass connectMgmt)",
    );
  const info = await agentAttachInfo(socket);
  let credential = await agentCredential(socket);
  // Credentials are accepted for 5 minutes (CREDENTIAL_TTL_MS): ask the agent again after one.
  let credentialAt = Date.now();
  const freshCredential = async (): Promise<string> => {
    if (Date.now() - credentialAt > CREDENTIAL_REFRESH_MS) {
      credential = await agentCredential(socket);
      credentialAt = Date.now();
    }
    return credential;
  };
  const mgmt = await connector({
    address: info.mgmt,
    transport: info.transport,
    credential: freshCredential,
  });
  return attach({
    mgmt,
    engines: info.engines,
    credential,
    system: info.system,
    onClose: async () => mgmt.close?.(),
  });
}

/**
 * A client from attach info given directly: a management API (any transport: gRPC, a worker's
 * message port) and every engine's address. Object I/O goes straight to the engines (core/wire,
 * one lazy connection per rank). What `connect()` builds from the agent's answer, and what
 * other threads or processes of one job use to share a system (adapters/mpiio).
 */
export function attach(options: {
  mgmt: MgmtApi;
  engines: ReadonlyArray<{ rank: number; address: string }>;
  credential?: string;
  /** Named in errors. */
  system?: string;
  onClose?: () => Promise<void>;
}): DaosClient {
  const seenMaps = new Map<string, PoolMap>();
  const onPoolMap = (pool: string, map: PoolMap) => {
    if (map.version > (seenMaps.get(pool)?.version ?? 0)) seenMaps.set(pool, map);
  };
  const engines = new Map<number, RemoteEngine>();
  for (const e of options.engines) {
    engines.set(e.rank, new RemoteEngine(new LazyConnection(e.address), e.rank, 0, onPoolMap));
  }
  const link: SystemLink = {
    mgmt: options.mgmt,
    engine: (rank: number) => {
      const e = engines.get(rank);
      if (!e)
        throw new DaosError(
          'DER_UNREACH',
          `no engine rank ${rank} in ${options.system ?? 'the system'}'s attach info`,
        );
      return e;
    },
    now: () => hlc.now(),
    latestMap: (pool: string) => seenMaps.get(pool),
  };
  return new DaosClient(link, {
    credential: options.credential,
    onClose: async () => {
      await options.onClose?.();
      await Promise.all([...engines.values()].map((e) => e.conn.close()));
    },
  });
}
