import type { KeyObject } from 'node:crypto';
import { DaosError } from '../../core/common/errors.js';
import { checkLabel, isUuid, newUuid } from '../../core/common/ids.js';
import {
  ARRAY_CHUNK_BYTES_DEFAULT,
  ATTR_NAME_BYTES_MAX,
  ATTR_VALUE_BYTES_MAX,
  OIDS_PER_ALLOC_MAX,
  POOL_BYTES_MIN,
  SNAPSHOT_NAME_BYTES_MAX,
} from '../../core/common/limits.js';
import { OID_USER_MAX } from '../../core/common/oid.js';
import type {
  ContainerType,
  ContCreateOptions,
  ContInfo,
  ContProps,
  ContPropsUpdate,
  EngineRebuildStatus,
  MgmtApi,
  OpenOptions,
  PoolInfo,
  PoolQuery,
} from '../../core/daos/link.js';
import { CONTAINER_TYPES } from '../../core/daos/link.js';
import { EC_CODEC_CELL_BYTES_MAX } from '../../core/ec/limits.js';
import { layoutsDiffer } from '../../core/placement/layout.js';
import { oclassByName } from '../../core/placement/oclass.js';
import {
  completeRebuild,
  extendMap,
  makePoolMap,
  type PoolMap,
  ranksDown,
  setTargetsState,
  type TargetRef,
  type TargetState,
  targetState,
} from '../../core/placement/pool-map.js';
import {
  type AccessTarget,
  type Acl,
  type AclKind,
  type AclOperation,
  defaultAcl,
  deleteAcl,
  evaluateAcl,
  formatAce,
  handlePerms,
  type Identity,
  isPrincipalName,
  KIND_PERMS,
  type Perm,
  parseAcl,
  permString,
  principalOf,
  requireOperation,
  updateAcl,
} from '../security/acl.js';
import { verifyCredential } from '../security/credential.js';
import { exportKeyPem, generateKeyPair, type SigningKeyPair } from '../security/signed-envelope.js';
import { issueToken, TOKEN_TTL_MS_DEFAULT } from '../security/token.js';
import { callerPrincipals } from './caller.js';
import type { MetadataStore } from './metadata-store.js';
import {
  checkPoolPropNames,
  checkPoolProps,
  POOL_PROP_NAMES,
  POOL_PROPS,
  selfHealHas,
} from './pool-props.js';

/**
 * The management service: pools, containers, their properties, attributes, snapshots and object
 * id counters, kept in a MetadataStore. Engines hold data only; they learn pools and containers
 * from here (for space accounting) and are told to drop a destroyed container's data.
 */

/** What the management service needs from each engine. */
export interface EngineControl {
  readonly rank: number;
  readonly targetCount: number;
  /**
   * A pool to serve. `tokenKey`: the management service's public key (SPKI PEM); an engine given
   * one checks the container token of every object RPC of the pool with it.
   */
  poolCreate(pool: string, bytesPerTarget: number, map: PoolMap, tokenKey?: string): void | Promise<void>;
  /** A newer pool map (target states changed). */
  poolMapUpdate(pool: string, map: PoolMap): void | Promise<void>;
  poolDestroy(pool: string): void | Promise<void>;
  contCreate(pool: string, cont: string): void | Promise<void>;
  contDestroy(pool: string, cont: string): Promise<void>;
  /** Bytes a pool's data takes on this engine. */
  poolUsedBytes(pool: string): number | Promise<number>;
  aggregate(
    cont: string,
    upTo: bigint,
    keep: bigint[],
  ): Promise<{ recordsRemoved: number; bytesFreed: number }>;
  /** Start the engine's part of the pool's rebuild for map `version` (engine/rebuild). */
  rebuildStart?(pool: string, version: number, snapshots?: Record<string, bigint[]>): void | Promise<void>;
  rebuildStatus?(pool: string): EngineRebuildStatus | Promise<EngineRebuildStatus>;
  /** Drop what `targets` (default all) of the engine hold for the pool (before reintegration). */
  rebuildDiscard?(pool: string, targets?: readonly number[]): Promise<void>;
}

/** How often the management service asks the engines how a rebuild goes. */
export const REBUILD_POLL_MS = 200;

/** A pool's rebuild as pool query reports it. */
interface PoolRebuild {
  /** The pool map version being rebuilt for. */
  version: number;
  state: 'busy' | 'done';
  objects: number;
  bytes: number;
  /** Objects and bytes of earlier runs that a newer map version replaced. */
  carried: { objects: number; bytes: number };
  startedMs: number;
  doneMs?: number;
  /** What each engine of the rebuild answered at the last poll (a stuck rebuild names them). */
  engines: RebuildEngineStatus[];
}

/** One engine's part of a pool's rebuild as the last poll saw it. */
export type RebuildEngineStatus = { rank: number } & (
  | EngineRebuildStatus
  | { state: 'unreachable'; error: string }
);

interface PoolRecord {
  uuid: string;
  label: string;
  totalBytes: number;
  createdMs: number;
  map: PoolMap;
  /** Owner user and group as principals (`alice@`); absent in records of older releases. */
  owner?: string;
  group?: string;
  /** ACL entries as DAOS prints them; absent: defaultAcl('pool'). */
  acl?: string[];
  /** Properties other than label and ec_cell_sz (pool-props.ts), normalised. */
  props?: Record<string, string>;
}

interface ContRecord {
  uuid: string;
  label: string;
  pool: string;
  type: ContainerType;
  props: ContProps;
  createdMs: number;
  /** Epochs as decimal strings: the store keeps plain JSON-like values. */
  snapshots: Array<{ epoch: string; name: string }>;
  attrs: Record<string, string>;
  nextOid: string;
  owner?: string;
  group?: string;
  /** ACL entries as DAOS prints them; absent: defaultAcl('container'). */
  acl?: string[];
  /** Set when more ranks had DOWN targets at once than the redundancy factor survives; absent: HEALTHY. */
  status?: 'UNCLEAN';
}

const poolKey = (uuid: string) => `pool/${uuid}`;
const poolLabelKey = (label: string) => `pool-label/${label}`;
const contKey = (pool: string, uuid: string) => `cont/${pool}/${uuid}`;
const contLabelKey = (pool: string, label: string) => `cont-label/${pool}/${label}`;
const rankExcludedKey = (rank: number) => `rank-excluded/${rank}`;

/** Who owns a pool or container, and its ACL as DAOS prints it. */
export interface AclInfo {
  owner: string;
  group: string;
  entries: string[];
}

function aclOf(entries: string[] | undefined, kind: AclKind): Acl {
  return entries === undefined ? defaultAcl(kind) : parseAcl(entries, kind);
}

function aclEntries(acl: Acl): string[] {
  return acl.entries.map(formatAce);
}

/** `alice` or `alice@` → `alice@`, refusing what is not a principal name. */
function checkPrincipal(name: string, what: string): string {
  const p = typeof name === 'string' ? principalOf(name) : '';
  if (!isPrincipalName(p))
    throw new DaosError('DER_INVAL', `${what} "${name}" is not a user or group name (name@)`);
  return p;
}

export interface PoolCreateOptions {
  label: string;
  totalBytes: number;
  uuid?: string;
  /** Cell size of erasure-coded arrays (DAOS's ec_cell_sz); default EC_CELL_BYTES_DEFAULT. */
  ecCellBytes?: number;
  /** Owner user and group (`name@`); default the calling OS user and its primary group. */
  owner?: string;
  group?: string;
  /** Initial ACL entries; default defaultAcl('pool'). */
  acl?: string[];
  /** Initial properties by DAOS name (pool-props.ts); `label` must match, `ec_cell_sz` sets ecCellBytes. */
  props?: Record<string, string>;
}

/** Who may call, and how their capabilities are signed. */
export interface MgmtSecurity {
  /**
   * Public keys of the agents (or of the embedded system) whose credentials are trusted; a
   * function is asked on every call (key files may appear after the service starts). Absent:
   * callers are not authenticated and every caller acts as the service's own OS user.
   */
  agentKeys?: readonly KeyObject[] | (() => readonly KeyObject[]);
  /** The Ed25519 key pair tokens are signed with; default a new one per service instance. */
  tokenKey?: SigningKeyPair;
  /** Lifetime of issued tokens; default TOKEN_TTL_MS_DEFAULT. */
  tokenTtlMs?: number;
}

/** A caller as the service knows them: ACL identity plus primary group (owner group of what they create). */
export interface Caller extends Identity {
  readonly group: string;
}

/** Where a credential comes from: a fixed one, or a function asked per call (it may re-sign). */
export type CredentialSource = string | undefined | (() => string | undefined);

export class MgmtService implements MgmtApi {
  /** Serialises mutations so that checks (label taken?) and writes cannot interleave. */
  private chain: Promise<unknown> = Promise.resolve();
  private readonly tokenKey: SigningKeyPair;
  /** The token key's public half (SPKI PEM), as engines are given it. */
  readonly tokenPublicKeyPem: string;
  private readonly tokenTtlMs: number;

  /** Engines of the system (extend adds to them). */
  private readonly engines: EngineControl[];
  /** Rebuilds by pool uuid (the latest of each; kept in memory, restarted from the map on start). */
  private readonly rebuilds = new Map<string, PoolRebuild>();
  private rebuildTimer: NodeJS.Timeout | undefined;
  private rebuildPolling = false;
  private closed = false;

  constructor(
    private readonly store: MetadataStore,
    engines: readonly EngineControl[],
    private readonly now: () => bigint,
    /** Who asks when a request names no owner (default: this process's OS user and group). */
    private readonly caller: () => { user: string; group: string } = callerPrincipals,
    private readonly security: MgmtSecurity = {},
  ) {
    this.engines = [...engines];
    this.tokenKey = security.tokenKey ?? generateKeyPair();
    this.tokenPublicKeyPem = exportKeyPem(this.tokenKey.publicKey);
    this.tokenTtlMs = security.tokenTtlMs ?? TOKEN_TTL_MS_DEFAULT;
  }

  /**
   * The MgmtApi of one caller, ACLs enforced: each call verifies the credential (an agent's
   * signature, CREDENTIAL_TTL_MS), evaluates the pool or container ACL for its user and groups,
   * and fails with DER_NO_PERM before anything changes. What ClientSvc and the embedded client use;
   * the service's own methods are the administrator's (dmg) and are not checked.
   */
  asCaller(credential: CredentialSource): MgmtApi {
    return new CallerMgmt(this, () =>
      this.identify(typeof credential === 'function' ? credential() : credential),
    );
  }

  private agentKeys(): readonly KeyObject[] {
    const k = this.security.agentKeys;
    return (typeof k === 'function' ? k() : k) ?? [];
  }

  /** @internal The caller a credential proves (DER_NO_PERM when it proves nothing). */
  identify(credential: string | undefined): Caller {
    if (this.security.agentKeys === undefined) {
      // Not authenticated (no agent keys configured): the service's own user.
      const me = this.caller();
      return { user: me.user, group: me.group, groups: [me.group] };
    }
    if (credential === undefined || credential === '')
      throw new DaosError('DER_NO_PERM', 'no credential: ask daos_agent for one (connect({ agentSocket }))');
    const keys = this.agentKeys();
    if (keys.length === 0)
      throw new DaosError('DER_NO_PERM', 'credential refused: no trusted agent key is installed');
    let firstError: unknown;
    for (const key of keys) {
      try {
        const c = verifyCredential(key, credential);
        const groups = c.groups.map(principalOf);
        return { user: principalOf(c.user), group: groups[0] ?? principalOf(String(c.gid)), groups };
      } catch (err) {
        firstError ??= err;
        if (!(err instanceof DaosError && /signed by another key/.test(err.message))) throw err;
      }
    }
    throw firstError;
  }

  /** @internal The permissions `who` holds on a pool (`cont` absent) or container, and how to name it. */
  grantedTo(
    who: Caller,
    poolId: string,
    contId?: string,
  ): { perms: Set<Perm>; target: AccessTarget; pool: string; cont?: string } {
    const pool = this.findPool(poolId);
    if (contId === undefined) {
      return {
        perms: evaluateAcl(aclOf(pool.acl, 'pool'), ownership(this.ownersOf(pool)), who),
        target: { who: who.user, pool: pool.label },
        pool: pool.uuid,
      };
    }
    const c = this.findCont(pool.uuid, contId);
    return {
      perms: evaluateAcl(aclOf(c.acl, 'container'), ownership(this.ownersOf(c)), who),
      target: { who: who.user, pool: pool.label, cont: c.label },
      pool: pool.uuid,
      cont: c.uuid,
    };
  }

  /** @internal A capability token for `perms` on a pool or container, signed with the service's key. */
  issue(who: Caller, perms: Iterable<Perm>, pool: string, cont?: string): string {
    return issueToken(this.tokenKey.privateKey, {
      kind: cont === undefined ? 'pool' : 'container',
      pool,
      ...(cont === undefined ? {} : { cont }),
      perms: permString(perms),
      user: who.user,
      groups: [...who.groups],
      expiresMs: Date.now() + this.tokenTtlMs,
    });
  }

  /** The service's own identity (the administrator's calls). */
  private self(): Caller {
    const me = this.caller();
    return { user: me.user, group: me.group, groups: [me.group] };
  }

  /**
   * Tell the engines about every pool and container (at system start), or only the engines of
   * `ranks` (an engine that restarted).
   */
  async announceAll(ranks?: readonly number[]): Promise<void> {
    const engines = ranks ? this.engines.filter((e) => ranks.includes(e.rank)) : this.engines;
    for (const [, pool] of this.store.list<PoolRecord>('pool/')) {
      for (const e of engines)
        await e.poolCreate(pool.uuid, this.bytesPerTarget(pool), pool.map, this.tokenPublicKeyPem);
      for (const [, cont] of this.store.list<ContRecord>(`cont/${pool.uuid}/`)) {
        for (const e of engines) await e.contCreate(pool.uuid, cont.uuid);
      }
    }
  }

  /**
   * Mark every target of `rank` DOWN in every pool map (new map versions), and tell the engines
   * that still answer. Resolves to the pools whose map changed.
   */
  rankDown(rank: number): Promise<Array<{ pool: string; mapVersion: number }>> {
    return this.serial(async () => {
      this.checkRank(rank);
      const pools = this.store.list<PoolRecord>('pool/').map(([, p]) => p);
      const changed = await this.setTargets(pools, rank, undefined, 'DOWN');
      this.kickRebuilds(changed, 'self_heal');
      return changed;
    });
  }

  /**
   * An engine rank died or stopped answering (the control plane's detection): in every pool whose
   * self_heal has `exclude`, its targets go DOWN (new map versions); where it also has `rebuild`,
   * the rebuild starts. Resolves to the pools whose map changed.
   */
  rankFailed(rank: number): Promise<Array<{ pool: string; mapVersion: number }>> {
    return this.serial(async () => {
      this.checkRank(rank);
      const pools = this.store
        .list<PoolRecord>('pool/')
        .map(([, p]) => p)
        .filter((p) => selfHealHas(p.props?.self_heal, 'exclude'));
      const changed = await this.setTargets(pools, rank, undefined, 'DOWN');
      this.kickRebuilds(changed, 'self_heal');
      return changed;
    });
  }

  /**
   * Administratively exclude ranks (DAOS AdminExcluded): remembered in the store, and every
   * target of each goes DOWN in every pool map.
   */
  systemExclude(ranks: readonly number[]): Promise<void> {
    return this.serial(async () => {
      for (const r of ranks) this.checkRank(r);
      await this.store.commit(ranks.map((r) => [rankExcludedKey(r), true]));
      const pools = this.store.list<PoolRecord>('pool/').map(([, p]) => p);
      for (const r of ranks) {
        const latest = pools.map((p) => this.store.get<PoolRecord>(poolKey(p.uuid)) ?? p);
        this.kickRebuilds(await this.setTargets(latest, r, undefined, 'DOWN'), 'self_heal');
      }
    });
  }

  /** Ranks excluded with systemExclude, ascending. */
  excludedRanks(): number[] {
    return this.store
      .list<boolean>('rank-excluded/')
      .map(([k]) => Number(k.slice('rank-excluded/'.length)))
      .sort((a, b) => a - b);
  }

  /**
   * Targets (default all) of `rank` go DOWN in the pool's map (dmg pool exclude), and the rebuild
   * starts when the pool's self_heal has `rebuild`. DER_BUSY while a rebuild runs; DER_RF when more fault domains (ranks) would have DOWN
   * targets than a container of the pool survives (its redundancy factor), unless `force`.
   */
  poolExclude(
    poolId: string,
    rank: number,
    targets?: number[],
    options: { force?: boolean } = {},
  ): Promise<{ mapVersion: number }> {
    return this.poolTargets(poolId, rank, targets, 'DOWN', (pool, next) => {
      if (options.force) return;
      const down = new Set(next.targets.filter((_, i) => next.states[i] === 'DOWN').map((t) => t.rank));
      for (const [, c] of this.store.list<ContRecord>(`cont/${pool.uuid}/`)) {
        if (down.size > c.props.redunFactor)
          throw new DaosError(
            'DER_RF',
            `excluding rank ${rank} leaves ${down.size} fault domains (ranks ${[...down].join(',')}) with DOWN targets in pool "${pool.label}"; container "${c.label}" has redundancy factor ${c.props.redunFactor} (use force to exclude anyway)`,
          );
      }
    });
  }

  /**
   * Targets (default all) of `rank` go DRAIN: they still serve while the rebuild moves their
   * shards to other targets, then they are out (DOWNOUT) (dmg pool drain). DER_BUSY while a
   * rebuild runs.
   */
  poolDrain(poolId: string, rank: number, targets?: number[]): Promise<{ mapVersion: number }> {
    return this.poolTargets(poolId, rank, targets, 'DRAIN');
  }

  /**
   * Targets (default all) of `rank` come back (dmg pool reintegrate): what they held is dropped,
   * they go UP, the rebuild fills them with their shards, then they are UPIN. A DRAIN target
   * just comes back UPIN. DER_BUSY while a rebuild runs. Without engines that rebuild, targets
   * come back UPIN at once.
   */
  poolReintegrate(poolId: string, rank: number, targets?: number[]): Promise<{ mapVersion: number }> {
    return this.poolTargets(poolId, rank, targets, this.rebuildable() ? 'UP' : 'UPIN', async (pool) => {
      const refs = this.refsOf(pool, rank, targets);
      const down = refs.filter((r) => targetState(pool.map, r) === 'DOWN');
      if (down.length > 0 && this.rebuildable())
        throw new DaosError(
          'DER_BUSY',
          `rank ${rank} of pool "${pool.label}" has DOWN targets whose rebuild has not finished; reintegrate them once they are DOWNOUT`,
        );
      const out = refs.filter((r) => targetState(pool.map, r) === 'DOWNOUT').map((r) => r.target);
      const e = this.engines.find((x) => x.rank === rank);
      if (out.length > 0 && e?.rebuildDiscard) await e.rebuildDiscard(pool.uuid, out);
    });
  }

  /**
   * Add engine ranks to the system's engine list (they start serving pools when a pool is
   * extended onto them). Ranks already known are DER_EXIST.
   */
  addEngines(engines: readonly EngineControl[]): void {
    for (const e of engines)
      if (this.engines.some((x) => x.rank === e.rank))
        throw new DaosError('DER_EXIST', `engine rank ${e.rank} is already in the system`);
    this.engines.push(...engines);
  }

  /**
   * Extend a pool onto more engine ranks (dmg pool extend): their targets join as NEW, the pool's
   * size grows in proportion, the rebuild rebalances shards onto them, then they are UPIN.
   * DER_BUSY while a rebuild runs; DER_NONEXIST for an unknown rank, DER_EXIST for one already in.
   */
  poolExtend(poolId: string, ranks: number[]): Promise<{ mapVersion: number }> {
    return this.serial(async () => {
      const pool = this.findPool(poolId);
      this.checkNotRebuilding(pool);
      if (!Array.isArray(ranks) || ranks.length === 0)
        throw new DaosError('DER_INVAL', 'pool extend needs at least one rank');
      for (const r of ranks) {
        this.checkRank(r);
        if (pool.map.targets.some((t) => t.rank === r))
          throw new DaosError('DER_EXIST', `rank ${r} is already in pool "${pool.label}"`);
      }
      const perEngine = pool.map.targets.filter((t) => t.rank === pool.map.targets[0]!.rank).length;
      const map = extendMap(pool.map, ranks, perEngine);
      const next: PoolRecord = {
        ...pool,
        map,
        totalBytes: Math.floor((pool.totalBytes * map.targets.length) / pool.map.targets.length),
      };
      await this.store.commit([[poolKey(pool.uuid), next]]);
      for (const e of this.engines.filter((x) => ranks.includes(x.rank))) {
        await e.poolCreate(next.uuid, this.bytesPerTarget(next), next.map, this.tokenPublicKeyPem);
        for (const [, c] of this.store.list<ContRecord>(`cont/${pool.uuid}/`))
          await e.contCreate(pool.uuid, c.uuid);
      }
      await this.pushMap(next);
      this.kickRebuilds([{ pool: next.uuid, mapVersion: map.version }], 'always');
      return { mapVersion: map.version };
    });
  }

  private refsOf(pool: PoolRecord, rank: number, targets: readonly number[] | undefined): TargetRef[] {
    const ofRank = pool.map.targets.filter((t) => t.rank === rank);
    return targets !== undefined && targets.length > 0 ? targets.map((target) => ({ rank, target })) : ofRank;
  }

  private poolTargets(
    poolId: string,
    rank: number,
    targets: number[] | undefined,
    state: TargetState,
    check?: (pool: PoolRecord, next: PoolMap) => void | Promise<void>,
  ): Promise<{ mapVersion: number }> {
    return this.serial(async () => {
      const pool = this.findPool(poolId);
      this.checkRank(rank);
      this.checkNotRebuilding(pool);
      if (check) {
        const refs = this.refsOf(pool, rank, targets);
        for (const r of refs)
          if (!pool.map.targets.some((t) => t.rank === r.rank && t.target === r.target))
            throw new DaosError(
              'DER_NONEXIST',
              `pool "${pool.label}" has no target ${r.target} on rank ${rank}`,
            );
        await check(pool, setTargetsState(pool.map, refs, state));
      }
      const changed = await this.setTargets([pool], rank, targets, state);
      // An exclusion rebuilds as the pool's self_heal says; drain and reintegration always move data.
      this.kickRebuilds(changed, state === 'DOWN' ? 'self_heal' : 'always');
      return { mapVersion: changed[0]?.mapVersion ?? pool.map.version };
    });
  }

  /** DER_BUSY while the pool's rebuild runs (operator changes wait for it). */
  private checkNotRebuilding(pool: PoolRecord): void {
    const rb = this.rebuilds.get(pool.uuid);
    if (rb?.state === 'busy')
      throw new DaosError(
        'DER_BUSY',
        `pool "${pool.label}" is rebuilding (map version ${rb.version}, ${rb.objects} objects and ${rb.bytes} bytes so far); try again when it is done`,
      );
  }

  // ---- rebuild ----

  /**
   * Start the rebuilds a restart interrupted: every pool whose map still has targets in
   * transition (DOWN per its self_heal, DRAIN, UP, NEW). Called once the engines have joined.
   */
  resumeRebuilds(): void {
    const pools = this.store.list<PoolRecord>('pool/').map(([, p]) => ({ pool: p.uuid, map: p.map }));
    const moving = pools.filter((p) => p.map.states.some((s) => s === 'DRAIN' || s === 'UP' || s === 'NEW'));
    this.kickRebuilds(moving, 'always');
    this.kickRebuilds(
      pools.filter((p) => !moving.includes(p)),
      'self_heal',
    );
  }

  /** Whether every engine takes part in rebuilds (test doubles may not). */
  private rebuildable(): boolean {
    return this.engines.length > 0 && this.engines.every((e) => e.rebuildStart && e.rebuildStatus);
  }

  /** Engines that take part in a pool's rebuild: those with a target not out of the map. */
  private rebuildEngines(map: PoolMap): EngineControl[] {
    const ranks = new Set(
      map.targets
        .filter((_, i) => map.states[i] !== 'DOWN' && map.states[i] !== 'DOWNOUT')
        .map((t) => t.rank),
    );
    return this.engines.filter((e) => ranks.has(e.rank));
  }

  /**
   * Start (or restart, for a newer map) the rebuild of pools whose map just changed, when their
   * layouts now differ: always for operator actions, per self_heal (`rebuild`) for detected failures.
   */
  private kickRebuilds(
    changed: ReadonlyArray<{ pool: string; mapVersion?: number }>,
    why: 'always' | 'self_heal',
  ): void {
    if (!this.rebuildable() || this.closed) return;
    for (const { pool: uuid } of changed) {
      const pool = this.store.get<PoolRecord>(poolKey(uuid));
      if (!pool || !layoutsDiffer(pool.map)) continue;
      if (why === 'self_heal' && !selfHealHas(pool.props?.self_heal, 'rebuild')) continue;
      const prev = this.rebuilds.get(uuid);
      // A rebuild already running for this map (an engine that rejoined asks again) is left as
      // it is: a fresh record would orphan the one a poll in flight is about to finish.
      if (prev?.state === 'busy' && prev.version === pool.map.version) continue;
      const carried =
        prev?.state === 'busy' ? { objects: prev.objects, bytes: prev.bytes } : { objects: 0, bytes: 0 };
      this.rebuilds.set(uuid, {
        version: pool.map.version,
        state: 'busy',
        objects: carried.objects,
        bytes: carried.bytes,
        carried,
        startedMs: prev?.state === 'busy' ? prev.startedMs : Date.now(),
        engines: [],
      });
      for (const e of this.rebuildEngines(pool.map))
        Promise.resolve()
          .then(() => e.rebuildStart!(uuid, pool.map.version, this.rebuildSnapshots(uuid)))
          .catch(() => undefined); // asked again by the poll
    }
    if (!this.rebuildTimer && [...this.rebuilds.values()].some((r) => r.state === 'busy')) {
      this.rebuildTimer = setInterval(() => void this.pollRebuilds(), REBUILD_POLL_MS);
      this.rebuildTimer.unref();
    }
  }

  /** The snapshot epochs of each container of a pool (what a rebuild must keep readable). */
  private rebuildSnapshots(pool: string): Record<string, bigint[]> {
    const out: Record<string, bigint[]> = {};
    for (const [, c] of this.store.list<ContRecord>(`cont/${pool}/`))
      if (c.snapshots.length > 0) out[c.uuid] = c.snapshots.map((s) => BigInt(s.epoch));
    return out;
  }

  /** Ask the engines how the busy rebuilds go; finish those every engine is done with. */
  private async pollRebuilds(): Promise<void> {
    if (this.rebuildPolling || this.closed) return;
    this.rebuildPolling = true;
    try {
      for (const [uuid, rb] of this.rebuilds) {
        if (rb.state !== 'busy') continue;
        const pool = this.store.get<PoolRecord>(poolKey(uuid));
        if (!pool) {
          this.rebuilds.delete(uuid);
          continue;
        }
        if (pool.map.version !== rb.version) {
          // The map moved on without a rebuild for it (a failure detected in a pool whose
          // self_heal has no `rebuild`, while an operator's rebuild runs): carry on with the newer
          // map, or the rebuild would stay busy for a version that never finishes.
          if (pool.map.version > rb.version) this.kickRebuilds([{ pool: uuid }], 'always');
          continue;
        }
        let done = true;
        let objects = rb.carried.objects;
        let bytes = rb.carried.bytes;
        const seen: RebuildEngineStatus[] = [];
        for (const e of this.rebuildEngines(pool.map)) {
          let st: EngineRebuildStatus;
          try {
            st = await e.rebuildStatus!(uuid);
          } catch (err) {
            // Not answering: the detection excludes it, or it answers later.
            seen.push({ rank: e.rank, state: 'unreachable', error: (err as Error)?.message ?? String(err) });
            done = false;
            continue;
          }
          seen.push({ rank: e.rank, ...st });
          if (st.version === rb.version) {
            objects += st.objects;
            bytes += st.bytes;
          }
          if (st.version !== rb.version || st.state === 'failed' || st.state === 'idle') {
            done = false;
            // A newer rebuild replaced this one while the poll waited: not this poll's to restart.
            if (this.rebuilds.get(uuid) !== rb) break;
            await Promise.resolve(e.rebuildStart!(uuid, rb.version, this.rebuildSnapshots(uuid))).catch(
              () => undefined,
            );
          } else if (st.state !== 'done') done = false;
        }
        rb.objects = objects;
        rb.bytes = bytes;
        rb.engines = seen;
        if (done) await this.serial(() => this.finishRebuild(uuid, rb));
      }
    } finally {
      this.rebuildPolling = false;
      if (this.rebuildTimer && ![...this.rebuilds.values()].some((r) => r.state === 'busy')) {
        clearInterval(this.rebuildTimer);
        this.rebuildTimer = undefined;
      }
    }
  }

  /** Every engine is done: DOWN and DRAIN targets go DOWNOUT, UP and NEW ones UPIN (a new map version). */
  private async finishRebuild(uuid: string, rb: PoolRebuild): Promise<void> {
    const pool = this.store.get<PoolRecord>(poolKey(uuid));
    if (!pool || pool.map.version !== rb.version || rb.state !== 'busy' || this.rebuilds.get(uuid) !== rb)
      return;
    const map = completeRebuild(pool.map);
    const next: PoolRecord = { ...pool, map };
    await this.store.commit([[poolKey(uuid), next]]);
    rb.state = 'done';
    rb.doneMs = Date.now();
    await this.pushMap(next);
  }

  /** Tell every engine a pool's map (those that do not answer learn it when they rejoin). */
  private async pushMap(pool: PoolRecord): Promise<void> {
    await Promise.all(
      this.engines.map((e) => Promise.resolve(e.poolMapUpdate(pool.uuid, pool.map)).catch(() => undefined)),
    );
  }

  /**
   * A pool's rebuild as pool query shows it: 'busy' while one runs, 'done' once the latest
   * finished, 'idle' when none ran since the service started; with objects and bytes moved.
   */
  rebuildState(poolId: string): { state: 'idle' | 'busy' | 'done'; objects: number; bytes: number } & {
    mapVersion?: number;
    seconds?: number;
    engines?: RebuildEngineStatus[];
  } {
    const pool = this.findPool(poolId);
    const rb = this.rebuilds.get(pool.uuid);
    if (!rb) return { state: 'idle', objects: 0, bytes: 0 };
    return {
      state: rb.state,
      objects: rb.objects,
      bytes: rb.bytes,
      mapVersion: rb.version,
      seconds: ((rb.doneMs ?? Date.now()) - rb.startedMs) / 1000,
      engines: rb.engines.map((e) => ({ ...e })),
    };
  }

  /**
   * A pool's rebuild in one line, for errors and logs: its state and map version, the pool map
   * now (version, target states by rank), and what each engine answered at the last poll.
   */
  rebuildReport(poolId: string): string {
    const pool = this.findPool(poolId);
    const rb = this.rebuildState(pool.uuid);
    const byRank = new Map<number, string[]>();
    pool.map.targets.forEach((t, i) => {
      byRank.set(t.rank, [...(byRank.get(t.rank) ?? []), pool.map.states[i]!]);
    });
    const map = [...byRank].map(([r, st]) => `${r}:${st.join('/')}`).join(' ');
    const engines = (rb.engines ?? []).map((e) =>
      e.state === 'unreachable'
        ? `rank ${e.rank} unreachable (${e.error})`
        : `rank ${e.rank} ${e.state} v${e.version} ${e.objects} objects ${e.bytes} bytes${e.error ? ` (${e.error})` : ''}`,
    );
    return (
      `pool "${pool.label}" rebuild ${rb.state}` +
      (rb.mapVersion !== undefined ? ` for map version ${rb.mapVersion} (${rb.seconds?.toFixed(1)} s)` : '') +
      `; pool map version ${pool.map.version} [${map}]` +
      `; engines at the last poll: ${engines.length > 0 ? engines.join(', ') : 'none'}`
    );
  }

  /** Every pool's rebuild (metrics). */
  rebuildStates(): Array<{
    pool: string;
    label: string;
    state: 'busy' | 'done';
    objects: number;
    bytes: number;
  }> {
    const out = [];
    for (const [uuid, rb] of this.rebuilds) {
      const pool = this.store.get<PoolRecord>(poolKey(uuid));
      if (pool)
        out.push({ pool: uuid, label: pool.label, state: rb.state, objects: rb.objects, bytes: rb.bytes });
    }
    return out;
  }

  /** Stop polling rebuilds (the service is closing). */
  close(): void {
    this.closed = true;
    if (this.rebuildTimer) clearInterval(this.rebuildTimer);
    this.rebuildTimer = undefined;
  }

  private checkRank(rank: number): void {
    if (!Number.isInteger(rank) || !this.engines.some((e) => e.rank === rank))
      throw new DaosError('DER_NONEXIST', `no engine rank ${rank} in the system`);
  }

  /**
   * The one way target states change: move `targets` (default all) of `rank` towards `state` in
   * each pool's map, persist the maps that changed (version + 1), then push them to the engines
   * (not to `rank` when it goes DOWN as a whole: it may be gone). An engine that does not answer
   * learns the map later. Targets the rank does not have are DER_NONEXIST, nothing changed.
   */
  private async setTargets(
    pools: readonly PoolRecord[],
    rank: number,
    targets: readonly number[] | undefined,
    state: TargetState,
  ): Promise<Array<{ pool: string; mapVersion: number }>> {
    const changed: PoolRecord[] = [];
    for (const pool of pools) {
      const ofRank = pool.map.targets.filter((t) => t.rank === rank);
      let refs: TargetRef[] = ofRank;
      if (targets !== undefined && targets.length > 0) {
        for (const t of targets) {
          if (!ofRank.some((r) => r.target === t))
            throw new DaosError('DER_NONEXIST', `pool "${pool.label}" has no target ${t} on rank ${rank}`);
        }
        refs = targets.map((target) => ({ rank, target }));
      }
      const map = setTargetsState(pool.map, refs, state);
      if (map !== pool.map) changed.push({ ...pool, map });
    }
    // A container whose redundancy factor this failure passes may have lost data: UNCLEAN (in
    // the same commit as the map), and refused at open until set HEALTHY again.
    const unclean: Array<[string, ContRecord]> = [];
    if (state === 'DOWN') {
      for (const p of changed) {
        const down = new Set(p.map.targets.filter((_, i) => p.map.states[i] === 'DOWN').map((t) => t.rank));
        for (const [, c] of this.store.list<ContRecord>(`cont/${p.uuid}/`))
          if (down.size > c.props.redunFactor && c.status !== 'UNCLEAN')
            unclean.push([contKey(c.pool, c.uuid), { ...c, status: 'UNCLEAN' }]);
      }
    }
    if (changed.length > 0)
      await this.store.commit([...changed.map((p): [string, unknown] => [poolKey(p.uuid), p]), ...unclean]);
    const wholeRankDown = state === 'DOWN' && (targets === undefined || targets.length === 0);
    for (const p of changed) {
      await Promise.all(
        this.engines
          .filter((e) => !(wholeRankDown && e.rank === rank))
          .map(async (e) => {
            try {
              await e.poolMapUpdate(p.uuid, p.map);
              // A rank coming back learns the containers created while it was out.
              if ((state === 'UPIN' || state === 'UP') && e.rank === rank) {
                for (const [, c] of this.store.list<ContRecord>(`cont/${p.uuid}/`))
                  await e.contCreate(p.uuid, c.uuid);
              }
            } catch {
              // An engine that does not answer learns the map when it rejoins (a later issue).
            }
          }),
      );
    }
    return changed.map((p) => ({ pool: p.uuid, mapVersion: p.map.version }));
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Engines with a target serving I/O in the pool's map: the ones told about containers. */
  private liveEngines(poolUuid: string): EngineControl[] {
    const pool = this.store.get<PoolRecord>(poolKey(poolUuid));
    if (!pool) return [...this.engines];
    const down = ranksDown(pool.map);
    return this.engines.filter((e) => !down.has(e.rank));
  }

  private bytesPerTarget(pool: PoolRecord): number {
    return Math.floor(pool.totalBytes / pool.map.targets.length);
  }

  // ---- pools ----

  poolCreate(options: PoolCreateOptions): Promise<PoolInfo> {
    return this.serial(async () => {
      checkLabel(options.label, 'pool');
      if (!Number.isSafeInteger(options.totalBytes) || options.totalBytes < POOL_BYTES_MIN) {
        throw new DaosError(
          'DER_INVAL',
          `pool size ${options.totalBytes} bytes is below the minimum ${POOL_BYTES_MIN}`,
        );
      }
      if (this.store.get(poolLabelKey(options.label)))
        throw new DaosError('DER_EXIST', `pool label "${options.label}" is taken`);
      const {
        label: propLabel,
        ec_cell_sz: propCell,
        ...props
      } = checkPoolProps(options.props ?? {}, 'create');
      if (propLabel !== undefined && propLabel !== options.label)
        throw new DaosError(
          'DER_INVAL',
          `property label "${propLabel}" differs from the pool label "${options.label}"`,
        );
      const ecCellBytes = options.ecCellBytes ?? (propCell === undefined ? undefined : Number(propCell));
      if (
        ecCellBytes !== undefined &&
        (!Number.isSafeInteger(ecCellBytes) || ecCellBytes < 1 || ecCellBytes > EC_CODEC_CELL_BYTES_MAX)
      ) {
        throw new DaosError(
          'DER_INVAL',
          `EC cell size ${ecCellBytes} must be an integer 1..${EC_CODEC_CELL_BYTES_MAX} bytes`,
        );
      }
      const uuid = options.uuid ?? newUuid();
      if (!isUuid(uuid)) throw new DaosError('DER_INVAL', `"${uuid}" is not a UUID`);
      if (this.store.get(poolKey(uuid))) throw new DaosError('DER_EXIST', `pool ${uuid} exists`);
      const targetsPerEngine = this.engines[0]?.targetCount ?? 0;
      const caller = this.caller();
      const rec: PoolRecord = {
        uuid,
        label: options.label,
        totalBytes: options.totalBytes,
        createdMs: Date.now(),
        map: makePoolMap(
          this.engines.map((e) => e.rank),
          targetsPerEngine,
          ecCellBytes,
        ),
        owner: checkPrincipal(options.owner ?? caller.user, 'owner'),
        group: checkPrincipal(options.group ?? caller.group, 'group'),
        acl: aclEntries(options.acl === undefined ? defaultAcl('pool') : parseAcl(options.acl, 'pool')),
        props,
      };
      await this.store.commit([
        [poolKey(uuid), rec],
        [poolLabelKey(options.label), uuid],
      ]);
      for (const e of this.engines)
        await e.poolCreate(uuid, this.bytesPerTarget(rec), rec.map, this.tokenPublicKeyPem);
      return this.poolInfo(rec);
    });
  }

  poolDestroy(poolId: string, force = false): Promise<void> {
    return this.serial(async () => {
      const pool = this.findPool(poolId);
      const conts = this.store.list<ContRecord>(`cont/${pool.uuid}/`);
      if (conts.length > 0 && !force) {
        throw new DaosError(
          'DER_BUSY',
          `pool "${pool.label}" still holds ${conts.length} container(s); destroy them or force`,
        );
      }
      const live = this.liveEngines(pool.uuid);
      for (const [, c] of conts) await this.dropContainer(c);
      await this.store.commit([], [poolKey(pool.uuid), poolLabelKey(pool.label)]);
      for (const e of live) await e.poolDestroy(pool.uuid);
    });
  }

  async poolList(): Promise<PoolInfo[]> {
    return this.store.list<PoolRecord>('pool/').map(([, p]) => this.poolInfo(p));
  }

  /** The administrator's connect: every pool permission, in a token. */
  async poolConnect(poolId: string, options: OpenOptions = {}): Promise<PoolInfo> {
    const pool = this.findPool(poolId);
    const perms = options.mode === 'ro' ? 'rt' : KIND_PERMS.pool;
    return { ...this.poolInfo(pool), token: this.issue(this.self(), [...perms] as Perm[], pool.uuid) };
  }

  async poolQuery(poolUuid: string): Promise<PoolQuery> {
    const pool = this.findPool(poolUuid);
    let used = 0;
    for (const e of this.liveEngines(pool.uuid)) {
      // An engine that does not answer (failed, not yet excluded) counts nothing.
      used += await Promise.resolve(e.poolUsedBytes(pool.uuid)).catch(() => 0);
    }
    return {
      uuid: pool.uuid,
      label: pool.label,
      totalBytes: pool.totalBytes,
      freeBytes: Math.max(0, pool.totalBytes - used),
      targets: pool.map.targets.length,
      disabledTargets: pool.map.states.filter((s) => s === 'DOWN' || s === 'DOWNOUT').length,
      mapVersion: pool.map.version,
      rebuild: (({ state, objects, bytes }) => ({ state, objects, bytes }))(this.rebuildState(pool.uuid)),
    };
  }

  private findPool(poolId: string): PoolRecord {
    if (typeof poolId !== 'string' || poolId.length === 0)
      throw new DaosError('DER_INVAL', 'pool label or UUID required');
    const uuid = isUuid(poolId) ? poolId : this.store.get<string>(poolLabelKey(poolId));
    const rec = uuid ? this.store.get<PoolRecord>(poolKey(uuid)) : undefined;
    if (!rec) throw new DaosError('DER_NONEXIST', `no pool "${poolId}"`);
    return rec;
  }

  private poolInfo(p: PoolRecord): PoolInfo {
    const info: PoolInfo = {
      uuid: p.uuid,
      label: p.label,
      totalBytes: p.totalBytes,
      map: p.map,
      createdMs: p.createdMs,
    };
    if (p.owner !== undefined) info.owner = p.owner;
    if (p.group !== undefined) info.group = p.group;
    return info;
  }

  // ---- pool ACLs and properties ----

  /** The pool's owner, group and ACL. */
  async poolGetAcl(poolId: string): Promise<AclInfo> {
    const pool = this.findPool(poolId);
    const owners = this.ownersOf(pool);
    return { ...owners, entries: aclEntries(aclOf(pool.acl, 'pool')) };
  }

  /** Replace the pool's ACL; DER_INVAL (nothing changed) on a bad entry. Resolves to the new ACL. */
  poolOverwriteAcl(poolId: string, entries: string | readonly string[]): Promise<string[]> {
    return this.editPoolAcl(poolId, () => parseAcl(entries, 'pool'));
  }

  /** Add entries, replacing those of the same principals (dmg pool update-acl). */
  poolUpdateAcl(poolId: string, entries: string | readonly string[]): Promise<string[]> {
    return this.editPoolAcl(poolId, (acl) => updateAcl(acl, entries));
  }

  /** Remove a principal's entry (OWNER@, GROUP@, EVERYONE@, u:name@, g:name@); DER_NONEXIST without one. */
  poolDeleteAcl(poolId: string, principal: string): Promise<string[]> {
    return this.editPoolAcl(poolId, (acl) => deleteAcl(acl, principal));
  }

  private editPoolAcl(poolId: string, edit: (acl: Acl) => Acl): Promise<string[]> {
    return this.serial(async () => {
      const pool = this.findPool(poolId);
      const acl = aclEntries(edit(aclOf(pool.acl, 'pool')));
      await this.store.commit([[poolKey(pool.uuid), { ...pool, acl }]]);
      return acl;
    });
  }

  private ownersOf(rec: { owner?: string; group?: string }): { owner: string; group: string } {
    // Records from before ownership was kept belong to whoever runs the service.
    const caller = this.caller();
    return { owner: rec.owner ?? caller.user, group: rec.group ?? caller.group };
  }

  /** Pool properties by DAOS name (all when `names` is empty or absent); unknown names DER_INVAL. */
  async poolGetProps(poolId: string, names?: readonly string[]): Promise<Record<string, string>> {
    const pool = this.findPool(poolId);
    const wanted = names && names.length > 0 ? names : POOL_PROP_NAMES;
    checkPoolPropNames(wanted);
    const out: Record<string, string> = {};
    for (const name of wanted) {
      if (name === 'label') out[name] = pool.label;
      else if (name === 'ec_cell_sz')
        out[name] = String(pool.map.ecCellBytes ?? POOL_PROPS[name]!.defaultValue);
      else out[name] = pool.props?.[name] ?? POOL_PROPS[name]!.defaultValue;
    }
    return out;
  }

  /** Change pool properties (`label` renames the pool); all validated first, nothing changed on failure. */
  poolSetProps(poolId: string, props: Record<string, string>): Promise<void> {
    return this.serial(async () => {
      const pool = this.findPool(poolId);
      const { label, ...rest } = checkPoolProps(props, 'set');
      const next: PoolRecord = { ...pool, props: { ...pool.props, ...rest } };
      const puts: Array<[string, unknown]> = [];
      const deletes: string[] = [];
      if (label !== undefined && label !== pool.label) {
        checkLabel(label, 'pool');
        if (this.store.get(poolLabelKey(label)))
          throw new DaosError('DER_EXIST', `pool label "${label}" is taken`);
        deletes.push(poolLabelKey(pool.label));
        puts.push([poolLabelKey(label), pool.uuid]);
        next.label = label;
      }
      puts.push([poolKey(pool.uuid), next]);
      await this.store.commit(puts, deletes);
    });
  }

  // ---- containers ----

  /** Create a container owned by `owner` (default: the service's OS user and group). */
  contCreate(
    poolUuid: string,
    options: ContCreateOptions,
    owner: { user: string; group: string } = this.caller(),
  ): Promise<ContInfo> {
    return this.serial(async () => {
      const pool = this.findPool(poolUuid);
      const uuid = options.uuid ?? newUuid();
      if (!isUuid(uuid)) throw new DaosError('DER_INVAL', `"${uuid}" is not a UUID`);
      const label = options.label ?? `container_${uuid.slice(0, 8)}`;
      checkLabel(label, 'container');
      if (this.store.get(contLabelKey(pool.uuid, label))) {
        throw new DaosError('DER_EXIST', `container label "${label}" is taken in pool "${pool.label}"`);
      }
      if (this.store.get(contKey(pool.uuid, uuid)))
        throw new DaosError('DER_EXIST', `container ${uuid} exists`);
      const type = options.type ?? 'UNKNOWN';
      if (!CONTAINER_TYPES.includes(type)) {
        throw new DaosError(
          'DER_INVAL',
          `container type "${type}" is not one of ${CONTAINER_TYPES.join(', ')}`,
        );
      }
      const props = checkProps(
        { redunFactor: 0, checksum: 'off', chunkSize: ARRAY_CHUNK_BYTES_DEFAULT },
        options.props ?? {},
      );
      const rec: ContRecord = {
        uuid,
        label,
        pool: pool.uuid,
        type,
        props,
        createdMs: Date.now(),
        snapshots: [],
        attrs: {},
        nextOid: '1',
        owner: owner.user,
        group: owner.group,
        acl: aclEntries(defaultAcl('container')),
      };
      await this.store.commit([
        [contKey(pool.uuid, uuid), rec],
        [contLabelKey(pool.uuid, label), uuid],
      ]);
      for (const e of this.liveEngines(pool.uuid)) await e.contCreate(pool.uuid, uuid);
      return contInfo(rec);
    });
  }

  /** The administrator's lookup; with a mode, an open with a token of every container permission. */
  async contLookup(poolUuid: string, contId: string, options: OpenOptions = {}): Promise<ContInfo> {
    const c = this.findCont(poolUuid, contId);
    if (options.mode === undefined) return contInfo(c);
    refuseUnclean(contInfo(c), options);
    const perms = options.mode === 'ro' ? 'rta' : KIND_PERMS.container;
    return { ...contInfo(c), token: this.issue(this.self(), [...perms] as Perm[], c.pool, c.uuid) };
  }

  async contList(poolUuid: string): Promise<ContInfo[]> {
    const pool = this.findPool(poolUuid);
    return this.store.list<ContRecord>(`cont/${pool.uuid}/`).map(([, c]) => contInfo(c));
  }

  contDestroy(poolUuid: string, contId: string, _force: boolean): Promise<void> {
    return this.serial(async () => this.dropContainer(this.findCont(poolUuid, contId)));
  }

  private async dropContainer(c: ContRecord): Promise<void> {
    // Forget the record first: a crash in between leaves orphan data, never a record without data.
    await this.store.commit([], [contKey(c.pool, c.uuid), contLabelKey(c.pool, c.label)]);
    for (const e of this.liveEngines(c.pool)) await e.contDestroy(c.pool, c.uuid);
  }

  contSetProps(poolUuid: string, contUuid: string, props: ContPropsUpdate): Promise<ContInfo> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contUuid);
      const { label, status, ...rest } = props;
      if ('redunFactor' in rest && rest.redunFactor !== c.props.redunFactor) {
        throw new DaosError('DER_NO_PERM', 'the redundancy factor is fixed when a container is created');
      }
      if (status !== undefined && status !== 'HEALTHY')
        throw new DaosError(
          'DER_INVAL',
          `container status can only be set to HEALTHY, not ${JSON.stringify(status)}`,
        );
      const next: ContRecord = { ...c, props: checkProps(c.props, rest) };
      if (status === 'HEALTHY') delete next.status;
      const deletes: string[] = [];
      const puts: Array<[string, unknown]> = [];
      if (label !== undefined && label !== c.label) {
        checkLabel(label, 'container');
        if (this.store.get(contLabelKey(c.pool, label)))
          throw new DaosError('DER_EXIST', `container label "${label}" is taken`);
        deletes.push(contLabelKey(c.pool, c.label));
        puts.push([contLabelKey(c.pool, label), c.uuid]);
        next.label = label;
      }
      puts.push([contKey(c.pool, c.uuid), next]);
      await this.store.commit(puts, deletes);
      return contInfo(next);
    });
  }

  /** The container's owner, group and ACL. */
  async contGetAcl(poolUuid: string, contId: string): Promise<AclInfo> {
    const c = this.findCont(poolUuid, contId);
    return { ...this.ownersOf(c), entries: aclEntries(aclOf(c.acl, 'container')) };
  }

  /** Add entries to the container's ACL, replacing those of the same principals; DER_INVAL on a bad entry. */
  contUpdateAcl(poolUuid: string, contId: string, entries: string | readonly string[]): Promise<string[]> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contId);
      const acl = aclEntries(updateAcl(aclOf(c.acl, 'container'), entries));
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, acl }]]);
      return acl;
    });
  }

  /** Change a container's owner user and/or group (dmg cont set-owner). */
  contSetOwner(
    poolUuid: string,
    contId: string,
    owner: { user?: string; group?: string },
  ): Promise<ContInfo> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contId);
      if (owner.user === undefined && owner.group === undefined)
        throw new DaosError('DER_INVAL', 'set-owner needs a user or a group');
      const next: ContRecord = { ...c, ...this.ownersOf(c) };
      if (owner.user !== undefined) next.owner = checkPrincipal(owner.user, 'user');
      if (owner.group !== undefined) next.group = checkPrincipal(owner.group, 'group');
      await this.store.commit([[contKey(c.pool, c.uuid), next]]);
      return contInfo(next);
    });
  }

  async contGetAttrs(poolUuid: string, contUuid: string): Promise<Record<string, Uint8Array>> {
    const c = this.findCont(poolUuid, contUuid);
    return Object.fromEntries(Object.entries(c.attrs).map(([k, v]) => [k, Buffer.from(v, 'base64')]));
  }

  contSetAttrs(poolUuid: string, contUuid: string, attrs: Record<string, Uint8Array>): Promise<void> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contUuid);
      const next = { ...c.attrs };
      for (const [name, value] of Object.entries(attrs)) {
        if (name.length === 0 || Buffer.byteLength(name) > ATTR_NAME_BYTES_MAX) {
          throw new DaosError(
            'DER_INVAL',
            `attribute name "${name.slice(0, 20)}" must be 1..${ATTR_NAME_BYTES_MAX} bytes`,
          );
        }
        if (!(value instanceof Uint8Array))
          throw new DaosError('DER_INVAL', `attribute "${name}" value must be bytes or a string`);
        if (value.byteLength > ATTR_VALUE_BYTES_MAX) {
          throw new DaosError(
            'DER_INVAL',
            `attribute "${name}" value is ${value.byteLength} bytes; the limit is ${ATTR_VALUE_BYTES_MAX}`,
          );
        }
        next[name] = Buffer.from(value).toString('base64');
      }
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, attrs: next }]]);
    });
  }

  contDelAttrs(poolUuid: string, contUuid: string, names: string[]): Promise<void> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contUuid);
      const next = { ...c.attrs };
      for (const n of names) {
        if (!(n in next)) throw new DaosError('DER_NONEXIST', `container has no attribute "${n}"`);
        delete next[n];
      }
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, attrs: next }]]);
    });
  }

  contAllocOids(poolUuid: string, contUuid: string, count: number): Promise<bigint> {
    return this.serial(async () => {
      if (!Number.isSafeInteger(count) || count < 1 || count > OIDS_PER_ALLOC_MAX) {
        throw new DaosError('DER_INVAL', `oid count ${count} must be 1..${OIDS_PER_ALLOC_MAX}`);
      }
      const c = this.findCont(poolUuid, contUuid);
      const first = BigInt(c.nextOid);
      const next = first + BigInt(count);
      if (next > OID_USER_MAX)
        throw new DaosError('DER_OVERFLOW', 'container has used up its object id space');
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, nextOid: next.toString() }]]);
      return first;
    });
  }

  snapCreate(poolUuid: string, contUuid: string, name?: string): Promise<bigint> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contUuid);
      const epoch = this.now();
      const snapName = name ?? `snap_${epoch}`;
      if (snapName.length === 0 || Buffer.byteLength(snapName) > SNAPSHOT_NAME_BYTES_MAX) {
        throw new DaosError('DER_INVAL', `snapshot name must be 1..${SNAPSHOT_NAME_BYTES_MAX} bytes`);
      }
      if (c.snapshots.some((s) => s.name === snapName))
        throw new DaosError('DER_EXIST', `snapshot "${snapName}" exists`);
      const snapshots = [...c.snapshots, { epoch: epoch.toString(), name: snapName }];
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, snapshots }]]);
      return epoch;
    });
  }

  snapDestroy(poolUuid: string, contUuid: string, epoch: bigint): Promise<void> {
    return this.serial(async () => {
      const c = this.findCont(poolUuid, contUuid);
      const snapshots = c.snapshots.filter((s) => s.epoch !== epoch.toString());
      if (snapshots.length === c.snapshots.length)
        throw new DaosError('DER_NONEXIST', `no snapshot at epoch ${epoch}`);
      await this.store.commit([[contKey(c.pool, c.uuid), { ...c, snapshots }]]);
    });
  }

  async contAggregate(
    poolUuid: string,
    contUuid: string,
  ): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    const c = this.findCont(poolUuid, contUuid);
    const keep = c.snapshots.map((s) => BigInt(s.epoch));
    const upTo = this.now();
    const total = { recordsRemoved: 0, bytesFreed: 0 };
    for (const e of this.liveEngines(c.pool)) {
      const s = await e.aggregate(c.uuid, upTo, keep);
      total.recordsRemoved += s.recordsRemoved;
      total.bytesFreed += s.bytesFreed;
    }
    return total;
  }

  private findCont(poolUuid: string, contId: string): ContRecord {
    const pool = this.findPool(poolUuid);
    if (typeof contId !== 'string' || contId.length === 0)
      throw new DaosError('DER_INVAL', 'container label or UUID required');
    const uuid = isUuid(contId) ? contId : this.store.get<string>(contLabelKey(pool.uuid, contId));
    const rec = uuid ? this.store.get<ContRecord>(contKey(pool.uuid, uuid)) : undefined;
    if (!rec) throw new DaosError('DER_NONEXIST', `no container "${contId}" in pool "${pool.label}"`);
    return rec;
  }
}

function ownership(o: { owner: string; group: string }): { user: string; group: string } {
  return { user: o.owner, group: o.group };
}

/**
 * One caller's view of the service: every method checks the caller's permission (ACL_OPERATIONS)
 * before it delegates, so a denied call changes nothing.
 */
class CallerMgmt implements MgmtApi {
  constructor(
    private readonly svc: MgmtService,
    private readonly who: () => Caller,
  ) {}

  /** Check `op` for the caller on the pool (or container); resolves to the caller. */
  private check(op: AclOperation, pool: string, cont?: string): Caller {
    const who = this.who();
    const g = this.svc.grantedTo(who, pool, cont);
    requireOperation(g.perms, op, g.target);
    return who;
  }

  async poolConnect(poolId: string, options: OpenOptions = {}): Promise<PoolInfo> {
    const who = this.who();
    const g = this.svc.grantedTo(who, poolId);
    const perms = handlePerms(g.perms, 'pool', openMode(options), g.target);
    const info = await this.svc.poolConnect(g.pool);
    return { ...info, token: this.svc.issue(who, perms, g.pool) };
  }

  async poolQuery(poolUuid: string): Promise<PoolQuery> {
    this.check('pool-query', poolUuid);
    return this.svc.poolQuery(poolUuid);
  }

  async contCreate(poolUuid: string, options: ContCreateOptions): Promise<ContInfo> {
    const who = this.check('pool-create-container', poolUuid);
    return this.svc.contCreate(poolUuid, options, { user: who.user, group: who.group });
  }

  async contLookup(poolUuid: string, contId: string, options: OpenOptions = {}): Promise<ContInfo> {
    const who = this.who();
    const g = this.svc.grantedTo(who, poolUuid, contId);
    if (options.mode === undefined) {
      requireOperation(g.perms, 'cont-query', g.target);
      return this.svc.contLookup(g.pool, g.cont!);
    }
    const perms = handlePerms(g.perms, 'container', openMode(options), g.target);
    const info = await this.svc.contLookup(g.pool, g.cont!);
    refuseUnclean(info, options);
    return { ...info, token: this.svc.issue(who, perms, g.pool, g.cont) };
  }

  async contList(poolUuid: string): Promise<ContInfo[]> {
    this.check('pool-list-containers', poolUuid);
    return this.svc.contList(poolUuid);
  }

  async contDestroy(poolUuid: string, contId: string, force: boolean): Promise<void> {
    const who = this.who();
    // DAOS: the pool's d deletes any container, the container's d that one.
    if (!this.svc.grantedTo(who, poolUuid).perms.has('d')) {
      const g = this.svc.grantedTo(who, poolUuid, contId);
      requireOperation(g.perms, 'cont-destroy', g.target);
    }
    return this.svc.contDestroy(poolUuid, contId, force);
  }

  async contSetProps(poolUuid: string, contUuid: string, props: ContPropsUpdate): Promise<ContInfo> {
    this.check('cont-set-prop', poolUuid, contUuid);
    return this.svc.contSetProps(poolUuid, contUuid, props);
  }

  async contGetAttrs(poolUuid: string, contUuid: string): Promise<Record<string, Uint8Array>> {
    this.check('cont-get-attr', poolUuid, contUuid);
    return this.svc.contGetAttrs(poolUuid, contUuid);
  }

  async contSetAttrs(poolUuid: string, contUuid: string, attrs: Record<string, Uint8Array>): Promise<void> {
    this.check('cont-set-attr', poolUuid, contUuid);
    return this.svc.contSetAttrs(poolUuid, contUuid, attrs);
  }

  async contDelAttrs(poolUuid: string, contUuid: string, names: string[]): Promise<void> {
    this.check('cont-set-attr', poolUuid, contUuid);
    return this.svc.contDelAttrs(poolUuid, contUuid, names);
  }

  async contAllocOids(poolUuid: string, contUuid: string, count: number): Promise<bigint> {
    this.check('cont-alloc-oids', poolUuid, contUuid);
    return this.svc.contAllocOids(poolUuid, contUuid, count);
  }

  async snapCreate(poolUuid: string, contUuid: string, name?: string): Promise<bigint> {
    this.check('cont-create-snapshot', poolUuid, contUuid);
    return this.svc.snapCreate(poolUuid, contUuid, name);
  }

  async snapDestroy(poolUuid: string, contUuid: string, epoch: bigint): Promise<void> {
    this.check('cont-create-snapshot', poolUuid, contUuid);
    return this.svc.snapDestroy(poolUuid, contUuid, epoch);
  }

  async contGetAcl(poolUuid: string, contId: string): Promise<AclInfo> {
    this.check('cont-get-acl', poolUuid, contId);
    return this.svc.contGetAcl(poolUuid, contId);
  }

  async contUpdateAcl(
    poolUuid: string,
    contId: string,
    entries: string | readonly string[],
  ): Promise<string[]> {
    this.check('cont-set-acl', poolUuid, contId);
    return this.svc.contUpdateAcl(poolUuid, contId, entries);
  }

  async contSetOwner(
    poolUuid: string,
    contId: string,
    owner: { user?: string; group?: string },
  ): Promise<ContInfo> {
    this.check('cont-set-owner', poolUuid, contId);
    return this.svc.contSetOwner(poolUuid, contId, owner);
  }

  async contAggregate(
    poolUuid: string,
    contUuid: string,
  ): Promise<{ recordsRemoved: number; bytesFreed: number }> {
    this.check('cont-update', poolUuid, contUuid);
    return this.svc.contAggregate(poolUuid, contUuid);
  }
}

function openMode(options: OpenOptions): 'ro' | 'rw' {
  const mode = options.mode ?? 'ro';
  if (mode !== 'ro' && mode !== 'rw')
    throw new DaosError('DER_INVAL', `open mode must be ro or rw, not ${String(mode)}`);
  return mode;
}

/** DER_RF for an open of an UNCLEAN container without force. */
function refuseUnclean(c: ContInfo, options: OpenOptions): void {
  if (c.status === 'UNCLEAN' && !options.force)
    throw new DaosError(
      'DER_RF',
      `container "${c.label}" is UNCLEAN: more ranks failed at once than its redundancy factor ${c.props.redunFactor} survives, so some of its data may be lost; set its status to HEALTHY (daos container set-prop ${c.label} status:healthy) to open it, or open it with force`,
    );
}

function contInfo(c: ContRecord): ContInfo {
  return {
    uuid: c.uuid,
    label: c.label,
    pool: c.pool,
    type: c.type,
    props: c.props,
    createdMs: c.createdMs,
    snapshots: c.snapshots.map((s) => ({ epoch: BigInt(s.epoch), name: s.name })),
    ...(c.owner === undefined ? {} : { owner: c.owner }),
    ...(c.group === undefined ? {} : { group: c.group }),
    status: c.status ?? 'HEALTHY',
  };
}

/** Merge and validate container properties; unknown names are refused. */
function checkProps(base: ContProps, update: Partial<ContProps>): ContProps {
  const known = new Set(['redunFactor', 'oclass', 'checksum', 'chunkSize']);
  for (const k of Object.keys(update)) {
    if (!known.has(k))
      throw new DaosError('DER_INVAL', `unknown container property "${k}" (known: ${[...known].join(', ')})`);
  }
  const p: ContProps = { ...base, ...update };
  if (!Number.isInteger(p.redunFactor) || p.redunFactor < 0 || p.redunFactor > 4) {
    throw new DaosError('DER_INVAL', `redunFactor ${p.redunFactor} must be an integer 0..4`);
  }
  if (p.oclass !== undefined) p.oclass = oclassByName(p.oclass).name;
  if (p.checksum !== 'off' && p.checksum !== 'crc32c')
    throw new DaosError('DER_INVAL', `checksum "${p.checksum}" must be off or crc32c`);
  if (!Number.isSafeInteger(p.chunkSize) || p.chunkSize < 1)
    throw new DaosError('DER_INVAL', `chunkSize ${p.chunkSize} must be a positive integer`);
  return p;
}
