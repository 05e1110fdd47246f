/**
 * Arrow IPC files and streams in and out of datasets: `importIpc` reads either format (told
 * apart by the file magic) batch by batch into a new dataset; `exportIpc` writes a dataset (or
 * some of its columns and rows) as an IPC file or stream.
 */
import { createWriteStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type RecordBatch,
  RecordBatchFileWriter,
  RecordBatchReader,
  RecordBatchStreamWriter,
} from 'apache-arrow';
import { DaosError } from '../../core/common/errors.js';
import type { Container } from '../../core/daos/container.js';
import { ArrowDataset, createDataset, type ReadOptions, type WriteTableOptions } from './dataset.js';

export interface ExportIpcOptions extends ReadOptions {
  /** 'file' (the default; random access, ARROW1 magic) or 'stream'. */
  format?: 'file' | 'stream';
  /**
   * One dictionary per column, the stored ones joined (default true); false keeps each batch's
   * own dictionary, which only the stream format can carry (as replacements).
   */
  joinDictionaries?: boolean;
}

/**
 * Import an Arrow IPC file or stream (a path, bytes, or a Node stream of bytes) as new dataset
 * `name`; resolves to the rows imported.
 */
export async function importIpc(
  container: Container,
  name: string,
  source: string | Uint8Array | NodeJS.ReadableStream,
  options: WriteTableOptions = {},
): Promise<number> {
  if (typeof source === 'string') {
    const fh = await open(source, 'r');
    try {
      const reader = await RecordBatchReader.from(fh);
      await reader.open();
      return await createDataset(
        container,
        name,
        reader.schema,
        reader as AsyncIterable<RecordBatch>,
        options,
      );
    } finally {
      await fh.close();
    }
  }
  const reader =
    source instanceof Uint8Array ? RecordBatchReader.from(source) : await RecordBatchReader.from(source);
  await reader.open();
  if (!reader.schema) throw new DaosError('DER_INVAL', 'the IPC input holds no schema');
  return createDataset(container, name, reader.schema, reader as Iterable<RecordBatch>, options);
}

/**
 * Export dataset `name` (optionally some columns and rows) as an Arrow IPC file or stream to a
 * path or a Node writable; resolves to the rows written.
 */
export async function exportIpc(
  container: Container,
  name: string,
  dest: string | Writable,
  options: ExportIpcOptions = {},
): Promise<number> {
  const format = options.format ?? 'file';
  if (format !== 'file' && format !== 'stream')
    throw new DaosError('DER_INVAL', `IPC format must be 'file' or 'stream', not ${String(format)}`);
  // The file format takes no replacement dictionaries, and polars reads neither those nor deltas:
  // by default one joined dictionary per column, in either format.
  const joinDictionaries = options.joinDictionaries ?? true;
  if (!joinDictionaries && format === 'file')
    throw new DaosError(
      'DER_INVAL',
      'the IPC file format needs joined dictionaries (it allows no replacements)',
    );
  const ds = await ArrowDataset.open(container, name);
  const whole = options.rows === undefined;
  // Check the projection and rows before the destination is touched.
  const table = whole ? undefined : await ds.read({ ...options, joinDictionaries });
  const schema = table?.schema ?? (await ds.read({ columns: options.columns, rows: [0, 0] })).schema;
  const writer = format === 'file' ? new RecordBatchFileWriter() : new RecordBatchStreamWriter();
  writer.reset(undefined, schema);
  const out = writer.toNodeStream();
  const sink = typeof dest === 'string' ? createWriteStream(dest) : dest;
  const done = pipeline(out, sink);
  let rows = 0;
  try {
    const batches: AsyncIterable<RecordBatch> | Iterable<RecordBatch> = table
      ? table.batches
      : ds.batches({ columns: options.columns, joinDictionaries });
    for await (const b of batches) {
      writer.write(b);
      rows += b.numRows;
    }
    writer.finish();
    await done;
  } catch (err) {
    out.destroy();
    await done.catch(() => undefined);
    if (typeof dest === 'string') await rm(dest, { force: true });
    throw err;
  }
  return rows;
}
