import { existsSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { DaosError } from '../core/common/errors.js';
import type { DaosSystem } from '../embedded/system.js';
import { MgmtControl } from './mgmt-control.js';
import type {
  AttachInfo,
  ControlPlane,
  OnProgress,
  StorageTierInfo,
  SystemMember,
  SystemQuery,
} from './plane.js';

/** The system name an embedded system answers to (DAOS's default). */
export const EMBEDDED_SYSTEM_NAME = 'daos_server';

/**
 * The control plane over a DaosSystem in this process (`dmg --embedded DIR`). Pools, ACLs and
 * properties go to the system's MgmtService; members are the system's engines. Stopping and
 * starting single engines is not offered in embedded mode (the engines live as long as the
 * DaosSystem): systemStop/systemStart are DER_NOTSUPPORTED.
 */
export class EmbeddedControl extends MgmtControl implements ControlPlane {
  /** @param sys a started system; `close()` stops it only when `owned`. */
  constructor(
    readonly sys: DaosSystem,
    private readonly owned = false,
  ) {
    super();
  }

  /** Stop the system if this control plane started it. */
  async close(): Promise<void> {
    if (this.owned) await this.sys.stop();
  }

  protected get mgmt() {
    return this.sys.mgmt;
  }

  protected get allRanks(): number[] {
    return this.sys.engines.map((e) => e.rank);
  }

  // ---- system ----

  async systemQuery(options: { ranks?: number[] } = {}): Promise<SystemQuery> {
    const excluded = new Set(this.mgmt.excludedRanks());
    const wanted = options.ranks && options.ranks.length > 0 ? new Set(options.ranks) : undefined;
    if (wanted) this.checkRanks([...wanted]);
    const members: SystemMember[] = this.sys.engines
      .filter((e) => !wanted || wanted.has(e.rank))
      .map((e) => {
        const m: SystemMember = {
          rank: e.rank,
          state: excluded.has(e.rank) ? 'AdminExcluded' : e.state === 'joined' ? 'Joined' : 'Stopped',
          pid: e.pid,
          restarts: 0,
        };
        if (e.address !== undefined) m.address = e.address;
        return m;
      });
    return { name: EMBEDDED_SYSTEM_NAME, members };
  }

  async systemStop(): Promise<SystemQuery> {
    throw new DaosError(
      'DER_NOTSUPPORTED',
      'system stop is not offered in embedded mode: the engines run as long as the embedded system',
    );
  }

  async systemStart(): Promise<SystemQuery> {
    throw new DaosError(
      'DER_NOTSUPPORTED',
      'system start is not offered in embedded mode: the engines run as long as the embedded system',
    );
  }

  async systemExclude(ranks: number[]): Promise<SystemQuery> {
    if (!Array.isArray(ranks) || ranks.length === 0)
      throw new DaosError('DER_INVAL', 'exclude needs at least one rank');
    this.checkRanks(ranks);
    await this.mgmt.systemExclude(ranks);
    return this.systemQuery({ ranks });
  }

  private checkRanks(ranks: number[]): void {
    const known = new Set(this.sys.engines.map((e) => e.rank));
    for (const r of ranks)
      if (!known.has(r)) throw new DaosError('DER_NONEXIST', `no engine rank ${r} in the system`);
  }

  // ---- storage ----

  async storageScan(): Promise<StorageTierInfo[]> {
    const out: StorageTierInfo[] = [];
    for (const e of this.sys.engines) {
      const mount = join(this.sys.dir, `engine-${e.rank}`);
      const formatted = existsSync(mount);
      const fs = await statfs(formatted ? mount : this.sys.dir);
      out.push({
        rank: e.rank,
        class: 'file',
        mount,
        totalBytes: fs.blocks * fs.bsize,
        freeBytes: fs.bavail * fs.bsize,
        formatted,
      });
    }
    return out;
  }

  /** An embedded system formats its folders when it starts: this reports them; `force` (wipe) is refused. */
  async storageFormat(
    options: { force?: boolean; onProgress?: OnProgress } = {},
  ): Promise<StorageTierInfo[]> {
    if (options.force) {
      throw new DaosError(
        'DER_NOTSUPPORTED',
        `reformatting is not offered in embedded mode; stop the system and remove ${this.sys.dir}`,
      );
    }
    const tiers = await this.storageScan();
    for (const [i, t] of tiers.entries()) {
      options.onProgress?.({ done: i + 1, total: tiers.length, what: `rank ${t.rank}` });
    }
    return tiers;
  }

  // ---- clients ----

  async attachInfo(): Promise<AttachInfo> {
    return {
      system: EMBEDDED_SYSTEM_NAME,
      engines: this.sys.engines.map((e) => ({
        rank: e.rank,
        address: e.address ?? `inproc://${e.pid}/${e.rank}`,
      })),
      mgmt: `embedded://${this.sys.dir}`,
    };
  }
}
