#!/usr/bin/env node
/**
 * daos-mpirun: run a rank program on N ranks (adapters/mpiio), as mpirun runs an MPI program.
 *
 *   daos-mpirun -n 4 [--embedded DIR] [--processes] [--pool P] [--container C] rank.js [args...]
 *
 * The rank program's default export runs once per rank with (comm, args). With --embedded (or
 * DAOS_EMBEDDED) the job gets a system: comm.dfs() mounts the job's container. Exits 0 when every
 * rank returned, 1 (naming the failed rank) otherwise.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { spawnRanks } from '../adapters/mpiio/spawn.js';

const program = new Command('daos-mpirun')
  .description('run a rank program on N ranks (threads by default, or processes)')
  .requiredOption('-n, --np <ranks>', 'number of ranks', (v) => Number.parseInt(v, 10))
  .option(
    '--embedded <dir>',
    'start (or reopen) an embedded system in DIR for the job',
    process.env.DAOS_EMBEDDED,
  )
  .option('--processes', 'one child process per rank (default: worker threads)')
  .option('--pool <label>', 'pool of the job (created in an embedded system if missing)')
  .option('--container <label>', "the job's DFS container")
  .option('--timeout <ms>', 'bound on every wait inside the ranks', (v) => Number.parseInt(v, 10))
  .option('--print-results', "print each rank's return value as JSON lines")
  .argument('<program>', 'the rank program (a module whose default export is (comm, args) => ...)')
  .argument('[args...]', 'arguments passed to every rank')
  .passThroughOptions()
  .action(async (script: string, args: string[], o) => {
    const results = await spawnRanks(o.np, pathToFileURL(resolve(script)), args, {
      mode: o.processes ? 'processes' : 'threads',
      embedded: o.embedded,
      pool: o.pool,
      container: o.container,
      timeoutMs: o.timeout,
    });
    if (o.printResults)
      results.forEach((r, rank) => {
        process.stdout.write(
          `${JSON.stringify({ rank, result: r }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
        );
      });
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`daos-mpirun: ${err.message}\n`);
  process.exit(1);
});
