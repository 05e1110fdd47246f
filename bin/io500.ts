#!/usr/bin/env node
/**
 * io500: IO500's standard phases and score on daos-ts (bench/io500).
 *
 *   io500 [config.ini] [--embedded DIR]
 *
 * Without an ini file the scaled-down defaults run (about a minute). `API = DFS` (in [global] or
 * a phase's section) needs a system: --embedded DIR or DAOS_EMBEDDED=DIR starts or reopens one.
 * Prints each phase's [RESULT] line and the [SCORE ] line; exits 1 on a bad ini or a failed phase.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { io500Defaults, parseIo500Ini, runIo500 } from '../bench/io500/index.js';

const USAGE = `usage: io500 [config.ini] [--embedded DIR]
  config.ini   IO500's ini: [global] datadir, api, tasks, stonewall-time; [ior-easy] API,
               transferSize, blockSize; [ior-hard] segmentCount; [mdtest-easy] n; [mdtest-hard] n;
               [find] noRun (every phase section takes API and noRun)
  --embedded   the folder of the embedded system the DFS phases use (or DAOS_EMBEDDED)`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { embedded: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length > 1) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 1;
  }
  const config = positionals[0] ? parseIo500Ini(readFileSync(positionals[0], 'utf8')) : io500Defaults();
  await runIo500(config, {
    embedded: values.embedded ?? (process.env.DAOS_EMBEDDED || undefined),
    out: (text) => process.stdout.write(text),
  });
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`io500 ERROR: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
