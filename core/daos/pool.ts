import { DaosError } from '../common/errors.js';
import type { PoolMap } from '../placement/pool-map.js';
import { Container } from './container.js';
import type { ContCreateOptions, ContInfo, PoolInfo, PoolQuery, SystemLink } from './link.js';

/** A connected pool: its map (for placement), its containers, its space. */
export class Pool {
  readonly link: SystemLink;
  readonly uuid: string;
  readonly label: string;
  readonly mode: 'ro' | 'rw';
  /** The capability token of this connect, when the service enforces ACLs. */
  readonly token: string | undefined;
  private currentMap: PoolMap;
  private closed = false;

  constructor(link: SystemLink, info: PoolInfo, mode: 'ro' | 'rw') {
    this.link = link;
    this.uuid = info.uuid;
    this.label = info.label;
    this.mode = mode;
    this.token = info.token;
    this.currentMap = info.map;
  }

  /** The newest pool map this handle knows: its own, or a newer one an engine sent back. */
  get map(): PoolMap {
    const seen = this.link.latestMap?.(this.uuid);
    if (seen && seen.version > this.currentMap.version) this.currentMap = seen;
    return this.currentMap;
  }

  /** Ask the management service for the pool map; resolves to whether it was newer. */
  async refreshMap(): Promise<boolean> {
    this.checkOpen();
    const info = await this.link.mgmt.poolConnect(this.uuid, { mode: this.mode });
    if (info.map.version <= this.map.version) return false;
    this.currentMap = info.map;
    return true;
  }

  /** @internal */
  checkOpen(): void {
    if (this.closed) throw new DaosError('DER_NO_HDL', `pool "${this.label}" handle is disconnected`);
  }

  private checkWritable(): void {
    this.checkOpen();
    if (this.mode !== 'rw') throw new DaosError('DER_NO_PERM', `pool "${this.label}" is connected read-only`);
  }

  async query(): Promise<PoolQuery> {
    this.checkOpen();
    return this.link.mgmt.poolQuery(this.uuid);
  }

  async createContainer(options: ContCreateOptions = {}): Promise<ContInfo> {
    this.checkWritable();
    return this.link.mgmt.contCreate(this.uuid, options);
  }

  async *listContainers(): AsyncGenerator<ContInfo> {
    this.checkOpen();
    yield* await this.link.mgmt.contList(this.uuid);
  }

  /** Open a container by label or UUID; mode 'rw' needs a read-write pool connection. */
  /**
   * Open a container (mode defaults to the pool connection's). An UNCLEAN container (see
   * ContInfo.status) fails with DER_RF unless `force`.
   */
  async openContainer(id: string, options: { mode?: 'ro' | 'rw'; force?: boolean } = {}): Promise<Container> {
    this.checkOpen();
    const mode = options.mode ?? this.mode;
    if (mode !== 'ro' && mode !== 'rw')
      throw new DaosError('DER_INVAL', `container open mode must be ro or rw, not ${String(mode)}`);
    if (mode === 'rw' && this.mode !== 'rw')
      throw new DaosError('DER_NO_PERM', `pool "${this.label}" is connected read-only`);
    const open = { mode, ...(options.force && { force: true }) };
    return new Container(this, await this.link.mgmt.contLookup(this.uuid, id, open), mode);
  }

  async destroyContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    this.checkWritable();
    await this.link.mgmt.contDestroy(this.uuid, id, options.force ?? false);
  }

  async disconnect(): Promise<void> {
    this.closed = true;
  }
}
