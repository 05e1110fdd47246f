/**
 * `daos arrow`: Apache Arrow datasets in containers (adapters/arrow) — import an IPC file or
 * stream as a dataset, export one (or some columns and rows of it) as an IPC file or stream, list
 * a container's datasets and show one's schema.
 */
import { resolve as resolveLocal } from 'node:path';
import { Command } from 'commander';
import { exportIpc, importIpc, listDatasets, openDataset } from '../adapters/arrow/index.js';
import { DaosError } from '../core/common/errors.js';
import type { DaosClient } from '../core/daos/client.js';
import { type CommandOutput, formatFields, type GlobalOptions, intOption, withCont } from './cli-output.js';

type Body = (client: DaosClient, opts: GlobalOptions) => Promise<CommandOutput>;
/** daos.ts's `act`: start or reach the system, connect, run a body, print, stop. */
type Act = <A extends unknown[]>(make: (...args: A) => Body) => (...args: unknown[]) => Promise<void>;

/** `--rows S:E` → [S, E). */
function rowsOption(text: string | undefined): [number, number] | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) throw new DaosError('DER_INVAL', `--rows "${text}" must be START:END (rows [START, END))`);
  return [Number(m[1]), Number(m[2])];
}

const importCmd =
  (
    input: string,
    pool: string,
    cont: string,
    name: string,
    o: { chunkSize?: string; oclass?: string },
  ): Body =>
  async (client) =>
    withCont(client, pool, cont, 'rw', async (c) => {
      const t0 = performance.now();
      const rows = await importIpc(c, name, resolveLocal(input), {
        chunkSize: intOption(o.chunkSize, '--chunk-size'),
        oclass: o.oclass,
      });
      const seconds = (performance.now() - t0) / 1000;
      return {
        json: { name, rows, seconds },
        text: `Imported ${rows} rows from ${input} as dataset ${name} in ${pool}/${cont} (${seconds.toFixed(2)} s)`,
      };
    });

const exportCmd =
  (
    pool: string,
    cont: string,
    name: string,
    output: string,
    o: { stream?: boolean; columns?: string; rows?: string },
  ): Body =>
  async (client) =>
    withCont(client, pool, cont, 'ro', async (c) => {
      const format = o.stream ? 'stream' : 'file';
      const t0 = performance.now();
      const rows = await exportIpc(c, name, resolveLocal(output), {
        format,
        columns: o.columns === undefined ? undefined : o.columns.split(','),
        rows: rowsOption(o.rows),
      });
      const seconds = (performance.now() - t0) / 1000;
      return {
        json: { name, rows, format, seconds },
        text: `Exported ${rows} rows of dataset ${name} to ${output} (IPC ${format}, ${seconds.toFixed(2)} s)`,
      };
    });

const listCmd =
  (pool: string, cont: string): Body =>
  async (client) =>
    withCont(client, pool, cont, 'ro', async (c) => {
      const names = await listDatasets(c);
      return { json: names, text: names.join('\n') };
    });

const showCmd =
  (pool: string, cont: string, name: string): Body =>
  async (client) =>
    withCont(client, pool, cont, 'ro', async (c) => {
      const ds = await openDataset(c, name);
      const fields = ds.schema.fields.map((f) => ({
        name: f.name,
        type: String(f.type),
        nullable: f.nullable,
      }));
      const text = [
        formatFields([
          ['Dataset', name],
          ['Rows', String(ds.numRows)],
          ['Batches', String(ds.numBatches)],
        ]),
        ...fields.map((f) => `  ${f.name}: ${f.type}${f.nullable ? '' : ' not null'}`),
      ].join('\n');
      return {
        json: {
          name,
          rows: ds.numRows,
          batches: ds.numBatches,
          fields,
          metadata: Object.fromEntries(ds.schema.metadata),
        },
        text,
      };
    });

/** The `arrow` command group, its actions run through daos.ts's `act`. */
export function arrowCommand(act: Act): Command {
  const arrow = new Command('arrow').description('Apache Arrow datasets: IPC import and export');
  arrow
    .command('import <input> <pool> <cont> <name>')
    .description('store an Arrow IPC file or stream as dataset NAME (the container must exist)')
    .option('--chunk-size <bytes>', 'bytes per chunk of the column arrays (default 1 MiB)')
    .option('--oclass <class>', 'object class of the column arrays')
    .action(
      act(
        (
          input: string,
          pool: string,
          cont: string,
          name: string,
          o: { chunkSize?: string; oclass?: string },
        ) => importCmd(input, pool, cont, name, o),
      ),
    );
  arrow
    .command('export <pool> <cont> <name> <output>')
    .description('write dataset NAME as an Arrow IPC file (or stream with --stream)')
    .option('--stream', 'the IPC stream format instead of the file format')
    .option('--columns <a,b,...>', 'only these columns, in this order')
    .option('--rows <start:end>', 'only rows [start, end)')
    .action(
      act(
        (
          pool: string,
          cont: string,
          name: string,
          output: string,
          o: { stream?: boolean; columns?: string; rows?: string },
        ) => exportCmd(pool, cont, name, output, o),
      ),
    );
  arrow
    .command('list <pool> <cont>')
    .description("the container's datasets")
    .action(act((pool: string, cont: string) => listCmd(pool, cont)));
  arrow
    .command('show <pool> <cont> <name>')
    .description("a dataset's rows, batches and schema")
    .action(act((pool: string, cont: string, name: string) => showCmd(pool, cont, name)));
  return arrow;
}
