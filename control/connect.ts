import { DaosError } from '../core/common/errors.js';
import { DaosSystem } from '../embedded/system.js';
import { EmbeddedControl } from './embedded-control.js';
import { connectManagement } from './grpc/client.js';
import type { ControlPlane } from './plane.js';
import { CONTROL_PORT_DEFAULT, type TransportConfig } from './server/config.js';

/** How `dmg` (or a program) reaches the control plane. */
export interface ControlOptions {
  /** An embedded system's folder: start or reopen it in this process. */
  embedded?: string;
  /** For a new embedded system only: engine ranks and targets per engine. */
  engines?: number;
  targetsPerEngine?: number;
  /** daos_server's gRPC address (host:port): the first that answers is used. */
  hostList?: string[];
  /** TLS settings for a daos_server (as in daos_control.yml); default allow_insecure false. */
  transport?: TransportConfig;
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
  const hosts = options.hostList ?? [];
  if (hosts.length === 0) {
    throw new DaosError(
      'DER_INVAL',
      'no system to manage: give a daos_server host (-l host:port) or an embedded system (--embedded DIR, DAOS_EMBEDDED=DIR)',
    );
  }
  const transport = options.transport ?? { allow_insecure: false };
  let last: unknown;
  for (const host of hosts) {
    const address = host.includes(':') ? host : `${host}:${CONTROL_PORT_DEFAULT}`;
    const client = connectManagement({ address, transport });
    try {
      await client.systemQuery();
      const closeChannel = client.close.bind(client);
      return Object.assign(client, { close: async () => closeChannel() }) as unknown as ControlConnection;
    } catch (err) {
      client.close();
      last = err;
    }
  }
  throw last;
}
