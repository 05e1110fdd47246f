/** The TCP transport: `tcp://host:port`; port 0 listens on a free port, which the Listener reports. */
import type net from 'node:net';
import { DaosError } from '../common/errors.js';
import { StreamTransport } from './stream.js';

const SCHEME = 'tcp://';

function parse(address: string): { host: string; port: number } {
  const match = address.startsWith(SCHEME)
    ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address.slice(SCHEME.length))
    : null;
  const port = match === null ? Number.NaN : Number(match[3]);
  if (match === null || port > 0xffff) {
    throw new DaosError('DER_INVAL', `bad tcp address ${JSON.stringify(address)} (want tcp://host:port)`);
  }
  return { host: (match[1] ?? match[2])!, port };
}

function describe(server: net.Server): string {
  const bound = server.address() as net.AddressInfo;
  const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
  return `${SCHEME}${host}:${bound.port}`;
}

export const tcpTransport = new StreamTransport({ scheme: 'tcp', parse, describe });
