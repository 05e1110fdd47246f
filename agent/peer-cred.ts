/**
 * The kernel's word on who is at the other end of a Unix socket: the N-API addon of agent/native
 * (getsockopt SO_PEERCRED), built by the package's `install` script (node-gyp). Loaded on first
 * use from agent/native/build/Release/peercred.node, found from this file's place in the sources
 * (agent/) or in the build (dist/agent/).
 */
import type { Socket } from 'node:net';
import { findAddon, loadAddon } from '../core/common/addon.js';
import { DaosError } from '../core/common/errors.js';

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** Where the built addon is (DER_NONEXIST when it was not built). */
export function peerCredAddonPath(): string {
  const { path, looked } = findAddon(import.meta.url, 'agent', 'peercred');
  if (path === undefined)
    throw new DaosError(
      'DER_NONEXIST',
      `the SO_PEERCRED addon is not built (looked for ${looked.join(', ')}); run \`npm ci\` or \`npm run install\``,
    );
  return path;
}

let addon: { peerCred(fd: number): PeerCred } | undefined;

/** The credentials of the peer of the connected Unix socket `fd`. */
export function peerCred(fd: number): PeerCred {
  addon ??= loadAddon<{ peerCred(fd: number): PeerCred }>(import.meta.url, peerCredAddonPath());
  return addon.peerCred(fd);
}

/**
 * The peer credentials of an accepted net.Socket. Node does not expose a socket's descriptor:
 * this reads `socket._handle.fd` (libuv's pipe handle, an internal of Node that has held the fd
 * on Linux since Node 0.x); a socket without one fails DER_NOTSUPPORTED rather than guessing.
 */
export function socketPeerCred(socket: Socket): PeerCred {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0)
    throw new DaosError('DER_NOTSUPPORTED', 'the socket has no file descriptor (socket._handle.fd)');
  return peerCred(fd);
}
