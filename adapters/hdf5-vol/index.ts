/** daos-ts/hdf5: HDF5's model (files, groups, datasets, attributes, hyperslabs) over containers, laid out as the HDF5 DAOS VOL connector does. */
export { AttributeManager, type AttrOptions, type AttrValue, inferDtype } from './attrs.js';
export { decodeValues, encodeValues, type ScalarValue, typedArrayFor } from './codec.js';
export { Dataset, type DatasetOptions } from './dataset.js';
export * from './dtype.js';
export { H5File, type H5Mode } from './file.js';
export { Group, type H5Object } from './group.js';
export {
  CHUNK_IOS_IN_FLIGHT,
  CHUNK_TARGET_BYTES,
  chunkDkey,
  type LinkInfo,
  NAME_BYTES_MAX,
  SELECTION_BYTES_MAX,
  SOFT_LINK_HOPS_MAX,
} from './layout.js';
export {
  autoChunks,
  type DimSlice,
  type Hyperslab,
  normalizeSelection,
  RANK_MAX,
  type Selection,
  type Slab,
} from './selection.js';
