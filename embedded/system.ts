import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { callerPrincipals } from '../control/mgmt/caller.js';
import { LmdbMetadataStore } from '../control/mgmt/metadata-store.js';
import { MgmtService } from '../control/mgmt/mgmt-service.js';
import { signCredential } from '../control/security/credential.js';
import { generateKeyPair, type SigningKeyPair } from '../control/security/signed-envelope.js';
import { tokenChecker } from '../control/security/token.js';
import { DaosError } from '../core/common/errors.js';
import { hlc } from '../core/common/hlc.js';
import { ENGINES_MAX, TARGETS_PER_ENGINE_DEFAULT, TARGETS_PER_ENGINE_MAX } from '../core/common/limits.js';
import { parseBytes } from '../core/common/units.js';
import { DaosClient } from '../core/daos/client.js';
import type { EngineCounters } from '../core/daos/engine-counters.js';
import type { PoolInfo, SystemLink } from '../core/daos/link.js';
import type { RemoteEngine } from '../core/daos/remote-engine.js';
import type { PoolMap } from '../core/placement/pool-map.js';
import type { Listener } from '../core/wire/transport.js';
import { Engine } from '../engine/obj/engine.js';
import { serveEngine } from '../engine/obj/rpc-service.js';
import { EngineProcess } from './engine-process.js';

/**
 * The embedded system: the management service and the engines over one folder, the engines in
 * this process (transport 'inproc') or as daos_engine child processes on loopback ('tcp'). This
 * is the one place that imports both core/ and engine/ and control/.
 *
 *   DIR/system.json          engine count and targets per engine (fixed at first start)
 *   DIR/control/             management service metadata (LMDB)
 *   DIR/engine-R/target-T/   one VOS store per target (LMDB index + data file)
 */

/** How often the system pings each engine process (tcp) to find one that stopped answering. */
export const SYSTEM_ENGINE_PING_MS = 1000;
/**
 * How long an engine process may leave pings unanswered before it is declared failed (and
 * killed). An engine that exits is declared failed at once; so a failure is detected within
 * SYSTEM_ENGINE_PING_MS + SYSTEM_ENGINE_PING_TIMEOUT_MS.
 */
export const SYSTEM_ENGINE_PING_TIMEOUT_MS = 5000;

/** The OS user running the system and their primary group, as credential names (no `@`). */
function osUser(): { user: string; groups: string[] } {
  const me = callerPrincipals();
  return { user: me.user.slice(0, -1), groups: [me.group.slice(0, -1)] };
}

export interface SystemOptions {
  dir: string;
  /** Engine ranks (default 1). */
  engines?: number;
  /** Targets per engine (default 4). */
  targetsPerEngine?: number;
  /** 'process' (default): acknowledged writes survive a killed process; 'fsync': also power loss. */
  durability?: 'process' | 'fsync';
  /** Run aggregation on every container this often (0 = only on demand; default 0). */
  aggregationIntervalMs?: number;
  /**
   * 'inproc' (default): engines run in this process. 'tcp': each engine is a daos_engine child
   * process on loopback; the management service and clients stay here and reach them over TCP.
   */
  transport?: 'inproc' | 'tcp';
}

interface SystemFile {
  engines: number;
  targetsPerEngine: number;
}

/** An engine of the system, in this process or a child process. */
type SystemEngine = { kind: 'inproc'; engine: Engine } | { kind: 'process'; proc: EngineProcess };

export class DaosSystem {
  readonly dir: string;
  readonly transport: 'inproc' | 'tcp';
  private readonly engineList: SystemEngine[];
  private readonly store: LmdbMetadataStore;
  readonly mgmt: MgmtService;
  private readonly link: SystemLink;
  /** Signs credentials for the system's callers (DAOS's agent, in process); the service trusts its public key. */
  private readonly agentKey: SigningKeyPair;
  private aggTimer: NodeJS.Timeout | undefined;
  private aggRunning: Promise<unknown> | undefined;
  private stopped = false;
  private serving: Promise<Array<{ rank: number; address: string }>> | undefined;
  private readonly listeners: Listener[] = [];
  /** The engines' object services by rank (what clients call). */
  private readonly apis: Array<Engine | RemoteEngine>;
  private pingTimer: NodeJS.Timeout | undefined;
  private readonly lastAnswer = new Map<number, number>();
  /** When the ping timer last ran (0: not yet). */
  private lastPingRound = 0;
  /** Engine failures the system detected (tcp): rank, when it was noticed, and why. */
  readonly failures: Array<{ rank: number; detectedMs: number; why: string }> = [];
  private readonly failing = new Set<number>();
  private readonly options: SystemOptions;
  private readonly seenMaps: Map<string, PoolMap>;

  private constructor(
    dir: string,
    engines: SystemEngine[],
    store: LmdbMetadataStore,
    mgmt: MgmtService,
    seenMaps: Map<string, PoolMap>,
    agentKey: SigningKeyPair,
    options: SystemOptions,
  ) {
    this.options = options;
    this.seenMaps = seenMaps;
    this.agentKey = agentKey;
    this.dir = dir;
    this.transport = engines[0]?.kind === 'process' ? 'tcp' : 'inproc';
    this.engineList = engines;
    this.store = store;
    this.mgmt = mgmt;
    const apis = engines.map((e) => (e.kind === 'inproc' ? e.engine : e.proc.remote));
    this.apis = apis;
    this.link = {
      mgmt: mgmt.asCaller(this.credentialSource(osUser())),
      engine: (rank: number) => {
        const e = apis[rank];
        if (!e) throw new DaosError('DER_UNREACH', `no engine rank ${rank}`);
        return e;
      },
      now: () => hlc.now(),
      latestMap: (pool: string) => seenMaps.get(pool),
    };
  }

  /** Start (or reopen) an embedded system in a folder. */
  static async start(options: SystemOptions): Promise<DaosSystem> {
    if (!options || typeof options.dir !== 'string' || options.dir.length === 0)
      throw new DaosError('DER_INVAL', 'DaosSystem.start needs { dir }');
    const transport = options.transport ?? 'inproc';
    if (transport !== 'inproc' && transport !== 'tcp')
      throw new DaosError('DER_INVAL', `transport "${transport}" must be inproc or tcp`);
    const dir = resolve(options.dir);
    mkdirSync(dir, { recursive: true });
    const layout = readOrWriteLayout(dir, options);
    // Pool maps newer than a client's, as engines send them back in replies (tcp).
    const seenMaps = new Map<string, PoolMap>();
    const onPoolMap = (pool: string, map: PoolMap) => {
      if (map.version > (seenMaps.get(pool)?.version ?? 0)) seenMaps.set(pool, map);
    };
    const engines =
      transport === 'tcp'
        ? await startProcesses(dir, layout, options, onPoolMap)
        : await startInproc(dir, layout, options);
    const store = LmdbMetadataStore.open(join(dir, 'control'));
    const controls = engines.map((e) => (e.kind === 'inproc' ? e.engine : e.proc.remote));
    const agentKey = generateKeyPair();
    const mgmt = new MgmtService(store, controls, () => hlc.now(), undefined, {
      agentKeys: [agentKey.publicKey],
    });
    await mgmt.announceAll();
    // Transactions a crash left prepared, now that every engine knows its peers and pools.
    for (const c of controls) await c.resolvePendingDtx();
    // Rebuilds a stop interrupted go on.
    mgmt.resumeRebuilds();
    const sys = new DaosSystem(dir, engines, store, mgmt, seenMaps, agentKey, options);
    sys.watchEngines(engines);
    if (options.aggregationIntervalMs && options.aggregationIntervalMs > 0) {
      sys.aggTimer = setInterval(() => {
        // One pass at a time; stop() waits for the one in flight before closing the stores.
        if (sys.aggRunning || sys.stopped) return;
        sys.aggRunning = sys
          .aggregateAll()
          .catch(() => undefined)
          .finally(() => {
            sys.aggRunning = undefined;
          });
      }, options.aggregationIntervalMs);
      sys.aggTimer.unref();
    }
    return sys;
  }

  /** Engines of this system: rank, process id, address (tcp) and state. */
  get engines(): Array<{ rank: number; pid: number; address?: string; state: 'joined' | 'stopped' }> {
    return this.engineList.map((e) =>
      e.kind === 'inproc'
        ? { rank: e.engine.rank, pid: process.pid, state: this.stopped ? 'stopped' : 'joined' }
        : {
            rank: e.proc.rank,
            pid: e.proc.pid,
            address: e.proc.address,
            state: this.stopped || !e.proc.running ? 'stopped' : 'joined',
          },
    );
  }

  /**
   * Mark every target of an engine rank DOWN in every pool map (what the control plane does when
   * it excludes a rank). Redundant objects keep working on their other members; I/O to a
   * non-redundant object there fails with DER_UNREACH.
   */
  async rankDown(rank: number): Promise<Array<{ pool: string; mapVersion: number }>> {
    this.checkRunning();
    return this.mgmt.rankDown(rank);
  }

  /**
   * Watch engine processes (tcp): one that exits without being asked to, or leaves pings
   * unanswered for SYSTEM_ENGINE_PING_TIMEOUT_MS (it is then killed), has failed — its rank is
   * excluded from the pools whose self_heal says so, and their rebuild starts (MgmtService.rankFailed).
   */
  private watchEngines(engines: readonly SystemEngine[]): void {
    for (const e of engines) {
      if (e.kind !== 'process') continue;
      this.lastAnswer.set(e.proc.rank, Date.now());
      void e.proc.exited.then(() => {
        if (!this.stopped && !e.proc.stopping) this.engineFailed(e.proc.rank, 'its process exited');
      });
    }
    if (this.pingTimer || !engines.some((e) => e.kind === 'process')) return;
    this.pingTimer = setInterval(() => {
      // The timer running late means this process stalled (a long synchronous call, GC, a starved
      // CPU): answers that came meanwhile are not read yet, so the stall does not count against
      // the engines (else a stall past the timeout would kill every live engine at once).
      const now = Date.now();
      const stalled = this.lastPingRound > 0 ? now - this.lastPingRound - SYSTEM_ENGINE_PING_MS : 0;
      this.lastPingRound = now;
      if (stalled > 0)
        for (const [rank, at] of this.lastAnswer) this.lastAnswer.set(rank, Math.min(now, at + stalled));
      for (const e of this.engineList) {
        if (e.kind !== 'process' || !e.proc.running || this.failing.has(e.proc.rank)) continue;
        const rank = e.proc.rank;
        e.proc.remote.ping({}, { timeoutMs: SYSTEM_ENGINE_PING_TIMEOUT_MS }).then(
          () => this.lastAnswer.set(rank, Date.now()),
          () => undefined,
        );
        if (Date.now() - (this.lastAnswer.get(rank) ?? Date.now()) > SYSTEM_ENGINE_PING_TIMEOUT_MS) {
          e.proc.kill();
          this.engineFailed(rank, `no answer to pings for ${SYSTEM_ENGINE_PING_TIMEOUT_MS} ms; killed`);
        }
      }
    }, SYSTEM_ENGINE_PING_MS);
    this.pingTimer.unref();
  }

  private engineFailed(rank: number, why: string): void {
    if (this.failing.has(rank) || this.stopped) return;
    this.failing.add(rank);
    this.failures.push({ rank, detectedMs: Date.now(), why });
    this.mgmt.rankFailed(rank).catch(() => undefined);
  }

  /**
   * Start `count` more engine ranks (same targets per engine, same transport) and add them to the
   * system; pools are extended onto them with extendPool. Resolves to the new ranks.
   */
  async addEngines(count: number): Promise<number[]> {
    this.checkRunning();
    if (!Number.isInteger(count) || count < 1 || this.engineList.length + count > ENGINES_MAX)
      throw new DaosError(
        'DER_INVAL',
        `engines to add ${count} must be 1..${ENGINES_MAX - this.engineList.length}`,
      );
    const layout = JSON.parse(readFileSync(join(this.dir, 'system.json'), 'utf8')) as SystemFile;
    const first = this.engineList.length;
    const ranks = Array.from({ length: count }, (_, i) => first + i);
    let added: SystemEngine[];
    if (this.transport === 'tcp') {
      const onPoolMap = (pool: string, map: PoolMap) => {
        if (map.version > (this.seenMaps.get(pool)?.version ?? 0)) this.seenMaps.set(pool, map);
      };
      const procs = await Promise.all(
        ranks.map((rank) =>
          EngineProcess.spawn({
            dir: join(this.dir, `engine-${rank}`),
            rank,
            targets: layout.targetsPerEngine,
            durability: this.options.durability ?? 'process',
            onPoolMap,
          }),
        ),
      );
      added = procs.map((proc) => ({ kind: 'process', proc }));
      this.engineList.push(...added);
      const peers = this.engineList.flatMap((e) =>
        e.kind === 'process' && e.proc.running ? [{ rank: e.proc.rank, address: e.proc.address }] : [],
      );
      for (const e of this.engineList)
        if (e.kind === 'process' && e.proc.running) await e.proc.remote.setPeers(peers);
    } else {
      const inproc = this.engineList.flatMap((e) => (e.kind === 'inproc' ? [e.engine] : []));
      const peers = (rank: number) => {
        const e = inproc[rank];
        if (!e) throw new DaosError('DER_UNREACH', `no engine rank ${rank}`);
        return e;
      };
      for (const rank of ranks) {
        inproc.push(
          await Engine.start({
            dir: join(this.dir, `engine-${rank}`),
            rank,
            targets: layout.targetsPerEngine,
            vos: { durability: this.options.durability },
            peers,
            checkToken: tokenChecker(),
          }),
        );
      }
      for (const e of inproc) e.setPeers(peers);
      added = ranks.map((rank) => ({ kind: 'inproc', engine: inproc[rank]! }));
      this.engineList.push(...added);
    }
    for (const e of added) this.apis.push(e.kind === 'inproc' ? e.engine : e.proc.remote);
    this.mgmt.addEngines(added.map((e) => (e.kind === 'inproc' ? e.engine : e.proc.remote)));
    writeFileSync(
      join(this.dir, 'system.json'),
      `${JSON.stringify({ ...layout, engines: this.engineList.length }, null, 2)}\n`,
    );
    this.watchEngines(added);
    return ranks;
  }

  /** Extend a pool onto engine ranks (what `dmg pool extend` does); the rebuild rebalances it. */
  async extendPool(id: string, ranks: number[]): Promise<{ mapVersion: number }> {
    this.checkRunning();
    return this.mgmt.poolExtend(id, ranks);
  }

  /** The pool's rebuild as pool query reports it, with the map version and seconds it took so far. */
  rebuildState(id: string): ReturnType<MgmtService['rebuildState']> {
    return this.mgmt.rebuildState(id);
  }

  /** Create a pool spanning every target (what `dmg pool create` does). */
  async createPool(options: {
    label: string;
    size: string | number;
    uuid?: string;
    /** Cell size of the pool's erasure-coded arrays (DAOS's ec_cell_sz); default 128 KiB. */
    ecCellSize?: string | number;
  }): Promise<PoolInfo> {
    this.checkRunning();
    return this.mgmt.poolCreate({
      label: options.label,
      totalBytes: parseBytes(options.size, 'pool size'),
      uuid: options.uuid,
      ecCellBytes:
        options.ecCellSize === undefined ? undefined : parseBytes(options.ecCellSize, 'EC cell size'),
    });
  }

  async destroyPool(id: string, options: { force?: boolean } = {}): Promise<void> {
    this.checkRunning();
    await this.mgmt.poolDestroy(id, options.force ?? false);
  }

  async listPools(): Promise<PoolInfo[]> {
    this.checkRunning();
    return this.mgmt.poolList();
  }

  /**
   * A client of this system, acting as the OS user running it (who owns what the system creates),
   * or — a test hook — as `as`: another user and their groups (names, primary first), with a
   * credential signed by the system's key as an agent would. ACLs are enforced for both.
   */
  async connect(options: { as?: { user: string; groups: readonly string[] } } = {}): Promise<DaosClient> {
    this.checkRunning();
    if (options.as === undefined) return new DaosClient(this.link);
    const link: SystemLink = { ...this.link, mgmt: this.mgmt.asCaller(this.credentialSource(options.as)) };
    return new DaosClient(link);
  }

  /** A fresh credential for `who` whenever the last is a minute old (credentials last CREDENTIAL_TTL_MS). */
  private credentialSource(who: { user: string; groups: readonly string[] }): () => string {
    let cached: { at: number; cred: string } | undefined;
    return () => {
      const now = Date.now();
      if (!cached || now - cached.at > 60_000) {
        const cred = signCredential(this.agentKey.privateKey, {
          uid: 0,
          gid: 0,
          gids: [],
          pid: process.pid,
          user: who.user,
          groups: [...who.groups],
          machine: hostname() || 'localhost',
          issuedMs: now,
        });
        cached = { at: now, cred };
      }
      return cached.cred;
    };
  }

  /**
   * Counters of engine `rank`: csumErrors, the reads its targets found corrupt (checksummed
   * containers), in total and per target.
   */
  /** What engine `rank`'s process wrote to stderr lately (its log; '' for in-process engines). */
  engineStderr(rank: number): string {
    const e = this.engineList[rank];
    return e?.kind === 'process' ? e.proc.lastStderr : '';
  }

  async engineCounters(rank: number): Promise<EngineCounters> {
    this.checkRunning();
    const e = this.engineList[rank];
    if (!e) throw new DaosError('DER_NONEXIST', `no engine rank ${rank}`);
    return e.kind === 'inproc' ? e.engine.counters() : e.proc.remote.counters();
  }

  /** Aggregate every container of every pool now. */
  async aggregateAll(): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    const total = { recordsRemoved: 0, bytesFreed: 0 };
    for (const pool of await this.mgmt.poolList()) {
      for (const c of await this.mgmt.contList(pool.uuid)) {
        if (this.stopped) return total;
        const s = await this.mgmt.contAggregate(pool.uuid, c.uuid);
        total.recordsRemoved += s.recordsRemoved;
        total.bytesFreed += s.bytesFreed;
      }
    }
    return total;
  }

  /** Flush and close everything. */
  /**
   * Make every engine reachable from other threads and processes: in-process engines start
   * serving their object RPCs on a loopback TCP port (until stop); engine processes already are.
   * Resolves to each rank's address — with the management calls, what a client elsewhere needs.
   */
  async serveEngines(): Promise<Array<{ rank: number; address: string }>> {
    this.checkRunning();
    this.serving ??= Promise.all(
      this.engineList.map(async (e, rank) => {
        if (e.kind === 'process') return { rank, address: e.proc.address };
        const listener = await serveEngine(e.engine, 'tcp://127.0.0.1:0');
        this.listeners.push(listener);
        return { rank, address: listener.address };
      }),
    );
    return this.serving;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.aggTimer) clearInterval(this.aggTimer);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.mgmt.close();
    await this.aggRunning;
    for (const l of this.listeners.splice(0)) await l.close();
    for (const e of this.engineList) await (e.kind === 'inproc' ? e.engine.stop() : e.proc.stop());
    await this.store.close();
  }

  private checkRunning(): void {
    if (this.stopped) throw new DaosError('DER_SHUTDOWN', 'system is stopped');
  }
}

async function startInproc(dir: string, layout: SystemFile, options: SystemOptions): Promise<SystemEngine[]> {
  const engines: Engine[] = [];
  const peers = (rank: number) => {
    const e = engines[rank];
    if (!e) throw new DaosError('DER_UNREACH', `no engine rank ${rank}`);
    return e;
  };
  const checkToken = tokenChecker();
  for (let rank = 0; rank < layout.engines; rank++) {
    engines.push(
      await Engine.start({
        dir: join(dir, `engine-${rank}`),
        rank,
        targets: layout.targetsPerEngine,
        vos: { durability: options.durability },
        peers,
        checkToken,
      }),
    );
  }
  return engines.map((engine) => ({ kind: 'inproc', engine }));
}

async function startProcesses(
  dir: string,
  layout: SystemFile,
  options: SystemOptions,
  onPoolMap: (pool: string, map: PoolMap) => void,
): Promise<SystemEngine[]> {
  const procs: EngineProcess[] = [];
  try {
    const started = await Promise.allSettled(
      Array.from({ length: layout.engines }, (_, rank) =>
        EngineProcess.spawn({
          dir: join(dir, `engine-${rank}`),
          rank,
          targets: layout.targetsPerEngine,
          durability: options.durability ?? 'process',
          onPoolMap,
        }),
      ),
    );
    for (const r of started) if (r.status === 'fulfilled') procs.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const peers = procs.map((p) => ({ rank: p.rank, address: p.address }));
    for (const p of procs) await p.remote.setPeers(peers);
  } catch (err) {
    for (const p of procs) await p.stop();
    throw err;
  }
  return procs.map((proc) => ({ kind: 'process', proc }));
}

function readOrWriteLayout(dir: string, options: SystemOptions): SystemFile {
  const file = join(dir, 'system.json');
  const engines = options.engines ?? 1;
  const targetsPerEngine = options.targetsPerEngine ?? TARGETS_PER_ENGINE_DEFAULT;
  if (!Number.isInteger(engines) || engines < 1 || engines > ENGINES_MAX)
    throw new DaosError('DER_INVAL', `engines ${engines} must be 1..${ENGINES_MAX}`);
  if (
    !Number.isInteger(targetsPerEngine) ||
    targetsPerEngine < 1 ||
    targetsPerEngine > TARGETS_PER_ENGINE_MAX
  ) {
    throw new DaosError(
      'DER_INVAL',
      `targetsPerEngine ${targetsPerEngine} must be 1..${TARGETS_PER_ENGINE_MAX}`,
    );
  }
  if (existsSync(file)) {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SystemFile;
    const asked = options.engines !== undefined || options.targetsPerEngine !== undefined;
    if (asked && (saved.engines !== engines || saved.targetsPerEngine !== targetsPerEngine)) {
      throw new DaosError(
        'DER_INVAL',
        `${dir} holds a system of ${saved.engines} engine(s) x ${saved.targetsPerEngine} targets; asked for ${engines} x ${targetsPerEngine}`,
      );
    }
    return saved;
  }
  const layout = { engines, targetsPerEngine };
  writeFileSync(file, `${JSON.stringify(layout, null, 2)}\n`);
  return layout;
}
