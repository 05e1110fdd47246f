/** daos-ts/dfs: a POSIX namespace over objects (libdfs) and its fs.promises-shaped facade. */
export {
  COPY_FILES_IN_FLIGHT_DEFAULT,
  COPY_FILES_IN_FLIGHT_MAX,
  type CopyCounts,
  type CopyEndpoint,
  type CopyOptions,
  type CopyProgress,
  type CopySummary,
  copyTree,
} from './copy.js';
export {
  DFS_CHUNK_SIZE_DEFAULT,
  Dfs,
  type DfsMode,
  type DirEntryInfo,
  type MountOptions,
  type SuperBlock,
} from './dfs.js';
export {
  type Entry,
  NAME_BYTES_MAX,
  PATH_BYTES_MAX,
  S_IFDIR,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  SYMLINK_HOPS_MAX,
  XATTR_NAME_BYTES_MAX,
  XATTR_VALUE_BYTES_MAX,
} from './entry.js';
export { DfsError, type PosixCode } from './errors.js';
export { DfsFile, type OpenFlags } from './file.js';
export { DfsDirent, DfsFileHandle, DfsFs, parseFlags } from './fs.js';
export { DfsStats } from './stats.js';
export {
  DfsReadStream,
  type DfsReadStreamOptions,
  DfsWriteStream,
  type DfsWriteStreamOptions,
  STREAM_CHUNK_BYTES,
} from './streams.js';
