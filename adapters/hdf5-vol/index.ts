/** daos-ts/hdf5: HDF5's model (files, groups, datasets, attributes, hyperslabs) over containers, laid out as the HDF5 DAOS VOL connector does. */
export { AttributeManager, type AttrOptions, type AttrValue, inferDtype } from './attrs.js';
export { decodeValues, encodeValues, type ScalarValue, typedArrayFor } from './codec.js';
export { Dataset, type DatasetOptions } from './dataset.js';
export * from './dtype.js';
export { H5File, type H5Mode } from './file.js';
export { Group, type H5Object } from './group.js';
export {
  describeH5File,
  exportH5,
  importH5,
  type TransferOptions,
  type TransferStats,
} from './h5-transfer.js';
export { type WriteH5Options, writeH5 } from './h5-write.js';
export {
  H5_RANK_MAX,
  H5_SLAB_BYTES_MAX,
  type H5Attribute,
  type H5DatasetNode,
  type H5GroupNode,
  type H5Link,
  type H5Node,
  type H5Source,
  readH5,
  slabsOf,
} from './h5io.js';
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
