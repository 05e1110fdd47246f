#!/usr/bin/env node
/**
 * daos_engine: one engine rank in its own process, serving its object service on the wire.
 *
 *   daos_engine --dir DIR --rank N --targets N --listen tcp://127.0.0.1:0 | unix:///path
 *
 * Prints `daos_engine rank N listening ADDRESS pid P` once ready; on SIGTERM or SIGINT closes the
 * listener, stops the engine and exits 0. Peers other than itself are unreachable in this slice.
 */
import { DaosError } from '../core/common/errors.js';
import { Engine } from '../engine/obj/engine.js';
import { serveEngine } from '../engine/obj/rpc-service.js';

interface Args {
  dir: string;
  rank: number;
  targets: number;
  listen: string;
}

const USAGE = 'usage: daos_engine --dir DIR --rank N --targets N --listen tcp://HOST:PORT|unix:///PATH';

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
    if (!['--dir', '--rank', '--targets', '--listen'].includes(name) || value === undefined)
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
  return { dir, rank: int('rank', 0), targets, listen: seen.get('listen') ?? 'tcp://127.0.0.1:0' };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let engine: Engine | undefined;
  engine = await Engine.start({
    dir: args.dir,
    rank: args.rank,
    targets: args.targets,
    peers: (r) => {
      if (r === args.rank && engine) return engine;
      throw new DaosError('DER_UNREACH', `engine rank ${args.rank} cannot reach rank ${r} in this release`);
    },
  });
  await engine.resolvePendingDtx();
  const listener = await serveEngine(engine, args.listen);
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    try {
      await listener.close();
      await engine.stop();
      process.exit(0);
    } catch (err) {
      process.stderr.write(`daos_engine: stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.stdout.write(`daos_engine rank ${args.rank} listening ${listener.address} pid ${process.pid}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`daos_engine: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
