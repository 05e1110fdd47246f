#!/usr/bin/env node
/**
 * mdtest: metadata rates of a tree of files and directories, with the real tool's flags and
 * output (bench/README.md "mdtest"). Tasks are ranks of one job:
 *
 *   mdtest --np 4 [--processes] -a POSIX|DFS [--embedded DIR] -n 1000 -z 2 -b 3 -u -d DIR ...
 *
 * Exits 0 after printing the SUMMARY table; 1 with `mdtest: message` on a bad command line or
 * a failed run.
 */
import { writeFileSync } from 'node:fs';
import { runMdtest } from '../bench/mdtest/run.js';

const USAGE = `Usage: mdtest [--np N] [--processes] [-a POSIX|DFS] [--embedded DIR] [flags]
  -n N   items per task          -I N   items per directory    -z N   tree depth
  -b N   branching factor        -d D   test directory         -F/-D  files / directories only
  -L     leaves only             -u     a tree per task        -w/-e N bytes written / read per file
  -C -T -E -r  create, stat, read, remove only (default: all)  -i N   iterations
  -N N   task stride between phases   -W S  stonewall seconds   -P  rate and time   -Z  time
  --dfs.pool P --dfs.cont C --dfs.oclass O --dfs.dir_oclass O --dfs.chunk_size N --dfs.prefix P --dfs.destroy
  --np N  tasks (default 1)   --processes  one process per task   --json FILE  JSON summary ('-': stdout only)
`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const jsonIndex = argv.indexOf('--json');
  const jsonOnly = jsonIndex >= 0 && argv[jsonIndex + 1] === '-';
  const report = await runMdtest(argv, {
    out: jsonOnly ? undefined : (s) => process.stdout.write(s),
  });
  const json = `${JSON.stringify(report.json, null, 2)}\n`;
  if (jsonOnly) process.stdout.write(json);
  else if (report.options.json) writeFileSync(report.options.json, json);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`mdtest: ${err.message}\n`);
    if (err.name === 'MdtestUsageError') process.stderr.write('Try mdtest --help\n');
    process.exit(1);
  },
);
