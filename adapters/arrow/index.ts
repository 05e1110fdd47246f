/** daos-ts/arrow: Apache Arrow tables in containers, with projection, appends and IPC. */
export {
  ARROW_CHUNK_BYTES_DEFAULT,
  ArrowDataset,
  appendBatches,
  type BatchSource,
  createDataset,
  listDatasets,
  openDataset,
  type ReadOptions,
  readTable,
  removeDataset,
  typeSignature,
  unlockDataset,
  type WriteTableOptions,
  writeTable,
} from './dataset.js';
export { type ExportIpcOptions, exportIpc, importIpc } from './ipc.js';
