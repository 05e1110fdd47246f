/**
 * daos_agent: the per-node daemon a client asks, over a Unix socket, where the system is and who
 * the client is. It learns the caller's uid, gid and pid from the kernel (SO_PEERCRED, never from
 * the request), signs a credential for them with its Ed25519 key, and keeps the attach info and
 * pool list the management service gave it for `cache_expiry` seconds. Protocol: see
 * core/daos/agent-link.ts and agent/README.md.
 */

import { createPublicKey, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { connectManagement, type ManagementClient } from '../control/grpc/client.js';
import type { ControlPlane } from '../control/plane.js';
import { signCredential } from '../control/security/credential.js';
import { exportKeyPem, generateKeyPair, importPrivateKeyPem } from '../control/security/signed-envelope.js';
import type { AgentConfig } from '../control/server/agent-config.js';
import { DaosError } from '../core/common/errors.js';
import {
  AGENT_OPCODES,
  AGENT_SOCKET_NAME,
  type AgentAttachInfo,
  OPC_AGENT_GET_ATTACH_INFO,
  OPC_AGENT_GET_CREDENTIAL,
  OPC_AGENT_GET_POOLS,
} from '../core/daos/agent-link.js';
import type { PoolInfo } from '../core/daos/link.js';
import type { Listener } from '../core/wire/transport.js';
import { unixTransport } from '../core/wire/unix.js';
import { type PeerCred, socketPeerCred } from './peer-cred.js';
import { userIdentity } from './user-db.js';

/** The agent's private key (PKCS#8 PEM, mode 0600) in runtime_dir. */
export const AGENT_KEY_FILE = 'daos_agent.key';
/** Its public key (SPKI PEM, mode 0644): what the management service verifies credentials with. */
export const AGENT_PUBLIC_KEY_FILE = 'daos_agent.pub.pem';

/** What the agent asks of the management service. */
export type AgentUpstream = Pick<ControlPlane, 'attachInfo' | 'poolList'>;

export interface AgentOptions {
  /** The management service; default: a ManagementClient per access point, tried in order. */
  upstream?: AgentUpstream;
  log?: (line: string) => void;
  /** Clock (tests). */
  now?: () => number;
}

/** A value fetched on demand and kept for `ttlMs` (0: never kept); one fetch at a time. */
class Cached<T> {
  private value: { at: number; v: T } | undefined;
  private pending: Promise<T> | undefined;

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly fetch: () => Promise<T>,
  ) {}

  get(): Promise<T> {
    if (this.value && this.now() - this.value.at < this.ttlMs) return Promise.resolve(this.value.v);
    this.pending ??= this.fetch()
      .then((v) => {
        this.value = { at: this.now(), v };
        return v;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }
}

/** Several access points: each call goes to the first that answers. */
class AccessPoints implements AgentUpstream {
  private readonly clients: ManagementClient[];

  constructor(config: AgentConfig) {
    this.clients = config.access_points.map((address) =>
      connectManagement({ address, transport: config.transport_config }),
    );
  }

  private async first<T>(call: (c: ManagementClient) => Promise<T>): Promise<T> {
    let last: unknown;
    for (const c of this.clients) {
      try {
        return await call(c);
      } catch (err) {
        // Only an unreachable server is worth another access point; the service's answer stands.
        if (!(err instanceof DaosError) || (err.code !== 'DER_UNREACH' && err.code !== 'DER_TIMEDOUT'))
          throw err;
        last = err;
      }
    }
    throw last ?? new DaosError('DER_UNREACH', 'no access point configured');
  }

  attachInfo() {
    return this.first((c) => c.attachInfo());
  }

  poolList() {
    return this.first((c) => c.poolList());
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}

/** The agent's key: read from runtime_dir when there, else made and written there (0600 / 0644). */
export function loadOrCreateAgentKey(runtimeDir: string): { privateKey: KeyObject; created: boolean } {
  const keyPath = join(runtimeDir, AGENT_KEY_FILE);
  const pubPath = join(runtimeDir, AGENT_PUBLIC_KEY_FILE);
  let privateKey: KeyObject;
  let created = false;
  if (existsSync(keyPath)) {
    privateKey = importPrivateKeyPem(readFileSync(keyPath, 'utf8'));
    chmodSync(keyPath, 0o600);
  } else {
    const pair = generateKeyPair();
    privateKey = pair.privateKey;
    writeFileSync(keyPath, exportKeyPem(privateKey), { mode: 0o600, flag: 'wx' });
    created = true;
  }
  // The public key is always rewritten from the private one, so the two cannot disagree.
  writeFileSync(pubPath, exportKeyPem(createPublicKey(privateKey)), { mode: 0o644 });
  chmodSync(pubPath, 0o644);
  return { privateKey, created };
}

/** Remove a socket file left by a dead agent; DER_EXIST when a live one answers on it. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new DaosError('DER_EXIST', `another daos_agent is listening on ${path}`);
  rmSync(path, { force: true });
}

export class DaosAgent {
  private constructor(
    readonly config: AgentConfig,
    readonly socketPath: string,
    readonly publicKeyPath: string,
    private readonly listener: Listener,
    private readonly upstream: AgentUpstream & { close?(): void },
  ) {}

  /** Listen on `runtime_dir/daos_agent.sock`; the server need not be up yet. */
  static async start(config: AgentConfig, options: AgentOptions = {}): Promise<DaosAgent> {
    const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
    const now = options.now ?? Date.now;
    mkdirSync(config.runtime_dir, { recursive: true, mode: 0o755 });
    const { privateKey, created } = loadOrCreateAgentKey(config.runtime_dir);
    log(`daos_agent: ${created ? 'created' : 'loaded'} key ${join(config.runtime_dir, AGENT_KEY_FILE)}`);
    const upstream = options.upstream ?? new AccessPoints(config);
    const ttlMs = config.cache_expiry * 1000;
    const attach = new Cached<AgentAttachInfo>(ttlMs, now, async () => {
      const a = await upstream.attachInfo();
      return { ...a, transport: { ...config.transport_config } };
    });
    const pools = new Cached<PoolInfo[]>(ttlMs, now, () => upstream.poolList());
    const machine = hostname();

    const socketPath = join(config.runtime_dir, AGENT_SOCKET_NAME);
    await clearStaleSocket(socketPath);
    const listener = await unixTransport.listen(
      `unix://${socketPath}`,
      async (opcode, _header, _bulk, context) => {
        switch (opcode) {
          case OPC_AGENT_GET_ATTACH_INFO:
            return { header: await attach.get() };
          case OPC_AGENT_GET_POOLS:
            return { header: { pools: await pools.get() } };
          case OPC_AGENT_GET_CREDENTIAL: {
            // Who is asking is the kernel's answer at connect time; the request says nothing.
            const peer = context as PeerCred;
            const id = userIdentity(peer.uid, peer.gid);
            const credential = signCredential(privateKey, {
              uid: peer.uid,
              gid: peer.gid,
              gids: id.gids,
              pid: peer.pid,
              user: id.user,
              groups: id.groups,
              machine,
              issuedMs: now(),
            });
            return { header: { credential } };
          }
          default:
            throw new DaosError('DER_UNREG', `daos_agent: opcode 0x${opcode.toString(16)}`);
        }
      },
      { opcodes: AGENT_OPCODES, connectionContext: (socket) => socketPeerCred(socket) },
    );
    // Any local user may ask (DAOS's agent socket is world-writable too): the kernel says who.
    chmodSync(socketPath, 0o666);
    log(`daos_agent: listening on ${socketPath}`);
    return new DaosAgent(
      config,
      socketPath,
      join(config.runtime_dir, AGENT_PUBLIC_KEY_FILE),
      listener,
      upstream,
    );
  }

  async close(): Promise<void> {
    await this.listener.close();
    rmSync(this.socketPath, { force: true });
    this.upstream.close?.();
  }
}
