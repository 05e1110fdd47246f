/**
 * The pool and container operations of a ControlPlane that hosts the management service itself
 * (EmbeddedControl, DaosServer): each is the MgmtService call of the same meaning.
 */
import { DaosError } from '../core/common/errors.js';
import { parseBytes } from '../core/common/units.js';
import type { ContInfo, PoolInfo, PoolQuery } from '../core/daos/link.js';
import type { MgmtService } from './mgmt/mgmt-service.js';
import type { PoolCreateRequest } from './plane.js';

export abstract class MgmtControl {
  protected abstract get mgmt(): MgmtService;
  /** Ranks a pool spans (every rank of the system: pools on some ranks only are not supported). */
  protected abstract get allRanks(): number[];

  // ---- pools ----

  async poolCreate(request: PoolCreateRequest): Promise<PoolInfo> {
    if (request.ranks !== undefined) {
      const all = this.allRanks;
      if (request.ranks.length !== all.length || !all.every((r) => request.ranks!.includes(r)))
        throw new DaosError('DER_NOTSUPPORTED', 'a pool spans every rank of the system in this release');
    }
    return this.mgmt.poolCreate({
      label: request.label,
      totalBytes: parseBytes(request.size, 'pool size'),
      uuid: request.uuid,
      owner: request.owner,
      group: request.group,
      acl: request.acl,
      props: request.properties,
    });
  }

  async poolDestroy(id: string, options: { force?: boolean; recursive?: boolean } = {}): Promise<void> {
    await this.mgmt.poolDestroy(id, options.force === true || options.recursive === true);
  }

  async poolList(): Promise<PoolInfo[]> {
    return this.mgmt.poolList();
  }

  async poolQuery(id: string): Promise<PoolQuery> {
    return this.mgmt.poolQuery(id);
  }

  async poolGetProp(id: string, names?: string[]): Promise<Record<string, string>> {
    return this.mgmt.poolGetProps(id, names);
  }

  async poolSetProp(id: string, props: Record<string, string>): Promise<void> {
    return this.mgmt.poolSetProps(id, props);
  }

  async poolGetAcl(id: string): Promise<{ owner: string; group: string; entries: string[] }> {
    return this.mgmt.poolGetAcl(id);
  }

  async poolOverwriteAcl(id: string, entries: string[]): Promise<string[]> {
    return this.mgmt.poolOverwriteAcl(id, entries);
  }

  async poolUpdateAcl(id: string, entries: string[]): Promise<string[]> {
    return this.mgmt.poolUpdateAcl(id, entries);
  }

  async poolDeleteAcl(id: string, principal: string): Promise<string[]> {
    return this.mgmt.poolDeleteAcl(id, principal);
  }

  async poolExclude(
    id: string,
    rank: number,
    targets?: number[],
    options: { force?: boolean } = {},
  ): Promise<PoolQuery> {
    await this.mgmt.poolExclude(id, rank, targets, options);
    return this.mgmt.poolQuery(id);
  }

  async poolExtend(id: string, ranks: number[]): Promise<PoolQuery> {
    await this.mgmt.poolExtend(id, ranks);
    return this.mgmt.poolQuery(id);
  }

  async poolDrain(id: string, rank: number, targets?: number[]): Promise<PoolQuery> {
    await this.mgmt.poolDrain(id, rank, targets);
    return this.mgmt.poolQuery(id);
  }

  async poolReintegrate(id: string, rank: number, targets?: number[]): Promise<PoolQuery> {
    await this.mgmt.poolReintegrate(id, rank, targets);
    return this.mgmt.poolQuery(id);
  }

  // ---- containers ----

  async contSetOwner(
    pool: string,
    cont: string,
    owner: { user?: string; group?: string },
  ): Promise<ContInfo> {
    const p = await this.mgmt.poolConnect(pool);
    return this.mgmt.contSetOwner(p.uuid, cont, owner);
  }
}
