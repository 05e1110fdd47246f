/**
 * daos_server: formats the engines' storage, starts one daos_engine child process per
 * `engines[]` entry of daos_server.yml, watches them over dRPC (drpc.ts), restarts the ones that
 * die, and hosts the management service (pools, containers) over an LMDB MetadataStore.
 * See control/README.md "daos_server" for the lifecycle, the states and the restart policy.
 *
 * Folders:
 *   engines[i].storage[0].scm_mount/daos_format.json   superblock (storage.ts)
 *   engines[i].storage[0].scm_mount/target-T/          the engine's VOS targets
 *   engines[0].storage[0].scm_mount/control/           the management service's LMDB store
 *   socket_dir/daos_server.sock, daos_engine_<rank>.sock   dRPC
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { KeyObject } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaosError } from '../../core/common/errors.js';
import { hlc } from '../../core/common/hlc.js';
import type { EngineCounters } from '../../core/daos/engine-counters.js';
import type { SystemLink } from '../../core/daos/link.js';
import { RemoteEngine } from '../../core/daos/remote-engine.js';
import type { PoolMap } from '../../core/placement/pool-map.js';
import { LazyConnection } from '../../core/wire/lazy.js';
import type { Connection, Listener, Reply, RequestOptions } from '../../core/wire/transport.js';
import { LmdbMetadataStore } from '../mgmt/metadata-store.js';
import { MgmtService } from '../mgmt/mgmt-service.js';
import { MgmtControl } from '../mgmt-control.js';
import type {
  AttachInfo,
  ControlPlane,
  OnProgress,
  RankState,
  StorageTierInfo,
  SystemMember,
  SystemQuery,
} from '../plane.js';
import { importPublicKeyPem } from '../security/signed-envelope.js';
import type { EngineConfig, ServerConfig } from './config.js';
import {
  ENGINE_HEARTBEAT_MS,
  ENGINE_HEARTBEAT_TIMEOUT_MS,
  type EngineReady,
  listenDrpcServer,
  SERVER_SOCKET_NAME,
  sendEngineStop,
  socketAddress,
} from './drpc.js';
import {
  CONTROL_DIR,
  type EngineStorage,
  engineStorage,
  formatTiers,
  readSuperblocks,
  scanTier,
} from './storage.js';

/** First delay before restarting an engine that died; doubles with each restart in the window. */
export const ENGINE_RESTART_BACKOFF_MS_MIN = 250;
/** Longest delay before a restart. */
export const ENGINE_RESTART_BACKOFF_MS_MAX = 30_000;
/** Restarts allowed within ENGINE_RESTART_WINDOW_MS; one more death leaves the rank Errored. */
export const ENGINE_RESTARTS_MAX = 5;
export const ENGINE_RESTART_WINDOW_MS = 60_000;
/** How long a started engine may take to send DRPC_ENGINE_READY. */
export const ENGINE_READY_TIMEOUT_MS = 30_000;
/** How long an engine may take to exit after a stop request before it is killed. */
export const ENGINE_STOP_TIMEOUT_MS = 15_000;

export interface DaosServerOptions {
  /** Where log lines go; default stderr. */
  log?: (line: string) => void;
  /** The engine program (default: dist/bin/daos_engine.js). */
  engineBinary?: string;
  /** Engines' durability (default 'process': acknowledged writes survive a killed engine). */
  durability?: 'process' | 'fsync';
  heartbeatTimeoutMs?: number;
  restartBackoffMsMin?: number;
  restartBackoffMsMax?: number;
  restartsMax?: number;
  restartWindowMs?: number;
  /**
   * Public key files (SPKI PEM, e.g. an agent's runtime_dir/daos_agent.pub.pem) of the agents whose
   * credentials ClientSvc trusts. Read when a call arrives (an agent may start later). With none,
   * callers are not authenticated and act as the server's own OS user.
   */
  agentKeyFiles?: readonly string[];
}

/** The keys of `files` that exist and parse (re-read when a file changes). */
function agentKeyReader(files: readonly string[]): () => KeyObject[] {
  const cache = new Map<string, { mtimeMs: number; key: KeyObject | undefined }>();
  return () => {
    const keys: KeyObject[] = [];
    for (const f of files) {
      let mtimeMs: number;
      try {
        mtimeMs = statSync(f).mtimeMs;
      } catch {
        continue;
      }
      let hit = cache.get(f);
      if (!hit || hit.mtimeMs !== mtimeMs) {
        let key: KeyObject | undefined;
        try {
          key = importPublicKeyPem(readFileSync(f, 'utf8'));
        } catch {
          key = undefined;
        }
        hit = { mtimeMs, key };
        cache.set(f, hit);
      }
      if (hit.key) keys.push(hit.key);
    }
    return keys;
  };
}

/** The engine program: next to this file when compiled, in dist/ when running from source. */
export function serverEngineBinary(): string {
  for (const rel of ['../../bin/daos_engine.js', '../../dist/bin/daos_engine.js']) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new DaosError('DER_NONEXIST', 'bin/daos_engine.js is not built; run `npm run build` first');
}

/** One rank: its config, its process (when running) and its state. */
class Member {
  state: RankState = 'AwaitFormat';
  child: ChildProcess | undefined;
  pid: number | undefined;
  address: string | undefined;
  drpc: string | undefined;
  conn: LazyConnection | undefined;
  restarts = 0;
  /** When the restarts within the window happened. */
  restartTimes: number[] = [];
  info: string | undefined;
  lastHeartbeat = 0;
  /** A stop was asked: the exit is expected. */
  stopRequested = false;
  restartTimer: NodeJS.Timeout | undefined;
  ready: { resolve: (r: EngineReady) => void; reject: (e: Error) => void } | undefined;
  exited: Promise<void> = Promise.resolve();
  /** The stable engine handle (its connection follows restarts). */
  readonly remote: RemoteEngine;

  constructor(
    readonly rank: number,
    readonly config: EngineConfig,
    readonly storage: EngineStorage,
    onPoolMap: (pool: string, map: PoolMap) => void,
  ) {
    this.remote = new RemoteEngine(new RankConnection(this), rank, config.targets, onPoolMap);
  }

  get running(): boolean {
    return this.child !== undefined;
  }
}

/** A rank's connection: to its engine of the moment; DER_UNREACH while it does not run. */
class RankConnection implements Connection {
  constructor(private readonly m: Member) {}

  get peer(): string {
    return this.m.address ?? `rank ${this.m.rank}`;
  }

  request(opcode: number, header: unknown, bulk?: Uint8Array, options?: RequestOptions): Promise<Reply> {
    const conn = this.m.conn;
    if (!conn)
      return Promise.reject(new DaosError('DER_UNREACH', `engine rank ${this.m.rank} is ${this.m.state}`));
    return conn.request(opcode, header, bulk, options);
  }

  async close(): Promise<void> {
    // The server owns the rank's connections.
  }
}

export class DaosServer extends MgmtControl implements ControlPlane {
  private readonly members: Member[];
  private readonly log: (line: string) => void;
  private readonly seenMaps = new Map<string, PoolMap>();
  private store: LmdbMetadataStore | undefined;
  private mgmtService: MgmtService | undefined;
  private drpcListener: Listener | undefined;
  private monitor: NodeJS.Timeout | undefined;
  /** When the heartbeat monitor last ran (0: not yet). */
  private lastCheck = 0;
  private shuttingDown = false;
  private readonly heartbeatTimeoutMs: number;

  private constructor(
    readonly config: ServerConfig,
    private readonly options: DaosServerOptions,
  ) {
    super();
    this.log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? ENGINE_HEARTBEAT_TIMEOUT_MS;
    const onPoolMap = (pool: string, map: PoolMap) => {
      if (map.version > (this.seenMaps.get(pool)?.version ?? 0)) this.seenMaps.set(pool, map);
    };
    this.members = engineStorage(config).map(
      (s) => new Member(s.index, config.engines[s.index]!, s, onPoolMap),
    );
  }

  /**
   * Start the server: listen for dRPC, read the superblocks and, when the storage is formatted,
   * start every engine and wait until they have joined. Unformatted storage leaves every rank
   * AwaitFormat until storageFormat().
   */
  static async start(config: ServerConfig, options: DaosServerOptions = {}): Promise<DaosServer> {
    const server = new DaosServer(config, options);
    try {
      await server.open();
    } catch (err) {
      await server.shutdown().catch(() => undefined);
      throw err;
    }
    return server;
  }

  private async open(): Promise<void> {
    mkdirSync(this.config.socket_dir, { recursive: true });
    this.drpcListener = await listenDrpcServer(this.config.socket_dir, {
      ready: (msg) => this.onReady(msg),
      heartbeat: (rank, pid) => this.onHeartbeat(rank, pid),
    });
    this.monitor = setInterval(() => this.checkHeartbeats(), ENGINE_HEARTBEAT_MS);
    this.monitor.unref();
    const sbs = readSuperblocks(
      this.config.name,
      this.members.map((m) => m.storage),
    );
    if (!sbs) {
      this.log(`daos_server: storage is not formatted; waiting for storage format`);
      return;
    }
    this.openControl();
    await this.startRanks(this.members);
  }

  /** The management service (for in-process callers and tests); DER_UNINIT before format. */
  protected get allRanks(): number[] {
    return this.members.map((m) => m.rank);
  }

  get mgmt(): MgmtService {
    if (!this.mgmtService)
      throw new DaosError('DER_UNINIT', 'storage is not formatted (ranks AwaitFormat); run storage format');
    return this.mgmtService;
  }

  /** A client link over this server: the management service and one RemoteEngine per rank. */
  link(): SystemLink {
    const mgmt = this.mgmt;
    return {
      mgmt,
      engine: (rank: number) => {
        const m = this.members[rank];
        if (!m) throw new DaosError('DER_UNREACH', `no engine rank ${rank}`);
        return m.remote;
      },
      now: () => hlc.now(),
      latestMap: (pool: string) => this.seenMaps.get(pool),
    };
  }

  /**
   * Engine `rank`'s counters (core/daos/engine-counters.ts), asked over its data-plane connection;
   * DER_UNREACH while it does not run, DER_TIMEDOUT after `timeoutMs`. What telemetry scrapes.
   */
  engineCounters(rank: number, options: { timeoutMs?: number } = {}): Promise<EngineCounters> {
    const m = this.members[rank];
    if (!m)
      return Promise.reject(new DaosError('DER_NONEXIST', `no rank ${rank} in system "${this.config.name}"`));
    return m.remote.counters(options);
  }

  private openControl(): void {
    if (this.store) return;
    const dir = join(this.members[0]!.storage.mount, CONTROL_DIR);
    mkdirSync(dir, { recursive: true });
    this.store = LmdbMetadataStore.open(dir);
    const files = this.options.agentKeyFiles ?? [];
    this.mgmtService = new MgmtService(
      this.store,
      this.members.map((m) => m.remote),
      () => hlc.now(),
      undefined,
      files.length > 0 ? { agentKeys: agentKeyReader(files) } : {},
    );
  }

  // ---- engines ----

  private engineArgs(m: Member): string[] {
    return [
      this.options.engineBinary ?? serverEngineBinary(),
      '--dir',
      m.storage.mount,
      '--rank',
      String(m.rank),
      '--targets',
      String(m.config.targets),
      '--listen',
      `tcp://127.0.0.1:${m.config.fabric_iface_port}`,
      '--durability',
      this.options.durability ?? 'process',
      '--drpc',
      socketAddress(this.config.socket_dir, SERVER_SOCKET_NAME),
    ];
  }

  /** Spawn one engine and wait for its READY (state Starting → Ready). */
  private async spawnEngine(m: Member): Promise<void> {
    if (m.child) throw new DaosError('DER_BUSY', `engine rank ${m.rank} is running (pid ${m.pid})`);
    m.state = 'Starting';
    m.stopRequested = false;
    let logFd: number | undefined;
    if (m.config.log_file) logFd = openSync(m.config.log_file, 'a');
    const child = spawn(process.execPath, this.engineArgs(m), {
      stdio: ['ignore', logFd ?? 'ignore', logFd ?? 'pipe'],
      env: { ...process.env, D_LOG_MASK: m.config.log_mask, ...m.config.env_vars },
    });
    if (logFd !== undefined) closeSync(logFd);
    m.child = child;
    m.pid = child.pid;
    if (!logFd) {
      let partial = '';
      child.stderr?.on('data', (d: Buffer) => {
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) if (line.length > 0) this.log(`engine ${m.rank}: ${line}`);
      });
    }
    child.on('error', (err) => this.log(`engine ${m.rank}: ${err.message}`));
    m.exited = new Promise<void>((resolve) =>
      child.once('exit', (code, signal) => {
        this.onExit(m, child, code, signal);
        resolve();
      }),
    );
    const timeoutMs = ENGINE_READY_TIMEOUT_MS;
    const ready = new Promise<EngineReady>((resolve, reject) => {
      const timer = setTimeout(() => {
        m.ready = undefined;
        child.kill('SIGKILL');
        reject(new DaosError('DER_TIMEDOUT', `engine rank ${m.rank} sent no READY in ${timeoutMs} ms`));
      }, timeoutMs);
      m.ready = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
    const r = await ready;
    m.ready = undefined;
    m.address = r.address;
    m.drpc = r.drpc;
    m.lastHeartbeat = Date.now();
    m.conn = new LazyConnection(r.address);
    m.state = 'Ready';
    this.log(`daos_server: engine rank ${m.rank} ready at ${r.address} (pid ${r.pid})`);
  }

  private onReady(msg: EngineReady): void {
    const m = this.members[msg.rank];
    if (!m || m.pid !== msg.pid || !m.ready)
      throw new DaosError('DER_INVAL', `no engine rank ${msg.rank} pid ${msg.pid} is starting here`);
    m.ready.resolve(msg);
  }

  private onHeartbeat(rank: number, pid: number): boolean {
    const m = this.members[rank];
    // An engine this server did not start (or no longer wants) is asked to stop.
    if (!m || m.pid !== pid) return true;
    m.lastHeartbeat = Date.now();
    return m.stopRequested;
  }

  private checkHeartbeats(): void {
    const now = Date.now();
    // The monitor running late means this process stalled (a long synchronous call, GC, a starved
    // CPU): heartbeats that came meanwhile are not read yet, so the stall does not count against
    // the engines (else a stall past the timeout would kill every live engine at once).
    const stalled = this.lastCheck > 0 ? now - this.lastCheck - ENGINE_HEARTBEAT_MS : 0;
    this.lastCheck = now;
    for (const m of this.members) {
      if (stalled > 0) m.lastHeartbeat = Math.min(now, m.lastHeartbeat + stalled);
      if (!m.child || (m.state !== 'Ready' && m.state !== 'Joined')) continue;
      if (now - m.lastHeartbeat > this.heartbeatTimeoutMs) {
        m.state = 'Unresponsive';
        m.info = `no heartbeat for ${now - m.lastHeartbeat} ms; killed`;
        this.log(`daos_server: engine rank ${m.rank} (pid ${m.pid}) is unresponsive; killing it`);
        m.child.kill('SIGKILL');
      }
    }
  }

  private onExit(m: Member, child: ChildProcess, code: number | null, signal: string | null): void {
    if (m.child !== child) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    m.child = undefined;
    m.pid = undefined;
    const conn = m.conn;
    m.conn = undefined;
    void conn?.close();
    m.ready?.reject(new DaosError('DER_MISC', `engine rank ${m.rank} exited with ${how} before READY`));
    m.ready = undefined;
    if (m.state === 'AdminExcluded') {
      m.info = `excluded; exited with ${how}`;
      return;
    }
    if (m.stopRequested || this.shuttingDown) {
      m.state = 'Stopped';
      m.info = `exited with ${how}`;
      this.log(`daos_server: engine rank ${m.rank} stopped (${how})`);
      return;
    }
    const why = m.state === 'Unresponsive' ? `${m.info}; exited with ${how}` : `exited with ${how}`;
    if (m.state !== 'Unresponsive') m.state = 'Errored';
    m.info = why;
    this.log(`daos_server: engine rank ${m.rank} ${why}`);
    // Self-healing: the rank's targets go DOWN in the pools whose self_heal says so, and their
    // rebuild starts; a restarted engine's targets stay out until `dmg pool reintegrate`.
    this.mgmtService?.rankFailed(m.rank).then(
      (pools) => {
        for (const p of pools)
          this.log(`daos_server: pool ${p.pool}: rank ${m.rank} excluded (map version ${p.mapVersion})`);
      },
      (err: unknown) => this.log(`daos_server: excluding rank ${m.rank}: ${(err as Error).message}`),
    );
    this.scheduleRestart(m);
  }

  private scheduleRestart(m: Member): void {
    const window = this.options.restartWindowMs ?? ENGINE_RESTART_WINDOW_MS;
    const max = this.options.restartsMax ?? ENGINE_RESTARTS_MAX;
    const now = Date.now();
    m.restartTimes = m.restartTimes.filter((t) => now - t < window);
    if (m.restartTimes.length >= max) {
      m.state = 'Errored';
      m.info = `${m.info}; restarted ${m.restartTimes.length} times in ${window} ms, not restarting`;
      this.log(`daos_server: engine rank ${m.rank} keeps dying; left Errored`);
      return;
    }
    const min = this.options.restartBackoffMsMin ?? ENGINE_RESTART_BACKOFF_MS_MIN;
    const cap = this.options.restartBackoffMsMax ?? ENGINE_RESTART_BACKOFF_MS_MAX;
    const delay = Math.min(cap, min * 2 ** m.restartTimes.length);
    this.log(`daos_server: restarting engine rank ${m.rank} in ${delay} ms`);
    m.restartTimer = setTimeout(() => {
      m.restartTimer = undefined;
      if (this.shuttingDown || m.stopRequested || m.running) return;
      m.restartTimes.push(Date.now());
      m.restarts++;
      m.info = `restart ${m.restarts} after: ${m.info}`;
      this.startRanks([m]).catch((err: unknown) =>
        this.log(`daos_server: restart of engine rank ${m.rank} failed: ${(err as Error).message}`),
      );
    }, delay);
  }

  /**
   * Start engines and bring them to Joined: spawn, wait for READY, tell every running engine the
   * peers' addresses, announce pools and containers to the new ones, resolve their pending
   * transactions.
   */
  private async startRanks(ms: Member[]): Promise<void> {
    const started = await Promise.allSettled(ms.map((m) => this.spawnEngine(m)));
    const failed = started.find((r) => r.status === 'rejected') as PromiseRejectedResult | undefined;
    const up = ms.filter((m) => m.state === 'Ready');
    if (up.length > 0) await this.join(up);
    if (failed) throw failed.reason;
  }

  private async join(ms: Member[]): Promise<void> {
    const peers = this.members
      .filter((m) => m.address && m.conn && (m.state === 'Ready' || m.state === 'Joined'))
      .map((m) => ({ rank: m.rank, address: m.address! }));
    await Promise.all(
      this.members
        .filter((m) => m.conn && (m.state === 'Ready' || m.state === 'Joined'))
        .map(async (m) => {
          try {
            await m.remote.setPeers(peers);
          } catch (err) {
            if (ms.includes(m)) throw err;
            // An older engine that does not answer is handled by its own supervision.
          }
        }),
    );
    await this.mgmt.announceAll(ms.map((m) => m.rank));
    for (const m of ms) {
      await m.remote.resolvePendingDtx();
      if (m.state === 'Ready') {
        m.state = 'Joined';
        this.log(`daos_server: engine rank ${m.rank} joined`);
      }
    }
    // Rebuilds a restart interrupted go on (a running one is left as it is).
    this.mgmt.resumeRebuilds();
  }

  private select(ranks?: number[]): Member[] {
    if (!ranks) return [...this.members];
    return ranks.map((r) => {
      const m = this.members[r];
      if (!m) throw new DaosError('DER_NONEXIST', `no rank ${r} in system "${this.config.name}"`);
      return m;
    });
  }

  private member(m: Member): SystemMember {
    return {
      rank: m.rank,
      state: m.state,
      ...(m.address !== undefined && { address: m.address }),
      ...(m.pid !== undefined && { pid: m.pid }),
      restarts: m.restarts,
      ...(m.info !== undefined && { info: m.info }),
    };
  }

  private async stopMember(m: Member, force: boolean): Promise<void> {
    if (m.restartTimer) {
      clearTimeout(m.restartTimer);
      m.restartTimer = undefined;
    }
    m.stopRequested = true;
    const child = m.child;
    if (!child) {
      if (m.state !== 'AwaitFormat' && m.state !== 'AdminExcluded') m.state = 'Stopped';
      return;
    }
    if (m.state !== 'AdminExcluded') m.state = 'Stopping';
    if (force) child.kill('SIGKILL');
    else {
      try {
        if (!m.drpc) throw new DaosError('DER_UNREACH', 'no dRPC socket');
        await sendEngineStop(m.drpc, ENGINE_STOP_TIMEOUT_MS);
      } catch {
        child.kill('SIGTERM'); // the last resort of a clean stop
      }
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), ENGINE_STOP_TIMEOUT_MS);
    await m.exited;
    clearTimeout(timer);
  }

  // ---- system ----

  async systemQuery(options: { ranks?: number[] } = {}): Promise<SystemQuery> {
    return { name: this.config.name, members: this.select(options.ranks).map((m) => this.member(m)) };
  }

  /** Stop engines cleanly (dRPC stop, then SIGTERM, then SIGKILL): Stopping → Stopped. */
  async systemStop(
    options: { ranks?: number[]; force?: boolean; onProgress?: OnProgress } = {},
  ): Promise<SystemQuery> {
    const ms = this.select(options.ranks);
    let done = 0;
    await Promise.all(
      ms.map(async (m) => {
        await this.stopMember(m, options.force ?? false);
        options.onProgress?.({ done: ++done, total: ms.length, what: `rank ${m.rank} stopped` });
      }),
    );
    return this.systemQuery({ ranks: options.ranks });
  }

  /**
   * Start stopped or errored engines (the restart window starts afresh). AdminExcluded ranks
   * start only when named in `ranks`; their targets stay DOWN until reintegrated.
   */
  async systemStart(options: { ranks?: number[]; onProgress?: OnProgress } = {}): Promise<SystemQuery> {
    void this.mgmt; // DER_UNINIT before format
    const ms = this.select(options.ranks).filter(
      (m) =>
        !m.running &&
        (m.state === 'Stopped' ||
          m.state === 'Errored' ||
          m.state === 'Unresponsive' ||
          (m.state === 'AdminExcluded' && options.ranks !== undefined)),
    );
    for (const m of ms) {
      if (m.restartTimer) clearTimeout(m.restartTimer);
      m.restartTimer = undefined;
      m.restartTimes = [];
      m.info = undefined;
    }
    await this.startRanks(ms);
    options.onProgress?.({ done: ms.length, total: ms.length, what: 'ranks started' });
    return this.systemQuery({ ranks: options.ranks });
  }

  /** AdminExcluded: the rank's targets go DOWN in every pool map and its engine is stopped. */
  async systemExclude(ranks: number[]): Promise<SystemQuery> {
    const ms = this.select(ranks);
    for (const m of ms) {
      await this.mgmt.rankDown(m.rank);
      m.state = 'AdminExcluded';
      m.info = 'excluded by the administrator';
      await this.stopMember(m, false);
    }
    return this.systemQuery({ ranks });
  }

  // ---- storage ----

  async storageScan(): Promise<StorageTierInfo[]> {
    return Promise.all(this.members.map((m) => scanTier(m.storage)));
  }

  /**
   * Format every engine's tier (DER_EXIST when formatted, unless `force`; DER_BUSY while engines
   * run), then start the engines.
   */
  async storageFormat(
    options: { force?: boolean; onProgress?: OnProgress } = {},
  ): Promise<StorageTierInfo[]> {
    const running = this.members.filter((m) => m.running);
    if (running.length > 0)
      throw new DaosError(
        'DER_BUSY',
        `engines ${running.map((m) => m.rank).join(', ')} are running; stop the system before a format`,
      );
    if (options.force && this.store) {
      await this.store.close();
      this.store = undefined;
      this.mgmtService = undefined;
    }
    formatTiers(
      this.config.name,
      this.members.map((m) => m.storage),
      options.force ?? false,
    );
    options.onProgress?.({ done: 1, total: 2, what: 'storage formatted' });
    this.openControl();
    for (const m of this.members) {
      m.restartTimes = [];
      m.restarts = 0;
      m.info = undefined;
    }
    await this.startRanks(this.members);
    options.onProgress?.({ done: 2, total: 2, what: 'engines joined' });
    return this.storageScan();
  }

  // ---- clients ----

  async attachInfo(): Promise<AttachInfo> {
    return {
      system: this.config.name,
      engines: this.members
        .filter((m) => m.state === 'Joined' && m.address)
        .map((m) => ({ rank: m.rank, address: m.address! })),
      mgmt: this.config.mgmt_svc_replicas[0] ?? `localhost:${this.config.port}`,
    };
  }

  // ---- shutdown ----

  /** Stop every engine cleanly, close dRPC and the metadata store. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    if (this.monitor) clearInterval(this.monitor);
    this.mgmtService?.close();
    await Promise.all(this.members.map((m) => this.stopMember(m, false)));
    await this.drpcListener?.close();
    this.drpcListener = undefined;
    await this.store?.close();
    this.store = undefined;
    this.mgmtService = undefined;
  }
}
