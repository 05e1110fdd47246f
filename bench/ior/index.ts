/**
 * runIor: IOR's test (hpc/ior 4.x) on daos-ts — parse the flags, run the ranks (worker threads or
 * processes through adapters/mpiio's spawnRanks) against the chosen API, and report as IOR does.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JOB_POOL_SIZE_DEFAULT, spawnRanks } from '../../adapters/mpiio/spawn.js';
import { DaosError } from '../../core/common/errors.js';
import { DaosSystem } from '../../embedded/system.js';
import {
  checkIorOptions,
  defaultIorOptions,
  type IorOptions,
  IorUsageError,
  parseIorArgs,
} from './options.js';
import { formatJson, formatText } from './output.js';
import type { IorIteration, IorRankArgs } from './run.js';

export { type IorOptions, IorUsageError, parseIorArgs } from './options.js';
export type { IorIteration, IorPhase } from './run.js';

/** Pool and container IOR uses in a system when --dfs.pool / --dfs.cont are not given. */
export const IOR_POOL_DEFAULT = 'tank';
export const IOR_CONTAINER_DEFAULT = 'ior';

export interface RunIorEnv {
  /** A system this process already runs (else --embedded / options.embedded starts one). */
  system?: DaosSystem;
  /** Where the report goes as it is made (the CLI passes stdout); it is also returned. */
  out?: (text: string) => void;
  /** Bound on every wait inside the ranks. */
  timeoutMs?: number;
}

export interface IorResult {
  options: IorOptions;
  iterations: IorIteration[];
  /** Transfers that failed -W / -R verification (any bad word), over all repetitions. */
  errors: number;
  /** The report (text, or JSON with -O summaryFormat=JSON). */
  report: string;
}

/** The compiled rank program (dist/bench/ior/run.js), from source or from dist. */
function rankModule(): URL {
  for (const rel of ['./run.js', '../../dist/bench/ior/run.js']) {
    const url = new URL(rel, import.meta.url);
    if (existsSync(fileURLToPath(url))) return url;
  }
  throw new DaosError('DER_NONEXIST', 'bench/ior/run.js is not built; run `npm run build` first');
}

/** Does this run reach DAOS (and so need a system)? */
function needsSystem(o: IorOptions): boolean {
  return (
    o.api === 'DFS' ||
    o.api === 'DAOS' ||
    o.api === 'HDF5' ||
    (o.api === 'MPIIO' && o.testFileName.startsWith('daos:'))
  );
}

/**
 * Run IOR with its command-line flags (or options) and resolve to the figures and the report.
 * Data that fails verification does not reject: `errors` counts the transfers with a bad word.
 */
export async function runIor(
  args: readonly string[] | Partial<IorOptions>,
  env: RunIorEnv = {},
): Promise<IorResult> {
  const o = Array.isArray(args)
    ? parseIorArgs(args as readonly string[])
    : checkIorOptions({ ...defaultIorOptions(), ...(args as Partial<IorOptions>) });
  const began = new Date();
  const signature = o.setTimeStampSignature || Math.floor(began.getTime() / 1000) >>> 0;
  const poolLabel = o.dfs.pool ?? IOR_POOL_DEFAULT;
  const container = o.dfs.cont ?? IOR_CONTAINER_DEFAULT;

  let sys = env.system;
  let owned = false;
  if (needsSystem(o) && !sys) {
    if (!o.embedded)
      throw new IorUsageError(
        `-a ${o.api} needs a DAOS system: give --embedded DIR (or set DAOS_EMBEDDED=DIR)`,
      );
    sys = await DaosSystem.start({ dir: o.embedded });
    owned = true;
  }
  try {
    if (sys && needsSystem(o)) await ensurePool(sys, poolLabel, owned);
    const rankArgs: IorRankArgs = { options: o, signature, container };
    const results = (await spawnRanks(o.numTasks, rankModule(), [JSON.stringify(rankArgs)], {
      mode: o.ranks,
      system: sys && needsSystem(o) ? sys : undefined,
      pool: poolLabel,
      container,
      timeoutMs: env.timeoutMs,
    })) as Array<IorIteration[] | null>;
    const iterations = results[0]!;
    if (o.dfs.destroy && sys && needsSystem(o)) {
      const client = await sys.connect();
      try {
        const pool = await client.connectPool(poolLabel);
        await pool.destroyContainer(container, { force: true });
      } finally {
        await client.close();
      }
    }
    const info = {
      began,
      finished: new Date(),
      path: needsSystem(o) ? `daos:${poolLabel}/${container}` : dirname(resolve(o.testFileName)),
      signature,
    };
    const report =
      o.summaryFormat === 'JSON' ? formatJson(o, iterations, info) : formatText(o, iterations, info);
    if (o.summaryFile) writeFileSync(o.summaryFile, report);
    else env.out?.(report);
    const errors = iterations.reduce((a, it) => a + it.writeErrors + it.readErrors, 0);
    return { options: o, iterations, errors, report };
  } finally {
    if (owned) await sys!.stop();
  }
}

/** The pool must exist; an embedded system this run started gets one when it has none. */
async function ensurePool(sys: DaosSystem, label: string, create: boolean): Promise<void> {
  const client = await sys.connect();
  try {
    await client.connectPool(label);
  } catch (err) {
    if (!(err instanceof DaosError && err.code === 'DER_NONEXIST') || !create) throw err;
    await sys.createPool({ label, size: JOB_POOL_SIZE_DEFAULT });
  } finally {
    await client.close();
  }
}
