#!/usr/bin/env node
/**
 * daos_engine: one engine rank in its own process, serving its object service on the wire.
 *
 *   daos_engine --dir DIR --rank N --targets N --listen tcp://127.0.0.1:0 | unix:///path
 *               [--drpc unix:///SOCKET_DIR/daos_server.sock]
 *
 * Prints `daos_engine rank N listening ADDRESS pid P` once ready; on SIGTERM or SIGINT closes the
 * listener, stops the engine and exits 0. The system tells it where its peers listen
 * (OPC_ENGINE_PEERS) and when to resolve transactions a crash left prepared (OPC_ENGINE_RESOLVE_DTX).
 *
 * With --drpc (started by daos_server): once listening, it sends DRPC_ENGINE_READY to the server's
 * socket, a heartbeat every ENGINE_HEARTBEAT_MS, and stops cleanly (exit 0) on DRPC_ENGINE_STOP;
 * it stops on its own (exit ENGINE_EXIT_ORPHANED) when the server stops answering. See
 * control/server/drpc.ts.
 *
 * Environment: DAOS_REBUILD_BYTES_PER_SEC sets the rebuild throttle (bytes per second this
 * engine's rebuild writes at most; default REBUILD_BYTES_PER_SEC_MAX).
 */
import { tokenChecker } from '../control/security/token.js';
import { EngineDrpc } from '../control/server/drpc.js';
import { DaosError } from '../core/common/errors.js';
import { RemoteEngine } from '../core/daos/remote-engine.js';
import { LazyConnection } from '../core/wire/lazy.js';
import { writeLoneRunsOnPool } from '../engine/bio/data-file.js';
import { Engine } from '../engine/obj/engine.js';
import { serveEngine } from '../engine/obj/rpc-service.js';

interface Args {
  dir: string;
  rank: number;
  targets: number;
  listen: string;
  durability: 'process' | 'fsync';
  drpc?: string;
}

const USAGE =
  'usage: daos_engine --dir DIR --rank N --targets N --listen tcp://HOST:PORT|unix:///PATH [--durability process|fsync] [--drpc unix:///SOCKET_DIR/daos_server.sock]';

function parseArgs(argv: string[]): Args {
  const seen = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    const eq = a.indexOf('=');
    const [name, value] = eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, argv[++i]];
    if (
      !['--dir', '--rank', '--targets', '--listen', '--durability', '--drpc'].includes(name) ||
      value === undefined
    )
      throw new DaosError('DER_INVAL', `bad argument ${JSON.stringify(a)}\n${USAGE}`);
    seen.set(name.slice(2), value);
  }
  const int = (name: string, fallback?: number): number => {
    const v = seen.get(name);
    if (v === undefined && fallback !== undefined) return fallback;
    if (v === undefined || !/^\d+$/.test(v))
      throw new DaosError('DER_INVAL', `--${name} needs a non-negative integer\n${USAGE}`);
    return Number(v);
  };
  const dir = seen.get('dir');
  if (!dir) throw new DaosError('DER_INVAL', `--dir is required\n${USAGE}`);
  const targets = int('targets', 1);
  if (targets < 1) throw new DaosError('DER_INVAL', '--targets must be at least 1');
  const durability = seen.get('durability') ?? 'process';
  if (durability !== 'process' && durability !== 'fsync')
    throw new DaosError(
      'DER_INVAL',
      `--durability must be process or fsync, not ${JSON.stringify(durability)}`,
    );
  return {
    dir,
    rank: int('rank', 0),
    targets,
    listen: seen.get('listen') ?? 'tcp://127.0.0.1:0',
    durability,
    drpc: seen.get('drpc'),
  };
}

function rebuildThrottle(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1)
    throw new DaosError(
      'DER_INVAL',
      `DAOS_REBUILD_BYTES_PER_SEC must be a positive integer, not ${JSON.stringify(v)}`,
    );
  return Number(v);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // Clients' requests keep arriving while a long data-file write runs: let the pool copy it.
  writeLoneRunsOnPool(true);
  const engine = await Engine.start({
    dir: args.dir,
    rank: args.rank,
    targets: args.targets,
    vos: { durability: args.durability },
    // Capability tokens of every object RPC, checked with the key the management service sends.
    checkToken: tokenChecker(),
    rebuildBytesPerSec: rebuildThrottle(process.env.DAOS_REBUILD_BYTES_PER_SEC),
  });
  // Peers: one lazily made connection per rank, from the list the system sends (OPC_ENGINE_PEERS).
  let peers = new Map<number, RemoteEngine>();
  const setPeers = (list: Array<{ rank: number; address: string }>) => {
    const old = peers;
    peers = new Map(list.map((p) => [p.rank, new RemoteEngine(new LazyConnection(p.address), p.rank)]));
    for (const p of old.values()) void p.close();
  };
  engine.setPeers((rank) => {
    const p = peers.get(rank);
    if (!p) throw new DaosError('DER_UNREACH', `engine rank ${args.rank} has no address for rank ${rank}`);
    return p;
  });
  // Transactions left prepared whose coordinator is here are resolved now; the others when the
  // system asks (OPC_ENGINE_RESOLVE_DTX), once the peers are known.
  await engine.resolvePendingDtx();
  const listener = await serveEngine(engine, args.listen, { setPeers });
  let stopping = false;
  let drpc: EngineDrpc | undefined;
  const stop = async (exitCode = 0): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await drpc?.close();
      await listener.close();
      for (const p of peers.values()) await p.close();
      await engine.stop();
      process.exit(exitCode);
    } catch (err) {
      process.stderr.write(`daos_engine: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  if (args.drpc !== undefined) {
    drpc = await EngineDrpc.start({
      server: args.drpc,
      rank: args.rank,
      address: listener.address,
      onStop: (code) => void stop(code),
    });
  }
  process.stdout.write(`daos_engine rank ${args.rank} listening ${listener.address} pid ${process.pid}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`daos_engine: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
