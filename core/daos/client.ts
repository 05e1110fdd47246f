import { DaosError } from '../common/errors.js';
import type { SystemLink } from './link.js';
import { Pool } from './pool.js';

/** A client of one system: connects to pools. */
export class DaosClient {
  private closed = false;

  constructor(readonly link: SystemLink) {}

  /** Connect to a pool by label or UUID. */
  async connectPool(id: string, options: { mode?: 'ro' | 'rw' } = {}): Promise<Pool> {
    if (this.closed) throw new DaosError('DER_NO_HDL', 'client is closed');
    const mode = options.mode ?? 'rw';
    if (mode !== 'ro' && mode !== 'rw')
      throw new DaosError('DER_INVAL', `pool connect mode must be ro or rw, not ${String(mode)}`);
    return new Pool(this.link, await this.link.mgmt.poolConnect(id), mode);
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

/**
 * Connect to a running daos_server through the local daos_agent. Not in this release: the control
 * plane and agent arrive in a later issue; use DaosSystem.start() (embedded) meanwhile.
 */
export async function connect(_options: { agentSocket?: string } = {}): Promise<DaosClient> {
  throw new DaosError(
    'DER_NOTSUPPORTED',
    'connect() through daos_agent needs the control plane (not in this release); use DaosSystem.start({ dir })',
  );
}
