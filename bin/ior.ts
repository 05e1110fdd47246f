#!/usr/bin/env node
import { runIor } from '../bench/index.js';
/**
 * ior: IOR (hpc/ior 4.x) on daos-ts — the real tool's flags and output (bench/ior).
 *
 *   ior -a DFS -b 1m -t 256k -s 2 -N 3 -w -r -W -R --embedded DIR
 *
 * Tasks are ranks (-N, worker threads, or child processes with --processes). The DFS and DAOS
 * APIs (and MPIIO on daos: paths) need a system: --embedded DIR or DAOS_EMBEDDED=DIR starts or
 * reopens an embedded one for the run. Exits 0 on success, 1 on a bad flag, a failed run, or data
 * that failed -W / -R verification.
 */
import { IOR_USAGE, IorUsageError, parseIorArgs } from '../bench/ior/options.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(`${IOR_USAGE}\n`);
    return 0;
  }
  const options = parseIorArgs(argv);
  options.embedded ??= process.env.DAOS_EMBEDDED || undefined;
  const result = await runIor(options, { out: (text) => process.stdout.write(text) });
  if (result.errors > 0) {
    process.stderr.write(`ior ERROR: ${result.errors} data errors found by verification (-W/-R)\n`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof IorUsageError) process.stderr.write(`ior: ${err.message}\n`);
    else process.stderr.write(`ior ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
