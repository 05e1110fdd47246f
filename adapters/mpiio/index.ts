/** daos-ts/mpiio: ranks and a communicator, MPI datatypes and file views, MPI-IO files. */
export { COMM_TIMEOUT_MS_DEFAULT, Comm, type RankInit } from './comm.js';
export * from './datatype.js';
export {
  CB_BUFFER_SIZE_DEFAULT,
  IND_RD_BUFFER_SIZE_DEFAULT,
  MODE_APPEND,
  MODE_CREATE,
  MODE_DELETE_ON_CLOSE,
  MODE_EXCL,
  MODE_RDONLY,
  MODE_RDWR,
  MODE_SEQUENTIAL,
  MODE_UNIQUE_OPEN,
  MODE_WRONLY,
  MpiFile,
  type MpiInfo,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from './file.js';
export {
  ABORT_GRACE_MS,
  JOB_CONTAINER_DEFAULT,
  JOB_POOL_DEFAULT,
  MpiJobError,
  RANKS_MAX,
  type SpawnOptions,
  spawnRanks,
} from './spawn.js';
export { FileView, type ViewRuns } from './view.js';
