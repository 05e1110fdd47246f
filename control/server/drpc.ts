/**
 * dRPC: the local channel between daos_server and its engines, over Unix sockets in `socket_dir`,
 * with the data plane's frames (core/wire: request/reply, msgpack headers, DaosError replies).
 * DAOS has a socket at each end too (daos_server.sock, daos_engine.sock); so does this one:
 *
 *   SOCKET_DIR/daos_server.sock          the server listens; every engine connects to it
 *   SOCKET_DIR/daos_engine_<rank>.sock   each engine listens; the server connects to send a stop
 *
 * Opcodes (range 0x05xx, after the engine-to-engine 0x04xx of core/daos/obj-codec.ts):
 *   DRPC_ENGINE_READY      engine → server  {rank, pid, address, drpc}  → {}
 *       once the engine's data-plane listener is up: `address` is where clients and peers reach
 *       it, `drpc` its own dRPC socket. The server refuses (DER_INVAL) a pid it did not start.
 *   DRPC_ENGINE_HEARTBEAT  engine → server  {rank, pid}                 → {stop: boolean}
 *       every ENGINE_HEARTBEAT_MS. `stop: true` asks the engine to stop (the fallback when the
 *       server cannot reach the engine's socket).
 *   DRPC_ENGINE_STOP       server → engine  {}                          → {}
 *       the engine answers, then closes its listener, flushes its targets and exits 0.
 * SIGTERM remains the last resort, and SIGKILL after ENGINE_STOP_TIMEOUT_MS.
 *
 * An engine whose heartbeats go unanswered for ENGINE_HEARTBEAT_TIMEOUT_MS stops itself (exit
 * code ENGINE_EXIT_ORPHANED): a server that died does not leave engines holding its storage.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { DaosError } from '../../core/common/errors.js';
import type { Connection, Listener } from '../../core/wire/transport.js';
import { unixTransport } from '../../core/wire/unix.js';

export const DRPC_ENGINE_READY = 0x0501;
export const DRPC_ENGINE_HEARTBEAT = 0x0502;
export const DRPC_ENGINE_STOP = 0x0503;

/** What the server's dRPC socket answers. */
export const DRPC_SERVER_OPCODES: ReadonlySet<number> = new Set([DRPC_ENGINE_READY, DRPC_ENGINE_HEARTBEAT]);
/** What an engine's dRPC socket answers. */
export const DRPC_ENGINE_OPCODES: ReadonlySet<number> = new Set([DRPC_ENGINE_STOP]);

/** How often an engine sends a heartbeat. */
export const ENGINE_HEARTBEAT_MS = 500;
/** A rank without a heartbeat for this long is Unresponsive (and an engine without answers stops). */
export const ENGINE_HEARTBEAT_TIMEOUT_MS = 5_000;
/** Exit code of an engine that stopped because its server stopped answering. */
export const ENGINE_EXIT_ORPHANED = 3;

export const SERVER_SOCKET_NAME = 'daos_server.sock';
export const engineSocketName = (rank: number): string => `daos_engine_${rank}.sock`;

/** `unix://` address of a socket in a folder. */
export const socketAddress = (dir: string, name: string): string => `unix://${join(dir, name)}`;

export interface EngineReady {
  rank: number;
  pid: number;
  address: string;
  drpc: string;
}

function expectInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0)
    throw new DaosError('DER_INVAL', `dRPC ${field} must be a non-negative integer`);
  return v;
}

function expectStr(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0)
    throw new DaosError('DER_INVAL', `dRPC ${field} must be a string`);
  return v;
}

function fields(h: unknown): Record<string, unknown> {
  if (typeof h !== 'object' || h === null) throw new DaosError('DER_INVAL', 'dRPC header must be a map');
  return h as Record<string, unknown>;
}

/** Listen on a Unix socket, removing a stale socket file a killed process left. */
async function listenUnix(
  path: string,
  opcodes: ReadonlySet<number>,
  handler: (opcode: number, header: unknown) => Promise<unknown>,
): Promise<Listener> {
  if (existsSync(path)) rmSync(path, { force: true });
  return unixTransport.listen(
    `unix://${path}`,
    async (opcode, header) => ({ header: await handler(opcode, header) }),
    { opcodes },
  );
}

export interface DrpcServerHandlers {
  ready(msg: EngineReady): void;
  /** Resolves to whether the engine should stop. */
  heartbeat(rank: number, pid: number): boolean;
}

/** The server end: SOCKET_DIR/daos_server.sock. */
export async function listenDrpcServer(socketDir: string, handlers: DrpcServerHandlers): Promise<Listener> {
  return listenUnix(join(socketDir, SERVER_SOCKET_NAME), DRPC_SERVER_OPCODES, async (opcode, header) => {
    const h = fields(header);
    if (opcode === DRPC_ENGINE_READY) {
      handlers.ready({
        rank: expectInt(h.rank, 'rank'),
        pid: expectInt(h.pid, 'pid'),
        address: expectStr(h.address, 'address'),
        drpc: expectStr(h.drpc, 'drpc'),
      });
      return {};
    }
    return { stop: handlers.heartbeat(expectInt(h.rank, 'rank'), expectInt(h.pid, 'pid')) };
  });
}

/** Ask an engine to stop over its dRPC socket. */
export async function sendEngineStop(drpc: string, timeoutMs: number): Promise<void> {
  const conn = await unixTransport.connect(drpc, { timeoutMs });
  try {
    await conn.request(DRPC_ENGINE_STOP, {});
  } finally {
    await conn.close().catch(() => undefined);
  }
}

export interface EngineDrpcOptions {
  /** The server's socket, `unix:///SOCKET_DIR/daos_server.sock`. */
  server: string;
  rank: number;
  /** The engine's data-plane address. */
  address: string;
  /** Called on DRPC_ENGINE_STOP, a heartbeat reply with stop, or an orphaned engine. */
  onStop(exitCode: number): void;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
}

/** The engine end: its own socket next to the server's, READY once, then heartbeats. */
export class EngineDrpc {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    private readonly conn: Connection,
    private readonly listener: Listener,
  ) {}

  static async start(options: EngineDrpcOptions): Promise<EngineDrpc> {
    const serverPath = options.server.startsWith('unix://') ? options.server.slice('unix://'.length) : '';
    if (!serverPath.startsWith('/'))
      throw new DaosError('DER_INVAL', `--drpc ${JSON.stringify(options.server)} is not unix:///path`);
    const dir = join(serverPath, '..');
    const heartbeatMs = options.heartbeatMs ?? ENGINE_HEARTBEAT_MS;
    const timeoutMs = options.heartbeatTimeoutMs ?? ENGINE_HEARTBEAT_TIMEOUT_MS;
    const listener = await listenUnix(
      join(dir, engineSocketName(options.rank)),
      DRPC_ENGINE_OPCODES,
      async () => {
        // Answer first, then stop.
        setImmediate(() => options.onStop(0));
        return {};
      },
    );
    const conn = await unixTransport.connect(options.server, { timeoutMs: heartbeatMs * 4 });
    const d = new EngineDrpc(conn, listener);
    await conn.request(DRPC_ENGINE_READY, {
      rank: options.rank,
      pid: process.pid,
      address: options.address,
      drpc: listener.address,
    });
    let lastAnswer = Date.now();
    let inFlight = false;
    d.timer = setInterval(() => {
      if (inFlight || d.closed) return;
      inFlight = true;
      conn
        .request(DRPC_ENGINE_HEARTBEAT, { rank: options.rank, pid: process.pid })
        .then((reply) => {
          lastAnswer = Date.now();
          if ((reply.header as { stop?: unknown })?.stop === true) options.onStop(0);
        })
        .catch(() => {
          if (!d.closed && Date.now() - lastAnswer > timeoutMs) options.onStop(ENGINE_EXIT_ORPHANED);
        })
        .finally(() => {
          inFlight = false;
        });
    }, heartbeatMs);
    return d;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.conn.close().catch(() => undefined);
    await this.listener.close().catch(() => undefined);
  }
}
