/**
 * `daos hdf5`: move .h5 files into and out of HDF5 containers. A thin layer over
 * adapters/hdf5-vol: `importH5` and `exportH5` do the work (h5wasm on the file side).
 */
import { resolve as resolveLocal } from 'node:path';
import { Command } from 'commander';
import { exportH5, H5File, importH5, type TransferStats } from '../adapters/hdf5-vol/index.js';
import { formatBytes } from '../core/common/units.js';
import type { DaosClient } from '../core/daos/client.js';
import type { CommandOutput, GlobalOptions } from './cli-output.js';

type Body = (client: DaosClient, opts: GlobalOptions) => Promise<CommandOutput>;
/** daos.ts's `act`: start or reach the system, connect, run a body, print, stop. */
type Act = <A extends unknown[]>(make: (...args: A) => Body) => (...args: unknown[]) => Promise<void>;

function statsText(verb: string, from: string, to: string, s: TransferStats): string {
  return (
    `${verb} ${from} to ${to}: ${s.groups} groups, ${s.datasets} datasets, ${s.links} links, ` +
    `${s.attributes} attributes, ${formatBytes(s.bytes)} of values`
  );
}

const importFile =
  (input: string, poolName: string, cont: string): Body =>
  async (client) => {
    const path = resolveLocal(input);
    const pool = await client.connectPool(poolName, { mode: 'rw' });
    try {
      // 'a': make the container if missing; importH5 refuses a file that already holds anything.
      const file = await H5File.open(pool, cont, 'a');
      try {
        const stats = await importH5(path, file);
        return {
          json: { file: path, pool: poolName, container: cont, ...stats },
          text: statsText('imported', path, `${poolName}/${cont}`, stats),
        };
      } finally {
        await file.close();
      }
    } finally {
      await pool.disconnect();
    }
  };

const exportFile =
  (poolName: string, cont: string, output: string): Body =>
  async (client) => {
    const path = resolveLocal(output);
    const pool = await client.connectPool(poolName, { mode: 'ro' });
    try {
      const file = await H5File.open(pool, cont, 'r');
      try {
        const stats = await exportH5(file, path);
        return {
          json: { file: path, pool: poolName, container: cont, ...stats },
          text: statsText('exported', `${poolName}/${cont}`, path, stats),
        };
      } finally {
        await file.close();
      }
    } finally {
      await pool.disconnect();
    }
  };

/** The `hdf5` command group, its actions run through daos.ts's `act`. */
export function hdf5Command(act: Act): Command {
  const h5 = new Command('hdf5').description('HDF5 containers: import and export .h5 files');
  h5.command('import <file> <pool> <cont>')
    .description('copy an .h5 file into container CONT (type HDF5; made if missing, must be empty)')
    .action(act((file: string, pool: string, cont: string) => importFile(file, pool, cont)));
  h5.command('export <pool> <cont> <file>')
    .description('write the HDF5 container CONT to an .h5 file (replaced if it exists)')
    .action(act((pool: string, cont: string, file: string) => exportFile(pool, cont, file)));
  return h5;
}
