import { DaosError } from '../core/common/errors.js';
import { DaosSystem } from '../embedded/system.js';
import { EmbeddedControl } from './embedded-control.js';
import type { ControlPlane } from './plane.js';

/** How `dmg` (or a program) reaches the control plane. */
export interface ControlOptions {
  /** An embedded system's folder: start or reopen it in this process. */
  embedded?: string;
  /** For a new embedded system only: engine ranks and targets per engine. */
  engines?: number;
  targetsPerEngine?: number;
  /** daos_server's gRPC address (host:port) — not wired yet. */
  hostList?: string[];
}

/** A control plane to release when done (stops an embedded system this call started). */
export type ControlConnection = ControlPlane & { close(): Promise<void> };

/**
 * The one place a caller gets a ControlPlane: an embedded system (`{ embedded: DIR }`) or,
 * once the gRPC client lands, a running daos_server (the `hostList` branch below).
 */
export async function connectControl(options: ControlOptions): Promise<ControlConnection> {
  if (options.embedded !== undefined && options.embedded !== '') {
    const sys = await DaosSystem.start({
      dir: options.embedded,
      engines: options.engines,
      targetsPerEngine: options.targetsPerEngine,
    });
    return new EmbeddedControl(sys, true);
  }
  // The gRPC ManagementClient (control/grpc/client.ts) plugs in here.
  throw new DaosError(
    'DER_NOTSUPPORTED',
    'no daos_server connection yet: the gRPC client is not wired in; use --embedded DIR (or DAOS_EMBEDDED=DIR)',
  );
}
