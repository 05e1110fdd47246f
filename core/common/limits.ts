/**
 * Limits of daos-ts as named constants, with their unit in the name. Everything that crosses a
 * boundary is checked against one of these.
 */

/** Longest dkey or akey. Keys are stored escaped inside LMDB keys (limit 1978 bytes each). */
export const KEY_BYTES_MAX = 512;
/** Largest single value. */
export const SINGLE_VALUE_BYTES_MAX = 64 * 1024 * 1024;
/** Largest record of an array akey. */
export const RECORD_BYTES_MAX = 1024 * 1024;
/** Most bytes one update or fetch may carry (all iods together). */
export const IO_BYTES_MAX = 1024 * 1024 * 1024;
/** Most akeys in one update or fetch. */
export const IODS_PER_IO_MAX = 4096;
/** Most extents in one array iod. */
export const EXTENTS_PER_IOD_MAX = 65536;
/** Record indexes are uint64: idx + nr must not pass 2^64. */
export const RECORD_INDEX_LIMIT = 1n << 64n;
/** Values below this many bytes are kept inline in the LMDB index; larger go to the data file. */
export const INLINE_BYTES_MAX_DEFAULT = 4096;
/** Labels of pools and containers (DAOS: DAOS_PROP_LABEL_MAX_LEN). */
export const LABEL_BYTES_MAX = 127;
/** Targets per engine (DAOS's engine limit is 64). */
export const TARGETS_PER_ENGINE_MAX = 64;
/** Default targets per engine. */
export const TARGETS_PER_ENGINE_DEFAULT = 4;
/** Engines one embedded system may run. */
export const ENGINES_MAX = 256;
/** User attribute names and values on containers. */
export const ATTR_NAME_BYTES_MAX = 255;
export const ATTR_VALUE_BYTES_MAX = 64 * 1024;
/** Snapshot names. */
export const SNAPSHOT_NAME_BYTES_MAX = 255;
/** Most object ids one allocOids call may reserve. */
export const OIDS_PER_ALLOC_MAX = 1 << 20;
/** Keys returned per listing round trip (a listing is an async iterable over such pages). */
export const LIST_PAGE_KEYS = 1024;
/** Writes buffered in one transaction. */
export const TX_OPS_MAX = 65536;
/**
 * Size of the LMDB map per target: virtual address space, and (durability 'process', a write
 * map) the apparent size of its sparse index file; disk blocks are used only as pages are.
 */
export const TARGET_MAP_BYTES = 64 * 1024 * 1024 * 1024;
/**
 * Free bytes the file system of a target must keep for the index to take commits (durability
 * 'process'): a write-map page touched on a full disk would kill the process (SIGBUS) instead of
 * failing a write, so commits fail with DER_NOSPACE below this.
 */
export const INDEX_FREE_BYTES_MIN = 64 * 1024 * 1024;
/**
 * The targets of a process on one file system ask it how much space is free at most every
 * INDEX_FREE_CHECK_MS, and also once the data files of the process have taken
 * INDEX_FREE_RECHECK_BYTES more since they last asked (they can fill a disk well within a second).
 */
export const INDEX_FREE_CHECK_MS = 1000;
export const INDEX_FREE_RECHECK_BYTES = 16 * 1024 * 1024;
/** Default array chunk size (DAOS's DFS default). */
export const ARRAY_CHUNK_BYTES_DEFAULT = 1024 * 1024;
/** Smallest pool (DAOS's minimum SCM per target is far larger; ours is a sanity bound). */
export const POOL_BYTES_MIN = 16 * 1024 * 1024;
/** DAOS system names (DAOS: DAOS_SYS_NAME_MAX). */
export const SYSTEM_NAME_BYTES_MAX = 15;
/** ACE list of one ACL, counted as DAOS documents it (256 bytes per entry + the name, 64-aligned). */
export const ACL_BYTES_MAX = 64 * 1024;
/** ACL principal names, `name@domain` (DAOS: DAOS_ACL_MAX_PRINCIPAL_LEN). */
export const PRINCIPAL_BYTES_MAX = 255;
